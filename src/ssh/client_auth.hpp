#pragma once
// User authentication (RFC 4252, RFC 4256): "none" first (the Coder agent accepts only that, and
// some Go servers drop a connection whose first attempt is another method), then the methods the
// caller prefers, in its order (OpenSSH's PreferredAuthentications), among those the server says
// can continue.
//
// Round trips: SERVICE_REQUEST and the "none" attempt leave together, and a public key is sent
// signed at once instead of first asking whether the server would accept it. To a server known to
// ignore authentication requests that follow a success, as RFC 4252 section 5.1 asks (OpenSSH),
// the first key's signed request leaves right behind "none" too (section 5 lets a client send
// requests without waiting for replies); Go's x/crypto/ssh ends the connection over such a
// request, so elsewhere it waits for none's answer.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ssh/signer.hpp"
#include "ssh/transport.hpp"

namespace cr::ssh {

struct Identity {
  std::shared_ptr<Signer> signer;
  std::string source;  // where it came from, for errors: a file path, "agent (comment)"
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
  // A message that needs authentication (a CHANNEL_OPEN), sent right behind the "none" attempt
  // when the connection profile knows none succeeds (Coder agents), so it costs no round trip of
  // its own. Servers process messages in order, so it is handled once none has succeeded. When
  // none fails instead, authentication fails at once: the server has seen a message it refuses
  // before authentication (sshd answers UNIMPLEMENTED, Go's x/crypto/ssh ends the connection).
  std::vector<std::uint8_t> behind_none;
  runtime::Logger log;
};

struct AuthResult {
  std::string method;               // the one that succeeded
  std::string signature_algorithm;  // publickey: what the accepted signature used
  std::string identity;             // publickey: the accepted identity's source
};

// The algorithm to sign with: the key's first (best) that the server lists in server-sig-algs
// (RFC 8308, RFC 8332); with no list, the key's first (rsa-sha2-512 for RSA, as current OpenSSH
// servers expect). SHA-1 "ssh-rsa" only when listed.
std::string choose_signature_algorithm(const std::vector<std::string>& key_algorithms,
                                       const std::vector<std::string>& server_sig_algs);

// On failure: Layer::auth, with the methods tried, the ones the server accepts, and per key (type,
// fingerprint, source) why it was refused. A key that cannot sign (an agent that says no) is
// skipped with its reason, not the end of authentication. On success the transport may start its
// re-exchanges (Transport::authenticated).
asio::awaitable<runtime::Result<AuthResult>> authenticate(Transport& transport, AuthOptions options);

}  // namespace cr::ssh
