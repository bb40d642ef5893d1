#pragma once
// An Sshd fixture's server listening on a loopback port (`sshd -D`), for what needs a server at
// an address rather than on a ProxyCommand's stdio: a host a jump host connects onward to. It is
// our child, stopped and reaped by its pid; the sessions it forked end with their connections.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "support/sshd.hpp"

extern char** environ;

namespace cr::test {

class ListeningSshd {
 public:
  explicit ListeningSshd(const Sshd& sshd) {
    // A port found free can be taken before sshd binds it: sshd then exits, and another is tried.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      const auto listen = fmt::format("ListenAddress=127.0.0.1:{}", port_);
      const auto config = sshd.config_file().string();
      const char* argv[] = {sshd.program().c_str(), "-D", "-f", config.c_str(), "-o", listen.c_str(), nullptr};
      if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
        throw std::runtime_error("could not start sshd");
      }
      if (wait_listening()) return;
      stop();
    }
    throw std::runtime_error("sshd did not listen on a free loopback port in five tries");
  }
  ~ListeningSshd() { stop(); }
  ListeningSshd(const ListeningSshd&) = delete;
  ListeningSshd& operator=(const ListeningSshd&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  static std::uint16_t free_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();
  }

  // sshd says nothing when it listens (its log is kept to errors), so the port is polled, within
  // a deadline, until it accepts or sshd has exited.
  bool wait_listening() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      asio::io_context io;
      asio::ip::tcp::socket socket(io);
      std::error_code ec;
      socket.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
      if (!ec) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a poll's pause, not a wait for an event
    }
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace cr::test
