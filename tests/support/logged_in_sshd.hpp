#pragma once
// An sshd (inetd mode) that lets a fresh ed25519 key in, as root unless told otherwise, and the
// client options that log in with it: the key is read from its file as users' keys are.

#include <pwd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "ssh/client.hpp"
#include "ssh/identity.hpp"
#include "support/files.hpp"
#include "support/ssh_client.hpp"
#include "support/sshd.hpp"

namespace cr::test {

// A key pair whose public half the sshd's authorized_keys lists, readable by any user (sshd reads
// authorized_keys with the user's own rights).
class KeyLogin {
 public:
  KeyLogin(std::string user, const Sshd& sshd) : user_(std::move(user)) {
    namespace fs = std::filesystem;
    if (::getpwnam(user_.c_str()) == nullptr) {
      throw std::runtime_error(fmt::format("there is no user {} to log in as: run scripts/setup as root", user_));
    }
    const auto key = dir_.path() / "id_ed25519";
    if (run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -C test -f {}", key.string())) != 0) {
      throw std::runtime_error("ssh-keygen failed");
    }
    std::ofstream(sshd.authorized_keys(), std::ios::app) << read_text(key.string() + ".pub");
    fs::permissions(sshd.authorized_keys().parent_path(),
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    fs::permissions(sshd.authorized_keys(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
    auto identity = ssh::load_identity_file(key);
    if (!identity) throw std::runtime_error(identity.error().summary());
    identity_ = std::move(*identity);
  }
  // The private key file the identity was read from.
  std::filesystem::path key_file() const { return dir_.path() / "id_ed25519"; }
  ssh::AuthOptions auth() const {
    ssh::AuthOptions options;
    options.user = user_;
    options.preferred = {"publickey"};
    options.identities.push_back(identity_);
    return options;
  }

 private:
  TemporaryDirectory dir_{"logged_in_sshd"};
  std::string user_;
  ssh::Identity identity_;
};

struct LoggedInSshd {
  explicit LoggedInSshd(const std::string& extra_config = "", std::string user = "root",
                        std::string program = kDebianSshd)
      : sshd(extra_config, {"ed25519"}, std::move(program)), login(std::move(user), sshd) {}
  ssh::ClientOptions options() const {
    ssh::ClientOptions options;
    options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
    options.auth = login.auth();
    return options;
  }
  std::string proxy_command() const { return sshd.proxy_command(); }
  // Through sshd -i, within connect_through's deadline.
  asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect() const {
    auto command = proxy_command();
    auto client_options = options();
    co_return co_await connect_through(std::move(command), std::move(client_options));
  }

  Sshd sshd;
  KeyLogin login;
};

// sshd signals a session's processes only when the login is not root (for root the privileged
// monitor runs the session itself and refuses), so signal tests log in as this user, which
// scripts/setup creates.
inline constexpr const char* kUnprivilegedUser = "cr-ssh-test";

}  // namespace cr::test
