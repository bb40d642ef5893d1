// coder::exec with an argv, end to end against OpenSSH's sshd (the test user's shell is /bin/sh,
// dash) and the Go x/crypto/ssh server (which, as the Coder agent on Linux, runs the command line
// with `/bin/sh -c`): the remote program gets each word byte for byte, bash reads the same
// quoting, a directory and variables compose with it, and what cannot be sent right is refused
// before anything runs.

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "coder/operations.hpp"
#include "ssh/session.hpp"
#include "support/argv_words.hpp"
#include "support/connect.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// A connection to a fresh server of the kind named, "sshd" (as the unprivileged test user) or "go".
using Connected = runtime::Result<std::shared_ptr<ssh::Connection>>;
asio::awaitable<Connected> connect_to(const std::string& server, std::unique_ptr<test::LoggedInSshd>& sshd) {
  if (server == "sshd") {
    sshd = std::make_unique<test::LoggedInSshd>("", test::kUnprivilegedUser);
    co_return co_await sshd->connect();
  }
  auto options = test::as_user("coder");
  co_return co_await test::connect_through(CODER_RUNTIME_GO_SSHD, std::move(options));
}

// Runs `request` within 15 s on a fresh server; the outcome, or why there was none.
runtime::Result<coder::ExecOutcome> exec_on(const std::string& server, coder::ExecRequest request) {
  std::unique_ptr<test::LoggedInSshd> sshd;
  return test::run([&]() -> asio::awaitable<runtime::Result<coder::ExecOutcome>> {
    auto connection = co_await connect_to(server, sshd);
    INFO((connection ? "" : connection.error().summary()));
    REQUIRE(connection);
    request.timeout = 15s;
    auto outcome = co_await coder::exec(**connection, std::move(request));
    co_await (*connection)->close();
    co_return outcome;
  }());
}

coder::ExecRequest printf_words(std::string program, const std::vector<std::string>& words) {
  coder::ExecRequest request;
  request.argv = {std::move(program), "%s\\0"};
  request.argv.insert(request.argv.end(), words.begin(), words.end());
  return request;
}

void check_printed(const runtime::Result<coder::ExecOutcome>& ran, const std::string& expected) {
  INFO((ran ? ran->stderr_data : ran.error().summary()));
  REQUIRE(ran);
  CHECK(ran->end == coder::ExecEnd::exited);
  CHECK(ran->exit_code == 0);
  INFO(test::first_difference(expected, ran->stdout_data));
  CHECK((ran->stdout_data == expected));
}

}  // namespace

TEST_CASE("exec argv: the remote program gets every word byte for byte", "[operations][argv][sshd][go]") {
  const std::string server = GENERATE("sshd", "go");
  // The shell's printf builtin, and a program the shell starts with execve.
  const std::string program = GENERATE("printf", "/usr/bin/printf");
  INFO(server << ", " << program);
  const auto words = test::awkward_words();
  check_printed(exec_on(server, printf_words(program, words)), test::nul_terminated(words));
}

TEST_CASE("exec argv: bash reads the quoting as the POSIX shell does", "[operations][argv][sshd][go]") {
  const std::string server = GENERATE("sshd", "go");
  INFO(server);
  const auto words = test::awkward_words();
  auto inner = coder::argv_command_line(printf_words("printf", words).argv, coder::RemoteShell::posix);
  REQUIRE(inner);
  coder::ExecRequest request;
  request.argv = {"bash", "-c", *inner};
  check_printed(exec_on(server, std::move(request)), test::nul_terminated(words));
}

TEST_CASE("exec argv: a directory and variables compose with it", "[operations][argv][sshd][go]") {
  const std::string server = GENERATE("sshd", "go");
  INFO(server);
  coder::ExecRequest request;
  request.argv = {"sh", "-c", "printf '%s|%s|%s' \"$(pwd)\" \"$GREETING\" \"$0\"", "it's $0; `x`"};
  request.cwd = "/usr/share";
  request.env = {{"GREETING", "it's $HOME; `x`"}};
  check_printed(exec_on(server, std::move(request)), "/usr/share|it's $HOME; `x`|it's $0; `x`");
}

TEST_CASE("exec argv: a command line over one packet is refused before it is sent, and the connection stays whole",
          "[operations][argv][go]") {
  const auto checked = test::run([]() -> asio::awaitable<bool> {
    std::unique_ptr<test::LoggedInSshd> unused;
    auto connection = co_await connect_to("go", unused);
    REQUIRE(connection);
    auto& c = **connection;
    coder::ExecRequest too_long;
    too_long.argv = {"printf", "%s", test::large_word(300 * 1024)};
    too_long.timeout = 15s;
    auto refused = co_await coder::exec(c, std::move(too_long));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
    const auto limit = fmt::format("carries at most {}", ssh::kMaxExecCommandBytes);
    CHECK_THAT(refused.error().summary(), Catch::Contains(limit));
    // The SSH layer refuses it too, for any caller.
    auto big_line = "printf %s " + test::large_word(300 * 1024);
    auto direct = co_await test::exec(c, std::move(big_line));
    REQUIRE_FALSE(direct);
    CHECK(direct.error().code == runtime::Errc::invalid_argument);
    coder::ExecRequest after;
    after.argv = {"echo", "still here"};
    after.timeout = 15s;
    auto ran = co_await coder::exec(c, std::move(after));
    REQUIRE(ran);
    CHECK(ran->stdout_data == "still here\n");
    co_await c.close();
    co_return true;
  }());
  CHECK(checked);
}

TEST_CASE("exec_command_line: one of command and argv, quoted for a POSIX shell, refused for Windows shells",
          "[operations][argv]") {
  coder::ExecRequest request;
  request.argv = {"printf", "%s\\n", "it's", ""};
  request.cwd = "/tmp/a b";
  request.env = {{"A", "$x"}};
  auto line = coder::exec_command_line(request);
  REQUIRE(line);
  CHECK(*line == R"(cd '/tmp/a b' && export A='$x' && 'printf' '%s\n' 'it'\''s' '')");

  coder::ExecRequest both;
  both.command = "true";
  both.argv = {"true"};
  auto refused = coder::exec_command_line(both);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == runtime::Errc::invalid_argument);
  CHECK_THAT(refused.error().message, Catch::Contains("both"));
  auto neither = coder::exec_command_line(coder::ExecRequest{});
  REQUIRE_FALSE(neither);
  CHECK(neither.error().code == runtime::Errc::invalid_argument);

  coder::ExecRequest nul;
  nul.argv = {"printf", std::string("a\0b", 3)};
  auto with_nul = coder::exec_command_line(nul);
  REQUIRE_FALSE(with_nul);
  CHECK_THAT(with_nul.error().message, Catch::Contains("argv[1] holds a NUL byte"));

  for (const auto shell : {coder::RemoteShell::cmd, coder::RemoteShell::powershell}) {
    coder::ExecRequest windows;
    windows.remote_shell = shell;
    windows.argv = {"dir", "C:\\Program Files"};
    auto argv_refused = coder::exec_command_line(windows);
    REQUIRE_FALSE(argv_refused);
    CHECK(argv_refused.error().code == runtime::Errc::invalid_argument);
    CHECK(argv_refused.error().layer == runtime::Layer::coder);
    CHECK_THAT(argv_refused.error().message, Catch::Contains(std::string(coder::to_string(shell))) &&
                                                 Catch::Contains("run a command line written for"));
    windows.argv.clear();
    windows.command = "dir \"C:\\Program Files\"";
    auto as_it_is = coder::exec_command_line(windows);
    REQUIRE(as_it_is);
    CHECK(*as_it_is == windows.command);  // a command line goes to any shell as it is
    windows.cwd = "C:\\";
    auto cwd_refused = coder::exec_command_line(windows);
    REQUIRE_FALSE(cwd_refused);
    CHECK_THAT(cwd_refused.error().message, Catch::Contains("POSIX shell syntax"));
  }
}
