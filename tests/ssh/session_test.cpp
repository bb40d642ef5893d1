// Session channels against OpenSSH's sshd, whose behaviour matters here: pseudo-terminals, window
// changes, signals, subsystems, shells, environment, and every way a session can end.

#include <catch2/catch.hpp>

#include "ssh/session.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/connect.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// Every byte of stdout until EOF.
asio::awaitable<runtime::Result<std::string>> read_all_stdout(ssh::Session& session) {
  std::string seen;
  // A NUL never comes: read to the end.
  auto ended = co_await test::read_until(session, seen, std::string_view("\0", 1), 10s);
  if (!ended) co_return runtime::fail(std::move(ended.error()));
  co_return seen;
}

asio::awaitable<runtime::Result<ssh::SessionExit>> wait_exit(ssh::Session& session) {
  const auto deadline = runtime::Deadline::after(10s);
  auto waiting = session.wait();
  std::string what = "waiting for the session to end";
  co_return co_await runtime::with_deadline(deadline, std::move(waiting), runtime::Layer::channel, std::move(what));
}

// A command that has started: its output showed the marker.
struct Running {
  std::shared_ptr<ssh::Connection> connection;
  std::optional<ssh::Session> session;
};

asio::awaitable<Running> start_running(std::string proxy_command, ssh::ClientOptions options, std::string command,
                                       std::string_view marker) {
  auto connection = co_await test::connect_through(std::move(proxy_command), std::move(options));
  REQUIRE(connection);
  auto session = co_await (*connection)->open_session();
  REQUIRE(session);
  auto started = co_await session->request_exec(std::move(command));
  REQUIRE(started);
  std::string seen;
  auto shown = co_await test::read_until(*session, seen, marker, 10s);
  REQUIRE(shown);
  REQUIRE(*shown);
  co_return Running{std::move(*connection), std::move(*session)};
}

std::string describe(const runtime::Result<ssh::ExecResult>& result) {
  return result ? fmt::format("exit {} stdout {:?} stderr {:?}", result->exit_code.value_or(-1), result->stdout_data,
                              result->stderr_data)
                : result.error().detailed();
}

}  // namespace

TEST_CASE("terminal modes encode as opcode and uint32 pairs ending in TTY_OP_END", "[session]") {
  auto encoded = ssh::encode_terminal_modes({{ssh::tty::ECHO, 0}, {ssh::tty::TTY_OP_ISPEED, 38400}});
  REQUIRE(encoded);
  CHECK(*encoded == std::vector<std::uint8_t>{53, 0, 0, 0, 0, 128, 0, 0, 0x96, 0x00, 0});
  CHECK(*ssh::encode_terminal_modes({}) == std::vector<std::uint8_t>{0});
  for (int bad : {0, 160, 255}) {
    auto refused = ssh::encode_terminal_modes({{static_cast<std::uint8_t>(bad), 1}});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
  }
}

TEST_CASE("sshd: a pty gives a /dev/pts terminal with the TERM, size and modes we asked for", "[session][sshd]") {
  test::LoggedInSshd server;
  auto result = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    auto connection = co_await server.connect();
    REQUIRE(connection);
    ssh::ExecOptions options;
    options.pty = ssh::PtyRequest{.term = "xterm-cr-test", .columns = 132, .rows = 43, .modes = {{ssh::tty::ECHO, 0}}};
    std::string command = "tty; echo TERM=$TERM; echo size=$(stty size); stty -a";
    auto ran = co_await test::exec(**connection, std::move(command), std::move(options));
    co_await (*connection)->close();
    co_return ran;
  }());
  INFO(describe(result));
  REQUIRE(result);
  CHECK(result->exit_code == 0);
  CHECK_THAT(result->stdout_data, Contains("/dev/pts/"));
  CHECK_THAT(result->stdout_data, Contains("TERM=xterm-cr-test\r\n"));
  CHECK_THAT(result->stdout_data, Contains("size=43 132\r\n"));
  CHECK_THAT(result->stdout_data, Contains(" -echo "));
}

TEST_CASE("sshd: window-change reaches the shell's terminal", "[session][sshd]") {
  test::LoggedInSshd server;
  auto outcome = test::run([&]() -> asio::awaitable<runtime::Result<std::string>> {
    auto connection = co_await server.connect();
    REQUIRE(connection);
    auto session = co_await (*connection)->open_session();
    REQUIRE(session);
    ssh::PtyRequest terminal;
    auto pty = co_await session->request_pty(std::move(terminal));
    REQUIRE(pty);
    auto shell = co_await session->request_shell();
    REQUIRE(shell);
    // The marker's echo ("size-$(stty size)-end") cannot match what the command prints.
    const std::string ask_size = "echo size-$(stty size)-end\n";
    std::string seen;
    auto asked = co_await session->write_stdin(runtime::as_bytes(ask_size));
    REQUIRE(asked);
    auto before = co_await test::read_until(*session, seen, "size-24 80-end", 10s);
    REQUIRE(before);
    REQUIRE(*before);
    auto changed = co_await session->window_change(100, 30, 800, 600);
    REQUIRE(changed);
    auto asked_again = co_await session->write_stdin(runtime::as_bytes(ask_size));
    REQUIRE(asked_again);
    auto after = co_await test::read_until(*session, seen, "size-30 100-end", 10s);
    const std::string exit_line = "exit 0\n";
    auto exited = co_await session->write_stdin(runtime::as_bytes(exit_line));
    REQUIRE(exited);
    auto exit = co_await wait_exit(*session);
    co_await (*connection)->close();
    if (!after) co_return runtime::fail(std::move(after.error()));
    REQUIRE(exit);
    CHECK(exit->exit_code == 0);
    co_return seen;
  }());
  INFO((outcome ? *outcome : outcome.error().detailed()));
  REQUIRE(outcome);
  CHECK_THAT(*outcome, Contains("size-30 100-end"));
}

TEST_CASE("sshd: a signal request delivers TERM to the running command", "[session][sshd]") {
  // Root sessions cannot be signalled through sshd (see kUnprivilegedUser).
  test::LoggedInSshd server("", test::kUnprivilegedUser);
  auto exit = test::run([&]() -> asio::awaitable<runtime::Result<ssh::SessionExit>> {
    auto proxy_command = server.proxy_command();
    auto options = server.options();
    std::string command = "echo ready; exec sleep 20";
    auto running = co_await start_running(std::move(proxy_command), std::move(options), std::move(command), "ready\n");
    std::string name = "SIGTERM";  // the "SIG" is dropped on the wire
    auto signalled = co_await running.session->signal(std::move(name));
    REQUIRE(signalled);
    auto ended = co_await wait_exit(*running.session);
    co_await running.connection->close();
    co_return ended;
  }());
  INFO((exit ? "ok" : exit.error().detailed()));
  REQUIRE(exit);
  CHECK_FALSE(exit->exit_code);
  REQUIRE(exit->signal);
  CHECK(exit->signal->name == "TERM");
  CHECK_FALSE(exit->signal->core_dumped);
}

TEST_CASE("sshd: commands killed by KILL and TERM end with exit-signal, not an exit code", "[session][sshd]") {
  test::LoggedInSshd server;
  auto results = test::run([&]() -> asio::awaitable<std::vector<runtime::Result<ssh::ExecResult>>> {
    auto connection = co_await server.connect();
    REQUIRE(connection);
    std::vector<runtime::Result<ssh::ExecResult>> out;
    for (std::string command : {"echo before; kill -KILL $$", "kill -TERM $$"}) {
      auto ran = co_await test::exec(**connection, std::move(command));
      out.push_back(std::move(ran));
    }
    co_await (*connection)->close();
    co_return out;
  }());
  const std::vector<std::string> expected{"KILL", "TERM"};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO(describe(results[i]));
    REQUIRE(results[i]);
    CHECK_FALSE(results[i]->exit_code);
    REQUIRE(results[i]->signal);
    CHECK(results[i]->signal->name == expected[i]);
    CHECK_FALSE(results[i]->signal->core_dumped);
    CHECK_FALSE(results[i]->closed_without_status());
  }
  CHECK(results[0]->stdout_data == "before\n");
}

TEST_CASE("sshd: an unknown subsystem is refused cleanly and the connection carries on", "[session][sshd]") {
  test::LoggedInSshd server;
  std::optional<runtime::Error> refusal;
  auto after = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    auto connection = co_await server.connect();
    REQUIRE(connection);
    auto session = co_await (*connection)->open_session();
    REQUIRE(session);
    std::string name = "no-such-subsystem";
    auto started = co_await session->request_subsystem(std::move(name));
    if (!started) refusal = started.error();
    std::string command = "echo still-here";
    auto ran = co_await test::exec(**connection, std::move(command));
    co_await (*connection)->close();
    co_return ran;
  }());
  REQUIRE(refusal);
  CHECK(refusal->code == runtime::Errc::refused);
  CHECK(refusal->layer == runtime::Layer::channel);
  CHECK(refusal->message == "the server refused the subsystem \"no-such-subsystem\"");
  INFO(describe(after));
  REQUIRE(after);
  CHECK(after->stdout_data == "still-here\n");
}

TEST_CASE("sshd: a shell runs the script it reads on stdin", "[session][sshd]") {
  test::LoggedInSshd server;
  std::string output;
  auto exit = test::run([&]() -> asio::awaitable<runtime::Result<ssh::SessionExit>> {
    auto connection = co_await server.connect();
    INFO((connection ? "" : connection.error().summary()));
    REQUIRE(connection);
    auto session = co_await (*connection)->open_session();
    REQUIRE(session);
    auto shell = co_await session->request_shell();
    REQUIRE(shell);
    const std::string script = "echo from-script\nx=$((6 * 7)); echo $x\nexit 5\n";
    auto written = co_await session->write_stdin(runtime::as_bytes(script));
    REQUIRE(written);
    auto eof = co_await session->close_stdin();
    REQUIRE(eof);
    auto all = co_await read_all_stdout(*session);
    REQUIRE(all);
    output = *all;
    auto ended = co_await wait_exit(*session);
    co_await (*connection)->close();
    co_return ended;
  }());
  INFO((exit ? output : exit.error().detailed()));
  REQUIRE(exit);
  CHECK(exit->exit_code == 5);
  CHECK(output == "from-script\n42\n");
}

namespace {

// Starts a command that prints "started" and then ticks; closes the channel once it has started.
// The command dies of SIGPIPE at its next tick after the server lets go of the channel.
asio::awaitable<runtime::Result<ssh::SessionExit>> close_while_running(std::string proxy_command,
                                                                       ssh::ClientOptions options) {
  std::string command = "echo started; while echo tick; do sleep 0.2; done";
  auto running = co_await start_running(std::move(proxy_command), std::move(options), std::move(command), "started\n");
  co_await running.session->close();
  auto ended = co_await wait_exit(*running.session);
  co_await running.connection->close();
  co_return ended;
}

}  // namespace

TEST_CASE("Go server: a channel we close while its command runs ends without an exit status", "[session][go]") {
  ssh::ClientOptions options;
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.auth.user = "coder";
  auto exit = test::run(close_while_running(CODER_RUNTIME_GO_SSHD, std::move(options)));
  INFO((exit ? "ok" : exit.error().detailed()));
  REQUIRE(exit);
  CHECK(exit->closed_without_status());
}

TEST_CASE("sshd: a channel we close while its command runs reports the command's SIGPIPE", "[session][sshd]") {
  // sshd holds its CLOSE back until the command has exited, and says how it ended.
  test::LoggedInSshd server;
  auto exit = test::run(close_while_running(server.proxy_command(), server.options()));
  INFO((exit ? "ok" : exit.error().detailed()));
  REQUIRE(exit);
  CHECK_FALSE(exit->closed_without_status());
  REQUIRE(exit->signal);
  CHECK(exit->signal->name == "PIPE");
}

TEST_CASE("sshd: env requests set what AcceptEnv allows, and the rest is dropped quietly", "[session][sshd]") {
  test::LoggedInSshd server("AcceptEnv CR_TEST_*");
  auto result = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    auto connection = co_await server.connect();
    REQUIRE(connection);
    ssh::ExecOptions options;
    options.env = {{"CR_TEST_VALUE", "hello world"}, {"NOT_ACCEPTED", "x"}};
    std::string command = "echo \"$CR_TEST_VALUE|$NOT_ACCEPTED\"";
    auto ran = co_await test::exec(**connection, std::move(command), std::move(options));
    co_await (*connection)->close();
    co_return ran;
  }());
  INFO(describe(result));
  REQUIRE(result);
  CHECK(result->stdout_data == "hello world|\n");
  CHECK(result->exit_code == 0);
}

namespace {

// Commands that exit after a little of a large stdin, each followed by an echo on the same
// connection: "" when every echo came back, else what went wrong first.
asio::awaitable<std::string> each_echo_comes_back(ssh::Connection& connection, int rounds);

asio::awaitable<std::string> exit_while_stdin_flows(std::shared_ptr<ssh::Connection> connection, int rounds) {
  auto failure = co_await each_echo_comes_back(*connection, rounds);
  co_await connection->close();
  co_return failure;
}

asio::awaitable<std::string> each_echo_comes_back(ssh::Connection& connection, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    auto chunks = std::make_shared<int>(0);
    ssh::ExecOptions options;
    options.stdin_source = [chunks]() -> asio::awaitable<std::optional<std::string>> {
      if (++*chunks > 32) co_return std::nullopt;
      co_return std::string(std::size_t{1} << 20, 'x');
    };
    std::string reads_a_little = "head -c 100000 >/dev/null";
    auto ran = co_await test::exec(connection, std::move(reads_a_little), std::move(options));
    if (!ran) co_return fmt::format("round {}: {}", round, ran.error().detailed());
    std::string echo = "echo whole";
    auto echoed = co_await test::exec(connection, std::move(echo));
    if (!echoed || echoed->stdout_data != "whole\n")
      co_return fmt::format("round {}: then {}", round, describe(echoed));
  }
  co_return std::string();
}

}  // namespace

// Session::exec stops feeding stdin once the session has ended. That cancellation often lands while
// a data packet is going out; were the packet cut short, every later message on the connection
// would be garbage to the server (or wait for good behind a lock never given back).
TEST_CASE("Go server: commands that exit while their stdin flows leave the connection whole", "[session][go]") {
  const auto failure = test::run(
      []() -> asio::awaitable<std::string> {
        ssh::ClientOptions options;
        options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
        options.auth.user = "coder";
        auto connection = co_await test::connect_through(CODER_RUNTIME_GO_SSHD, std::move(options));
        REQUIRE(connection);
        co_return co_await exit_while_stdin_flows(std::move(*connection), 20);
      }(),
      60s);
  CHECK(failure == "");
}

TEST_CASE("sshd: commands that exit while their stdin flows leave the connection whole", "[session][sshd]") {
  test::LoggedInSshd server;
  const auto failure = test::run(
      [&]() -> asio::awaitable<std::string> {
        auto connection = co_await server.connect();
        REQUIRE(connection);
        co_return co_await exit_while_stdin_flows(std::move(*connection), 20);
      }(),
      60s);
  CHECK(failure == "");
}
