// `coder-runtime exec` end to end against the stand-in Coder CLI, whose `ssh --stdio` runs the Go
// x/crypto/ssh server (the agent's library): a stopped workspace is started, the command's output,
// stdin and exit code come through, and each of our own outcomes has its exit code and its words.

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// `coder-runtime exec --coder STANDIN args...`.
test::Ran run_exec(std::vector<std::string> args, const std::string& input = "", int interrupt_after_lines = 0) {
  std::vector<std::string> argv{"exec", "--coder", test::CoderStandin::program().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_cli(std::move(argv), input, interrupt_after_lines);
}

nlohmann::json workspace(std::string name, nlohmann::json timeline) {
  return {{"name", std::move(name)}, {"timeline", std::move(timeline)}};
}

nlohmann::json scenario(std::vector<nlohmann::json> workspaces) {
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD}, {"workspaces", std::move(workspaces)}};
}

}  // namespace

TEST_CASE("exec: a stopped workspace starts, then the command runs with its directory, variables and stdin",
          "[cli][exec]") {
  auto stopped = workspace("ws", {{{"status", "stopped"}}});
  stopped["after_start"] = {{{"status", "running"}}};
  test::CoderStandin standin(scenario({stopped}));
  const auto ran = run_exec({"--cwd", "/usr", "--env", "GREETING=it's me", "ws", "--",
                             "pwd; echo \"$GREETING\"; cat; echo oops >&2; exit 4"},
                            "from stdin\n");
  INFO(ran.err);
  CHECK(ran.status == 4);
  CHECK(ran.out == "/usr\nit's me\nfrom stdin\n");
  CHECK_THAT(ran.err, Catch::Contains("workspace ws: stopped"));
  CHECK_THAT(ran.err, Catch::Contains("oops\n"));
  CHECK(standin.count_calls("start ws") == 1);
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

TEST_CASE("exec: SIGTERM (or Ctrl-C) cancels the running command: exit code 130", "[cli][exec]") {
  test::CoderStandin standin(scenario({workspace("ws", {{{"status", "running"}}})}));
  const auto ran = run_exec({"ws", "--", "echo started; sleep 5; echo never"}, "", 1);
  CHECK(ran.status == 130);
  CHECK(ran.out == "started\n");
  CHECK_THAT(ran.err, Catch::Contains("coder-runtime: the command cancelled after"));
}

TEST_CASE("exec: Coder-side failures are 125 with the CLI's words; a deleted workspace is one", "[cli][exec]") {
  test::CoderStandin standin(scenario({workspace("gone", {{{"status", "deleted"}}})}));
  const auto deleted = run_exec({"gone", "--", "true"});
  CHECK(deleted.status == 125);
  CHECK_THAT(deleted.err, Catch::Contains("coder-runtime: coder: "));
  CHECK_THAT(deleted.err, Catch::Contains("deleted"));
  const auto missing = run_exec({"nope", "--", "true"});
  CHECK(missing.status == 125);
  CHECK_THAT(missing.err, Catch::Contains("nope"));
}
