// `coder-runtime ssh`'s forwards end to end (#20), against OpenSSH's sshd in inetd mode: -W makes
// stdin and stdout a connection the server opens, -L (and LocalForward) a local port whose
// connections the server carries on, many at once, byte for byte, and a forward that cannot be
// made fails with ssh's exit status.

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
#include "support/sshd.hpp"
#include "support/tcp_echo.hpp"

using namespace cr;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// A client key authorized by a test sshd, and an ssh_config naming it "box".
struct Setup {
  test::TemporaryDirectory dir{"forward_command_test"};
  std::unique_ptr<test::Sshd> sshd;
  std::filesystem::path config = dir.path() / "ssh_config";

  explicit Setup(const std::string& extra = "") {
    const auto key = dir.path() / "id_ed25519";
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -f {}", key.string())) == 0);
    sshd = std::make_unique<test::Sshd>("PasswordAuthentication no\nKbdInteractiveAuthentication no\n");
    std::filesystem::copy_file(key.string() + ".pub", sshd->authorized_keys());
    test::write_text(config, fmt::format("Host box\n"
                                         "  ProxyCommand {}\n"
                                         "  User root\n"
                                         "  IdentityFile {}\n"
                                         "  IdentityAgent none\n"
                                         "  StrictHostKeyChecking no\n"
                                         "  UserKnownHostsFile /dev/null\n{}",
                                         sshd->proxy_command(), key.string(), extra));
  }
};

// A port nothing listens on now (a listener is opened on a free one and closed).
std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

std::string payload(std::size_t size, unsigned seed) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>((i * 131 + seed * 7919 + i / 97) & 0xff);
  return text;
}

// Connects to the forwarded port, sends `data`, half-closes, and reads the echo to its end.
asio::awaitable<std::string> echo_through(std::uint16_t port, std::string data) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  auto [ec] = co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, as_tuple);
  REQUIRE_FALSE(ec);
  auto [wec, written] = co_await asio::async_write(socket, asio::buffer(data), as_tuple);
  REQUIRE_FALSE(wec);
  socket.shutdown(tcp::socket::shutdown_send);
  std::string echoed;
  std::array<char, 16384> buffer;
  for (;;) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(buffer), as_tuple);
    echoed.append(buffer.data(), n);
    if (rec) break;
  }
  co_return echoed;
}

// Waits (polling, within a deadline) until something listens on the port.
asio::awaitable<bool> listening(std::uint16_t port) {
  auto ex = co_await asio::this_coro::executor;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    tcp::socket socket(ex);
    auto [ec] = co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, as_tuple);
    if (!ec) co_return true;
    asio::steady_timer pause(ex, 20ms);  // a poll: the child says nothing when it listens
    co_await pause.async_wait(as_tuple);
  }
  co_return false;
}

}  // namespace

TEST_CASE("ssh -W: stdin and stdout are a connection the server makes, to its end", "[cli][sshd][forward]") {
  Setup setup;
  const auto sent = payload(300000, 1);
  const auto ran = test::run([&]() -> asio::awaitable<test::Ran> {
    auto ex = co_await asio::this_coro::executor;
    auto echo = test::loopback_acceptor(ex);
    const auto target = fmt::format("127.0.0.1:{}", echo->local_endpoint().port());
    asio::co_spawn(ex, test::serve_tcp_echo(echo), asio::detached);
    std::vector<std::string> args{"ssh", "-F", setup.config.string(), "-W", target, "box"};
    auto input = sent;
    co_return co_await test::run_cli_async(std::move(args), std::move(input));
  }());
  INFO(ran.err);
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
        std::vector<std::string> args{"ssh", "-F", setup.config.string(), "-N", "-L", spec, "box"};
        auto child = test::start_cli(ex, std::move(args));
        const bool up = co_await listening(port);
        CHECK(up);
        int done = 0;
        runtime::Event finished(ex);
        for (int i = 0; i < kConnections; ++i) {
          asio::co_spawn(ex, echo_through(port, payload(100000 + 977 * static_cast<std::size_t>(i), i)),
                         [&echoed, &done, &finished, i](std::exception_ptr, std::string text) {
                           echoed[static_cast<std::size_t>(i)] = std::move(text);
                           ++done;
                           finished.notify();
                         });
        }
        while (done < kConnections) co_await finished.wait();
        ::kill(child->pid(), SIGTERM);
        auto status = co_await child->wait_exit(runtime::Deadline::after(15s));
        REQUIRE(status);
        co_return test::Ran{status->kind == proxy::ExitStatus::Kind::exited ? status->value : -1, "",
                            child->stderr_tail()};
      }(),
      60s);
  INFO(ran.err);
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
