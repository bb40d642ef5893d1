// Keepalives (OpenSSH's ServerAliveInterval / ServerAliveCountMax): both servers answer them, and
// a server that stops answering (its process frozen with SIGSTOP, as a dead network would look)
// fails the connection with a timeout that says so, instead of leaving a session hanging.

#include <csignal>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "ssh/client_config.hpp"
#include "support/files.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

ssh::ClientOptions none_auth_with_keepalive(std::chrono::milliseconds interval, int count_max) {
  ssh::ClientOptions options;
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.auth.user = "coder";
  options.connection.keepalive_interval = interval;
  options.connection.keepalive_count_max = count_max;
  return options;
}

}  // namespace

TEST_CASE("keepalive: sshd and the Go server both answer keepalive@openssh.com", "[keepalive][sshd][go]") {
  test::LoggedInSshd sshd;
  const std::string go_server = CODER_RUNTIME_GO_SSHD;
  for (const bool openssh : {true, false}) {
    INFO((openssh ? "sshd" : "Go server"));
    auto answered = test::run([&]() -> asio::awaitable<runtime::Result<void>> {
      runtime::Result<std::shared_ptr<ssh::Connection>> connection =
          runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::runtime, "not connected");
      if (openssh) {
        connection = co_await sshd.connect();
      } else {
        auto options = none_auth_with_keepalive(0ms, 3);
        connection = co_await test::connect_through(go_server, std::move(options));
      }
      REQUIRE(connection);
      auto first = co_await (*connection)->ping(runtime::Deadline::after(5s));
      auto second = co_await (*connection)->ping(runtime::Deadline::after(5s));
      co_await (*connection)->close();
      if (!first) co_return first;
      co_return second;
    }());
    INFO((answered ? "" : answered.error().summary()));
    CHECK(answered);
  }
}

TEST_CASE("keepalive: a server that stops answering fails the connection after count_max misses", "[keepalive][go]") {
  test::TemporaryDirectory dir{"keepalive_test"};
  const auto pid_file = dir.path() / "server.pid";
  const auto proxy = fmt::format("sh -c 'echo $$ > {}; exec {}'", pid_file.string(), CODER_RUNTIME_GO_SSHD);
  pid_t server = 0;
  auto waited = test::run([&]() -> asio::awaitable<runtime::Result<ssh::SessionExit>> {
    auto options = none_auth_with_keepalive(200ms, 2);
    auto connection = co_await test::connect_through(proxy, std::move(options));
    REQUIRE(connection);
    auto session = co_await (*connection)->open_session();
    REQUIRE(session);
    server = static_cast<pid_t>(std::stoi(test::read_text(pid_file)));
    REQUIRE(::kill(server, SIGSTOP) == 0);
    // Nothing comes from a frozen server: only the keepalives can end this wait.
    auto exit = co_await session->wait();
    ::kill(server, SIGCONT);
    co_await (*connection)->close();
    co_return exit;
  }());
  REQUIRE_FALSE(waited);
  CHECK(waited.error().code == runtime::Errc::timed_out);
  CHECK_THAT(waited.error().message, Catch::Contains("did not answer 2 keepalives in a row, 200 ms apart"));
}

TEST_CASE("keepalive: ServerAliveInterval and ServerAliveCountMax from ssh_config reach the connection",
          "[keepalive][config]") {
  test::TemporaryDirectory dir{"keepalive_test"};
  const auto file = dir.path() / "config";
  test::write_text(file, "ServerAliveInterval 5\nServerAliveCountMax 2\n");
  ssh::ConfigContext context;
  context.host = "box";
  context.home = dir.path();
  auto config = ssh::read_config({{}, {file}}, std::move(context));
  REQUIRE(config);
  auto plan = ssh::plan_connection(*config, {"", "box", std::nullopt});
  REQUIRE(plan);
  CHECK(plan->options.connection.keepalive_interval == 5s);
  CHECK(plan->options.connection.keepalive_count_max == 2);
}
