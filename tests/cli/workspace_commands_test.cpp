// `coder-runtime status`, `start` and `config-ssh` end to end against the stand-in Coder CLI; the
// block config-ssh writes is read back by OpenSSH's own `ssh -G`.

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"

using namespace cr;

namespace {

nlohmann::json scenario(nlohmann::json workspace) {
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD}, {"workspaces", {std::move(workspace)}}};
}

std::vector<std::string> with_coder(std::vector<std::string> args) {
  args.insert(args.begin() + 1, {"--coder", test::CoderStandin::program().string()});
  return args;
}

}  // namespace

TEST_CASE("status --json: the build and agent state", "[cli][workspace]") {
  test::CoderStandin standin(scenario({{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}));
  const auto ran = test::run_cli(with_coder({"status", "--json", "ws"}));
  INFO(ran.err);
  REQUIRE(ran.status == 0);
  const auto state = nlohmann::json::parse(ran.out);
  CHECK(state["name"] == "ws");
  CHECK(state["status"] == "running");
  REQUIRE(state["agents"].size() == 1);
  CHECK(state["agents"][0]["lifecycle_state"] == "ready");
  const auto missing = test::run_cli(with_coder({"status", "nope"}));
  CHECK(missing.status == 125);
  CHECK_THAT(missing.err, Catch::Contains("there is no workspace nope"));
}

TEST_CASE("start: a stopped workspace is started once and reported ready", "[cli][workspace]") {
  nlohmann::json stopped{
      {"name", "ws"}, {"timeline", {{{"status", "stopped"}}}}, {"after_start", {{{"status", "running"}}}}};
  test::CoderStandin standin(scenario(stopped));
  const auto ran = test::run_cli(with_coder({"start", "ws"}));
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK_THAT(ran.out, Catch::StartsWith("ws is ready: running"));
  CHECK(standin.count_calls("start ws") == 1);
}

TEST_CASE("config-ssh: the block OpenSSH then reads, and --remove", "[cli][workspace]") {
  test::TemporaryDirectory dir{"config_ssh_test"};
  const auto file = dir.path() / "config";
  test::write_text(file, "Host other\n  User me\n");
  const auto wrote =
      test::run_cli({"config-ssh", "--coder", test::CoderStandin::program().string(), "--file", file.string()});
  INFO(wrote.err);
  REQUIRE(wrote.status == 0);
  const auto text = test::read_text(file);
  CHECK_THAT(text, Catch::StartsWith("Host other\n  User me\n"));
  CHECK_THAT(text, Catch::Contains("# --- START MUX CODER SSH ---\nHost *.mux--coder\n"));
  const auto resolved =
      test::run_command(fmt::format("ssh -G -F {} ws.mux--coder | grep -q '^proxycommand \"{}\" \"ssh\" \"--stdio\"'",
                                    file.string(), test::CoderStandin::program().string()));
  CHECK(resolved == 0);
  const auto removed = test::run_cli({"config-ssh", "--remove", "--file", file.string()});
  REQUIRE(removed.status == 0);
  CHECK(test::read_text(file) == "Host other\n  User me\n");
}
