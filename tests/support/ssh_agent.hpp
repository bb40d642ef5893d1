#pragma once
// A real OpenSSH ssh-agent for tests: started in the foreground (-D) as our child on a socket in
// a temporary folder. It prints its SSH_AUTH_SOCK line once the socket listens, so reading that
// line is the readiness signal (no sleeping); it is stopped and reaped by its pid.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "support/files.hpp"

extern char** environ;

namespace cr::test {

class SshAgent {
 public:
  SshAgent() : socket_(directory_.path() / "agent.sock") {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    const std::string socket = socket_.string();
    const char* argv[] = {"ssh-agent", "-D", "-s", "-a", socket.c_str(), nullptr};
    const int spawned = ::posix_spawnp(&pid_, "ssh-agent", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (spawned != 0) {
      ::close(out[0]);
      throw std::runtime_error("could not start ssh-agent: is openssh-client installed?");
    }
    // The first line ("SSH_AUTH_SOCK=...; export SSH_AUTH_SOCK;") comes after bind and listen.
    char c = 0;
    while (::read(out[0], &c, 1) == 1 && c != '\n') {
    }
    ::close(out[0]);
  }
  ~SshAgent() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  SshAgent(const SshAgent&) = delete;
  SshAgent& operator=(const SshAgent&) = delete;

  const std::filesystem::path& socket() const { return socket_; }
  // ssh-add for an unencrypted key file; true when the agent took it.
  bool add(const std::filesystem::path& key) const {
    return run_command(fmt::format("SSH_AUTH_SOCK={} ssh-add -q {} 2>/dev/null", socket_.string(), key.string())) == 0;
  }

 private:
  TemporaryDirectory directory_{"ssh_agent"};
  std::filesystem::path socket_;
  pid_t pid_ = -1;
};

}  // namespace cr::test
