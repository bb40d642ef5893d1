// Reaching the holder on POSIX: its paths, and starting one (a daemon, started under the spawn
// lock) when none answers.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "proxy/local_endpoint.hpp"
#include "service/detail/file_lock.hpp"
#include "service/detail/holder_serve.hpp"
#include "service/holder.hpp"

#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

namespace cr::service {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Starts `command` as a daemon (its own session, not our child: it outlives us and is never our
// zombie), its stdout on /dev/null and its stderr in the log file. Returns the read end of the
// pipe it says "ready" on.
Result<int> start_daemon(const std::vector<std::string>& command, const HolderPaths& paths) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return runtime::fail(std::move(Error(Errc::spawn_failed, Layer::runtime, "could not create a pipe")
                                       .with_system({errno, std::system_category()})));
  }
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  // Appended to: a holder that finds another one serving must not wipe the serving one's log.
  const int log_fd = ::open(paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  std::vector<std::string> arguments = command;
  arguments.push_back("--ready-fd");
  arguments.push_back("3");
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, STDERR_FILENO);
    ::dup2(ready[1], 3);
    // Nothing the client inherited (a test runner's pipes, a terminal) stays open in the holder.
#ifdef __linux__
    if (::close_range(4, ~0U, 0) != 0)
#endif
    {
      for (long fd = 4; fd < ::sysconf(_SC_OPEN_MAX); ++fd) ::close(static_cast<int>(fd));
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(ready[1]);
  if (null_fd >= 0) ::close(null_fd);
  if (log_fd >= 0) ::close(log_fd);
  if (child < 0) {
    ::close(ready[0]);
    return runtime::fail(std::move(Error(Errc::spawn_failed, Layer::runtime, "could not start the connection holder")
                                       .with_system({fork_errno, std::system_category()})));
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return ready[0];
}

// What the holder said on its ready pipe: its first line, or nothing if it ended first.
asio::awaitable<Result<std::string>> read_ready_line(int fd) {
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor pipe(executor, fd);
  std::string said;
  std::array<char, 64> buffer;
  while (said.find('\n') == std::string::npos) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buffer), as_tuple);
    if (ec == asio::error::operation_aborted) co_return runtime::fail(Errc::cancelled, Layer::runtime, "cancelled");
    if (ec) break;
    said.append(buffer.data(), n);
  }
  co_return said.substr(0, said.find('\n'));
}

}  // namespace

Result<HolderPaths> holder_paths(const std::optional<std::string>& control_path) {
  HolderPaths paths;
  if (control_path) {
    paths.endpoint = *control_path;
  } else {
    const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
    const std::filesystem::path base = runtime_dir && runtime_dir[0] == '/'
                                           ? std::filesystem::path(runtime_dir) / "coder-runtime"
                                           : std::filesystem::path(fmt::format("/tmp/coder-runtime-{}", ::geteuid()));
    paths.endpoint = (base / "holder.sock").string();
  }
  paths.log = paths.endpoint + ".log";
  paths.lock = paths.endpoint + ".lock";
  auto made = proxy::private_directory(std::filesystem::path(paths.endpoint).parent_path());
  if (!made) return runtime::fail(std::move(made.error()));
  return paths;
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_holder(HolderConnectOptions options) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto& paths = options.paths;
  auto connected = co_await proxy::connect_local(paths.endpoint, options.deadline);
  if (connected || options.holder_command.empty()) co_return connected;
  options.log.debug("no holder answers at {} ({}): starting one", paths.endpoint, connected.error().message);
  auto spawn_lock = detail::FileLock::open(paths.spawn_lock());
  if (!spawn_lock) co_return runtime::fail(std::move(spawn_lock.error()));
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer pause(executor);
  // Another client may be starting one: wait for its lock, then look again. The pause grows so that
  // many clients waiting together do not take the CPU the starting holder needs.
  for (auto wait = std::chrono::milliseconds(2); !spawn_lock->try_lock();
       wait = std::min(wait * 2, std::chrono::milliseconds(64))) {
    if (options.deadline.expired())
      co_return runtime::fail(detail::no_holder(paths, "another process is starting one, and took too long"));
    pause.expires_after(wait);
    co_await pause.async_wait(as_tuple);
  }
  for (;;) {
    connected = co_await proxy::connect_local(paths.endpoint, options.deadline);
    if (connected) co_return connected;
    if (options.deadline.expired()) co_return runtime::fail(detail::no_holder(paths, "it did not come up in time"));
    auto ready_fd = start_daemon(options.holder_command, paths);
    if (!ready_fd) co_return runtime::fail(std::move(ready_fd.error()));
    auto said = co_await runtime::with_deadline(options.deadline, read_ready_line(*ready_fd), Layer::runtime,
                                                "starting the connection holder");
    if (!said) co_return runtime::fail(std::move(said.error()));
    if (*said == "ready") co_return co_await proxy::connect_local(paths.endpoint, options.deadline);
    // A holder that is ending still holds its lock: the next one takes over after it.
    if (*said == "busy") {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(as_tuple);
      continue;
    }
    co_return runtime::fail(std::move(detail::no_holder(paths, "it failed to start")
                                          .with("holder said", said->empty() ? "nothing" : *said)
                                          .with("holder log", detail::file_tail(paths.log, 2048))));
  }
}

Result<std::filesystem::path> current_executable() {
#ifdef __APPLE__
  std::array<char, 4096> buffer{};
  std::uint32_t size = buffer.size();
  if (_NSGetExecutablePath(buffer.data(), &size) != 0) {
    return runtime::fail(Errc::invalid_argument, Layer::runtime, "could not find this program's path");
  }
  return std::filesystem::path(buffer.data());
#else
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return runtime::fail(
        std::move(Error(Errc::invalid_argument, Layer::runtime, "could not find this program's path").with_system(ec)));
  }
  return path;
#endif
}

}  // namespace cr::service
