#pragma once
// A real OpenSSH sshd for tests, in inetd mode (`sshd -i`): it speaks SSH on its stdin/stdout, so a
// ProxyCommand can start it with no listener and no port. Keys and config live in a temporary
// folder that goes away with the fixture.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace cr::test {

// Debian 12's sshd (OpenSSH 9.2), and OpenSSH 10.0 built from Debian 13's source by scripts/setup
// (tests/support/openssh10/build).
inline constexpr const char* kDebianSshd = "/usr/sbin/sshd";
inline constexpr const char* kOpenssh10Sshd = CODER_RUNTIME_OPENSSH10 "/sbin/sshd";

class Sshd {
 public:
  // host_keys: ssh-keygen key specs, e.g. "ed25519", "ecdsa:384", "rsa:2048".
  explicit Sshd(const std::string& extra_config = "", const std::vector<std::string>& host_keys = {"ed25519"},
                std::string program = kDebianSshd)
      : program_(std::move(program)) {
    char templ[] = "/tmp/coder-runtime-sshd-XXXXXX";
    if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    std::string config;
    for (const auto& spec : host_keys) {
      const auto colon = spec.find(':');
      const std::string type = spec.substr(0, colon);
      const std::string bits = colon == std::string::npos ? "" : " -b " + spec.substr(colon + 1);
      const auto key =
          dir_ / fmt::format("host_{}", spec.substr(0, colon) + (bits.empty() ? "" : spec.substr(colon + 1)));
      if (std::system(fmt::format("ssh-keygen -q -t {}{} -N '' -f {}", type, bits, key.string()).c_str()) != 0) {
        throw std::runtime_error("ssh-keygen failed: is openssh-client installed?");
      }
      config += fmt::format("HostKey {}\n", key.string());
      host_key_files_.push_back(key);
    }
    // sshd refuses to start without its privilege separation folder.
    std::filesystem::create_directories("/run/sshd");
    // Keys a test authorizes go into the fixture's own file, never the account's.
    // Only Debian's sshd is built with PAM; the other warns at the word.
    if (program_ == kDebianSshd) config += "UsePAM no\n";
    std::ofstream(dir_ / "sshd_config") << config << "PidFile none\nStrictModes no\nLogLevel ERROR\n"
                                        << "AuthorizedKeysFile " << authorized_keys().string() << "\n"
                                        << extra_config << "\n";
  }
  ~Sshd() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  std::string proxy_command() const { return fmt::format("{} -i -f {}", program_, config_file().string()); }
  std::filesystem::path config_file() const { return dir_ / "sshd_config"; }
  const std::string& program() const { return program_; }
  const std::vector<std::filesystem::path>& host_key_files() const { return host_key_files_; }
  // sshd's AuthorizedKeysFile, in the fixture's folder; empty until a test appends .pub lines.
  std::filesystem::path authorized_keys() const { return dir_ / "authorized_keys"; }

 private:
  std::string program_;
  std::filesystem::path dir_;
  std::vector<std::filesystem::path> host_key_files_;
};

}  // namespace cr::test
