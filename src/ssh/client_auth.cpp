#include "ssh/client_auth.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ssh/auth_messages.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/secret.hpp"
#include "ssh/messages.hpp"
#include "ssh/transport_messages.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

constexpr std::string_view kConnectionService = "ssh-connection";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The server's answer to one attempt.
struct Answer {
  std::uint8_t type = 0;                  // SUCCESS, FAILURE, or a method's own message (60)
  std::vector<std::string> can_continue;  // with FAILURE
  bool partial_success = false;
  std::vector<std::uint8_t> payload;
};

class Authenticator {
 public:
  Authenticator(Transport& transport, AuthOptions options) : transport_(transport), options_(std::move(options)) {}

  asio::awaitable<Result<AuthResult>> run();

 private:
  asio::awaitable<Result<Answer>> next_answer();
  // A request or response that may hold a password or a signature: wiped once sent.
  asio::awaitable<Result<void>> send_and_wipe(std::vector<std::uint8_t> message);
  asio::awaitable<Result<Answer>> try_publickey(const Identity& identity);
  // The signed request alone: the algorithm it was signed with, or "" when the key could not sign.
  asio::awaitable<Result<std::string>> send_publickey(const Identity& identity);
  asio::awaitable<Result<Answer>> publickey_answer(const Identity& identity, const std::string& algorithm);
  bool server_ignores_requests_after_success() const;
  void refuse_key(const Identity& identity, std::string why);
  asio::awaitable<Result<Answer>> try_password();
  asio::awaitable<Result<Answer>> try_keyboard_interactive();
  std::string choose_signature_algorithm(const Signer& key) const;
  Error denied() const;

  Transport& transport_;
  AuthOptions options_;
  std::vector<std::string> tried_;
  std::vector<std::string> server_accepts_;
  std::vector<runtime::Evidence> refused_keys_;
};

asio::awaitable<Result<void>> Authenticator::send_and_wipe(std::vector<std::uint8_t> message) {
  auto sent = co_await transport_.write_message(message);
  crypto::wipe(message);
  co_return sent;
}

asio::awaitable<Result<Answer>> Authenticator::next_answer() {
  for (;;) {
    auto message = co_await transport_.read_message();
    if (!message) co_return runtime::fail(std::move(message.error()).while_("authenticating"));
    Reader r(*message, "authentication reply");
    Answer answer;
    answer.type = r.byte();
    if (auto parsed = r.finish(); !parsed) co_return runtime::fail(std::move(parsed.error()));
    if (answer.type == msg::userauth_banner) {
      // Only ever shown: a malformed banner is passed over.
      const auto banner = UserauthBanner::parse(*message);
      if (banner && options_.on_banner) options_.on_banner(banner->message);
      continue;
    }
    if (answer.type == msg::userauth_failure) {
      auto failure = UserauthFailure::parse(*message);
      if (!failure) co_return runtime::fail(std::move(failure.error()));
      answer.can_continue = std::move(failure->authentications_that_can_continue);
      answer.partial_success = failure->partial_success;
      server_accepts_ = answer.can_continue;
    }
    if (answer.type != msg::userauth_success && answer.type != msg::userauth_failure &&
        answer.type != msg::userauth_info_request && answer.type != msg::service_accept) {
      co_return runtime::fail(
          std::move(Error(Errc::protocol_error, Layer::auth, "unexpected message during authentication")
                        .with("message number", std::to_string(answer.type))));
    }
    answer.payload = std::move(*message);
    co_return answer;
  }
}

std::string Authenticator::choose_signature_algorithm(const Signer& key) const {
  return ssh::choose_signature_algorithm(signature_algorithms(key), transport_.server_sig_algs());
}

void Authenticator::refuse_key(const Identity& identity, std::string why) {
  const auto& key = *identity.signer;
  refused_keys_.push_back(
      {fmt::format("key {} {} ({})", key_type(key), crypto::fingerprint_sha256(key.public_key_blob()), identity.source),
       std::move(why)});
}

asio::awaitable<Result<std::string>> Authenticator::send_publickey(const Identity& identity) {
  auto& key = *identity.signer;
  std::string algorithm = choose_signature_algorithm(key);
  if (algorithm.empty()) {
    refuse_key(identity, "not offered: we know no signature algorithm for this key type");
    co_return std::string();
  }
  const auto blob = key.public_key_blob();
  UserauthRequestPublickey request{options_.user, kConnectionService, algorithm, blob, {}};
  std::vector<std::uint8_t> to_sign = request.signed_data(transport_.session_id());
  auto signature = co_await key.sign(algorithm, std::move(to_sign));
  if (!signature) {
    refuse_key(identity, fmt::format("could not sign with {}: {}", algorithm, signature.error().summary()));
    co_return std::string();
  }
  request.signature = *signature;
  auto signed_request = request.encode();
  auto sent = co_await send_and_wipe(std::move(signed_request));
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  co_return algorithm;
}

asio::awaitable<Result<Answer>> Authenticator::publickey_answer(const Identity& identity,
                                                                const std::string& algorithm) {
  auto answer = co_await next_answer();
  if (!answer || answer->type == msg::userauth_success) co_return answer;
  // Why, as far as we can tell: the server says only "no".
  const auto& server_sig_algs = transport_.server_sig_algs();
  std::string why = fmt::format("refused by the server (signed with {})", algorithm);
  if (!server_sig_algs.empty() && !contains(server_sig_algs, algorithm)) {
    why += fmt::format("; its server-sig-algs do not list {}: {}", algorithm, join(server_sig_algs));
  } else {
    why += "; the key is not authorized for this user, or the server does not accept this key type";
  }
  refuse_key(identity, std::move(why));
  co_return answer;
}

// Answer{} (type 0) when the key could not sign: the next key gets its turn.
asio::awaitable<Result<Answer>> Authenticator::try_publickey(const Identity& identity) {
  auto algorithm = co_await send_publickey(identity);
  if (!algorithm) co_return runtime::fail(std::move(algorithm.error()));
  if (algorithm->empty()) co_return Answer{};
  co_return co_await publickey_answer(identity, *algorithm);
}

bool Authenticator::server_ignores_requests_after_success() const {
  return transport_.server_version().software.starts_with("OpenSSH_");
}

asio::awaitable<Result<Answer>> Authenticator::try_password() {
  auto password = options_.password ? options_.password(options_.user, "") : std::nullopt;
  if (!password) co_return Answer{};
  auto request = UserauthRequestPassword{options_.user, kConnectionService, *password}.encode();
  crypto::wipe(*password);
  auto sent = co_await send_and_wipe(std::move(request));
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  auto answer = co_await next_answer();
  if (answer && answer->type == msg::userauth_info_request) {
    co_return runtime::fail(Errc::invalid_argument, Layer::auth, "the server requires a password change");
  }
  co_return answer;
}

asio::awaitable<Result<Answer>> Authenticator::try_keyboard_interactive() {
  if (!options_.keyboard_interactive) co_return Answer{};
  auto request = UserauthRequestKeyboardInteractive{options_.user, kConnectionService, "", ""}.encode();
  auto sent = co_await send_and_wipe(std::move(request));
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  for (;;) {
    auto answer = co_await next_answer();
    if (!answer || answer->type != msg::userauth_info_request) co_return answer;
    auto info = UserauthInfoRequest::parse(answer->payload);
    if (!info) co_return runtime::fail(std::move(info.error()));
    auto responses = options_.keyboard_interactive(info->name, info->instruction, info->prompts);
    if (!responses || responses->size() != info->prompts.size()) co_return Answer{};
    auto reply = UserauthInfoResponse{*responses}.encode();
    for (auto& response : *responses) crypto::wipe(response);
    auto replied = co_await send_and_wipe(std::move(reply));
    if (!replied) co_return runtime::fail(std::move(replied.error()));
  }
}

Error Authenticator::denied() const {
  Error error(Errc::invalid_argument, Layer::auth, fmt::format("permission denied for user \"{}\"", options_.user));
  error.with("methods tried", join(tried_));
  error.with("server accepts", join(server_accepts_));
  for (const auto& refused : refused_keys_) error.evidence.push_back(refused);
  return error;
}

asio::awaitable<Result<AuthResult>> Authenticator::run() {
  // SERVICE_REQUEST and the "none" attempt leave together: one round trip for both.
  const auto service = ServiceRequest{"ssh-userauth"}.encode();
  auto requested = co_await transport_.write_message(service);
  if (!requested) co_return runtime::fail(std::move(requested.error()));
  const auto none = UserauthRequestNone{options_.user, kConnectionService}.encode();
  auto none_sent = co_await transport_.write_message(none);
  if (!none_sent) co_return runtime::fail(std::move(none_sent.error()));
  if (!options_.behind_none.empty()) {
    auto behind = co_await transport_.write_message(options_.behind_none);
    if (!behind) co_return runtime::fail(std::move(behind.error()));
  }
  // The first key's signed request, pipelined behind "none" where that is safe.
  const Identity* pipelined = nullptr;
  std::string pipelined_algorithm;
  if (options_.behind_none.empty() && !options_.identities.empty() && !options_.preferred.empty() &&
      options_.preferred.front() == "publickey" && server_ignores_requests_after_success()) {
    auto algorithm = co_await send_publickey(options_.identities.front());
    if (!algorithm) co_return runtime::fail(std::move(algorithm.error()));
    pipelined = &options_.identities.front();
    pipelined_algorithm = std::move(*algorithm);
  }
  auto accepted = co_await next_answer();
  if (!accepted) co_return runtime::fail(std::move(accepted.error()));
  if (accepted->type != msg::service_accept) {
    co_return runtime::fail(Errc::protocol_error, Layer::auth, "the server did not accept the ssh-userauth service");
  }
  tried_.push_back("none");
  auto answer = co_await next_answer();
  if (!answer) co_return runtime::fail(std::move(answer.error()));
  if (answer->type == msg::userauth_success) co_return AuthResult{"none", "", ""};
  if (!options_.behind_none.empty()) {
    co_return runtime::fail(std::move(denied()
                                          .with("expected", "none authentication to succeed (the connection profile's)")
                                          .with("sent behind none",
                                                "a message that needs authentication, which the "
                                                "server has refused or dropped the connection over")));
  }
  if (pipelined && !pipelined_algorithm.empty()) {
    tried_.push_back(fmt::format("publickey ({})", pipelined->source));
    auto result = co_await publickey_answer(*pipelined, pipelined_algorithm);
    if (!result) co_return runtime::fail(std::move(result.error()));
    if (result->type == msg::userauth_success)
      co_return AuthResult{"publickey", pipelined_algorithm, pipelined->source};
  }

  for (const auto& method : options_.preferred) {
    if (!contains(server_accepts_, method)) continue;
    if (method == "publickey") {
      for (const auto& identity : options_.identities) {
        if (!contains(server_accepts_, "publickey")) break;
        // The pipelined key is tried again only if the server's EXT_INFO, read since, asks for
        // another signature algorithm than the one it was signed with before.
        if (&identity == pipelined &&
            (pipelined_algorithm.empty() || choose_signature_algorithm(*identity.signer) == pipelined_algorithm)) {
          continue;
        }
        tried_.push_back(fmt::format("publickey ({})", identity.source));
        auto result = co_await try_publickey(identity);
        if (!result) co_return runtime::fail(std::move(result.error()));
        if (result->type == msg::userauth_success) {
          co_return AuthResult{"publickey", choose_signature_algorithm(*identity.signer), identity.source};
        }
      }
      continue;
    }
    if (method != "password" && method != "keyboard-interactive") continue;
    tried_.push_back(method);
    Result<Answer> result = Answer{};
    if (method == "password") {
      result = co_await try_password();
    } else {
      result = co_await try_keyboard_interactive();
    }
    if (!result) co_return runtime::fail(std::move(result.error()));
    if (result->type == msg::userauth_success) co_return AuthResult{method, "", ""};
  }
  co_return runtime::fail(denied());
}

}  // namespace

std::string choose_signature_algorithm(const std::vector<std::string>& key_algorithms,
                                       const std::vector<std::string>& server_sig_algs) {
  for (const auto& algorithm : key_algorithms) {
    if (algorithm == "ssh-rsa" && !contains(server_sig_algs, algorithm)) continue;
    if (server_sig_algs.empty() || contains(server_sig_algs, algorithm)) return algorithm;
  }
  return key_algorithms.empty() ? std::string() : key_algorithms.front();
}

asio::awaitable<Result<AuthResult>> authenticate(Transport& transport, AuthOptions options) {
  Authenticator authenticator(transport, std::move(options));
  auto result = co_await authenticator.run();
  if (result) transport.authenticated();
  co_return result;
}

}  // namespace cr::ssh
