#pragma once
// A real OpenSSH sshd for tests, in inetd mode (`sshd -i`): it speaks SSH on its stdin/stdout, so a
// ProxyCommand can start it with no listener and no port. Keys and config live in a temporary
// folder that goes away with the fixture.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace cr::test {

class Sshd {
 public:
  explicit Sshd(const std::string& extra_config = "") {
    char templ[] = "/tmp/coder-runtime-sshd-XXXXXX";
    if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    const auto key = dir_ / "host_ed25519";
    if (std::system(fmt::format("ssh-keygen -q -t ed25519 -N '' -f {}", key.string()).c_str()) != 0) {
      throw std::runtime_error("ssh-keygen failed: is openssh-client installed?");
    }
    // sshd refuses to start without its privilege separation folder.
    std::filesystem::create_directories("/run/sshd");
    std::ofstream(dir_ / "sshd_config") << fmt::format(
        "HostKey {}\nPidFile none\nUsePAM no\nStrictModes no\nLogLevel ERROR\n{}\n", key.string(), extra_config);
  }
  ~Sshd() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  std::string proxy_command() const { return fmt::format("/usr/sbin/sshd -i -f {}/sshd_config", dir_.string()); }

 private:
  std::filesystem::path dir_;
};

}  // namespace cr::test
