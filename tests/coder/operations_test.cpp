// Runtime operations against OpenSSH's sshd, logged in as an unprivileged user (sshd delivers
// signals to such sessions): commands with a directory and variables, timeouts and cancellation
// that end the command with TERM, and files read, written atomically, looked at and made.

#include <filesystem>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "coder/operations.hpp"
#include "support/files.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/ssh_client.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// Connects to a fresh sshd as the unprivileged test user, runs `body`, closes.
template <class T>
T with_connection(std::function<asio::awaitable<T>(ssh::Connection&)> body) {
  test::LoggedInSshd server("", test::kUnprivilegedUser);
  return test::run([&]() -> asio::awaitable<T> {
    auto connection = co_await server.connect();
    INFO((connection ? "" : connection.error().summary()));
    REQUIRE(connection);
    auto result = co_await body(**connection);
    co_await (*connection)->close();
    co_return result;
  }());
}

}  // namespace

TEST_CASE("exec: the directory and variables apply, quoting and all", "[operations][sshd]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>([](ssh::Connection& c) {
    coder::ExecRequest request;
    request.command = "pwd; printf '%s|%s\\n' \"$A\" \"$B\"; exit 4";
    request.cwd = "/usr/share";
    request.env = {{"A", "1"}, {"B", "it's $HOME; `x`"}};
    return coder::exec(c, std::move(request));
  });
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::exited);
  CHECK(ran->exit_code == 4);
  CHECK(ran->stdout_data == "/usr/share\n1|it's $HOME; `x`\n");
}

TEST_CASE("exec: a login shell reads its commands from stdin, and takes no directory", "[operations][sshd]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>([](ssh::Connection& c) {
    coder::ExecRequest request;
    request.login_shell = true;
    request.stdin_data = "echo \"shell $0\"\nexit 6\n";
    return coder::exec(c, std::move(request));
  });
  REQUIRE(ran);
  CHECK(ran->exit_code == 6);
  CHECK(ran->stdout_data == "shell -sh\n");  // sshd starts the login shell as "-sh"
  coder::ExecRequest with_directory;
  with_directory.login_shell = true;
  with_directory.cwd = "/tmp";
  CHECK_FALSE(coder::exec_program(with_directory));
}

TEST_CASE("exec: a variable name no shell takes is refused before anything runs", "[operations]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>([](ssh::Connection& c) {
    coder::ExecRequest request;
    request.command = "true";
    request.env = {{"A=B; rm", "x"}};
    return coder::exec(c, std::move(request));
  });
  REQUIRE_FALSE(ran);
  CHECK(ran.error().code == runtime::Errc::invalid_argument);
}

TEST_CASE("exec: a timeout ends the command with TERM, and says it timed out", "[operations][sshd]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>([](ssh::Connection& c) {
    coder::ExecRequest request;
    request.command = "echo started; exec sleep 30";
    request.timeout = 300ms;
    return coder::exec(c, std::move(request));
  });
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::timed_out);
  CHECK(ran->stdout_data == "started\n");
  REQUIRE(ran->signal);
  CHECK(ran->signal->name == "TERM");
  CHECK(ran->duration < 10s);
}

TEST_CASE("exec: cancellation through the caller's slot ends the command and says cancelled", "[operations][sshd]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>(
      [](ssh::Connection& c) -> asio::awaitable<runtime::Result<coder::ExecOutcome>> {
        auto executor = co_await asio::this_coro::executor;
        asio::cancellation_signal cancel;
        asio::steady_timer soon(executor, 300ms);
        soon.async_wait([&](std::error_code ec) {
          if (!ec) cancel.emit(asio::cancellation_type::terminal);
        });
        coder::ExecRequest request;
        request.command = "exec sleep 30";
        auto running = coder::exec(c, std::move(request));
        co_return co_await asio::co_spawn(executor, std::move(running),
                                          asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
      });
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::cancelled);
  REQUIRE(ran->signal);
  CHECK(ran->signal->name == "TERM");
}

namespace {

// The Go server behind tests/support/fault_relay.py, whose control file the test rewrites: from
// the next chunk on, one direction stops (stall_down: nothing more from the server; stall_up:
// nothing more is read from us, so our writes back up).
class StallingServer {
 public:
  StallingServer() { test::write_text(control(), R"({"rate": 0})"); }
  std::string proxy_command() const {
    return fmt::format("/usr/bin/python3 {}/fault_relay.py {} {} {}", CODER_RUNTIME_TEST_SUPPORT, control(),
                       (folder_.path() / "relays.jsonl").string(), CODER_RUNTIME_GO_SSHD);
  }
  void stall(std::string_view kind) const {
    test::write_text(control(), fmt::format(R"({{"rate": 1, "kinds": ["{}"], "max_offset": 0}})", kind));
  }

 private:
  std::string control() const { return (folder_.path() / "control.json").string(); }
  test::TemporaryDirectory folder_{"stalling-server"};
};

// Connects through the server's relay, stalls it (at once, or from the request's on_session), runs
// the request, closes.
runtime::Result<coder::ExecOutcome> exec_stalled(const StallingServer& server, std::string_view kind,
                                                 coder::ExecRequest request) {
  return test::run([&]() -> asio::awaitable<runtime::Result<coder::ExecOutcome>> {
    auto options = test::as_user("coder");
    auto connection = co_await test::connect_through(server.proxy_command(), std::move(options));
    INFO((connection ? "" : connection.error().summary()));
    REQUIRE(connection);
    if (!request.on_session) server.stall(kind);
    auto result = co_await coder::exec(**connection, std::move(request));
    co_await (*connection)->close();
    co_return result;
  }());
}

}  // namespace

// Without a bound on the channel's opening, the command waited for a confirmation that never came,
// until the connection's keepalives (if any) ended it.
TEST_CASE("exec: on a connection that has stopped answering, the timeout bounds the session's opening",
          "[operations][go][fault]") {
  const StallingServer server;
  coder::ExecRequest request;
  request.command = "true";
  request.timeout = 300ms;
  const auto ran = exec_stalled(server, "stall_down", std::move(request));
  REQUIRE_FALSE(ran);
  CHECK(ran.error().code == runtime::Errc::timed_out);
  CHECK(ran.error().layer == runtime::Layer::channel);
  CHECK_THAT(ran.error().message, Catch::Contains("opening the command's session"));
}

// The TERM waited behind stdin that the stalled stream would not take; the command's end waited
// for the TERM.
TEST_CASE("exec: when our writes back up, a timeout still ends the command after two grace periods",
          "[operations][go][fault]") {
  const StallingServer server;
  coder::ExecRequest request;
  request.command = "exec sleep 30";
  request.stdin_data = std::string(8 * 1024 * 1024, 'x');  // more than the pipes and the window hold
  request.timeout = 300ms;
  request.kill_grace = 200ms;
  request.on_session = [&server](const std::weak_ptr<ssh::Session>&) { server.stall("stall_up"); };
  const auto ran = exec_stalled(server, "stall_up", std::move(request));
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::timed_out);
  CHECK_FALSE(ran->exit_code);
}

TEST_CASE("exec: stdin_data, then a source the caller feeds, each line answered before the next",
          "[operations][sshd]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>(
      [](ssh::Connection& c) -> asio::awaitable<runtime::Result<coder::ExecOutcome>> {
        auto executor = co_await asio::this_coro::executor;
        // The source hands over the next line only once the command has answered the last one.
        auto answered = std::make_shared<runtime::Event>(executor);
        auto seen = std::make_shared<std::string>();
        auto lines = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"two", "three"});
        coder::ExecRequest request;
        request.command = "while read line; do echo \"got $line\"; done; echo end";
        request.stdin_data = "one\n";
        request.on_stdout = [seen, answered](std::string_view data) {
          seen->append(data);
          answered->notify();
        };
        request.stdin_source = [seen, answered, lines,
                                sent = std::string("one")]() mutable -> asio::awaitable<std::optional<std::string>> {
          while (seen->find(fmt::format("got {}\n", sent)) == std::string::npos) co_await answered->wait();
          if (lines->empty()) co_return std::nullopt;
          sent = lines->front();
          lines->erase(lines->begin());
          co_return sent + "\n";
        };
        auto outcome = co_await coder::exec(c, std::move(request));
        if (outcome) outcome->stdout_data = *seen;
        co_return outcome;
      });
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::exited);
  CHECK(ran->exit_code == 0);
  CHECK(ran->stdout_data == "got one\ngot two\ngot three\nend\n");
}

TEST_CASE("exec: a stdin source that never ends does not hold back the command's exit", "[operations][sshd]") {
  auto ran = with_connection<runtime::Result<coder::ExecOutcome>>(
      [](ssh::Connection& c) -> asio::awaitable<runtime::Result<coder::ExecOutcome>> {
        auto executor = co_await asio::this_coro::executor;
        auto never = std::make_shared<runtime::Event>(executor);
        coder::ExecRequest request;
        request.command = "echo done; exit 3";
        request.stdin_source = [never]() -> asio::awaitable<std::optional<std::string>> {
          for (;;) co_await never->wait();
        };
        co_return co_await coder::exec(c, std::move(request));
      });
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::exited);
  CHECK(ran->exit_code == 3);
  CHECK(ran->stdout_data == "done\n");
}

TEST_CASE("exec: an output callback that throws ends its command with the exception's text, and the connection goes on",
          "[operations][sshd]") {
  using Both = std::pair<runtime::Result<coder::ExecOutcome>, runtime::Result<coder::ExecOutcome>>;
  auto [thrown, next] = with_connection<Both>([](ssh::Connection& c) -> asio::awaitable<Both> {
    coder::ExecRequest throwing;
    throwing.command = "echo one; sleep 0.2; echo two";
    throwing.on_stdout = [](std::string_view) { throw std::runtime_error("the host's output handler broke"); };
    auto first = co_await coder::exec(c, std::move(throwing));
    coder::ExecRequest plain;
    plain.command = "echo again";
    auto second = co_await coder::exec(c, std::move(plain));
    co_return Both{std::move(first), std::move(second)};
  });
  REQUIRE_FALSE(thrown);
  CHECK(thrown.error().code == runtime::Errc::internal_error);
  CHECK(thrown.error().message == "the stdout callback threw: the host's output handler broke");
  REQUIRE(next);
  CHECK(next->stdout_data == "again\n");
}

TEST_CASE("files: ~name is that user's home and a name the shell would not take is refused", "[operations][sshd]") {
  auto checked = with_connection<bool>([](ssh::Connection& c) -> asio::awaitable<bool> {
    std::string root_home = "~root";
    auto home = co_await coder::resolve_path(c, std::move(root_home));
    REQUIRE(home);
    CHECK(*home == "/root");
    std::string below = "~root/a b";
    auto inside = co_await coder::resolve_path(c, std::move(below));
    REQUIRE(inside);
    CHECK(*inside == "/root/a b");
    std::string nobody = "~no-such-user-cr/x";
    auto missing = co_await coder::resolve_path(c, std::move(nobody));
    REQUIRE_FALSE(missing);
    const auto* stderr_text = missing.error().find_evidence("stderr");
    REQUIRE(stderr_text);
    CHECK(stderr_text->text == "no such user: no-such-user-cr\n");
    const auto witness = fmt::format("/tmp/cr-resolve-injected-{}", ::getpid());
    std::filesystem::remove(witness);
    auto injected = fmt::format("~$(touch {})", witness);
    auto refused = co_await coder::resolve_path(c, std::move(injected));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
    CHECK_FALSE(std::filesystem::exists(witness));
    // bash reads ~0 as the directory stack's top, the working directory: not a user.
    std::string stack_place = "~0";
    auto not_a_user = co_await coder::resolve_path(c, std::move(stack_place));
    REQUIRE_FALSE(not_a_user);
    CHECK(not_a_user.error().code == runtime::Errc::invalid_argument);
    co_return true;
  });
  CHECK(checked);
}

TEST_CASE("files: written atomically, read back byte for byte, modes kept or 0600", "[operations][sshd]") {
  std::string binary;
  for (int i = 0; i < 70000; ++i) binary += static_cast<char>(i * 31 % 256);
  auto checked = with_connection<bool>([&](ssh::Connection& c) -> asio::awaitable<bool> {
    auto home = co_await coder::resolve_path(c, "~");
    REQUIRE(home);
    CHECK(*home == "/tmp");  // the test user's home (scripts/setup)
    auto dir = co_await coder::resolve_path(c, fmt::format("~/ops-test-{}", ::getpid()));
    REQUIRE(dir);
    auto made = co_await coder::ensure_dir(c, *dir + "/a/b");
    REQUIRE(made);
    const auto file = *dir + "/a/b/data.bin";
    auto written = co_await coder::write_file(c, file, binary);
    REQUIRE(written);
    auto read = co_await coder::read_file(c, file);
    REQUIRE(read);
    CHECK((*read == binary));
    auto info = co_await coder::stat(c, file);
    REQUIRE(info);
    CHECK(info->size == binary.size());
    CHECK(info->mode == 0600);
    CHECK_FALSE(info->is_directory);
    // An existing file keeps its mode; through a symlink, the file it names is replaced.
    coder::ExecRequest chmod_and_link;
    chmod_and_link.command = fmt::format("chmod 640 {0} && ln -s {0} {1}/link", file, *dir);
    auto chmod = co_await coder::exec(c, std::move(chmod_and_link));
    REQUIRE(chmod);
    auto rewritten = co_await coder::write_file(c, *dir + "/link", "short");
    REQUIRE(rewritten);
    auto after = co_await coder::stat(c, file);
    REQUIRE(after);
    CHECK(after->mode == 0640);
    auto through_link = co_await coder::read_file(c, file);
    REQUIRE(through_link);
    CHECK(*through_link == "short");
    auto folder = co_await coder::stat(c, *dir + "/a");
    REQUIRE(folder);
    CHECK(folder->is_directory);
    auto missing = co_await coder::read_file(c, *dir + "/nope");
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error().summary(), Catch::Contains("No such file"));
    coder::ExecRequest remove;
    remove.command = "rm -rf " + coder::shell_quote(*dir);
    auto cleaned = co_await coder::exec(c, std::move(remove));
    CHECK(cleaned);
    co_return true;
  });
  CHECK(checked);
}

TEST_CASE("shell_quote: any text survives a POSIX shell", "[operations]") {
  CHECK(coder::shell_quote("plain") == "'plain'");
  CHECK(coder::shell_quote("it's") == "'it'\\''s'");
  CHECK(coder::shell_quote("") == "''");
}
