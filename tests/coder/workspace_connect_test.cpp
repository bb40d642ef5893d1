// End to end: the workspace profile and coder::dial through the stand-in's `coder ssh --stdio`,
// which runs the Go x/crypto server (the agent's library) on its stdio, then a command on it.

#include <csignal>
#include <regex>

#include <catch2/catch.hpp>

#include "coder/dial.hpp"
#include "coder/readiness.hpp"
#include "coder/versions.hpp"
#include "coder/workspace_plan.hpp"
#include "support/coder_standin.hpp"
#include "support/run.hpp"
#include "support/sshd.hpp"

using namespace cr;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Json = nlohmann::json;

namespace {

Json scenario(std::string status, Json extra = Json::object()) {
  Json ws = {{"name", "ws"}, {"timeline", {{{"status", std::move(status)}}}}};
  Json all = {{"username", "tester"}, {"workspaces", Json::array({ws})}};
  all.update(extra);
  return all;
}

coder::WorkspacePlanOptions plan_options() {
  coder::WorkspacePlanOptions options;
  options.coder = test::CoderStandin::program();
  options.connect_timeout = 15s;
  return options;
}

struct Ran {
  runtime::Result<ssh::ExecResult> result;
  std::string proxy_stderr;
  int proxy_pid = -1;
};

// The proxy's pid, from the connection's description "... (pid N)".
int pid_of(const std::string& description) {
  std::smatch match;
  static const std::regex kPid(R"(\(pid (\d+)\))");
  return std::regex_search(description, match, kPid) ? std::stoi(match[1].str()) : -1;
}

Ran dial_and_exec(std::string command, coder::WorkspaceRef workspace = {"", "ws"}) {
  auto plan = coder::workspace_plan(workspace, plan_options());
  REQUIRE(plan);
  Ran ran{runtime::fail(runtime::Errc::cancelled, runtime::Layer::coder, "not run"), "", -1};
  ran.result = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    coder::DialOptions options;
    options.on_proxy_stderr = [&](std::string_view chunk) { ran.proxy_stderr.append(chunk); };
    auto connection = co_await coder::dial(std::move(*plan), std::move(options));
    if (!connection) co_return runtime::fail(std::move(connection.error()));
    ran.proxy_pid = pid_of((*connection)->describe());
    auto result = co_await (*connection)->exec(std::move(command));
    co_await (*connection)->close();
    co_return result;
  }());
  return ran;
}

}  // namespace

TEST_CASE("workspace plan: the profile the config block gives OpenSSH", "[coder][plan]") {
  auto options = plan_options();
  options.coder = "/opt/Coder Tools/coder";
  options.user = "dev";
  auto plan = coder::workspace_plan({"", "ws"}, options);
  REQUIRE(plan);
  CHECK(plan->host_alias == "ws.mux--coder");
  CHECK(plan->hostname == "ws.mux--coder");
  CHECK(plan->user == "dev");
  REQUIRE(plan->proxy_command);
  CHECK(*plan->proxy_command ==
        R"("/opt/Coder Tools/coder" "ssh" "--stdio" "--hostname-suffix" "mux--coder" "ws.mux--coder")");
  CHECK(plan->identity_files.empty());
  CHECK(plan->identities_only);
  CHECK(plan->identity_agent == "none");
  CHECK(plan->batch_mode);
  CHECK(plan->connect_timeout == 15s);
  CHECK(plan->options.connection.keepalive_interval == 5s);
  CHECK(plan->options.connection.keepalive_count_max == 2);

  auto theirs = coder::workspace_plan({"bob", "ws"}, plan_options());
  REQUIRE(theirs);
  CHECK_THAT(*theirs->proxy_command, Contains(R"("bob/ws.mux--coder")"));
  options.coder = "/opt/bad\npath/coder";
  CHECK_FALSE(coder::workspace_plan({"", "ws"}, options));
}

TEST_CASE("workspace connect: exec through `coder ssh --stdio` to the Go server", "[coder][e2e]") {
  test::CoderStandin standin(scenario("running"));
  auto ran = dial_and_exec("echo hello from $((6*7)); echo oops >&2; exit 3");
  REQUIRE(ran.result);
  CHECK(ran.result->stdout_data == "hello from 42\n");
  CHECK(ran.result->stderr_data == "oops\n");
  CHECK(ran.result->exit_code == 3);
  CHECK(standin.count_calls("ssh --stdio --hostname-suffix mux--coder ws.mux--coder") == 1);
  // The proxy (the stand-in, then the server it became) is gone once the connection closed.
  REQUIRE(ran.proxy_pid > 0);
  CHECK(::kill(ran.proxy_pid, 0) != 0);
}

TEST_CASE("workspace connect: a stopped workspace is auto-started by `coder ssh`, its notice kept", "[coder][e2e]") {
  test::CoderStandin standin(scenario("stopped"));
  auto ran = dial_and_exec("echo up");
  REQUIRE(ran.result);
  CHECK(ran.result->stdout_data == "up\n");
  CHECK_THAT(ran.proxy_stderr, Contains("starting workspace"));
}

TEST_CASE("workspace connect: text on stdout before the SSH banner is tolerated", "[coder][e2e]") {
  test::CoderStandin standin(scenario("running", {{"stdout_garbage", "Some old CLI notice\r\n"}}));
  auto ran = dial_and_exec("echo fine");
  REQUIRE(ran.result);
  CHECK(ran.result->stdout_data == "fine\n");
}

TEST_CASE("workspace connect: a failing proxy is an error with its exit status and words", "[coder][e2e]") {
  SECTION("injected failure") {
    test::CoderStandin standin(
        scenario("running", {{"fail", {{"ssh", {{"message", "error: dial workspace agent: timeout"}, {"exit", 1}}}}}}));
    auto ran = dial_and_exec("true");
    REQUIRE_FALSE(ran.result);
    CHECK(ran.result.error().layer == runtime::Layer::proxy);
    CHECK_THAT(ran.result.error().summary(), Contains("exited with status 1"));
    CHECK_THAT(ran.result.error().find_evidence("stderr")->text, Contains("dial workspace agent: timeout"));
  }
  SECTION("deleted workspace") {
    test::CoderStandin standin(scenario("deleted"));
    auto ran = dial_and_exec("true");
    REQUIRE_FALSE(ran.result);
    CHECK_THAT(ran.result.error().find_evidence("stderr")->text, Contains("ws is deleted"));
  }
  SECTION("no such workspace") {
    test::CoderStandin standin(scenario("running"));
    auto ran = dial_and_exec("true", {"", "nope"});
    REQUIRE_FALSE(ran.result);
    CHECK_THAT(ran.result.error().find_evidence("stderr")->text, Contains("\"nope\" not found"));
  }
}

TEST_CASE("workspace connect: versions, readiness, then a command, as a host would", "[coder][e2e]") {
  test::CoderStandin standin(scenario("stopped", {{"server_version", "v2.29.0"}}));
  const auto cli = standin.cli();
  auto report = test::run(coder::check_versions(cli));
  REQUIRE(report);
  CHECK(report->warning);
  coder::ReadinessOptions options;
  options.poll_interval = 10ms;
  auto ready = test::run(coder::ensure_ready(cli, {"", "ws"}, std::move(options)));
  REQUIRE(ready);
  auto ran = dial_and_exec("echo $CODER_TEST_MISSING done");
  REQUIRE(ran.result);
  CHECK(ran.result->stdout_data == "done\n");
  // `coder ssh` warns about the mismatch on stderr too; it never reaches the SSH stream.
  CHECK_THAT(ran.proxy_stderr, Contains("version mismatch"));
}

TEST_CASE("workspace connect: an OpenSSH server behind `coder ssh` refuses none, and auth says so", "[coder][e2e][sshd]") {
  test::Sshd sshd;
  const auto command = sshd.proxy_command();  // "/usr/sbin/sshd -i -f <config>"
  const auto config = command.substr(command.rfind(' ') + 1);
  test::CoderStandin standin(scenario("running", {{"sshd_config", config}}));
  auto ran = dial_and_exec("true");
  REQUIRE_FALSE(ran.result);
  // The agent takes none; a server that does not is an auth failure, not a proxy or stream error.
  CHECK(ran.result.error().layer == runtime::Layer::auth);
  CHECK_THAT(ran.result.error().detailed(), Contains("publickey"));
}
