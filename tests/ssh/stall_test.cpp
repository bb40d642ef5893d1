// The handshake's stall budget (ssh/stall.hpp) against the Go server behind
// tests/support/fault_relay.py, which stops passing the server's bytes after a set number of them:
// the handshake fails within the budget, saying how much had come and what came last, where it
// used to wait out the whole connect budget.

#include <chrono>
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "ssh/stall.hpp"
#include "support/files.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

struct Stalled {
  runtime::Result<void> connected;
  std::chrono::steady_clock::duration took{};
};

// Connects with a stall budget of 2 s through a relay that stops after `bytes` from the server. A
// healthy server's gaps are milliseconds; the margin is for a loaded machine (the sanitizer suite).
Stalled connect_stalling_after(std::uint64_t bytes) {
  const test::TemporaryDirectory folder("stall");
  const auto control = folder.path() / "control.json";
  test::write_text(control, fmt::format(R"({{"rate": 1, "kinds": ["stall_down"], "min_offset": {}, "max_offset": {}}})",
                                        bytes, bytes));
  const auto proxy = fmt::format("/usr/bin/python3 {}/fault_relay.py {} {} {}", CODER_RUNTIME_TEST_SUPPORT,
                                 control.string(), (folder.path() / "relays.jsonl").string(), CODER_RUNTIME_GO_SSHD);
  Stalled stalled;
  const auto started = std::chrono::steady_clock::now();
  stalled.connected = test::run([&proxy]() -> asio::awaitable<runtime::Result<void>> {
    auto options = test::as_user("coder");
    options.transport.stall_budget = 2s;
    auto connection = co_await test::connect_through(proxy, std::move(options));
    if (!connection) co_return runtime::fail(std::move(connection.error()));
    co_await (*connection)->close();
    co_return runtime::Result<void>{};
  }());
  stalled.took = std::chrono::steady_clock::now() - started;
  return stalled;
}

std::string evidence(const runtime::Error& error, std::string_view label) {
  const auto* found = error.find_evidence(label);
  return found ? found->text : std::string("(none)");
}

// The handshake failed as a stall, within the budget and a margin, having seen `bytes`: its error.
runtime::Error stall_of(const Stalled& stalled, std::uint64_t bytes) {
  REQUIRE_FALSE(stalled.connected);
  const auto& error = stalled.connected.error();
  INFO(error.summary());
  CHECK(error.code == runtime::Errc::timed_out);
  CHECK(ssh::stalled(error));
  CHECK(evidence(error, "stalled") == fmt::format("no data for 2 s after {} bytes", bytes));
  CHECK(stalled.took < 8s);
  return error;
}

}  // namespace

TEST_CASE("stall: a server that stops inside its version line fails the handshake within the budget", "[stall][go]") {
  const auto error = stall_of(connect_stalling_after(5), 5);
  CHECK(evidence(error, "last arrived") == "part of the server's version line: \"SSH-2\"");
}

TEST_CASE("stall: a server that stops inside its KEXINIT fails the handshake within the budget", "[stall][go]") {
  const auto error = stall_of(connect_stalling_after(30), 30);
  CHECK(evidence(error, "last arrived") == "the server's version line and part of its first packet");
  REQUIRE_FALSE(error.context.empty());
  CHECK(error.context.front() == "waiting for the server's KEXINIT");
}

TEST_CASE("stall: a server that stops during authentication names the last message that came", "[stall][go]") {
  const auto error = stall_of(connect_stalling_after(1500), 1500);
  CHECK_THAT(evidence(error, "last arrived"), Catch::StartsWith("SSH_MSG_SERVICE_ACCEPT (6)"));
}

TEST_CASE("stall: an idle connection after authentication is not a stall", "[stall][go]") {
  // The budget ends with authentication: a connection nobody uses for longer stays up.
  const auto idle = test::run([]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    auto options = test::as_user("coder");
    options.transport.stall_budget = 1s;
    auto connection = co_await test::connect_through(CODER_RUNTIME_GO_SSHD, std::move(options));
    if (!connection) co_return runtime::fail(std::move(connection.error()));
    asio::steady_timer quiet(co_await asio::this_coro::executor, 1500ms);
    co_await quiet.async_wait(asio::use_awaitable);
    auto ran = co_await (*connection)->exec("echo still here");
    co_await (*connection)->close();
    co_return ran;
  }());
  REQUIRE(idle);
  CHECK(idle->stdout_data == "still here\n");
}
