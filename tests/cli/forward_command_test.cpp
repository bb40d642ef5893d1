// `coder-runtime ssh`'s forwards end to end (#20), against OpenSSH's sshd in inetd mode: -W makes
// stdin and stdout a connection the server opens, -L (and LocalForward) a local port whose
// connections the server carries on, -D the same for SOCKS5 clients, -R a port on the server whose
// connections come back here; many at once, byte for byte; and a forward that cannot be made
// fails with ssh's exit status.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "runtime/event.hpp"
#include "support/cli_process.hpp"
#include "support/files.hpp"
#include "support/run.hpp"
#include "support/ssh_agent.hpp"
#include "support/sshd.hpp"
#include "support/tcp_echo.hpp"
#include "support/tcp_exchange.hpp"

using namespace cr;
using namespace std::chrono_literals;
using asio::ip::tcp;
using test::all_at_once;
using test::echo_through;
using test::free_port;
using test::listening;
using test::payload;
using test::terminated;

namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// A client key authorized by a test sshd, and an ssh_config naming it "box"; "go" is the Go test
// server (x/crypto/ssh, with the forwarding handlers the Coder agent has). `extra` is for both.
struct Setup {
  test::TemporaryDirectory dir{"forward_command_test"};
  std::unique_ptr<test::Sshd> sshd;
  std::filesystem::path config = dir.path() / "ssh_config";

  explicit Setup(const std::string& extra = "", const std::string& sshd_extra = "") {
    const auto key = dir.path() / "id_ed25519";
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -f {}", key.string())) == 0);
    sshd = std::make_unique<test::Sshd>("PasswordAuthentication no\nKbdInteractiveAuthentication no\n" + sshd_extra);
    std::filesystem::copy_file(key.string() + ".pub", sshd->authorized_keys());
    test::write_text(config, fmt::format("Host box\n"
                                         "  ProxyCommand {}\n"
                                         "  User root\n"
                                         "  IdentityFile {}\n"
                                         "  IdentityAgent none\n"
                                         "  StrictHostKeyChecking no\n"
                                         "  UserKnownHostsFile /dev/null\n"
                                         "Host go\n"
                                         "  ProxyCommand {}\n"
                                         "  StrictHostKeyChecking no\n"
                                         "  UserKnownHostsFile /dev/null\n"
                                         "Host *\n{}",
                                         sshd->proxy_command(), key.string(), CODER_RUNTIME_GO_SSHD, extra));
  }
};

// Sends a SOCKS5 greeting and a CONNECT to 127.0.0.1:port (or to `name`:port), then `data`
// (half-closing after it); what comes back: the two answers, then the echo, to the end.
asio::awaitable<std::string> socks_through(std::uint16_t socks_port, std::uint16_t port, std::string data,
                                           std::string name = "") {
  std::string request{'\x05', '\x01', '\x00', '\x05', '\x01', '\x00'};
  if (name.empty()) {
    request += std::string{'\x01', '\x7f', '\x00', '\x00', '\x01'};
  } else {
    request += '\x03';
    request += static_cast<char>(name.size());
    request += name;
  }
  request += static_cast<char>(port >> 8);
  request += static_cast<char>(port & 0xff);
  co_return co_await echo_through(socks_port, request + data);
}

// The SOCKS5 answers to a greeting and a request that succeeded.
const std::string kSocksAccepted{'\x05', '\x00', '\x05', '\x00', '\x00', '\x01',
                                 '\x00', '\x00', '\x00', '\x00', '\x00', '\x00'};

}  // namespace

TEST_CASE("ssh -W: stdin and stdout are a connection the server makes, to its end", "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  Setup setup;
  const auto sent = payload(300000, 1);
  const auto ran = test::run([&]() -> asio::awaitable<test::Ran> {
    auto ex = co_await asio::this_coro::executor;
    auto echo = test::loopback_acceptor(ex);
    const auto target = fmt::format("127.0.0.1:{}", echo->local_endpoint().port());
    asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
    std::vector<std::string> args{"ssh", "-F", setup.config.string(), "-W", target, host};
    auto input = sent;
    co_return co_await test::run_cli_async(std::move(args), std::move(input));
  }());
  INFO(host << ": " << ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out.size() == sent.size());
  CHECK(ran.out == sent);
}

TEST_CASE("ssh -W: a target the server cannot reach is 255 and says so", "[cli][sshd][forward]") {
  Setup setup;
  const auto ran =
      test::run_cli({"ssh", "-F", setup.config.string(), "-W", fmt::format("127.0.0.1:{}", free_port()), "box"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains("stdio forwarding"));
  CHECK(ran.out.empty());
}

TEST_CASE("ssh -N -L: twenty connections at once through one forward, byte for byte", "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  // ExitOnForwardFailure: should the free port have been taken meanwhile, the run fails, rather
  // than the probe finding whatever took it.
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto port = free_port();
  constexpr int kConnections = 20;
  std::vector<std::string> echoed(kConnections);
  const auto ran = test::run(
      [&]() -> asio::awaitable<test::Ran> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        // One more than the test's: listening()'s probe is forwarded too.
        for (int i = 0; i <= kConnections; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        const auto spec = fmt::format("{}:127.0.0.1:{}", port, echo->local_endpoint().port());
        std::vector<std::string> args{"ssh", "-F", setup.config.string(), "-N", "-L", spec, host};
        auto child = test::start_cli(ex, std::move(args));
        const bool up = co_await listening(port);
        CHECK(up);
        std::vector<asio::awaitable<std::string>> exchanges;
        for (int i = 0; i < kConnections; ++i) {
          exchanges.push_back(echo_through(port, payload(100000 + 977 * static_cast<std::size_t>(i), i)));
        }
        echoed = co_await all_at_once(std::move(exchanges));
        const int status = co_await terminated(*child);
        co_return test::Ran{status, "", child->stderr_tail()};
      }(),
      60s);
  INFO(host << ": " << ran.err);
  for (int i = 0; i < kConnections; ++i) {
    const auto& got = echoed[static_cast<std::size_t>(i)];
    CHECK(got == payload(100000 + 977 * static_cast<std::size_t>(i), i));
  }
  CHECK(ran.status == 255);  // as ssh, ended by a signal
}

TEST_CASE("ssh -L: under ExitOnForwardFailure a port that cannot be listened on is 255 and names it",
          "[cli][sshd][forward]") {
  Setup setup("  ExitOnForwardFailure yes\n");
  asio::io_context io;
  tcp::acceptor taken(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = taken.local_endpoint().port();
  const auto ran = test::run_cli(
      {"ssh", "-F", setup.config.string(), "-L", fmt::format("{}:127.0.0.1:22", port), "box", "echo ran"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains(fmt::format("cannot listen on localhost port {}", port)));
  CHECK(ran.out.empty());
}

TEST_CASE("ssh -L: a malformed forward is refused before anything runs", "[cli][forward]") {
  Setup setup;
  const auto ran = test::run_cli({"ssh", "-F", setup.config.string(), "-L", "8080:host", "box", "true"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains("[bind_address:]port:host:hostport"));
}

TEST_CASE("ssh: LocalForward in the config forwards while the command runs, and -L adds to it",
          "[cli][sshd][forward]") {
  const auto from_config = free_port();
  const auto from_option = free_port();
  const auto ran = test::run([&]() -> asio::awaitable<test::Ran> {
    auto ex = co_await asio::this_coro::executor;
    auto echo = test::loopback_acceptor(ex);
    const auto echo_port = echo->local_endpoint().port();
    // Two connections, and the two probes of listening(), which are forwarded too.
    for (int i = 0; i < 4; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
    Setup setup(fmt::format("  LocalForward {} 127.0.0.1:{}\n  ExitOnForwardFailure yes\n", from_config, echo_port));
    // The remote command (cat) lives until its stdin ends: both ports carry a connection first.
    std::vector<std::string> args{
        "ssh", "-F", setup.config.string(), "-L", fmt::format("{}:127.0.0.1:{}", from_option, echo_port), "box", "cat"};
    auto child = test::start_cli(ex, std::move(args));
    const bool config_up = co_await listening(from_config);
    const bool option_up = co_await listening(from_option);
    CHECK(config_up);
    CHECK(option_up);
    auto first = co_await echo_through(from_config, "through LocalForward\n");
    auto second = co_await echo_through(from_option, "through -L\n");
    CHECK(first == "through LocalForward\n");
    CHECK(second == "through -L\n");
    const std::string input = "the session ran meanwhile\n";
    auto written = co_await runtime::write_all(*child, runtime::as_bytes(input));
    REQUIRE(written);
    REQUIRE(child->shutdown_send());
    std::string out;
    co_await test::read_until(*child, out, input);
    auto status = co_await child->wait_exit(runtime::Deadline::after(15s));
    REQUIRE(status);
    co_return test::Ran{status->kind == proxy::ExitStatus::Kind::exited ? status->value : -1, out,
                        child->stderr_tail()};
  }());
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "the session ran meanwhile\n");
}

TEST_CASE("ssh -N -D: SOCKS5 clients name their targets, and one that sends garbage is closed alone",
          "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto port = free_port();
  const auto unreachable = free_port();
  constexpr int kConnections = 10;
  std::vector<std::string> echoed(kConnections);
  std::string garbage_answer;
  std::string refused_answer;
  const auto ran = test::run(
      [&]() -> asio::awaitable<test::Ran> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        const auto echo_port = echo->local_endpoint().port();
        for (int i = 0; i < kConnections; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        std::vector<std::string> args{"ssh", "-F", setup.config.string(), "-N", "-D", std::to_string(port), host};
        auto child = test::start_cli(ex, std::move(args));
        const bool up = co_await listening(port);  // a client that says nothing: closed alone
        CHECK(up);
        garbage_answer = co_await echo_through(port, "GET / HTTP/1.1\r\nHost: example\r\n\r\n");
        refused_answer = co_await socks_through(port, unreachable, "");
        std::vector<asio::awaitable<std::string>> exchanges;
        for (int i = 0; i < kConnections; ++i) {
          // Every other one by name: the server resolves it.
          exchanges.push_back(socks_through(port, echo_port, payload(50000 + 1013 * static_cast<std::size_t>(i), i),
                                            i % 2 == 0 ? "localhost" : ""));
        }
        echoed = co_await all_at_once(std::move(exchanges));
        const int status = co_await terminated(*child);
        co_return test::Ran{status, "", child->stderr_tail()};
      }(),
      60s);
  INFO(host << ": " << ran.err);
  CHECK(garbage_answer.empty());
  CHECK_THAT(ran.err, Catch::Contains("not a SOCKS5 request: version 71"));
  // The greeting's answer, then "connection refused" (5): the server could not connect.
  CHECK(refused_answer == std::string({'\x05', '\x00', '\x05', '\x05', '\x00', '\x01', 0, 0, 0, 0, 0, 0}));
  for (int i = 0; i < kConnections; ++i) {
    CHECK(echoed[static_cast<std::size_t>(i)] ==
          kSocksAccepted + payload(50000 + 1013 * static_cast<std::size_t>(i), i));
  }
  CHECK(ran.status == 255);
}

TEST_CASE("ssh -N -R: the server listens on a port it chooses, and its connections come here, byte for byte",
          "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto unreachable = free_port();
  constexpr int kConnections = 10;
  std::vector<std::string> echoed(kConnections);
  std::string refused_answer;
  std::string err;
  const auto status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        const auto echo_port = echo->local_endpoint().port();
        for (int i = 0; i < kConnections; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        test::WatchedCli child(
            ex, {"ssh", "-F", setup.config.string(), "-N", "-R", fmt::format("0:127.0.0.1:{}", echo_port), "-R",
                 fmt::format("0:127.0.0.1:{}", unreachable), host});
        const auto server_port = co_await child.number_after("Allocated port ");
        const auto dead_port =
            co_await child.number_after(fmt::format("for remote forward to 127.0.0.1:{}\nAllocated port ", echo_port));
        // A target that cannot be reached: the server closes that connection, and only that one.
        refused_answer = co_await echo_through(dead_port, "never answered");
        std::vector<asio::awaitable<std::string>> exchanges;
        for (int i = 0; i < kConnections; ++i) {
          exchanges.push_back(echo_through(server_port, payload(80000 + 733 * static_cast<std::size_t>(i), i)));
        }
        echoed = co_await all_at_once(std::move(exchanges));
        const int exited = co_await terminated(*child.process);
        err = *child.err;
        co_return exited;
      }(),
      60s);
  INFO(host << ": " << err);
  CHECK(refused_answer.empty());
  CHECK_THAT(err, Catch::Contains(fmt::format("to 127.0.0.1 port {}", unreachable)));
  for (int i = 0; i < kConnections; ++i) {
    const auto& got = echoed[static_cast<std::size_t>(i)];
    CHECK(got.size() == 80000 + 733 * static_cast<std::size_t>(i));
    CHECK((got == payload(80000 + 733 * static_cast<std::size_t>(i), i)));
  }
  CHECK(status == 255);
}

TEST_CASE("ssh -R: a forward the server refuses is 255 under ExitOnForwardFailure, a warning otherwise",
          "[cli][sshd][forward]") {
  Setup strict("  ExitOnForwardFailure yes\n", "AllowTcpForwarding local\n");
  const auto refused = test::run_cli({"ssh", "-F", strict.config.string(), "-R", "0:127.0.0.1:22", "box", "echo ran"});
  CHECK(refused.status == 255);
  CHECK_THAT(refused.err, Catch::Contains("the server refused to listen on localhost:0"));
  CHECK(refused.out.empty());

  Setup lenient("", "AllowTcpForwarding local\n");
  const auto warned = test::run_cli({"ssh", "-F", lenient.config.string(), "-R", "0:127.0.0.1:22", "box", "echo ran"});
  CHECK(warned.status == 0);
  CHECK_THAT(warned.err, Catch::Contains("that forward is left out"));
  CHECK(warned.out == "ran\n");
}

TEST_CASE("ssh -A: the server's ssh-add lists the local agent's key, through the forwarded agent",
          "[cli][sshd][forward]") {
  test::SshAgent agent;
  test::TemporaryDirectory keys("forward_agent_keys");
  const auto key = keys.path() / "id_agent";
  REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -C forwarded-key -f {}", key.string())) == 0);
  REQUIRE(agent.add(key));
  // "box" sets IdentityAgent none, so authentication leaves the agent alone; ForwardAgent names it.
  Setup setup(fmt::format("  ForwardAgent {}\n", agent.socket().string()));
  const auto listed = test::run_cli({"ssh", "-F", setup.config.string(), "box", "ssh-add -l"});
  INFO(listed.err);
  CHECK(listed.status == 0);
  CHECK_THAT(listed.out, Catch::Contains("forwarded-key (ED25519)"));

  // Without it, the server has no agent to offer.
  Setup plain;
  const auto none = test::run_cli({"ssh", "-F", plain.config.string(), "box", "ssh-add -l"});
  CHECK(none.status == 2);  // ssh-add: cannot connect to an agent
  CHECK(none.out.empty());
}

TEST_CASE("ssh -L: GatewayPorts yes listens on every address, where loopback alone is the default",
          "[cli][sshd][forward]") {
  // A port bound to 127.0.0.1 takes no connection to 127.0.0.2; one bound to every address does.
  const auto reachable_at = [](bool gateway) {
    Setup setup(gateway ? "  GatewayPorts yes\n  ExitOnForwardFailure yes\n" : "  ExitOnForwardFailure yes\n");
    const auto port = free_port();
    return test::run([&]() -> asio::awaitable<bool> {
      auto ex = co_await asio::this_coro::executor;
      std::vector<std::string> args{"ssh", "-F", setup.config.string(), "-N", "-L", fmt::format("{}:127.0.0.1:9", port),
                                    "box"};
      auto child = test::start_cli(ex, std::move(args));
      const bool up = co_await listening(port);
      REQUIRE(up);
      tcp::socket socket(ex);
      auto [ec] = co_await socket.async_connect({asio::ip::make_address("127.0.0.2"), port}, as_tuple);
      socket.close();
      co_await terminated(*child);
      co_return !ec;
    }());
  };
  CHECK(reachable_at(true));
  CHECK_FALSE(reachable_at(false));
}

TEST_CASE("ssh -N -R port alone: the server's port is a SOCKS5 proxy whose targets are reached from here",
          "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto unreachable = free_port();
  std::vector<std::string> echoed;
  std::string refused;
  std::string garbage;
  std::string err;
  const auto status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        const auto echo_port = echo->local_endpoint().port();
        for (int i = 0; i < 5; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        test::WatchedCli child(ex, {"ssh", "-F", setup.config.string(), "-N", "-R", "0", host});
        const auto server_port = co_await child.number_after("Allocated port ");
        std::vector<asio::awaitable<std::string>> exchanges;
        for (int i = 0; i < 5; ++i) {
          exchanges.push_back(
              socks_through(server_port, echo_port, payload(30000 + 577 * static_cast<std::size_t>(i), i)));
        }
        echoed = co_await all_at_once(std::move(exchanges));
        refused = co_await socks_through(server_port, unreachable, "never answered");
        garbage = co_await echo_through(server_port, "GET / HTTP/1.0\r\n\r\n");
        const int exited = co_await terminated(*child.process);
        err = *child.err;
        co_return exited;
      }(),
      60s);
  INFO(host << ": " << err);
  REQUIRE(echoed.size() == 5);
  for (std::size_t i = 0; i < echoed.size(); ++i) {
    CHECK((echoed[i] == kSocksAccepted + payload(30000 + 577 * i, static_cast<unsigned>(i))));
  }
  // Connection refused (5), after the method's answer; a client that does not speak SOCKS5 is closed.
  CHECK(refused.substr(0, 4) == std::string{'\x05', '\x00', '\x05', '\x05'});
  CHECK(garbage.empty());
  CHECK_THAT(err,
             Catch::Contains("Allocated port ") && Catch::Contains("for remote forward to SOCKS clients' targets"));
  CHECK(status == 255);
}

namespace {

// For the socket forwards: kPaired exchanges through each of two ends at once, the same payloads
// through both, and the check of what came back.
constexpr int kPaired = 5;

template <class A, class B>
std::vector<asio::awaitable<std::string>> paired_exchanges(const A& a, const B& b) {
  std::vector<asio::awaitable<std::string>> exchanges;
  for (int i = 0; i < kPaired; ++i) {
    exchanges.push_back(echo_through(a, payload(40000 + 811 * static_cast<std::size_t>(i), i)));
    exchanges.push_back(echo_through(b, payload(40000 + 811 * static_cast<std::size_t>(i), i)));
  }
  return exchanges;
}

void check_paired(const std::vector<std::string>& echoed) {
  REQUIRE(echoed.size() == 2 * kPaired);
  for (std::size_t i = 0; i < echoed.size(); ++i) {
    const auto expected = payload(40000 + 811 * (i / 2), static_cast<unsigned>(i / 2));
    CHECK(echoed[i].size() == expected.size());
    CHECK((echoed[i] == expected));
  }
}

}  // namespace

TEST_CASE("ssh -N -L: a local Unix socket and a local port to a Unix socket on the server, byte for byte",
          "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto server_socket = (setup.dir.path() / "server.sock").string();
  const auto local_socket = (setup.dir.path() / "local.sock").string();
  const auto port = free_port();
  std::vector<std::string> echoed;
  std::string err;
  const auto status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        using asio::local::stream_protocol;
        auto echo = std::make_shared<stream_protocol::acceptor>(ex, stream_protocol::endpoint(server_socket));
        // Two more than the test's: listening()'s probes are forwarded too.
        for (int i = 0; i < 2 * kPaired + 2; ++i) asio::co_spawn(ex, test::serve_echo(echo), asio::detached);
        test::WatchedCli child(
            ex, {"ssh", "-F", setup.config.string(), "-N", "-L", fmt::format("{}:{}", local_socket, server_socket),
                 "-o", fmt::format("LocalForward {} {}", port, server_socket), host});
        const bool socket_up = co_await listening(local_socket);
        const bool port_up = co_await listening(port);
        REQUIRE(socket_up);
        REQUIRE(port_up);
        auto exchanges = paired_exchanges(local_socket, port);
        echoed = co_await all_at_once(std::move(exchanges));
        const int exited = co_await terminated(*child.process);
        err = *child.err;
        co_return exited;
      }(),
      60s);
  INFO(host << ": " << err);
  check_paired(echoed);
  CHECK(status == 255);
  // Its socket goes with it, so that the next run can listen there.
  CHECK_FALSE(std::filesystem::exists(local_socket));
}

TEST_CASE("ssh -N -R: the server listens on a Unix socket and its connections come here to a socket or a port",
          "[cli][sshd][forward]") {
  const std::string host = GENERATE(as<std::string>{}, "box", "go");
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto to_socket = (setup.dir.path() / "server-to-socket.sock").string();
  const auto to_port = (setup.dir.path() / "server-to-port.sock").string();
  const auto local_socket = (setup.dir.path() / "echo.sock").string();
  std::vector<std::string> echoed;
  std::string err;
  const auto status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        using asio::local::stream_protocol;
        auto socket_echo = std::make_shared<stream_protocol::acceptor>(ex, stream_protocol::endpoint(local_socket));
        auto port_echo = test::loopback_acceptor(ex);
        for (int i = 0; i <= kPaired; ++i) {
          asio::co_spawn(ex, test::serve_echo(socket_echo), asio::detached);
          asio::co_spawn(ex, test::serve_echo(port_echo), asio::detached);
        }
        test::WatchedCli child(
            ex, {"ssh", "-F", setup.config.string(), "-N", "-R", fmt::format("{}:{}", to_socket, local_socket), "-R",
                 fmt::format("{}:127.0.0.1:{}", to_port, port_echo->local_endpoint().port()), host});
        const bool socket_up = co_await listening(to_socket);
        const bool port_up = co_await listening(to_port);
        REQUIRE(socket_up);
        REQUIRE(port_up);
        auto exchanges = paired_exchanges(to_socket, to_port);
        echoed = co_await all_at_once(std::move(exchanges));
        const int exited = co_await terminated(*child.process);
        err = *child.err;
        co_return exited;
      }(),
      60s);
  INFO(host << ": " << err);
  check_paired(echoed);
  CHECK(status == 255);
}

TEST_CASE("ssh -N: the connection's end ends it, 255 with why, its port freed", "[cli][sshd][forward]") {
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto port = free_port();
  std::string err;
  const auto status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        test::WatchedCli child(
            ex, {"ssh", "-F", setup.config.string(), "-N", "-L", fmt::format("{}:127.0.0.1:9", port), "box"});
        const bool up = co_await listening(port);
        REQUIRE(up);
        // The server goes: its sshd -i, the ProxyCommand's child of ours, is killed.
        const auto pid = child.process->pid();
        const auto children = test::read_text(fmt::format("/proc/{}/task/{}/children", pid, pid));
        REQUIRE_FALSE(children.empty());
        ::kill(std::stoi(children), SIGKILL);
        auto exited = co_await child.process->wait_exit(runtime::Deadline::after(15s));
        REQUIRE(exited);
        err = *child.err;
        co_return exited->kind == proxy::ExitStatus::Kind::exited ? exited->value : -1;
      }(),
      30s);
  INFO(err);
  CHECK(status == 255);
  CHECK_THAT(err, Catch::Contains("coder-runtime: proxy: ProxyCommand") && Catch::Contains("killed by signal 9"));
  asio::io_context io;
  tcp::acceptor again(io);
  std::error_code ec;
  again.open(tcp::v4(), ec);
  if (!ec) again.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
  CHECK_FALSE(ec);
}

TEST_CASE("ssh -L: a forwarded connection open when the command ends keeps the connection until it closes",
          "[cli][sshd][forward]") {
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto port = free_port();
  std::string first;
  std::string second;
  std::string err;
  const auto status = test::run(
      [&]() -> asio::awaitable<int> {
        auto ex = co_await asio::this_coro::executor;
        auto echo = test::loopback_acceptor(ex);
        // One more than the test's: listening()'s probe is forwarded too.
        for (int i = 0; i < 2; ++i) asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
        test::WatchedCli child(
            ex, {"ssh", "-F", setup.config.string(), "-vv", "-L",
                 fmt::format("{}:127.0.0.1:{}", port, echo->local_endpoint().port()), "box", "head -c1 >/dev/null"});
        const bool up = co_await listening(port);
        REQUIRE(up);
        tcp::socket client(ex);
        auto [cec] = co_await client.async_connect({asio::ip::make_address("127.0.0.1"), port}, as_tuple);
        REQUIRE_FALSE(cec);
        const auto exchange = [&client](std::string text) -> asio::awaitable<std::string> {
          co_await asio::async_write(client, asio::buffer(text), as_tuple);
          std::string back(text.size(), '\0');
          co_await asio::async_read(client, asio::buffer(back), as_tuple);
          co_return back;
        };
        first = co_await exchange("while the command runs");
        // The command reads its byte and ends; the forwarded connection is still open.
        const auto ended_command = runtime::as_bytes("x");
        auto wrote = co_await runtime::write_all(*child.process, ended_command);
        REQUIRE(wrote);
        co_await child.wait_for("waiting for 1 forwarded connection(s) to close");
        second = co_await exchange("after the command ended");
        client.close();
        auto exited = co_await child.process->wait_exit(runtime::Deadline::after(15s));
        REQUIRE(exited);
        err = *child.err;
        co_return exited->kind == proxy::ExitStatus::Kind::exited ? exited->value : -1;
      }(),
      60s);
  INFO(err);
  CHECK(first == "while the command runs");
  CHECK(second == "after the command ended");
  CHECK(status == 0);
}

TEST_CASE("ssh -L: a stale socket file is in the way of a local socket unless StreamLocalBindUnlink removes it",
          "[cli][sshd][forward]") {
  Setup setup("  ExitOnForwardFailure yes\n");
  const auto stale = (setup.dir.path() / "stale.sock").string();
  {
    // A socket file whose listener is gone, as a killed process leaves one.
    asio::io_context io;
    asio::local::stream_protocol::acceptor gone(io, asio::local::stream_protocol::endpoint(stale));
  }
  REQUIRE(std::filesystem::is_socket(stale));
  const auto spec = fmt::format("{}:127.0.0.1:9", stale);
  const auto in_the_way = test::run_cli({"ssh", "-F", setup.config.string(), "-L", spec, "box", "true"});
  CHECK(in_the_way.status == 255);
  CHECK_THAT(in_the_way.err, Catch::Contains(stale) && Catch::Contains("in use"));
  const auto unlinked = test::run_cli(
      {"ssh", "-F", setup.config.string(), "-o", "StreamLocalBindUnlink=yes", "-L", spec, "box", "echo forwarded"});
  INFO(unlinked.err);
  CHECK(unlinked.status == 0);
  CHECK(unlinked.out == "forwarded\n");
}
