#include "ssh/agent.hpp"

#include <fmt/format.h>

#include "ssh/wire.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

// draft-miller-ssh-agent section 5.1.
namespace agent_msg {
constexpr std::uint8_t failure = 5;
constexpr std::uint8_t request_identities = 11;
constexpr std::uint8_t identities_answer = 12;
constexpr std::uint8_t sign_request = 13;
constexpr std::uint8_t sign_response = 14;
constexpr std::uint8_t extension_failure = 28;
// Other agents' failure codes, which OpenSSH also takes as "no" (authfd.c, agent_failed).
constexpr std::uint8_t ssh2_failure = 30;
constexpr std::uint8_t ssh_com_failure = 102;
}  // namespace agent_msg

constexpr std::uint32_t kRsaSha2_256 = 2;
constexpr std::uint32_t kRsaSha2_512 = 4;
// OpenSSH's bounds (authfd.c): no agent's reply is longer, nor lists more keys.
constexpr std::uint32_t kMaximumMessage = 256 * 1024;
constexpr std::uint32_t kMaximumKeys = 2048;

bool is_failure(std::uint8_t type) {
  return type == agent_msg::failure || type == agent_msg::extension_failure || type == agent_msg::ssh2_failure ||
         type == agent_msg::ssh_com_failure;
}

Error agent_error(Errc code, std::string message) { return Error(code, Layer::auth, std::move(message)); }

// The wire Reader reports a transport error; a malformed agent reply is an auth-layer failure.
Error as_agent_error(Error error) {
  error.layer = Layer::auth;
  return error;
}

// A reply's type byte: `expected`, or the error saying what came instead.
Result<void> expect_reply(std::uint8_t type, std::uint8_t expected, std::string_view refusal) {
  if (type == expected) return {};
  if (is_failure(type)) return runtime::fail(agent_error(Errc::invalid_argument, std::string(refusal)));
  return runtime::fail(std::move(agent_error(Errc::protocol_error, "the ssh-agent answered with an unexpected message")
                                     .with("message number", std::to_string(type))));
}

class AgentSigner final : public Signer {
 public:
  AgentSigner(std::shared_ptr<AgentClient> agent, std::vector<std::uint8_t> blob)
      : agent_(std::move(agent)), blob_(std::move(blob)) {}

  std::vector<std::uint8_t> public_key_blob() const override { return blob_; }

  asio::awaitable<Result<std::vector<std::uint8_t>>> sign(std::string algorithm,
                                                          std::vector<std::uint8_t> data) override {
    auto blob = blob_;
    co_return co_await agent_->sign(std::move(blob), std::move(data), std::move(algorithm));
  }

 private:
  std::shared_ptr<AgentClient> agent_;
  std::vector<std::uint8_t> blob_;
};

}  // namespace

AgentClient::AgentClient(std::unique_ptr<runtime::AsyncStream> stream, AgentOptions options)
    : stream_(std::move(stream)), options_(options), turn_(stream_->get_executor()) {}

asio::awaitable<Result<std::vector<std::uint8_t>>> AgentClient::exchange(std::vector<std::uint8_t> message) {
  Writer framed;
  framed.string(message);
  auto written = co_await runtime::write_all(*stream_, framed.bytes());
  if (!written) co_return runtime::fail(std::move(written.error()));
  std::array<std::uint8_t, 4> length_bytes{};
  auto header = co_await runtime::read_exact(*stream_, length_bytes);
  if (!header) co_return runtime::fail(std::move(header.error()));
  Reader length_reader(length_bytes);
  const std::uint32_t length = length_reader.uint32();
  if (length == 0 || length > kMaximumMessage) {
    co_return runtime::fail(
        agent_error(Errc::protocol_error,
                    fmt::format("the ssh-agent sent a {}-byte message (at most {})", length, kMaximumMessage)));
  }
  std::vector<std::uint8_t> reply(length);
  auto body = co_await runtime::read_exact(*stream_, reply);
  if (!body) co_return runtime::fail(std::move(body.error()));
  co_return reply;
}

asio::awaitable<Result<std::vector<std::uint8_t>>> AgentClient::request(std::vector<std::uint8_t> message,
                                                                        std::string what) {
  if (broken_) co_return runtime::fail(*broken_);
  const bool locked = co_await turn_.lock();
  if (!locked) co_return runtime::fail(Errc::cancelled, Layer::auth, fmt::format("{} cancelled", what));
  const runtime::AsyncMutex::Unlocker unlock(turn_);
  if (broken_) co_return runtime::fail(*broken_);
  const auto deadline = runtime::Deadline::after(options_.request_timeout);
  auto operation = exchange(std::move(message));
  auto reply = co_await runtime::with_deadline(deadline, std::move(operation), Layer::auth, what);
  if (!reply) {
    reply.error().with("ssh-agent", stream_->describe());
    broken_ = reply.error();
  }
  co_return reply;
}

asio::awaitable<Result<std::vector<AgentKey>>> AgentClient::list_keys() {
  Writer message;
  message.byte(agent_msg::request_identities);
  auto reply = co_await request(message.take(), "asking the ssh-agent for its keys");
  if (!reply) co_return runtime::fail(std::move(reply.error()));
  Reader r(*reply, "ssh-agent IDENTITIES_ANSWER");
  auto expected = expect_reply(r.byte(), agent_msg::identities_answer, "the ssh-agent refused to list its keys");
  if (!expected) co_return runtime::fail(std::move(expected.error()));
  const std::uint32_t count = r.uint32();
  if (count > kMaximumKeys) {
    co_return runtime::fail(agent_error(Errc::protocol_error,
                                        fmt::format("the ssh-agent lists {} keys (at most {})", count, kMaximumKeys)));
  }
  std::vector<AgentKey> keys;
  for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
    const auto blob = r.string();
    keys.push_back({std::vector<std::uint8_t>(blob.begin(), blob.end()), r.text()});
  }
  if (auto parsed = r.finish(true); !parsed) co_return runtime::fail(as_agent_error(std::move(parsed.error())));
  co_return keys;
}

asio::awaitable<Result<std::vector<std::uint8_t>>> AgentClient::sign(std::vector<std::uint8_t> key_blob,
                                                                     std::vector<std::uint8_t> data,
                                                                     std::string algorithm) {
  // draft-miller-ssh-agent section 5.3: RSA keys sign with SHA-1 unless a flag asks for SHA-2.
  const std::uint32_t flags = algorithm == "rsa-sha2-256"   ? kRsaSha2_256
                              : algorithm == "rsa-sha2-512" ? kRsaSha2_512
                                                            : 0;
  Writer message;
  message.byte(agent_msg::sign_request);
  message.string(key_blob);
  message.string(data);
  message.uint32(flags);
  auto reply = co_await request(message.take(), fmt::format("asking the ssh-agent for a {} signature", algorithm));
  if (!reply) co_return runtime::fail(std::move(reply.error()));
  Reader r(*reply, "ssh-agent SIGN_RESPONSE");
  auto expected = expect_reply(r.byte(), agent_msg::sign_response,
                               "the ssh-agent refused to sign (the key may be locked, removed, or need confirmation)");
  if (!expected) co_return runtime::fail(std::move(expected.error()));
  const auto signature = r.string();
  if (auto parsed = r.finish(true); !parsed) co_return runtime::fail(as_agent_error(std::move(parsed.error())));
  // An old agent may ignore the flags and sign with SHA-1: the server would refuse it as a mismatch.
  Reader format(signature, "ssh-agent signature");
  const auto signed_with = format.text();
  if (signed_with != algorithm) {
    co_return runtime::fail(
        agent_error(Errc::protocol_error, fmt::format("the ssh-agent signed with \"{}\" when asked for {}",
                                                      runtime::printable(signed_with, 64), algorithm)));
  }
  co_return std::vector<std::uint8_t>(signature.begin(), signature.end());
}

asio::awaitable<void> AgentClient::close() { co_await stream_->close(); }

asio::awaitable<Result<std::vector<Identity>>> agent_identities(std::shared_ptr<AgentClient> agent) {
  auto keys = co_await agent->list_keys();
  if (!keys) co_return runtime::fail(std::move(keys.error()));
  std::vector<Identity> identities;
  for (auto& key : *keys) {
    identities.push_back(
        {std::make_shared<AgentSigner>(agent, std::move(key.blob)), fmt::format("agent: {}", key.comment)});
  }
  co_return identities;
}

}  // namespace cr::ssh
