#pragma once
// User authentication (RFC 4252, RFC 4256): "none" first (the Coder agent accepts only that, and
// some Go servers drop a connection whose first attempt is another method), then the methods the
// caller prefers, in its order (OpenSSH's PreferredAuthentications), among those the server says
// can continue.
//
// Round trips: SERVICE_REQUEST and the "none" attempt leave together, and a public key is sent
// signed at once instead of first asking whether the server would accept it.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ssh/crypto/private_key.hpp"
#include "ssh/transport.hpp"

namespace cr::ssh {

struct Identity {
  std::shared_ptr<const crypto::PrivateKey> key;
  std::string source;  // where it came from, for errors: a file path, "agent"
};

struct Prompt {
  std::string text;
  bool echo = false;
};

struct AuthOptions {
  std::string user;
  std::vector<std::string> preferred{"publickey", "keyboard-interactive", "password"};
  std::vector<Identity> identities;
  // Asked for a password; nullopt gives up on the method.
  std::function<std::optional<std::string>(const std::string& user, const std::string& host_hint)> password;
  // keyboard-interactive (RFC 4256): answers for the prompts, or nullopt to give up.
  std::function<std::optional<std::vector<std::string>>(const std::string& name, const std::string& instruction,
                                                        const std::vector<Prompt>& prompts)>
      keyboard_interactive;
  // The server's banner (SSH_MSG_USERAUTH_BANNER), shown to a person before they log in.
  std::function<void(const std::string& banner)> on_banner;
  runtime::Logger log;
};

struct AuthResult {
  std::string method;  // the one that succeeded
};

// On failure: Layer::auth, with the methods tried, the ones the server accepts, and per key why
// it was refused.
asio::awaitable<runtime::Result<AuthResult>> authenticate(Transport& transport, AuthOptions options);

}  // namespace cr::ssh
