// Shared connections end to end: `coder-runtime exec` processes reach the workspace through the
// user's connection holder (started by the first of them), against the stand-in Coder CLI whose
// `ssh --stdio` runs the Go x/crypto/ssh server. Every `coder` process is counted; clients and the
// holder are killed mid-command; holders race; a stale socket is replaced.

#include <sys/socket.h>
#include <sys/un.h>

#include <csignal>

#include <asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "coder/proxy_command_line.hpp"
#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/files.hpp"
#include "support/holder_scope.hpp"
#include "support/processes.hpp"
#include "runtime/event.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> exec_args(std::vector<std::string> args) {
  std::vector<std::string> argv{"exec", "--coder", test::CoderStandin::program().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

nlohmann::json scenario(std::vector<std::string> names) {
  nlohmann::json workspaces = nlohmann::json::array();
  for (auto& name : names) workspaces.push_back({{"name", name}, {"timeline", {{{"status", "running"}}}}});
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD}, {"workspaces", workspaces}};
}

asio::awaitable<int> exit_code_of(proxy::ProcessStream& child) {
  auto exit = co_await child.wait_exit(runtime::Deadline::after(15s));
  REQUIRE(exit);
  co_return exit->kind == proxy::ExitStatus::Kind::exited ? exit->value : -1;
}

nlohmann::json listed_connections() {
  const auto listed = test::run_cli({"connections", "list", "--json"});
  REQUIRE(listed.status == 0);
  return nlohmann::json::parse(listed.out)["connections"];
}

}  // namespace

TEST_CASE(
    "shared: the first exec starts the holder with one coder call, the next run none, and output, stdin and "
    "exit status come through",
    "[cli][shared]") {
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  const auto first = test::run_cli(exec_args({"ws", "--", "cat; echo err >&2; exit 3"}), "from stdin\n");
  INFO(first.err);
  INFO("holder log: " << holder.log());
  CHECK(first.status == 3);
  CHECK(first.out == "from stdin\n");
  // After any progress lines (a dial slower than a second has `coder list` watch it).
  CHECK_THAT(first.err, Catch::EndsWith("err\n"));
  // `coder ssh --stdio` starts a stopped workspace itself: no `coder list` before the command.
  CHECK(standin.calls().front() == "ssh --stdio --hostname-suffix mux--coder ws.mux--coder");
  CHECK(standin.count_calls("ssh") == 1);

  for (int i = 0; i < 3; ++i) {
    const auto warm = test::run_cli(exec_args({"ws", "--", fmt::format("echo warm {}", i)}));
    CHECK(warm.status == 0);
    CHECK(warm.out == fmt::format("warm {}\n", i));
  }
  CHECK(standin.count_calls("ssh") == 1);
  CHECK(holder.holders().size() == 1);

  const auto listed = listed_connections();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["destination"] == "ws.mux--coder");
  CHECK(listed[0]["channels"] == 0);

  // Stopping every connection also ends the holder.
  const auto pids = holder.holders();
  const auto stopped = test::run_cli({"connections", "stop", "--json"});
  CHECK(stopped.status == 0);
  CHECK(nlohmann::json::parse(stopped.out)["stopped"] == 1);
  for (const pid_t pid : pids) CHECK(test::ends_within(pid, 10000ms));
  CHECK(test::run_cli({"connections", "list", "--json"}).out == "{\"connections\":[],\"forwards\":[]}\n");
}

TEST_CASE(
    "shared: a warm exec runs in the front executable alone, and it hands any other command to the full "
    "program beside it",
    "[cli][shared][front]") {
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  REQUIRE(test::run_cli(exec_args({"ws", "--", "true"})).status == 0);

  // A copy of the front with no full program beside it: what it serves, it serves alone.
  test::TemporaryDirectory elsewhere("front_alone");
  const auto lone = elsewhere.path() / "coder-runtime";
  std::filesystem::copy_file(CODER_RUNTIME_EXECUTABLE, lone);
  const auto warm = test::run_executable(lone.string(), exec_args({"ws", "--", "echo from the front; exit 4"}));
  INFO(warm.err);
  CHECK(warm.status == 4);
  CHECK(warm.out == "from the front\n");
  CHECK(standin.count_calls("ssh") == 1);

  const auto other = test::run_executable(lone.string(), {"connections", "list"});
  CHECK(other.status == 127);
  CHECK_THAT(other.err, Catch::Contains("coder-runtime: could not run the full program " +
                                        (elsewhere.path() / "coder-runtime-full").string() + ": No such file"));
  const auto own = test::run_executable(lone.string(), exec_args({"-o", "ControlMaster=no", "ws", "--", "true"}));
  CHECK(own.status == 127);
  CHECK(standin.count_calls("ssh") == 1);
}

TEST_CASE("shared: 50 concurrent execs across 5 workspaces go through one holder and one connection per workspace",
          "[cli][shared][load]") {
  test::CoderStandin standin(scenario({"ws0", "ws1", "ws2", "ws3", "ws4"}));
  test::HolderScope holder;
  constexpr int kExecs = 50;
  const auto results = test::run(
      [&]() -> asio::awaitable<std::vector<test::Ran>> {
        auto executor = co_await asio::this_coro::executor;
        std::vector<std::optional<test::Ran>> ran(kExecs);
        int done = 0;
        runtime::Event finished(executor);
        for (int i = 0; i < kExecs; ++i) {
          auto args =
              exec_args({fmt::format("ws{}", i % 5), "--", fmt::format("read x; echo \"$x {}\"; exit {}", i, i % 7)});
          asio::co_spawn(executor, test::run_cli_async(std::move(args), fmt::format("input{}\n", i), 0, 90s),
                         [&, i](std::exception_ptr, test::Ran result) {
                           ran[i] = std::move(result);
                           ++done;
                           finished.notify();
                         });
        }
        while (done < kExecs) co_await finished.wait();
        std::vector<test::Ran> all;
        for (auto& r : ran) all.push_back(r.value_or(test::Ran{}));
        co_return all;
      }(),
      120s);
  INFO("holder log: " << holder.log());
  for (int i = 0; i < kExecs; ++i) {
    INFO("exec " << i << ": " << results[i].err);
    CHECK(results[i].status == i % 7);
    CHECK(results[i].out == fmt::format("input{} {}\n", i, i));
  }
  // One dial per workspace (a dial slower than a second also has `coder list` watch for progress).
  CHECK(standin.count_calls("ssh") == 5);
  CHECK(holder.holders().size() == 1);
  CHECK(listed_connections().size() == 5);
}

// A script's commands mostly run with stdin a file or /dev/null, which is read in place rather
// than by a thread: every byte of a file must still arrive, and its end (`cat` ends only then, so
// a lost end hangs here).
TEST_CASE("shared: stdin from a file or /dev/null arrives whole and ends, through the holder and without it",
          "[cli][shared][stdin]") {
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  test::TemporaryDirectory folder;
  const auto file = folder.path() / "input";
  std::string bytes;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) bytes.push_back(static_cast<char>((i * 7 + i / 4096) & 0xff));
  test::write_text(file, bytes);
  const auto compare = fmt::format("cmp - '{}' && echo same", file.string());
  for (const bool shared : {true, false}) {
    INFO((shared ? "through the holder" : "ControlMaster=no"));
    auto args = [&](std::string command) {
      auto argv = exec_args({"ws", "--", std::move(command)});
      if (!shared) argv.insert(argv.begin() + 1, {"-o", "ControlMaster=no"});
      return argv;
    };
    const auto from_file = test::run_cli_reading(args(compare), file.string());
    INFO(from_file.err);
    CHECK(from_file.status == 0);
    CHECK(from_file.out == "same\n");
    const auto from_null = test::run_cli_reading(args("cat; echo ended"), "/dev/null");
    INFO(from_null.err);
    CHECK(from_null.status == 0);
    CHECK(from_null.out == "ended\n");
  }
}

// `coder-runtime ssh` to a host of the block `coder config-ssh` writes: its command, and a shell,
// run on the holder's connection like exec's; ControlMaster no keeps a connection of its own; a
// Coder-side failure is ssh's 255.
TEST_CASE("shared: ssh to a workspace's host runs a command and a shell through the holder", "[cli][shared][ssh]") {
  nlohmann::json workspaces = scenario({"ws"});
  workspaces["workspaces"].push_back({{"name", "gone"}, {"timeline", {{{"status", "deleted"}}}}});
  test::CoderStandin standin(workspaces);
  test::HolderScope holder;
  test::TemporaryDirectory folder;
  const auto config = folder.path() / "ssh_config";
  const auto proxy = coder::coder_proxy_command(test::CoderStandin::program(), "mux--coder", "%h");
  REQUIRE(proxy);
  test::write_text(config,
                   fmt::format("Host *.mux--coder\n  ConnectTimeout 0\n  LogLevel ERROR\n"
                               "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  ProxyCommand {}\n",
                               *proxy));
  const auto ssh = [&](std::vector<std::string> words) {
    std::vector<std::string> argv{"ssh", "-F", config.string()};
    argv.insert(argv.end(), words.begin(), words.end());
    return argv;
  };

  const auto command = test::run_cli(ssh({"ws.mux--coder", "echo", "one;", "cat;", "exit", "4"}), "from stdin\n");
  INFO(command.err);
  INFO("holder log: " << holder.log());
  CHECK(command.status == 4);
  CHECK(command.out == "one\nfrom stdin\n");
  const auto shell = test::run_cli(ssh({"-T", "ws.mux--coder"}), "echo from the shell\nexit 5\n");
  INFO(shell.err);
  CHECK(shell.status == 5);
  CHECK(shell.out == "from the shell\n");
  const auto exec = test::run_cli(exec_args({"ws", "--", "echo exec"}));
  CHECK(exec.out == "exec\n");
  // OpenSSH's autoask asks before using a master; the holder asks nothing, so it is shared too.
  const auto asked = test::run_cli(ssh({"-o", "ControlMaster=autoask", "ws.mux--coder", "echo asked"}));
  CHECK(asked.out == "asked\n");
  CHECK(standin.count_calls("ssh") == 1);
  CHECK(holder.holders().size() == 1);

  const auto own = test::run_cli(ssh({"-o", "ControlMaster=no", "ws.mux--coder", "echo own"}));
  INFO(own.err);
  CHECK(own.status == 0);
  CHECK(own.out == "own\n");
  CHECK(standin.count_calls("ssh") == 2);

  const auto deleted = test::run_cli(ssh({"gone.mux--coder", "true"}));
  CHECK(deleted.status == 255);
  CHECK_THAT(deleted.err, Catch::Contains("workspace gone cannot be used: it is deleted"));
}

TEST_CASE("shared: a Coder-side failure through the holder is 125 with the CLI's words, at once", "[cli][shared]") {
  test::CoderStandin standin({{"go_sshd", CODER_RUNTIME_GO_SSHD},
                              {"workspaces", {{{"name", "gone"}, {"timeline", {{{"status", "deleted"}}}}}}}});
  test::HolderScope holder;
  const auto deleted = test::run_cli(exec_args({"gone", "--", "true"}));
  CHECK(deleted.status == 125);
  CHECK_THAT(deleted.err, Catch::Contains("coder-runtime: coder: workspace gone cannot be used: it is deleted"));
  // The dial, then `coder list` to explain its failure; no retry.
  CHECK(standin.count_calls("ssh") == 1);
  CHECK(standin.count_calls("list") >= 1);
  const auto missing = test::run_cli(exec_args({"nope", "--", "true"}));
  CHECK(missing.status == 125);
  CHECK_THAT(missing.err, Catch::Contains("coder-runtime: coder: workspace nope not found"));
}

TEST_CASE("shared: a client killed mid-command ends its own command, and another client's command goes on",
          "[cli][shared][fault]") {
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  test::run(
      [&]() -> asio::awaitable<bool> {
        auto executor = co_await asio::this_coro::executor;
        auto victim = test::start_cli(executor, exec_args({"ws", "--", "echo $$; exec sleep 60"}));
        std::string victim_out;
        const bool started = co_await test::read_until(*victim, victim_out, "\n");
        REQUIRE(started);
        const pid_t remote = std::stoi(victim_out);
        auto survivor =
            test::start_cli(executor, exec_args({"ws", "--", "while read line; do echo \"got $line\"; done"}));
        std::string survivor_out;
        auto wrote = co_await runtime::write_all(*survivor, runtime::as_bytes(std::string_view("one\n")));
        REQUIRE(wrote);
        const bool answered = co_await test::read_until(*survivor, survivor_out, "got one\n");
        REQUIRE(answered);

        ::kill(victim->pid(), SIGKILL);
        const int exit_1 = co_await exit_code_of(*victim);
        CHECK(exit_1 == -1);
        // The holder saw its client go and ended the command (TERM); the shared connection stays.
        CHECK(test::ends_within(remote, 10000ms));

        wrote = co_await runtime::write_all(*survivor, runtime::as_bytes(std::string_view("two\n")));
        REQUIRE(wrote);
        const bool still_answered = co_await test::read_until(*survivor, survivor_out, "got two\n");
        CHECK(still_answered);
        REQUIRE(survivor->shutdown_send());
        const int exit_2 = co_await exit_code_of(*survivor);
        CHECK(exit_2 == 0);
        co_return true;
      }(),
      60s);
  CHECK(standin.count_calls("ssh") == 1);
}

// The front relays a warm exec itself: Ctrl-C and SIGTERM must still reach the holder as a
// cancellation, whose outcome comes back, rather than kill the client and leave the command.
TEST_CASE("shared: SIGINT or SIGTERM to a warm exec cancels its command (130), and the connection stays",
          "[cli][shared][signal]") {
  const int signal = GENERATE(SIGINT, SIGTERM);
  INFO("signal " << signal);
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  REQUIRE(test::run_cli(exec_args({"ws", "--", "true"})).status == 0);
  test::run(
      [&]() -> asio::awaitable<bool> {
        auto executor = co_await asio::this_coro::executor;
        auto child = test::start_cli(executor, exec_args({"ws", "--", "echo $$; exec sleep 60"}));
        std::string out;
        const bool started = co_await test::read_until(*child, out, "\n");
        REQUIRE(started);
        const pid_t remote = std::stoi(out);
        ::kill(child->pid(), signal);
        const int status = co_await exit_code_of(*child);
        INFO(child->stderr_tail());
        CHECK(status == 130);
        CHECK_THAT(child->stderr_tail(), Catch::Contains("coder-runtime: the command cancelled after"));
        CHECK(test::ends_within(remote, 10000ms));
        co_return true;
      }(),
      60s);
  // A closed stderr or stdin: the holder's socket must not take its number.
  auto closing = exec_args({"ws", "--", "read line; echo \"out $line\"; echo err >&2"});
  closing.insert(closing.begin(), {"-c", "exec \"$0\" \"$@\" 2>&- <&-", CODER_RUNTIME_EXECUTABLE});
  const auto closed = test::run_executable("/bin/sh", closing);
  CHECK(closed.status == 0);
  CHECK(closed.out == "out \n");
  const auto json = test::run_cli(exec_args({"--json", "ws", "--", "echo after"}));
  INFO(json.err);
  CHECK(json.status == 0);
  const auto newline = json.out.find('\n');
  REQUIRE(newline != std::string::npos);
  CHECK(nlohmann::json::parse(json.out.substr(0, newline)) == nlohmann::json{{"event", "stdout"}, {"data", "after\n"}});
  const auto ended = nlohmann::json::parse(json.out.substr(newline + 1));
  CHECK(ended["event"] == "exit");
  CHECK(ended["exit_code"] == 0);
  CHECK(standin.count_calls("ssh") == 1);
}

TEST_CASE(
    "shared: a holder killed mid-command gives its client 255 and one line, and the next exec starts a new holder",
    "[cli][shared][fault]") {
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  test::run(
      [&]() -> asio::awaitable<bool> {
        auto executor = co_await asio::this_coro::executor;
        auto client = test::start_cli(executor, exec_args({"ws", "--", "echo started; exec sleep 60"}));
        std::string out;
        const bool started = co_await test::read_until(*client, out, "started\n");
        REQUIRE(started);
        const auto holders = holder.holders();
        REQUIRE(holders.size() == 1);
        ::kill(holders[0], SIGKILL);
        // To its end, which also waits for its last words on stderr.
        auto rest = co_await test::read_to_end(*client);
        CHECK(rest);
        const int exit_3 = co_await exit_code_of(*client);
        CHECK(exit_3 == 255);
        const auto said = client->stderr_tail();
        CHECK_THAT(said,
                   Catch::StartsWith("coder-runtime: runtime: the connection holder ended while the command ran"));
        CHECK(std::count(said.begin(), said.end(), '\n') == 1);
        CHECK(test::ends_within(holders[0], 10000ms));
        co_return true;
      }(),
      60s);
  const auto again = test::run_cli(exec_args({"ws", "--", "echo again"}));
  CHECK(again.status == 0);
  CHECK(again.out == "again\n");
  CHECK(holder.holders().size() == 1);
  CHECK(standin.count_calls("ssh") == 2);
}

TEST_CASE("shared: a stale socket left by a holder that died is replaced", "[cli][shared][fault]") {
  test::CoderStandin standin(scenario({"ws"}));
  test::HolderScope holder;
  // A socket file nobody listens on, as a holder killed with SIGKILL leaves it.
  std::filesystem::create_directories(holder.socket().parent_path());
  std::filesystem::permissions(holder.socket().parent_path(), std::filesystem::perms::owner_all);
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", holder.socket().c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::close(fd);
  }
  REQUIRE(std::filesystem::is_socket(holder.socket()));
  const auto ran = test::run_cli(exec_args({"ws", "--", "echo fresh"}));
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "fresh\n");
  CHECK(holder.holders().size() == 1);
}

TEST_CASE("shared: two holders started at once: one serves, the other ends at once", "[cli][shared][race]") {
  test::HolderScope holder;
  const auto control_path = "ControlPath=" + holder.socket().string();
  std::filesystem::create_directories(holder.socket().parent_path());
  std::filesystem::permissions(holder.socket().parent_path(), std::filesystem::perms::owner_all);
  test::run(
      [&]() -> asio::awaitable<bool> {
        auto executor = co_await asio::this_coro::executor;
        auto first = test::start_cli(executor, {"connections", "holder", "-o", control_path});
        auto second = test::start_cli(executor, {"connections", "holder", "-o", control_path});
        // The one that lost the lock ends by itself; the winner stays until told to stop.
        using namespace asio::experimental::awaitable_operators;
        auto ended = co_await (first->wait_exit(runtime::Deadline::after(10s)) ||
                               second->wait_exit(runtime::Deadline::after(10s)));
        auto& loser = ended.index() == 0 ? *first : *second;
        auto& winner = ended.index() == 0 ? *second : *first;
        REQUIRE(loser.exit_status());
        CHECK(loser.exit_status()->success());
        CHECK_FALSE(winner.exit_status());
        const auto listed = test::run_cli({"connections", "list", "--json", "-o", control_path});
        CHECK(listed.status == 0);
        CHECK(listed.out == "{\"connections\":[],\"forwards\":[]}\n");
        CHECK(holder.holders() == std::vector<pid_t>{winner.pid()});
        const auto stopped = test::run_cli({"connections", "stop", "-o", control_path});
        CHECK(stopped.status == 0);
        auto exit = co_await winner.wait_exit(runtime::Deadline::after(10s));
        REQUIRE(exit);
        CHECK(exit->success());
        co_return true;
      }(),
      60s);
}

TEST_CASE("shared: a ControlPath whose folder others may enter is refused with the reason", "[cli][shared][security]") {
  test::TemporaryDirectory open_folder;
  std::filesystem::permissions(open_folder.path(),
                               std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                   std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                   std::filesystem::perms::others_exec);
  const auto ran =
      test::run_cli({"connections", "list", "-o", "ControlPath=" + (open_folder.path() / "holder.sock").string()});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains("has mode 0755: it must be a directory of ours with mode 0700"));
}
