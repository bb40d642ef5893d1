// ensure_ready against the stand-in: every path a workspace's state can take, with short poll
// intervals. The stand-in moves a state along per `coder list` call, so nothing here depends on
// timing except the deadline test, which can only time out.

#include <catch2/catch.hpp>

#include "coder/readiness.hpp"
#include "support/coder_standin.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Json = nlohmann::json;

namespace {

Json state(std::string status) { return {{"status", std::move(status)}}; }

Json agent(std::string status, std::string lifecycle) {
  return {{"name", "main"}, {"status", std::move(status)}, {"lifecycle_state", std::move(lifecycle)}};
}

Json running_with(Json agents) { return {{"status", "running"}, {"agents", std::move(agents)}}; }

Json one_workspace(Json workspace) {
  return {{"username", "tester"}, {"workspaces", Json::array({std::move(workspace)})}};
}

struct Outcome {
  runtime::Result<coder::WorkspaceState> result;
  std::vector<coder::ReadinessEvent> events;

  std::vector<std::string> states() const {
    std::vector<std::string> seen;
    for (const auto& e : events) {
      if (e.kind == coder::ReadinessEvent::Kind::state) seen.push_back(e.state->status);
    }
    return seen;
  }
  bool saw(coder::ReadinessEvent::Kind kind, std::string_view text = "") const {
    for (const auto& e : events) {
      if (e.kind == kind && e.text.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

Outcome ready(const test::CoderStandin& standin, std::string workspace = "ws",
              std::chrono::milliseconds overall = 15s) {
  Outcome outcome{runtime::fail(runtime::Errc::cancelled, runtime::Layer::coder, "not run"), {}};
  coder::ReadinessOptions options;
  options.poll_interval = 10ms;
  options.overall_timeout = overall;
  options.on_progress = [&](const coder::ReadinessEvent& e) { outcome.events.push_back(e); };
  auto ref = coder::parse_workspace_ref(workspace);
  REQUIRE(ref);
  const auto cli = standin.cli();
  outcome.result = test::run(coder::ensure_ready(cli, *ref, std::move(options)));
  return outcome;
}

}  // namespace

TEST_CASE("readiness: running with a ready agent goes at once", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state("running")}}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(outcome.result->status == "running");
  CHECK(outcome.states() == std::vector<std::string>{"running"});
  CHECK(outcome.saw(coder::ReadinessEvent::Kind::ready));
  CHECK(standin.count_calls("start") == 0);
  CHECK(standin.calls() == std::vector<std::string>{"list --search name:ws --output json"});
}

TEST_CASE("readiness: a notice on stdout before the JSON does not break the list", "[coder][readiness][json]") {
  auto scenario = one_workspace({{"name", "ws"}, {"timeline", {state("running")}}});
  scenario["stdout_garbage"] = "A new version of Coder is available: v2.32.0\n";
  test::CoderStandin standin(scenario);
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(outcome.result->status == "running");
}

TEST_CASE("readiness: the exact name is matched, not the prefix Coder searches by", "[coder][readiness]") {
  test::CoderStandin standin({{"username", "tester"},
                              {"workspaces",
                               {{{"name", "ws-2"}, {"timeline", {state("deleted")}}},
                                {{"name", "ws"}, {"timeline", {state("running")}}},
                                {{"name", "ws"}, {"owner", "bob"}, {"timeline", {state("failed")}}}}}});
  auto mine = ready(standin, "ws");
  REQUIRE(mine.result);
  CHECK(mine.result->owner == "tester");
  auto bobs = ready(standin, "bob/ws");
  // Bob's failed workspace gets started (the stand-in's default after_start is running).
  REQUIRE(bobs.result);
  CHECK(bobs.result->owner == "bob");
  CHECK(standin.count_calls("list --search owner:bob name:ws") >= 1);
  CHECK(standin.count_calls("start bob/ws --yes") == 1);
}

TEST_CASE("readiness: a stopped workspace is started, its output passed on", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"},
                                            {"timeline", {state("stopped")}},
                                            {"start_lines", {"Queued", "Running build", "Build done"}},
                                            {"after_start", {state("running")}}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(outcome.states() == std::vector<std::string>{"stopped", "running"});
  CHECK(outcome.saw(coder::ReadinessEvent::Kind::starting, "ws"));
  CHECK(outcome.saw(coder::ReadinessEvent::Kind::output, "Running build"));
  CHECK(standin.count_calls("start ws --yes") == 1);
}

TEST_CASE("readiness: a slow start's output on stdout and stderr arrives before its end", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"},
                                            {"timeline", {state("stopped")}},
                                            {"start_stderr_lines", {"\x1b[33mWarning\x1b[0m: template updated"}},
                                            {"start_lines", {"Queued", "Provisioning", "Done"}},
                                            {"start_delay", 0.1}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  std::vector<std::string> order;
  for (const auto& e : outcome.events) {
    if (e.kind == coder::ReadinessEvent::Kind::output) order.push_back(e.text);
    if (e.kind == coder::ReadinessEvent::Kind::state) order.push_back("state " + e.state->status);
  }
  // stderr and stdout are two pipes: their lines' relative order is not the CLI's to promise.
  const std::vector<std::string> stdout_lines{"Queued", "Provisioning", "Done", "The ws workspace has been started"};
  std::vector<std::string> seen_stdout;
  for (const auto& line : order) {
    if (std::find(stdout_lines.begin(), stdout_lines.end(), line) != stdout_lines.end()) seen_stdout.push_back(line);
  }
  CHECK(seen_stdout == stdout_lines);
  CHECK(std::find(order.begin(), order.end(), "Warning: template updated") != order.end());
  CHECK(order.front() == "state stopped");
  CHECK(order.back() == "state running");
}

TEST_CASE("readiness: stopping is polled until it settles, then started", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"},
                                            {"timeline", {state("stopping"), state("stopping"), state("stopped")}},
                                            {"after_start", {state("starting"), state("running")}}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(outcome.states() == std::vector<std::string>{"stopping", "stopped", "starting", "running"});
  CHECK(standin.count_calls("list") == 5);
  CHECK(standin.count_calls("start") == 1);
}

TEST_CASE("readiness: canceling is polled like stopping", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state("canceling"), state("canceled")}}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(outcome.states() == std::vector<std::string>{"canceling", "canceled", "running"});
  CHECK(standin.count_calls("start") == 1);
}

TEST_CASE("readiness: starting and pending are waited for, agents until connected and ready", "[coder][readiness]") {
  test::CoderStandin standin(
      one_workspace({{"name", "ws"},
                     {"timeline",
                      {state("pending"), state("starting"), running_with({agent("connecting", "created")}),
                       running_with({agent("connected", "starting")}), running_with({agent("connected", "ready")})}}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(outcome.states() == std::vector<std::string>{"pending", "starting", "running", "running", "running"});
  CHECK(standin.count_calls("start") == 0);
}

TEST_CASE("readiness: a failed workspace is started again", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state("failed")}}}));
  auto outcome = ready(standin);
  REQUIRE(outcome.result);
  CHECK(standin.count_calls("start ws --yes") == 1);
}

TEST_CASE("readiness: a start that fails is an error with the CLI's words", "[coder][readiness]") {
  test::CoderStandin standin(
      one_workspace({{"name", "ws"}, {"timeline", {state("stopped")}}, {"start_error", "quota exceeded"}}));
  auto outcome = ready(standin);
  REQUIRE_FALSE(outcome.result);
  const auto& error = outcome.result.error();
  CHECK(error.layer == runtime::Layer::coder);
  CHECK_THAT(error.find_evidence("stderr")->text, Contains("quota exceeded"));
  CHECK_THAT(error.find_evidence("last state")->text, Contains("stopped"));
  CHECK_THAT(error.detailed(), Contains("`coder start ws --yes`") && Contains("getting workspace ws ready"));
}

TEST_CASE("readiness: a workspace that fails again after a start is not started forever", "[coder][readiness]") {
  test::CoderStandin standin(
      one_workspace({{"name", "ws"}, {"timeline", {state("failed")}}, {"after_start", {state("failed")}}}));
  auto outcome = ready(standin);
  REQUIRE_FALSE(outcome.result);
  CHECK_THAT(outcome.result.error().summary(), Contains("failed again"));
  CHECK(standin.count_calls("start") == 1);
}

TEST_CASE("readiness: deleted and deleting are clear errors", "[coder][readiness]") {
  for (std::string status : {"deleted", "deleting"}) {
    test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state(status)}}}));
    auto outcome = ready(standin);
    REQUIRE_FALSE(outcome.result);
    CHECK_THAT(outcome.result.error().summary(), Contains("workspace ws cannot be used: it is " + status));
    CHECK(standin.count_calls("start") == 0);
  }
}

TEST_CASE("readiness: a failed deletion is not undone by a start", "[coder][readiness]") {
  test::CoderStandin standin(
      one_workspace({{"name", "ws"}, {"timeline", {{{"status", "failed"}, {"transition", "delete"}}}}}));
  auto outcome = ready(standin);
  REQUIRE_FALSE(outcome.result);
  CHECK_THAT(outcome.result.error().summary(), Contains("its deletion failed"));
  CHECK(standin.count_calls("start") == 0);
}

TEST_CASE("readiness: a workspace that is not there is a clear error", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws-other"}, {"timeline", {state("running")}}}));
  auto outcome = ready(standin, "ws");
  REQUIRE_FALSE(outcome.result);
  CHECK_THAT(outcome.result.error().summary(), Contains("workspace ws not found"));
}

TEST_CASE("readiness: an agent whose startup failed is an error with its state", "[coder][readiness]") {
  for (std::string lifecycle : {"start_error", "start_timeout"}) {
    test::CoderStandin standin(
        one_workspace({{"name", "ws"}, {"timeline", {running_with({agent("connected", lifecycle)})}}}));
    auto outcome = ready(standin);
    REQUIRE_FALSE(outcome.result);
    CHECK_THAT(outcome.result.error().summary(), Contains("startup script failed"));
    CHECK_THAT(outcome.result.error().find_evidence("last state")->text, Contains("connected/" + lifecycle));
  }
}

TEST_CASE("readiness: the overall deadline ends a workspace that never gets there", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state("starting")}}}));
  // Long enough for the stand-in's first answer on a loaded machine (a Python start each time).
  auto outcome = ready(standin, "ws", 2s);
  REQUIRE_FALSE(outcome.result);
  CHECK(outcome.result.error().code == runtime::Errc::timed_out);
  CHECK_THAT(outcome.result.error().summary(), Contains("getting workspace ws ready"));
  const auto* last_state = outcome.result.error().find_evidence("last state");
  REQUIRE(last_state);
  CHECK_THAT(last_state->text, Contains("starting"));
}

TEST_CASE("readiness: malformed list output is an error showing it", "[coder][readiness][json]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state("running")}}}));
  const coder::WorkspaceRef ws{"", "ws"};
  for (std::string bad :
       {"{\"name\":\"ws\"}", "[{\"name\":\"ws\"}]", "[{\"name\":\"ws\",\"latest_build\":{}}]", "[{"}) {
    INFO(bad);
    auto found = coder::find_workspace(bad, ws);
    REQUIRE_FALSE(found);
    CHECK(found.error().code == runtime::Errc::protocol_error);
  }
  auto empty = coder::find_workspace("[]", ws);
  REQUIRE(empty);
  CHECK_FALSE(*empty);
  for (std::string bad : {"", "a/b/c", "ws;rm", "ws name", "/ws", "o/"}) {
    INFO(bad);
    CHECK_FALSE(coder::parse_workspace_ref(bad));
  }
}

TEST_CASE("readiness: cancelled by the caller", "[coder][readiness]") {
  test::CoderStandin standin(one_workspace({{"name", "ws"}, {"timeline", {state("starting")}}}));
  const auto cli = standin.cli();
  auto result = test::run([&]() -> asio::awaitable<runtime::Result<coder::WorkspaceState>> {
    auto ex = co_await asio::this_coro::executor;
    asio::cancellation_signal cancel;
    asio::steady_timer soon(ex, 200ms);
    soon.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
    coder::ReadinessOptions options;
    options.poll_interval = 10ms;
    auto waiting = coder::ensure_ready(cli, coder::WorkspaceRef{"", "ws"}, std::move(options));
    auto outcome = co_await asio::co_spawn(ex, std::move(waiting),
                                           asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
    co_return outcome;
  }());
  REQUIRE_FALSE(result);
  CHECK(result.error().code == runtime::Errc::cancelled);
}
