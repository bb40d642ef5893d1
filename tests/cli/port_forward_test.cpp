// `coder-runtime port-forward` end to end (#20), against the stand-in Coder CLI whose
// `ssh --stdio` runs the Go server (which serves direct-tcpip as the Coder agent does): through
// the connection holder, where the listeners live, and on a connection of its own
// (ControlMaster=no). Many connections at once, byte for byte; a port of 0; a remote port nothing
// listens on; a busy port; and a killed port-forward, whose port the holder frees.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/holder_scope.hpp"
#include "support/run.hpp"
#include "support/tcp_echo.hpp"
#include "support/tcp_exchange.hpp"

using namespace cr;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

nlohmann::json scenario() {
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD},
          {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}}}};
}

std::vector<std::string> port_forward_args(const std::string& control_master, std::vector<std::string> tcp) {
  std::vector<std::string> args{
      "port-forward", "--coder", test::CoderStandin::program().string(), "-o", "ControlMaster=" + control_master, "ws"};
  for (auto& spec : tcp) {
    args.push_back("--tcp");
    args.push_back(std::move(spec));
  }
  return args;
}

constexpr std::string_view kFrom = "'tcp://127.0.0.1:";

// The local ports the child says it listens on, once it has said so for `count` forwards.
asio::awaitable<std::vector<std::uint16_t>> announced_ports(proxy::ProcessStream& child, std::size_t count) {
  std::string out;
  std::vector<std::uint16_t> ports;
  while (ports.size() < count) {
    const bool said = co_await test::read_until(child, out, "in the workspace\n");
    if (!said) break;
    const auto found = out.find(kFrom);
    ports.push_back(static_cast<std::uint16_t>(std::stoi(out.substr(found + kFrom.size()))));
    out.erase(0, out.find('\n', found) + 1);
  }
  co_return ports;
}

asio::awaitable<nlohmann::json> listed_forwards() {
  std::vector<std::string> args{"connections", "list", "--json"};
  auto listed = co_await test::run_cli_async(std::move(args));
  REQUIRE(listed.status == 0);
  co_return nlohmann::json::parse(listed.out)["forwards"];
}

}  // namespace

TEST_CASE("port-forward: twenty connections at once through a port of 0 byte for byte until SIGTERM ends it with 0",
          "[cli][shared][forward]") {
  const std::string control_master = GENERATE(as<std::string>{}, "auto", "no");
  test::CoderStandin standin(scenario());
  test::HolderScope holder;
  constexpr int kConnections = 20;
  std::vector<std::string> echoed(kConnections);
  nlohmann::json forwards;
  std::uint16_t port = 0;
  std::uint16_t echo_port = 0;
  std::string err;
  const int status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        echo_port = echo->local_endpoint().port();
        for (int i = 0; i < kConnections; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        auto child = test::start_cli(ex, port_forward_args(control_master, {fmt::format("0:{}", echo_port)}));
        const auto ports = co_await announced_ports(*child, 1);
        REQUIRE(ports.size() == 1);
        port = ports[0];
        std::vector<asio::awaitable<std::string>> exchanges;
        for (int i = 0; i < kConnections; ++i) {
          exchanges.push_back(test::echo_through(port, test::payload(100000 + 977 * static_cast<std::size_t>(i), i)));
        }
        echoed = co_await test::all_at_once(std::move(exchanges));
        forwards = co_await listed_forwards();
        const int exited = co_await test::terminated(*child);
        err = child->stderr_tail();
        co_return exited;
      }(),
      60s);
  INFO(control_master << ": " << err);
  INFO("holder log: " << holder.log());
  CHECK(port != 0);
  for (int i = 0; i < kConnections; ++i) {
    const auto& got = echoed[static_cast<std::size_t>(i)];
    CHECK(got.size() == 100000 + 977 * static_cast<std::size_t>(i));
    CHECK((got == test::payload(100000 + 977 * static_cast<std::size_t>(i), i)));
  }
  CHECK(status == 0);
  CHECK(standin.count_calls("ssh") == 1);
  if (control_master == "auto") {
    REQUIRE(forwards.size() == 1);
    CHECK(forwards[0]["destination"] == "ws.mux--coder");
    CHECK(forwards[0]["listen"] == fmt::format("127.0.0.1:{}", port));
    CHECK(forwards[0]["target"] == fmt::format("127.0.0.1:{}", echo_port));
  } else {
    CHECK(forwards.empty());
    CHECK(holder.holders().empty());
  }
}

TEST_CASE("port-forward: a remote port nothing listens on closes that connection alone and the others go on",
          "[cli][shared][forward]") {
  const std::string control_master = GENERATE(as<std::string>{}, "auto", "no");
  test::CoderStandin standin(scenario());
  test::HolderScope holder;
  const auto unreachable = test::free_port();
  std::string refused_answer;
  std::string echoed;
  const int status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        // A comma list, as coder takes it.
        test::WatchedCli child(
            ex,
            port_forward_args(control_master, {fmt::format("0:{},0:{}", unreachable, echo->local_endpoint().port())}));
        const auto ports = co_await announced_ports(*child.process, 2);
        REQUIRE(ports.size() == 2);
        refused_answer = co_await test::echo_through(ports[0], "never answered");
        // The channel's refusal is told on the port-forward's stderr, either way.
        co_await child.wait_for(fmt::format("to 127.0.0.1 port {}", unreachable));
        echoed = co_await test::echo_through(ports[1], "still forwarded\n");
        co_return co_await test::terminated(*child.process);
      }(),
      60s);
  INFO("holder log: " << holder.log());
  CHECK(refused_answer.empty());
  CHECK(echoed == "still forwarded\n");
  CHECK(status == 0);
}

TEST_CASE("port-forward: a second port-forward of a port in use fails with 255 and names it while the first goes on",
          "[cli][shared][forward]") {
  const std::string control_master = GENERATE(as<std::string>{}, "auto", "no");
  test::CoderStandin standin(scenario());
  test::HolderScope holder;
  std::uint16_t port = 0;
  test::Ran second;
  std::string echoed;
  const int status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        const auto echo_port = echo->local_endpoint().port();
        asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        auto first = test::start_cli(ex, port_forward_args(control_master, {fmt::format("0:{}", echo_port)}));
        const auto ports = co_await announced_ports(*first, 1);
        REQUIRE(ports.size() == 1);
        port = ports[0];
        auto args = port_forward_args(control_master, {fmt::format("{}:{}", port, echo_port)});
        second = co_await test::run_cli_async(std::move(args));
        echoed = co_await test::echo_through(port, "the first forward\n");
        co_return co_await test::terminated(*first);
      }(),
      60s);
  INFO("holder log: " << holder.log());
  CHECK(second.status == 255);
  CHECK_THAT(second.err,
             Catch::Contains(fmt::format("cannot listen on localhost port {}: Address already in use", port)));
  CHECK(second.out.empty());
  CHECK(echoed == "the first forward\n");
  CHECK(status == 0);
}

TEST_CASE("port-forward: a killed port-forward's port is freed by the holder and its connection stays",
          "[cli][shared][forward]") {
  test::CoderStandin standin(scenario());
  test::HolderScope holder;
  std::uint16_t port = 0;
  nlohmann::json while_running;
  nlohmann::json after;
  const bool bound_again = test::run(
      [&]() -> asio::awaitable<bool> {
        auto ex = co_await asio::this_coro::executor;
        auto child = test::start_cli(ex, port_forward_args("auto", {"0:9"}));
        const auto ports = co_await announced_ports(*child, 1);
        REQUIRE(ports.size() == 1);
        port = ports[0];
        while_running = co_await listed_forwards();
        const int killed = co_await test::terminated(*child, SIGKILL);
        CHECK(killed == -1);
        // The holder sees its client go on its own time: polled, within a deadline.
        const auto until = std::chrono::steady_clock::now() + 10s;
        do {
          after = co_await listed_forwards();
        } while (!after.empty() && std::chrono::steady_clock::now() < until);
        tcp::acceptor again(ex);
        std::error_code ec;
        again.open(tcp::v4(), ec);
        if (!ec) again.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
        co_return !ec;
      }(),
      60s);
  INFO("holder log: " << holder.log());
  CHECK(while_running.size() == 1);
  CHECK(after.empty());
  CHECK(bound_again);
  auto listed = test::run_cli({"connections", "list", "--json"});
  CHECK(nlohmann::json::parse(listed.out)["connections"].size() == 1);
  CHECK(standin.count_calls("ssh") == 1);
}

TEST_CASE("port-forward: killed while the holder still dials, its port is free at once", "[cli][shared][forward]") {
  // The workspace's `coder ssh --stdio` takes its time: a cold start, say.
  auto slow = scenario();
  slow["ssh_delay"] = 30;
  test::CoderStandin standin(slow);
  test::HolderScope holder;
  const auto port = test::free_port();
  const bool bound_again = test::run(
      [&]() -> asio::awaitable<bool> {
        auto ex = co_await asio::this_coro::executor;
        auto child = test::start_cli(ex, port_forward_args("auto", {fmt::format("{}:9", port)}));
        // The holder listens before it dials.
        const bool listening = co_await test::listening(port);
        REQUIRE(listening);
        const int killed = co_await test::terminated(*child, SIGKILL);
        CHECK(killed == -1);
        // The holder sees its client go on its own time: polled, within a deadline well short of
        // the dial's.
        const auto until = std::chrono::steady_clock::now() + 10s;
        std::error_code ec;
        do {
          tcp::acceptor again(ex);
          ec = {};
          again.open(tcp::v4(), ec);
          if (!ec) again.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
          if (!ec) break;
          asio::steady_timer pause(ex, 50ms);  // a poll: the holder says nothing when it closes
          co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        } while (std::chrono::steady_clock::now() < until);
        co_return !ec;
      }(),
      60s);
  INFO("holder log: " << holder.log());
  CHECK(bound_again);
}

TEST_CASE("port-forward: --udp is refused and a malformed --tcp is named before anything runs", "[cli][forward]") {
  test::CoderStandin standin(scenario());
  test::HolderScope holder;
  const auto udp = test::run_cli({"port-forward", "--coder", test::CoderStandin::program().string(), "ws", "--tcp",
                                  "8080:3000", "--udp", "5353:53"});
  CHECK(udp.status == 2);
  CHECK_THAT(udp.err, Catch::Contains("--udp: SSH carries TCP only"));
  const auto malformed =
      test::run_cli({"port-forward", "--coder", test::CoderStandin::program().string(), "ws", "--tcp", "8080:x"});
  CHECK(malformed.status == 2);
  CHECK_THAT(malformed.err, Catch::Contains("8080:x"));
  CHECK(standin.calls().empty());
  CHECK(holder.holders().empty());
}
