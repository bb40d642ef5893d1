// `coder-runtime exec -o ControlMaster=no` (a connection of its own; shared_connections_test.cpp
// covers the holder) end to end against the stand-in Coder CLI, whose `ssh --stdio` runs the Go
// x/crypto/ssh server (the agent's library): a cold exec on a stopped workspace runs one `coder`
// process (its ssh starts the workspace), a slow one shows progress from `coder list`, and the
// command's output, stdin and exit code come through; each of our own outcomes has its exit code
// and its words. Stdin streams (the remote side answers a line before the next is written); a
// cancelled command leaves neither the remote command nor the proxy running, and a proxy that
// ignores the end of its stdin is ended after a short grace; progress on a terminal is one line
// rewritten in place.

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proxy/proxy_command.hpp"
#include "runtime/deadline.hpp"
#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/files.hpp"
#include "support/processes.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// `coder-runtime exec --coder STANDIN args...`.
test::Ran run_exec(std::vector<std::string> args, const std::string& input = "", int interrupt_after_lines = 0) {
  std::vector<std::string> argv{"exec", "-o", "ControlMaster=no", "--coder", test::CoderStandin::program().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_cli(std::move(argv), input, interrupt_after_lines);
}

nlohmann::json workspace(std::string name, nlohmann::json timeline) {
  return {{"name", std::move(name)}, {"timeline", std::move(timeline)}};
}

nlohmann::json scenario(std::vector<nlohmann::json> workspaces) {
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD}, {"workspaces", std::move(workspaces)}};
}

// `coder-runtime exec --coder STANDIN args...` as a child whose stdin the test writes as it goes.
std::unique_ptr<proxy::ProcessStream> start_exec(asio::any_io_executor executor, std::vector<std::string> args) {
  std::vector<std::string> argv{"exec", "-o", "ControlMaster=no", "--coder", test::CoderStandin::program().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::start_cli(executor, std::move(argv));
}

asio::awaitable<bool> write_line(proxy::ProcessStream& child, std::string line) {
  auto written = co_await runtime::write_all(child, runtime::as_bytes(line));
  co_return written.has_value();
}

// The child's exit code (-1 when a signal killed it), within 10 s.
asio::awaitable<int> exit_code_of(proxy::ProcessStream& child) {
  auto exit = co_await child.wait_exit(runtime::Deadline::after(10s));
  REQUIRE(exit);
  co_return exit->kind == proxy::ExitStatus::Kind::exited ? exit->value : -1;
}

pid_t last_pid_in(const std::filesystem::path& file) {
  std::istringstream lines(test::read_text(file));
  pid_t pid = 0;
  for (pid_t next = 0; lines >> next;) pid = next;
  return pid;
}

}  // namespace

TEST_CASE("exec: stdin streams: each line is answered before the next is written, and EOF ends the command",
          "[cli][exec][stdin]") {
  test::CoderStandin standin(scenario({workspace("ws", {{{"status", "running"}}})}));
  const auto status = test::run([&]() -> asio::awaitable<int> {
    auto executor = co_await asio::this_coro::executor;
    auto child = start_exec(executor, {"ws", "--", "while read line; do echo \"got $line\"; done; echo end; exit 7"});
    std::string out;
    for (const auto* line : {"one", "two", "three"}) {
      INFO(line);
      const bool written = co_await write_line(*child, fmt::format("{}\n", line));
      REQUIRE(written);
      const bool answered = co_await test::read_until(*child, out, fmt::format("got {}\n", line));
      REQUIRE(answered);
    }
    REQUIRE(child->shutdown_send());
    const bool ended = co_await test::read_until(*child, out, "end\n");
    REQUIRE(ended);
    CHECK(out == "got one\ngot two\ngot three\nend\n");
    co_return co_await exit_code_of(*child);
  }());
  CHECK(status == 7);
}

TEST_CASE("exec: a command that exits while stdin stays open ends exec at once with its exit code",
          "[cli][exec][stdin]") {
  test::CoderStandin standin(scenario({workspace("ws", {{{"status", "running"}}})}));
  const auto status = test::run([&]() -> asio::awaitable<int> {
    auto executor = co_await asio::this_coro::executor;
    auto child = start_exec(executor, {"ws", "--", "exit 3"});
    // Our end of its stdin stays open, as an interactive terminal's would.
    co_return co_await exit_code_of(*child);
  }());
  CHECK(status == 3);
}

TEST_CASE(
    "exec: a cold exec on a stopped workspace runs one `coder` process, its ssh, with directory, variables and stdin",
    "[cli][exec][cold]") {
  auto stopped = workspace("ws", {{{"status", "stopped"}}});
  stopped["after_start"] = {{{"status", "running"}}};
  test::CoderStandin standin(scenario({stopped}));
  const auto ran = run_exec(
      {"--cwd", "/usr", "--env", "GREETING=it's me", "ws", "--", "pwd; echo \"$GREETING\"; cat; echo oops >&2; exit 4"},
      "from stdin\n");
  INFO(ran.err);
  CHECK(ran.status == 4);
  CHECK(ran.out == "/usr\nit's me\nfrom stdin\n");
  CHECK(ran.err == "oops\n");
  // `coder ssh --stdio` started the workspace itself: no `coder list`, no `coder start`.
  CHECK(standin.calls() == std::vector<std::string>{"ssh --stdio --hostname-suffix mux--coder ws.mux--coder"});
}

namespace {

// A stopped workspace whose `coder ssh --stdio` serves only once `coder list` has run `lists`
// times since it began (or after 15 s): a start that takes a while.
nlohmann::json slow_start(int lists, nlohmann::json extra = nlohmann::json::object()) {
  auto stopped = workspace("ws", {{{"status", "stopped"}}});
  stopped["after_start"] = {{{"status", "starting"}}, {{"status", "running"}}};
  auto all = scenario({stopped});
  all["ssh_delay"] = 15;
  all["ssh_until_lists"] = lists;
  all.update(extra);
  return all;
}

}  // namespace

TEST_CASE("exec: a slow dial shows progress from `coder list` while it goes on, and starts nothing itself",
          "[cli][exec][cold]") {
  test::CoderStandin standin(slow_start(1));
  const auto ran = run_exec({"ws", "--", "echo hello"});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "hello\n");
  CHECK_THAT(ran.err,
             Catch::Contains("coder-runtime: workspace ws: starting (start), agent main connecting/created\n"));
  CHECK(standin.count_calls("ssh ") == 1);
  CHECK(standin.count_calls("list ") >= 1);
  CHECK(standin.count_calls("start") == 0);
}

TEST_CASE("exec: the version mismatch is printed once, from however many `coder` runs said it", "[cli][exec][cold]") {
  SECTION("on stderr") {
    test::CoderStandin standin(slow_start(1, {{"server_version", "v2.29.1"}}));
    const auto ran = run_exec({"ws", "--", "echo hello"});
    INFO(ran.err);
    CHECK(ran.status == 0);
    CHECK(ran.out == "hello\n");
    CHECK(standin.count_calls("list ") >= 1);
    const std::string warning =
        "coder-runtime: warning: the Coder CLI (v2.31.6+abcdef0) does not match the server (v2.29.1): install";
    const auto first = ran.err.find(warning);
    REQUIRE(first != std::string::npos);
    CHECK(ran.err.find(warning, first + 1) == std::string::npos);
    // The CLI's own line is not relayed.
    CHECK(ran.err.find("version mismatch") == std::string::npos);
  }
  SECTION("as a JSON event") {
    auto mismatched = scenario({workspace("ws", {{{"status", "running"}}})});
    mismatched["server_version"] = "v2.29.1";
    test::CoderStandin standin(mismatched);
    const auto ran = run_exec({"--json", "ws", "--", "true"});
    CHECK(ran.status == 0);
    int warnings = 0;
    std::istringstream lines(ran.out);
    for (std::string line; std::getline(lines, line);) {
      const auto event = nlohmann::json::parse(line);
      if (event["event"] != "warning") continue;
      ++warnings;
      CHECK_THAT(event["message"].get<std::string>(), Catch::Contains("v2.29.1"));
    }
    CHECK(warnings == 1);
  }
}

TEST_CASE("exec: a proxy that ignores the end of its stdin gets the short grace, then a signal, and is reaped",
          "[cli][exec][close]") {
  auto all = scenario({workspace("ws", {{{"status", "running"}}})});
  all["ssh_ignore_eof"] = 60;  // it would outlive any test
  test::CoderStandin standin(all);
  const auto ran = run_exec({"-vv", "ws", "--", "echo hello; exit 3"});
  INFO(ran.err);
  CHECK(ran.status == 3);
  CHECK(ran.out == "hello\n");
  // It was ended (SIGTERM, noted by the stand-in) after the ProxyCommand grace...
  CHECK_THAT(ran.err, Catch::Contains(fmt::format("still running {} after stdin closed",
                                                  runtime::describe_budget(proxy::kProxyCloseGrace))));
  CHECK(test::read_text(standin.state() / "ssh.signals") == fmt::format("{}\n", SIGTERM));
  // ...and reaped before exec exited: the process is gone, not a zombie.
  const pid_t proxy = last_pid_in(standin.state() / "ssh.pids");
  REQUIRE(proxy > 0);
  CHECK(::kill(proxy, 0) == -1);
  CHECK(errno == ESRCH);
}

TEST_CASE("exec: SIGTERM while a slow dial is watched cancels both (130), leaving no proxy", "[cli][exec][cold]") {
  test::CoderStandin standin(slow_start(1000));  // the dial waits 15 s
  // --json puts the first progress event on stdout: the signal comes once the watch has begun.
  const auto ran = run_exec({"--json", "ws", "--", "true"}, "", 1);
  CHECK(ran.status == 130);
  CHECK_THAT(ran.out, Catch::Contains("\"event\":\"progress\""));
  const pid_t proxy = last_pid_in(standin.state() / "ssh.pids");
  REQUIRE(proxy > 0);
  CHECK(test::ends_within(proxy, 10000ms));
  CHECK(standin.count_calls("start") == 0);
}

TEST_CASE("exec --json: one object per event, ending with the exit", "[cli][exec]") {
  test::CoderStandin standin(scenario({workspace("ws", {{{"status", "running"}}})}));
  const auto ran = run_exec({"--json", "ws", "--", "printf out; printf err >&2"});
  REQUIRE(ran.status == 0);
  std::vector<nlohmann::json> events;
  std::istringstream lines(ran.out);
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  REQUIRE(events.size() >= 3);
  std::string out, err;
  for (const auto& event : events) {
    if (event["event"] == "stdout") out += event["data"].get<std::string>();
    if (event["event"] == "stderr") err += event["data"].get<std::string>();
  }
  CHECK(out == "out");
  CHECK(err == "err");
  CHECK(events.back()["event"] == "exit");
  CHECK(events.back()["exit_code"] == 0);
  CHECK(events.back()["end"] == "exited");
}

TEST_CASE("exec: a timeout ends the command with exit code 124 and says so", "[cli][exec]") {
  test::CoderStandin standin(scenario({workspace("ws", {{{"status", "running"}}})}));
  const auto ran = run_exec({"--timeout", "0.3", "ws", "--", "echo started; sleep 5; echo never"});
  CHECK(ran.status == 124);
  CHECK(ran.out == "started\n");
  CHECK_THAT(ran.err, Catch::Contains("coder-runtime: the command timed out after"));
}

TEST_CASE("exec: SIGINT or SIGTERM cancels the command (130) and leaves no remote command or proxy behind",
          "[cli][exec]") {
  const int signal = GENERATE(SIGINT, SIGTERM);
  INFO("signal " << signal);
  test::CoderStandin standin(scenario({workspace("ws", {{{"status", "running"}}})}));
  const auto pid_file = standin.state() / "command.pid";
  struct Ended {
    int status = -1;
    std::string out;
    pid_t command = 0;
    pid_t proxy = 0;
  };
  const auto ended = test::run([&]() -> asio::awaitable<Ended> {
    auto executor = co_await asio::this_coro::executor;
    const auto command = fmt::format("echo $$ > {}; echo started; exec sleep 60", pid_file.string());
    auto child = start_exec(executor, {"ws", "--", command});
    Ended result;
    const bool started = co_await test::read_until(*child, result.out, "started\n");
    REQUIRE(started);
    result.command = last_pid_in(pid_file);
    result.proxy = last_pid_in(standin.state() / "ssh.pids");
    ::kill(child->pid(), signal);
    result.status = co_await exit_code_of(*child);
    INFO(child->stderr_tail());
    CHECK_THAT(child->stderr_tail(), Catch::Contains("coder-runtime: the command cancelled after"));
    co_return result;
  }());
  CHECK(ended.status == 130);
  CHECK(ended.out == "started\n");
  REQUIRE(ended.command > 0);
  REQUIRE(ended.proxy > 0);
  CHECK(test::ends_within(ended.command, 10000ms));
  CHECK(test::ends_within(ended.proxy, 10000ms));
}

TEST_CASE("exec: Coder-side failures are 125 with the CLI's words, a deleted workspace among them", "[cli][exec]") {
  test::CoderStandin standin(scenario({workspace("gone", {{{"status", "deleted"}}})}));
  const auto deleted = run_exec({"gone", "--", "true"});
  CHECK(deleted.status == 125);
  CHECK_THAT(deleted.err, Catch::Contains("coder-runtime: coder: workspace gone cannot be used: it is deleted"));
  // The dial first, then one `coder list` to explain its failure.
  CHECK(standin.calls() == std::vector<std::string>{"ssh --stdio --hostname-suffix mux--coder gone.mux--coder",
                                                    "list --search name:gone --output json"});
  const auto missing = run_exec({"nope", "--", "true"});
  CHECK(missing.status == 125);
  CHECK_THAT(missing.err, Catch::Contains("coder-runtime: coder: workspace nope not found"));
}

namespace {

// Runs coder-runtime with stdout and stderr on a pseudo-terminal (stdin /dev/null) and returns all
// the terminal showed, up to the child's exit.
std::string run_on_terminal(std::vector<std::string> args) {
  int terminal = -1;
  int child_side = -1;
  winsize size{};
  size.ws_col = 100;
  size.ws_row = 24;
  REQUIRE(::openpty(&terminal, &child_side, nullptr, nullptr, &size) == 0);
  std::vector<std::string> words{CODER_RUNTIME_EXECUTABLE};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::dup2(child_side, STDOUT_FILENO);
    ::dup2(child_side, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(child_side);
  std::string shown;
  std::array<char, 4096> buffer;
  const auto deadline = std::chrono::steady_clock::now() + test::kWatchdog;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd readable{terminal, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) != 1) break;
    const auto n = ::read(terminal, buffer.data(), buffer.size());
    if (n <= 0) break;  // EIO once the child and all it started have closed the terminal
    shown.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(terminal);
  int status = 0;
  ::kill(pid, SIGKILL);  // a no-op unless the watchdog cut the wait short
  ::waitpid(pid, &status, 0);
  return shown;
}

}  // namespace

TEST_CASE("exec on a terminal: one status line rewritten in place while a slow dial goes on, then its last line",
          "[cli][exec][progress]") {
  test::CoderStandin standin(slow_start(1));
  const auto shown = run_on_terminal(
      {"exec", "-o", "ControlMaster=no", "--coder", test::CoderStandin::program().string(), "ws", "--", "echo hello"});
  INFO(shown);
  const std::string rewrite = "\r\x1b[K";
  const auto final_line = shown.find(rewrite + "coder-runtime: workspace ws ready in ");
  REQUIRE(final_line != std::string::npos);
  // Before it, the spinner's line, rewritten for each step.
  const auto spinning = shown.substr(0, final_line);
  CHECK(spinning.starts_with(rewrite + "⠋ checking workspace ws (0 s)"));
  CHECK_THAT(spinning, Catch::Contains(" workspace ws: starting (start), agent main connecting/created ("));
  CHECK(spinning.find('\n') == std::string::npos);
  // After it, the command's output, and no spinner.
  const auto after = shown.substr(final_line + rewrite.size());
  CHECK_THAT(after, Catch::Matches(R"(coder-runtime: workspace ws ready in [0-9.]+ m?s\r\nhello\r\n)"));
}
