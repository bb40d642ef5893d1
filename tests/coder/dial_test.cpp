// coder::dial_over: a plan the caller fills in (no ssh_config text) over a stream the caller
// opened itself. The server is a real sshd in inetd mode, which the test starts as its own
// process stream.

#include <chrono>

#include <catch2/catch.hpp>

#include "coder/dial.hpp"
#include "proxy/proxy_command.hpp"
#include "runtime/memory_stream.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// What a host writes when it has no ssh_config: the server, the user, a key held in memory and
// the host key policy, all typed.
ssh::ClientPlan typed_plan(ssh::ClientOptions options, std::chrono::seconds timeout) {
  ssh::ClientPlan plan;
  plan.host_alias = "box";
  plan.hostname = "unreachable.invalid";  // never looked up: the stream is the caller's
  plan.user = options.auth.user;
  plan.identities_only = true;
  plan.identity_agent = "none";
  plan.batch_mode = true;
  plan.connect_timeout = timeout;
  plan.options = std::move(options);
  return plan;
}

}  // namespace

TEST_CASE("dial_over: a typed plan over the caller's own stream logs in with the plan's key and runs a command",
          "[coder][dial]") {
  test::LoggedInSshd server;
  auto ran = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    auto executor = co_await asio::this_coro::executor;
    auto stream = proxy::start_proxy_command(executor, server.proxy_command(), proxy::ProxyTokens{});
    if (!stream) co_return runtime::fail(std::move(stream.error()));
    auto plan = typed_plan(server.options(), 15s);
    coder::DialOptions options;
    auto connection = co_await coder::dial_over(std::move(*stream), std::move(plan), std::move(options));
    if (!connection) co_return runtime::fail(std::move(connection.error()));
    auto result = co_await (*connection)->exec("echo over $((6*7))");
    co_await (*connection)->close();
    co_return result;
  }());
  REQUIRE(ran);
  CHECK(ran->stdout_data == "over 42\n");
  CHECK(ran->exit_code == 0);
}

TEST_CASE("dial_over: ConnectTimeout bounds a caller's stream that never answers, and no stream is refused",
          "[coder][dial]") {
  const auto started = std::chrono::steady_clock::now();
  auto silent = test::run([&]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    auto executor = co_await asio::this_coro::executor;
    auto pair = runtime::make_memory_stream_pair(executor);
    ssh::ClientOptions client;
    client.auth.user = "nobody";
    client.transport.verify_host_key = ssh::accept_any_host_key();
    auto plan = typed_plan(std::move(client), 1s);
    coder::DialOptions options;
    // The other end stays open and silent until the dial gives up.
    co_return co_await coder::dial_over(std::move(pair.first), std::move(plan), std::move(options));
  }());
  REQUIRE_FALSE(silent);
  CHECK(silent.error().code == runtime::Errc::timed_out);
  CHECK(silent.error().summary().find("connecting to box") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 10s);

  auto nothing = test::run([&]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    ssh::ClientOptions client;
    client.transport.verify_host_key = ssh::accept_any_host_key();
    auto plan = typed_plan(std::move(client), 1s);
    coder::DialOptions options;
    std::unique_ptr<runtime::AsyncStream> none;
    co_return co_await coder::dial_over(std::move(none), std::move(plan), std::move(options));
  }());
  REQUIRE_FALSE(nothing);
  CHECK(nothing.error().code == runtime::Errc::invalid_argument);
}
