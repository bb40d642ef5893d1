// The ssh-agent client against a scripted agent on an in-memory stream: the requests it sends
// (the rsa-sha2 flags), and what it does with refusals, malformed, oversized, wrong-algorithm and
// missing replies. A real ssh-agent is in auth_test.cpp.

#include <catch2/catch.hpp>

#include <chrono>
#include <deque>

#include <asio/detached.hpp>

#include "runtime/memory_stream.hpp"
#include "ssh/agent.hpp"
#include "ssh/wire.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes framed(const Bytes& message) {
  ssh::Writer w;
  w.string(message);
  return w.take();
}

Bytes message(std::uint8_t type, const std::function<void(ssh::Writer&)>& fields = {}) {
  ssh::Writer w;
  w.byte(type);
  if (fields) fields(w);
  return w.take();
}

// Reads one framed request per scripted reply and answers with the reply's raw bytes; an empty
// reply means "say nothing and keep the stream open". Out of replies, it ends the stream.
struct ScriptedAgent {
  std::deque<Bytes> replies;
  std::vector<Bytes> requests;

  asio::awaitable<void> serve(runtime::AsyncStream& stream) {
    bool silent = false;
    while (!replies.empty()) {
      std::array<std::uint8_t, 4> length{};
      auto header = co_await runtime::read_exact(stream, length);
      if (!header) co_return;
      ssh::Reader r(length);
      Bytes request(r.uint32());
      auto body = co_await runtime::read_exact(stream, request);
      if (!body) co_return;
      requests.push_back(std::move(request));
      Bytes reply = std::move(replies.front());
      replies.pop_front();
      silent = reply.empty();
      if (silent) continue;
      auto written = co_await runtime::write_all(stream, reply);
      if (!written) co_return;
    }
    if (!silent) (void)stream.shutdown_send();
  }
};

const Bytes kBlob = [] {
  ssh::Writer w;
  w.string("ssh-rsa");
  w.string("not really a key");
  return w.take();
}();

Bytes signature_blob(std::string_view algorithm) {
  ssh::Writer w;
  w.string(algorithm);
  w.string("signature bytes");
  return w.take();
}

Bytes sign_response(std::string_view algorithm) {
  return framed(message(14, [&](ssh::Writer& w) { w.string(signature_blob(algorithm)); }));
}

// Runs `body` against an agent answering with `replies`; returns what the agent was asked.
template <class Body>
std::vector<Bytes> with_agent(std::deque<Bytes> replies, Body body,
                              runtime::Clock::duration timeout = std::chrono::seconds(5)) {
  asio::io_context io;
  auto [ours, theirs] = runtime::make_memory_stream_pair(io.get_executor());
  ScriptedAgent agent{std::move(replies), {}};
  asio::co_spawn(io, agent.serve(*theirs), asio::detached);
  auto client = std::make_shared<ssh::AgentClient>(std::move(ours), ssh::AgentOptions{timeout});
  test::run(io, [&]() -> asio::awaitable<int> {
    auto operation = body(client);
    co_await std::move(operation);
    co_return 0;
  }());
  return agent.requests;
}

}  // namespace

TEST_CASE("agent: SIGN_REQUEST carries the key, the data and the rsa-sha2 flag", "[agent]") {
  const auto generated = GENERATE(
      values<std::pair<std::string, std::uint32_t>>({{"rsa-sha2-512", 4}, {"rsa-sha2-256", 2}, {"ssh-rsa", 0}}));
  const std::string algorithm = generated.first;
  const std::uint32_t flags = generated.second;
  const auto requests = with_agent({sign_response(algorithm)}, [&](auto client) -> asio::awaitable<void> {
    auto blob = kBlob;
    Bytes data{1, 2, 3};
    auto asked = algorithm;
    auto signature = co_await client->sign(std::move(blob), std::move(data), std::move(asked));
    REQUIRE(signature);
    CHECK((*signature == signature_blob(algorithm)));
  });
  REQUIRE(requests.size() == 1);
  ssh::Reader r(requests[0]);
  CHECK(r.byte() == 13);
  const auto blob = r.string();
  CHECK(Bytes(blob.begin(), blob.end()) == kBlob);
  CHECK(r.string().size() == 3);
  CHECK(r.uint32() == flags);
  CHECK(r.finish(true));
}

TEST_CASE("agent: identities become keys with comments, and a refusal is an answer, not a broken stream", "[agent]") {
  const auto answer = framed(message(12, [](ssh::Writer& w) {
    w.uint32(2);
    w.string(kBlob);
    w.string("first");
    w.string(kBlob);
    w.string("second");
  }));
  with_agent({framed(message(5)), answer}, [](auto client) -> asio::awaitable<void> {
    auto blob = kBlob;
    Bytes data{1};
    std::string algorithm = "rsa-sha2-512";
    auto refused = co_await client->sign(std::move(blob), std::move(data), std::move(algorithm));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().layer == runtime::Layer::auth);
    CHECK(refused.error().message.starts_with("the ssh-agent refused to sign"));
    auto identities = co_await ssh::agent_identities(client);
    REQUIRE(identities);
    REQUIRE(identities->size() == 2);
    CHECK((*identities)[1].source == "agent: second");
    CHECK(ssh::key_type(*(*identities)[0].signer) == "ssh-rsa");
  });
}

TEST_CASE("agent: malformed replies are errors that say what was wrong", "[agent]") {
  using Case = std::pair<Bytes, std::string>;
  const auto generated = GENERATE(values<Case>({
      {framed(message(99)), "the ssh-agent answered with an unexpected message"},
      {framed(message(12, [](ssh::Writer& w) { w.uint32(100000); })), "the ssh-agent lists 100000 keys (at most 2048)"},
      {framed(message(12,
                      [](ssh::Writer& w) {
                        w.uint32(2);
                        w.string(kBlob);
                        w.string("only one");
                      })),
       "malformed ssh-agent IDENTITIES_ANSWER"},
      {framed(message(12,
                      [](ssh::Writer& w) {
                        w.uint32(0);
                        w.byte(0);
                      })),
       "1 unexpected bytes at the end"},
  }));
  const std::string expected = generated.second;
  with_agent({generated.first}, [&](auto client) -> asio::awaitable<void> {
    auto listed = co_await client->list_keys();
    REQUIRE_FALSE(listed);
    INFO(listed.error().detailed());
    CHECK(listed.error().layer == runtime::Layer::auth);
    CHECK(listed.error().message.find(expected) != std::string::npos);
  });
}

TEST_CASE("agent: a signature made with another algorithm than asked is refused", "[agent]") {
  with_agent({sign_response("ssh-rsa")}, [](auto client) -> asio::awaitable<void> {
    auto blob = kBlob;
    Bytes data{1};
    std::string algorithm = "rsa-sha2-512";
    auto signature = co_await client->sign(std::move(blob), std::move(data), std::move(algorithm));
    REQUIRE_FALSE(signature);
    CHECK(signature.error().message == "the ssh-agent signed with \"ssh-rsa\" when asked for rsa-sha2-512");
  });
}

TEST_CASE("agent: an oversized length is refused before allocating, and the stream is done with", "[agent]") {
  const Bytes huge{0x7f, 0xff, 0xff, 0xff};
  with_agent({huge, framed(message(12, [](ssh::Writer& w) { w.uint32(0); }))},
             [](auto client) -> asio::awaitable<void> {
               auto first = co_await client->list_keys();
               REQUIRE_FALSE(first);
               CHECK(first.error().message == "the ssh-agent sent a 2147483647-byte message (at most 262144)");
               auto second = co_await client->list_keys();
               REQUIRE_FALSE(second);
               CHECK(second.error().message == first.error().message);
             });
}

TEST_CASE("agent: a silent agent times out within the request deadline, a closed one ends the stream", "[agent]") {
  const auto started = std::chrono::steady_clock::now();
  with_agent(
      {Bytes{}},
      [](auto client) -> asio::awaitable<void> {
        auto listed = co_await client->list_keys();
        REQUIRE_FALSE(listed);
        CHECK(listed.error().code == runtime::Errc::timed_out);
        CHECK(listed.error().layer == runtime::Layer::auth);
        auto again = co_await client->list_keys();
        REQUIRE_FALSE(again);
        CHECK(again.error().code == runtime::Errc::timed_out);
      },
      200ms);
  CHECK(std::chrono::steady_clock::now() - started < 2s);

  with_agent({}, [](auto client) -> asio::awaitable<void> {
    auto listed = co_await client->list_keys();
    REQUIRE_FALSE(listed);
    CHECK(listed.error().code == runtime::Errc::end_of_stream);
  });
}
