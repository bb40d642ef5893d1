// Fault injection: the whole client (ProxyCommand, transport, auth, a session running one command)
// against tests/servers/bad_peer/bad_peer.py, a small SSH server that misbehaves in one named way
// per run. Each fault must end in its own error kind, layer and evidence, within its deadline, and
// leave nothing behind: the proxy process reaped, no descriptor open that was not open before, and
// no coroutine still waiting on the io_context.

#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "proxy/proxy_command.hpp"
#include "runtime/deadline.hpp"
#include "ssh/client.hpp"
#include "ssh/crypto/random.hpp"
#include "support/connect.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

constexpr auto kCommand = "echo hello";
constexpr auto kOutput = "ran: echo hello\n";  // what bad_peer's command prints; it exits with 3
constexpr auto kDisconnectReason = "bad_peer: the workspace is shutting down";

std::string bad_peer(std::string_view scenario) {
  // Debian's python3 explicitly: bad_peer needs python3-cryptography, not whatever is first on PATH.
  return fmt::format("/usr/bin/python3 {}/bad_peer/bad_peer.py {}", CODER_RUNTIME_TEST_SERVERS, scenario);
}

struct Outcome {
  runtime::Result<ssh::ExecResult> result;
  std::size_t key_exchanges = 0;
  int proxy_pid = 0;
};

asio::awaitable<Outcome> exec_against(std::string scenario, ssh::ClientOptions options,
                                      std::chrono::milliseconds connect_budget) {
  auto ex = co_await asio::this_coro::executor;
  const proxy::ProxyTokens tokens{"test-host", "22", "coder", "test-host"};
  auto proxy = proxy::start_proxy_command(ex, bad_peer(scenario), tokens);
  REQUIRE(proxy);
  Outcome outcome;
  outcome.proxy_pid = (*proxy)->pid();
  const auto deadline = runtime::Deadline::after(connect_budget);
  auto connecting = ssh::connect(std::move(*proxy), std::move(options));
  auto connection = co_await runtime::with_deadline(deadline, std::move(connecting), runtime::Layer::kex, "connecting");
  if (!connection) {
    outcome.result = runtime::fail(std::move(connection.error()));
    co_return outcome;
  }
  std::string command = kCommand;
  ssh::ExecOptions exec;
  outcome.result = co_await test::exec(**connection, std::move(command), std::move(exec), 10s);
  outcome.key_exchanges = (*connection)->transport().completed_key_exchanges();
  co_await (*connection)->close();
  co_return outcome;
}

bool reaped(int pid) { return ::waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD; }

// One run on an io_context of its own, then the checks that it left nothing behind.
Outcome run_scenario(std::string scenario, ssh::ClientOptions options = test::as_user("coder"),
                     std::chrono::milliseconds connect_budget = 10s) {
  UNSCOPED_INFO("scenario " << scenario);
  // The random generator keeps /dev/urandom open for the life of the process: open it first.
  std::array<std::uint8_t, 1> warm_up;
  ssh::crypto::random_bytes(warm_up);
  const auto descriptors = test::open_descriptor_count();
  Outcome outcome;
  {
    asio::io_context io;
    outcome = test::run(io, exec_against(scenario, std::move(options), connect_budget));
    // Whatever the connection started (its reader, queued writes, the proxy's stderr reader) has
    // ended: with nothing left waiting, the io_context runs out of work at once.
    io.restart();
    io.run_for(5s);
    CHECK(io.stopped());
  }
  CHECK(reaped(outcome.proxy_pid));
  CHECK(test::open_descriptor_count() == descriptors);
  if (outcome.result) {
    UNSCOPED_INFO("stdout: " << outcome.result->stdout_data);
  } else {
    UNSCOPED_INFO(outcome.result.error().detailed());
  }
  return outcome;
}

const runtime::Error& failure_of(const Outcome& outcome) {
  if (outcome.result) FAIL("the run succeeded");
  return outcome.result.error();
}

std::string evidence(const runtime::Error& error, std::string_view label) {
  const auto* found = error.find_evidence(label);
  return found ? found->text : std::string("(no evidence \"") + std::string(label) + "\")";
}

bool in_context(const runtime::Error& error, std::string_view doing) {
  for (const auto& c : error.context) {
    if (c.find(doing) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("bad_peer behaving well: the command's output and exit status", "[fault]") {
  const auto outcome = run_scenario("normal");
  REQUIRE(outcome.result);
  CHECK(outcome.result->stdout_data == kOutput);
  CHECK(outcome.result->exit_code == 3);
  CHECK(outcome.key_exchanges == 1);
}

TEST_CASE("fault: the proxy exits before the banner", "[fault]") {
  const auto outcome = run_scenario("exit-before-banner");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::end_of_stream);
  CHECK(error.layer == runtime::Layer::proxy);
  CHECK_THAT(error.message, Catch::Contains("exited with status 3"));
  CHECK_THAT(evidence(error, "stderr"), Catch::Contains("bad_peer: exiting before the banner"));
  CHECK(in_context(error, "waiting for the server's SSH version line"));
}

TEST_CASE("fault: binary garbage instead of a banner", "[fault]") {
  const auto outcome = run_scenario("garbage-banner");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::banner);
  CHECK_THAT(error.message, Catch::Contains("binary data"));
  // What arrived, up to the first byte no text line has: a TLS record header.
  CHECK(evidence(error, "received") == std::string("\x16\x03\x01\x00", 4));
}

TEST_CASE("fault: endless lines before the banner", "[fault]") {
  const auto outcome = run_scenario("endless-pre-banner");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::banner);
  CHECK_THAT(error.message, Catch::Contains("more than 1024 lines"));
  CHECK(evidence(error, "received").starts_with("pre-banner line 1\r\npre-banner line 2\r\n"));
}

TEST_CASE("fault: the banner, then the peer closes", "[fault]") {
  const auto outcome = run_scenario("banner-then-close");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::end_of_stream);
  CHECK(error.layer == runtime::Layer::proxy);
  CHECK_THAT(evidence(error, "stderr"), Catch::Contains("bad_peer: closing after the banner"));
  CHECK(in_context(error, "waiting for the server's KEXINIT"));
  // What arrived, in the one line a user sees: who answered, and how far it got.
  CHECK(evidence(error, "server version") == "SSH-2.0-bad_peer_1.0");
  CHECK_THAT(error.summary(), Catch::Contains("server version: SSH-2.0-bad_peer_1.0; handshake: the stream ended "
                                              "after the version line, before the server's KEXINIT"));
}

TEST_CASE("fault: the peer closes in the middle of the key exchange", "[fault]") {
  const auto outcome = run_scenario("close-mid-kex");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::end_of_stream);
  CHECK(error.layer == runtime::Layer::proxy);
  CHECK_THAT(evidence(error, "stderr"), Catch::Contains("bad_peer: closing in the middle of the key exchange"));
  CHECK(in_context(error, "waiting for the server's key exchange reply"));
  CHECK(evidence(error, "server version") == "SSH-2.0-bad_peer_1.0");
}

TEST_CASE("fault: a wrong host key signature", "[fault]") {
  const auto outcome = run_scenario("bad-host-key-signature");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::kex);
  CHECK_THAT(error.message, Catch::Contains("signature"));
  CHECK(evidence(error, "server") == "SSH-2.0-bad_peer_1.0");
}

TEST_CASE("fault: a bad MAC on the first encrypted packet", "[fault]") {
  const auto outcome = run_scenario("bad-mac");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::transport);
  CHECK_THAT(error.message, Catch::Contains("message authentication failed"));
  // Strict kex restarted the sequence numbers at NEWKEYS: SERVICE_ACCEPT is packet 0.
  CHECK(evidence(error, "sequence number") == "0");
}

TEST_CASE("fault: an oversized packet length", "[fault]") {
  const auto outcome = run_scenario("oversized-packet");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::transport);
  CHECK_THAT(error.message, Catch::Contains("invalid packet length"));
  CHECK_THAT(evidence(error, "packet_length"), Catch::StartsWith("1073741824 "));
}

TEST_CASE("fault: padding longer than the packet", "[fault]") {
  const auto outcome = run_scenario("bad-padding");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::transport);
  CHECK_THAT(error.message, Catch::Contains("invalid padding"));
}

TEST_CASE("fault: a window adjust past 2^32-1", "[fault]") {
  const auto outcome = run_scenario("window-overflow");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::channel);
  CHECK_THAT(error.message, Catch::Contains("overflows the channel window"));
  CHECK(evidence(error, "window") == std::to_string(2 * 1024 * 1024));
  CHECK(evidence(error, "adjust") == "4294967295");
}

TEST_CASE("fault: data beyond the window we gave", "[fault]") {
  auto options = test::as_user("coder");
  options.connection.window_size = 1024;
  const auto outcome = run_scenario("data-beyond-window", std::move(options));
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::protocol_error);
  CHECK(error.layer == runtime::Layer::channel);
  CHECK_THAT(error.message, Catch::Contains("beyond the channel window"));
  CHECK(evidence(error, "data") == "1025");
  CHECK(evidence(error, "window") == "1024");
}

TEST_CASE("fault: the channel closes without an exit status", "[fault]") {
  const auto outcome = run_scenario("close-without-exit-status");
  REQUIRE(outcome.result);
  CHECK(outcome.result->stdout_data == kOutput);
  CHECK(outcome.result->closed_without_status());
}

TEST_CASE("fault: the server disconnects while the command runs", "[fault]") {
  const auto outcome = run_scenario("disconnect-mid-exec");
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::end_of_stream);
  CHECK(error.layer == runtime::Layer::transport);
  CHECK_THAT(error.message, Catch::Contains("by application"));
  CHECK(evidence(error, "reason code") == "11");
  CHECK(evidence(error, "server said") == kDisconnectReason);
  // The first piece of output ("ran: ") had come.
  CHECK(evidence(error, "output received") == "5 bytes of stdout, 0 of stderr");
}

TEST_CASE("fault: a peer that sends nothing: the connect deadline names the phase", "[fault]") {
  const auto outcome = run_scenario("stall", test::as_user("coder"), 500ms);
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::timed_out);
  CHECK(error.layer == runtime::Layer::kex);
  CHECK_THAT(error.message, Catch::Contains("connecting did not finish within"));
  CHECK(evidence(error, "received before that") == "nothing");
  CHECK(in_context(error, "waiting for the server's SSH version line"));
}

TEST_CASE("fault: a slow-drip peer is slow, not wrong", "[fault]") {
  const auto outcome = run_scenario("slow-drip");
  REQUIRE(outcome.result);
  CHECK(outcome.result->stdout_data == kOutput);
  CHECK(outcome.result->exit_code == 3);
}

TEST_CASE("fault: a slow-drip peer past the connect deadline: the timeout names the phase", "[fault]") {
  // One byte a millisecond: the banner alone takes over 20 ms, the whole handshake far longer.
  const auto outcome = run_scenario("slow-drip", test::as_user("coder"), 100ms);
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::timed_out);
  CHECK(error.layer == runtime::Layer::kex);
  CHECK(in_context(error, "waiting for the server's"));
}

TEST_CASE("fault: a rekey storm, a key re-exchange after every server packet", "[fault]") {
  const auto outcome = run_scenario("rekey-storm");
  REQUIRE(outcome.result);
  CHECK(outcome.result->stdout_data == kOutput);
  CHECK(outcome.result->exit_code == 3);
  // The first exchange, one after USERAUTH_SUCCESS, and one after each channel message.
  CHECK(outcome.key_exchanges >= 8);
}

TEST_CASE("fault: a server that offers no cipher we have and exits unread: the error is the mismatch, not our write",
          "[fault]") {
  // Our version line, KEXINIT and guessed packet may find the server gone; its KEXINIT says why.
  const auto outcome = run_scenario("kexinit-then-exit");
  const auto& error = failure_of(outcome);
  CHECK(error.layer == runtime::Layer::kex);
  CHECK_THAT(error.message, Catch::Contains("no cipher (client to server) algorithm in common"));
  REQUIRE(error.find_evidence("server offered"));
  CHECK(error.find_evidence("server offered")->text == "3des-cbc");
}

TEST_CASE("fault: a host key callback that throws at a re-exchange fails the connection with its text", "[fault]") {
  // It runs on the connection's reader; the exec waiting for the exchange to end must see why.
  auto options = test::as_user("coder");
  int calls = 0;
  options.transport.verify_host_key = [&calls](const ssh::HostKey&) -> runtime::Result<void> {
    if (++calls > 1) throw std::runtime_error("the key store is unreadable");
    return {};
  };
  const auto outcome = run_scenario("rekey-storm", std::move(options));
  const auto& error = failure_of(outcome);
  CHECK(error.code == runtime::Errc::internal_error);
  CHECK(error.message == "the connection's reader stopped: the key store is unreadable");
  CHECK(calls == 2);
}

TEST_CASE("fault: the peer closes during a re-exchange we started: waiting writes end too", "[fault]") {
  // Window given back after 2 MiB of output is a write after more than rekey_after_bytes: it sends
  // our KEXINIT and waits for the exchange, which the peer answers by going away.
  auto options = test::as_user("coder");
  options.transport.rekey_after_bytes = 1 << 20;
  const auto outcome = run_scenario("close-mid-rekey", std::move(options));
  const auto& error = failure_of(outcome);
  // Not timed_out: the waiting write ended with the stream, and run_scenario saw nothing left.
  CHECK(error.code == runtime::Errc::end_of_stream);
}
