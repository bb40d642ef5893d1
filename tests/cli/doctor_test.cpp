// `coder-runtime doctor` against the stand-in Coder CLI: every step passes against a healthy
// workspace, and each injected failure is pinned on its own step with the evidence: no CLI, a
// version mismatch, a proxy that exits with an error, garbage instead of a banner, auth refused;
// then the same command through the connection holder, which a second run finds warm.

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/files.hpp"
#include "support/holder_scope.hpp"
#include "support/sshd.hpp"

using namespace cr;

namespace {

nlohmann::json healthy() {
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD},
          {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}}}};
}

struct Diagnosis {
  int status = -1;
  nlohmann::json steps;
  const nlohmann::json* step(const std::string& name) const {
    for (const auto& s : steps) {
      if (s["step"] == name) return &s;
    }
    return nullptr;
  }
  // The names of the steps that failed, in order.
  std::vector<std::string> failed() const {
    std::vector<std::string> names;
    for (const auto& s : steps) {
      if (!s["passed"].get<bool>()) names.push_back(s["step"]);
    }
    return names;
  }
};

// Each test has a HolderScope: a doctor whose direct steps pass goes on through the holder.
Diagnosis diagnose(std::string coder = test::CoderStandin::program().string(), std::vector<std::string> options = {}) {
  std::vector<std::string> argv{"doctor", "--json", "--timeout", "15", "--coder", std::move(coder)};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("ws");
  const auto ran = test::run_cli(argv);
  INFO(ran.out << ran.err);
  const auto report = nlohmann::json::parse(ran.out);
  return {ran.status, report["steps"]};
}

}  // namespace

TEST_CASE("doctor: every step passes against a healthy workspace", "[cli][doctor]") {
  test::HolderScope holder;
  test::CoderStandin standin(healthy());
  const auto d = diagnose();
  CHECK(d.status == 0);
  CHECK(d.failed().empty());
  for (const auto* name : {"Coder CLI", "workspace", "ProxyCommand", "SSH banner", "key exchange", "auth", "test exec",
                           "round trip", "shared"}) {
    INFO(name);
    CHECK(d.step(name));
  }
  CHECK(d.step("SSH banner")->at("detail") == "SSH-2.0-Go");
  CHECK(d.step("auth")->at("detail") == "none");
  CHECK_THAT(d.step("ProxyCommand")->at("detail").get<std::string>(),
             Catch::Contains(R"("ssh" "--stdio" "--hostname-suffix" "mux--coder" "ws.mux--coder")"));
}

TEST_CASE("doctor: no CLI is the first step's failure, with a remedy", "[cli][doctor]") {
  test::HolderScope holder;
  const auto d = diagnose("/nonexistent/coder");
  CHECK(d.status == 1);
  CHECK(d.failed() == std::vector<std::string>{"Coder CLI"});
  CHECK_THAT(d.step("Coder CLI")->at("remedy").get<std::string>(), Catch::Contains("--coder"));
}

TEST_CASE("doctor: a version mismatch names both versions, and the later steps still run", "[cli][doctor]") {
  test::HolderScope holder;
  auto scenario = healthy();
  scenario["server_version"] = "v2.29.1";
  test::CoderStandin standin(scenario);
  const auto d = diagnose();
  CHECK(d.status == 1);
  CHECK(d.failed() == std::vector<std::string>{"Coder CLI"});
  const auto detail = d.step("Coder CLI")->at("detail").get<std::string>();
  CHECK_THAT(detail, Catch::Contains("v2.31.6") && Catch::Contains("v2.29.1"));
  CHECK(d.step("test exec")->at("passed") == true);
}

TEST_CASE("doctor: a CLI that is not logged in keeps the CLI step's own advice, of class other", "[cli][doctor]") {
  test::HolderScope holder;
  auto scenario = healthy();
  scenario["fail"] = {{"whoami", {{"message", "error: You are not logged in."}, {"exit", 1}}}};
  test::CoderStandin standin(scenario);
  const auto d = diagnose();
  CHECK(d.status == 1);
  REQUIRE(d.failed() == std::vector<std::string>{"Coder CLI"});
  const auto& step = *d.step("Coder CLI");
  CHECK(step["class"] == "other");
  CHECK_THAT(step["remedy"].get<std::string>(), Catch::Contains("coder login") && !Catch::Contains("agent"));
}

TEST_CASE("doctor: a proxy that exits with an error fails the banner step with its status and stderr",
          "[cli][doctor]") {
  test::HolderScope holder;
  auto scenario = healthy();
  scenario["fail"] = {{"ssh", {{"message", "error: agent not connected"}, {"exit", 1}}}};
  test::CoderStandin standin(scenario);
  const auto d = diagnose();
  CHECK(d.failed() == std::vector<std::string>{"SSH banner"});
  CHECK_THAT(d.step("SSH banner")->at("detail").get<std::string>(), Catch::Contains("exited with status 1"));
  CHECK_THAT(d.step("SSH banner")->at("evidence").at("stderr").get<std::string>(),
             Catch::Contains("agent not connected"));
}

TEST_CASE("doctor: garbage instead of a banner is shown as it arrived", "[cli][doctor]") {
  test::HolderScope holder;
  auto scenario = healthy();
  scenario["ssh_garbage"] = "Welcome to the workspace!\r\n";
  test::CoderStandin standin(scenario);
  const auto d = diagnose();
  CHECK(d.failed() == std::vector<std::string>{"SSH banner"});
  CHECK_THAT(d.step("SSH banner")->dump(), Catch::Contains("Welcome to the workspace!"));
}

TEST_CASE("doctor: a server that refuses none auth fails the auth step with the methods it accepts", "[cli][doctor]") {
  test::HolderScope holder;
  test::Sshd sshd;
  const auto command = sshd.proxy_command();
  auto scenario = healthy();
  scenario["sshd_config"] = command.substr(command.find(" -f ") + 4);
  test::CoderStandin standin(scenario);
  const auto d = diagnose();
  CHECK(d.failed() == std::vector<std::string>{"auth"});
  CHECK_THAT(d.step("auth")->dump(), Catch::Contains("publickey"));
}

TEST_CASE(
    "doctor: the check through the holder starts one, finds it warm the next time, and is skipped with "
    "ControlMaster=no",
    "[cli][doctor][shared]") {
  test::HolderScope holder;
  test::CoderStandin standin(healthy());
  const auto first = diagnose();
  INFO("holder log: " << holder.log());
  CHECK(first.status == 0);
  CHECK_THAT(first.step("shared")->at("detail").get<std::string>(), Catch::Contains("`true` exited 0"));
  CHECK(holder.holders().size() == 1);
  CHECK(standin.count_calls("ssh") == 2);  // doctor's own connection, then the holder's
  const auto second = diagnose();
  CHECK(second.status == 0);
  CHECK(standin.count_calls("ssh") == 3);  // doctor's own only: the holder's connection was warm
  const auto without = diagnose(test::CoderStandin::program().string(), {"-o", "ControlMaster=no"});
  CHECK(without.status == 0);
  CHECK_FALSE(without.step("shared"));
}

TEST_CASE("doctor: a holder that cannot start fails the shared step with its reason, after the direct steps pass",
          "[cli][doctor][shared]") {
  test::HolderScope holder;
  test::CoderStandin standin(healthy());
  test::TemporaryDirectory open;
  std::filesystem::permissions(open.path(), std::filesystem::perms::all);  // others may enter: refused
  const auto d =
      diagnose(test::CoderStandin::program().string(), {"-o", "ControlPath=" + (open.path() / "holder.sock").string()});
  CHECK(d.status == 1);
  CHECK(d.failed() == std::vector<std::string>{"shared"});
  CHECK_THAT(d.step("shared")->dump(), Catch::Contains(open.path().string()));
}
