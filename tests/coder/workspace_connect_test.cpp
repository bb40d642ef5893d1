// End to end: the workspace profile, coder::dial and coder::connect_workspace through the
// stand-in's `coder ssh --stdio`, which runs the Go x/crypto server (the agent's library) on its
// stdio, then a command on it.

#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <regex>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/post.hpp>

#include <catch2/catch.hpp>

#include "coder/dial.hpp"
#include "coder/readiness.hpp"
#include "coder/versions.hpp"
#include "coder/workspace_connect.hpp"
#include "coder/workspace_plan.hpp"
#include "ssh/algorithms.hpp"
#include "ssh/stall.hpp"
#include "support/coder_standin.hpp"
#include "support/relayed_workspace.hpp"
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
  CHECK(plan->options.transport.stall_budget == 10s);
  // A current agent's x/crypto lists mlkem768x25519-sha256 first and has no sntrup761x25519-sha512.
  auto kex = ssh::AlgorithmPreferences::defaults().kex;
  std::erase_if(kex, [](const std::string& name) { return name.starts_with("sntrup761x25519-sha512"); });
  CHECK(plan->options.transport.algorithms.kex == kex);
  CHECK(kex.front() == "mlkem768x25519-sha256");
  CHECK(plan->options.transport.algorithms.host_key.front() == "rsa-sha2-256");

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

TEST_CASE("workspace connect: an OpenSSH server behind `coder ssh` refuses none, and auth says so",
          "[coder][e2e][sshd]") {
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

namespace {

// A workspace whose `coder ssh --stdio` takes its time: it serves once `coder list` has run
// `lists` times since it began (or after 15 s), as a starting workspace would.
Json slow_start(int lists, Json extra = Json::object()) {
  Json ws = {{"name", "ws"},
             {"timeline", {{{"status", "stopped"}}}},
             {"after_start", {{{"status", "starting"}}, {{"status", "running"}}}}};
  Json all = {{"username", "tester"}, {"workspaces", Json::array({ws})}, {"ssh_delay", 15}, {"ssh_until_lists", lists}};
  all.update(extra);
  return all;
}

struct Connected {
  runtime::Result<ssh::ExecResult> result = runtime::fail(runtime::Errc::cancelled, runtime::Layer::coder, "not run");
  std::vector<coder::ReadinessEvent> progress;
  std::vector<std::string> warnings;
};

// connect_workspace, then one command, then close. A quick dial is never watched unless the test
// says so (progress_after).
Connected connect_and_exec(std::string command, coder::WorkspaceRef workspace = {"", "ws"},
                           std::chrono::milliseconds progress_after = 60s) {
  Connected connected;
  connected.result = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    coder::WorkspaceConnectOptions options;
    options.timeout = 15s;
    options.progress_after = progress_after;
    options.poll_interval = 10ms;
    options.on_progress = [&](const coder::ReadinessEvent& event) { connected.progress.push_back(event); };
    auto warnings = std::make_shared<std::vector<std::string>>();
    options.on_warning = [warnings](const std::string& warning) { warnings->push_back(warning); };
    const coder::CoderCli cli(test::CoderStandin::program());
    auto connection = co_await coder::connect_workspace(cli, std::move(workspace), std::move(options));
    connected.warnings = *warnings;
    if (!connection) co_return runtime::fail(std::move(connection.error()));
    auto result = co_await (*connection)->exec(std::move(command));
    co_await (*connection)->close();
    connected.warnings = *warnings;
    co_return result;
  }());
  return connected;
}

}  // namespace

TEST_CASE("connect_workspace: a cold connection to a stopped workspace runs one `coder` process, its ssh",
          "[coder][e2e][connect]") {
  test::CoderStandin standin(scenario("stopped"));
  auto connected = connect_and_exec("echo up; exit 5");
  REQUIRE(connected.result);
  CHECK(connected.result->stdout_data == "up\n");
  CHECK(connected.result->exit_code == 5);
  CHECK(standin.calls() == std::vector<std::string>{"ssh --stdio --hostname-suffix mux--coder ws.mux--coder"});
  CHECK(connected.progress.empty());
  CHECK(connected.warnings.empty());
}

TEST_CASE("connect_workspace: a slow dial is watched with `coder list` for progress, never `coder start`",
          "[coder][e2e][connect]") {
  test::CoderStandin standin(slow_start(2));
  auto connected = connect_and_exec("echo up", {"", "ws"}, 10ms);
  REQUIRE(connected.result);
  CHECK(connected.result->stdout_data == "up\n");
  // Each state once, in order; a list that ran before the CLI's ssh began the start saw it stopped.
  std::vector<std::string> states;
  for (const auto& event : connected.progress) {
    CHECK(event.kind == coder::ReadinessEvent::Kind::state);
    states.push_back(event.state->status);
  }
  if (!states.empty() && states.front() == "stopped") states.erase(states.begin());
  CHECK(states == std::vector<std::string>{"starting", "running"});
  CHECK(standin.count_calls("ssh ") == 1);
  CHECK(standin.count_calls("list ") >= 2);
  CHECK(standin.count_calls("start") == 0);
}

TEST_CASE("connect_workspace: a failed dial is explained by one `coder list`", "[coder][e2e][connect]") {
  SECTION("deleted: the Coder layer's error, the proxy's words as evidence") {
    test::CoderStandin standin(scenario("deleted"));
    auto connected = connect_and_exec("true");
    REQUIRE_FALSE(connected.result);
    const auto& error = connected.result.error();
    CHECK(error.layer == runtime::Layer::coder);
    CHECK(error.message == "workspace ws cannot be used: it is deleted");
    CHECK_THAT(error.find_evidence("last state")->text, Contains("deleted (delete)"));
    CHECK_THAT(error.find_evidence("connection")->text, Contains("ws is deleted"));
    CHECK(standin.calls() == std::vector<std::string>{"ssh --stdio --hostname-suffix mux--coder ws.mux--coder",
                                                      "list --search name:ws --output json"});
  }
  SECTION("not found") {
    test::CoderStandin standin(scenario("running"));
    auto connected = connect_and_exec("true", {"", "nope"});
    REQUIRE_FALSE(connected.result);
    CHECK(connected.result.error().layer == runtime::Layer::coder);
    CHECK(connected.result.error().code == runtime::Errc::invalid_argument);
    CHECK(connected.result.error().message == "workspace nope not found");
  }
  SECTION("failed") {
    test::CoderStandin standin(scenario("failed"));
    auto connected = connect_and_exec("true");
    REQUIRE_FALSE(connected.result);
    CHECK(connected.result.error().layer == runtime::Layer::coder);
    CHECK_THAT(connected.result.error().message, Contains("its latest build (stop) failed"));
  }
  SECTION("an agent whose startup failed") {
    Json state = {{"status", "running"},
                  {"agents", {{{"name", "main"}, {"status", "connected"}, {"lifecycle_state", "start_error"}}}}};
    test::CoderStandin standin({{"workspaces", {{{"name", "ws"}, {"timeline", {state}}}}},
                                {"fail", {{"ssh", {{"message", "error: agent"}}}}}});
    auto connected = connect_and_exec("true");
    REQUIRE_FALSE(connected.result);
    CHECK(connected.result.error().layer == runtime::Layer::coder);
    CHECK_THAT(connected.result.error().message, Contains("its agent's startup script failed"));
  }
  SECTION("a running workspace: the proxy's own error stays, the state as evidence") {
    test::CoderStandin standin(
        scenario("running", {{"fail", {{"ssh", {{"message", "error: dial workspace agent: timeout"}, {"exit", 1}}}}}}));
    auto connected = connect_and_exec("true");
    REQUIRE_FALSE(connected.result);
    const auto& error = connected.result.error();
    CHECK(error.layer == runtime::Layer::proxy);
    CHECK_THAT(error.summary(), Contains("exited with status 1"));
    CHECK_THAT(error.find_evidence("stderr")->text, Contains("dial workspace agent: timeout"));
    CHECK_THAT(error.find_evidence("workspace state")->text, Contains("running (start)"));
  }
}

TEST_CASE("connect_workspace: the version mismatch is reported once, from the proxy's or the list's stderr",
          "[coder][e2e][connect]") {
  SECTION("the proxy's") {
    test::CoderStandin standin(scenario("stopped", {{"server_version", "v2.29.1"}}));
    auto connected = connect_and_exec("true");
    REQUIRE(connected.result);
    REQUIRE(connected.warnings.size() == 1);
    CHECK_THAT(connected.warnings[0], Contains("v2.31.6+abcdef0") && Contains("v2.29.1") && Contains("install"));
  }
  SECTION("the proxy's and the lists'") {
    test::CoderStandin standin(slow_start(2, {{"server_version", "v2.29.1"}}));
    auto connected = connect_and_exec("true", {"", "ws"}, 10ms);
    REQUIRE(connected.result);
    CHECK(standin.count_calls("list ") >= 2);
    CHECK(connected.warnings.size() == 1);
  }
  SECTION("none when major.minor agree") {
    test::CoderStandin standin(scenario("stopped", {{"server_version", "v2.31.0"}}));
    auto connected = connect_and_exec("true");
    REQUIRE(connected.result);
    CHECK(connected.warnings.empty());
  }
}

TEST_CASE("connect_workspace: cancelled while the dial and a `coder list` run, it ends both and leaves no process",
          "[coder][e2e][connect]") {
  // The dial waits for 15 s; the first progress event cancels.
  test::CoderStandin standin(slow_start(1000));
  auto outcome = test::run([&]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    auto executor = co_await asio::this_coro::executor;
    asio::cancellation_signal cancel;
    coder::WorkspaceConnectOptions options;
    options.progress_after = 10ms;
    options.poll_interval = 10ms;
    options.on_progress = [&](const coder::ReadinessEvent&) {
      asio::post(executor, [&] { cancel.emit(asio::cancellation_type::terminal); });
    };
    const coder::CoderCli cli(test::CoderStandin::program());
    coder::WorkspaceRef workspace{"", "ws"};
    auto connecting = coder::connect_workspace(cli, std::move(workspace), std::move(options));
    auto connected = co_await asio::co_spawn(executor, std::move(connecting),
                                             asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
    co_return connected;
  }());
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == runtime::Errc::cancelled);
  // Every child this process started (the proxy, each `coder list`) has been reaped.
  int status = 0;
  CHECK(::waitpid(-1, &status, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  CHECK(standin.count_calls("start") == 0);
}

// Found by the soak: a tunnel that stalls once the agent has begun to answer held the dial for its
// whole budget (the service's is 120 s, for a workspace's start), and the error blamed the step.
TEST_CASE("connect_workspace: a tunnel that stalls inside the handshake fails within the stall budget",
          "[coder][e2e][connect][stall]") {
  const test::RelayedWorkspace workspace;
  test::CoderStandin standin(workspace.scenario());
  workspace.stall_after(30);
  const auto started = std::chrono::steady_clock::now();
  const auto connected = test::run([]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    coder::WorkspaceConnectOptions options;
    options.timeout = 120s;
    options.stall_budget = 2s;  // a healthy agent's gaps are milliseconds, even on a loaded machine
    options.progress_after = 60s;
    const coder::CoderCli cli(test::CoderStandin::program());
    coder::WorkspaceRef ws{"", "ws"};
    co_return co_await coder::connect_workspace(cli, std::move(ws), std::move(options));
  }());
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(connected);
  const auto& error = connected.error();
  INFO(error.summary());
  CHECK(error.code == runtime::Errc::timed_out);
  CHECK(ssh::stalled(error));
  CHECK(error.find_evidence("stalled")->text == "no data for 2 s after 30 bytes");
  CHECK_THAT(error.find_evidence("workspace state")->text, Contains("running"));
  CHECK(took < 10s);
}
