#pragma once
// Test plumbing for processes a test did not start itself (a remote command's shell, a proxy, the
// connection holder): waiting for one to end, and finding the connection holder of a socket.

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/files.hpp"

namespace cr::test {

// Whether the process has ended (exited, reaped or not) within `limit`: its pidfd becomes readable.
inline bool ends_within(pid_t pid, std::chrono::milliseconds limit) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd watch{fd, POLLIN, 0};
  const int ready = ::poll(&watch, 1, static_cast<int>(limit.count()));
  ::close(fd);
  return ready == 1;
}

// The running `coder-runtime connections holder` processes serving `socket` (their command line
// names it as ControlPath).
inline std::vector<pid_t> holder_processes(const std::filesystem::path& socket) {
  std::vector<pid_t> pids;
  const std::string control_path = "ControlPath=" + socket.string();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string command = read_text(entry.path() / "cmdline");
    for (auto& c : command) c = c == '\0' ? ' ' : c;
    if (command.find(" connections holder ") != std::string::npos && command.find(control_path) != std::string::npos) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

}  // namespace cr::test
