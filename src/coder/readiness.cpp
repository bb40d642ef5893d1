#include "coder/readiness.hpp"

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "coder/cli_text.hpp"

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

bool any_agent(const WorkspaceState& state, std::initializer_list<std::string_view> lifecycles) {
  for (const auto& agent : state.agents) {
    for (const auto lifecycle : lifecycles) {
      if (agent.lifecycle_state == lifecycle) return true;
    }
  }
  return false;
}

bool known_status(std::string_view s) {
  for (const auto known : {"pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled",
                           "deleting", "deleted"}) {
    if (s == known) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> unusable_reason(const WorkspaceState& state) {
  const auto& s = state.status;
  if (s == "running") {
    if (any_agent(state, {"start_error", "start_timeout"})) return "its agent's startup script failed";
    if (state.agents.empty()) return "it is running but has no agent to connect to";
    return std::nullopt;
  }
  // A failed or canceled delete leaves a workspace half gone: starting it is not ours to decide.
  if ((s == "failed" || s == "canceled") && state.transition == "delete") {
    return fmt::format("its deletion {}", s == "failed" ? "failed" : "was canceled");
  }
  if (s == "deleting" || s == "deleted") return fmt::format("it is {}", s);
  if (!known_status(s)) return fmt::format("its build status \"{}\" is not one we know", s);
  return std::nullopt;
}

Error workspace_not_found(const WorkspaceRef& workspace) {
  return Error(Errc::invalid_argument, Layer::coder, fmt::format("workspace {} not found", workspace.to_string()));
}

Error workspace_unusable(const WorkspaceRef& workspace, const std::string& why) {
  return Error(Errc::refused, Layer::coder, fmt::format("workspace {} cannot be used: {}", workspace.to_string(), why));
}

namespace {

enum class Step { ready, poll, start, fail };

struct Verdict {
  Step step;
  std::string why;  // for fail
};

// What one state means for us. Agents matter only once the build is running: an agent that is
// connected and ready (or reports no lifecycle: old agents) can take the connection.
Verdict judge(const WorkspaceState& state, bool started_once) {
  if (auto why = unusable_reason(state)) return {Step::fail, std::move(*why)};
  const auto& s = state.status;
  if (s == "running") {
    for (const auto& agent : state.agents) {
      const bool lifecycle_ok = agent.lifecycle_state.empty() || agent.lifecycle_state == "ready";
      if (agent.status != "connected" || !lifecycle_ok) return {Step::poll, ""};
    }
    return {Step::ready, ""};
  }
  if (s == "pending" || s == "starting" || s == "stopping" || s == "canceling") return {Step::poll, ""};
  // stopped, failed or canceled
  if (started_once) return {Step::fail, fmt::format("it is {} again after `coder start` succeeded", s)};
  return {Step::start, ""};
}

class Readiness {
 public:
  Readiness(const CoderCli& cli, WorkspaceRef workspace, ReadinessOptions options)
      : cli_(cli), workspace_(std::move(workspace)), options_(std::move(options)) {}

  asio::awaitable<runtime::Result<WorkspaceState>> run(runtime::Deadline deadline) {
    bool started = false;
    for (;;) {
      const bool cancelled = co_await runtime::cancellation_requested();
      if (cancelled) {
        co_return runtime::fail(
            annotate(Error(Errc::cancelled, Layer::coder, "cancelled while getting the workspace ready")));
      }
      // The overall deadline is with_deadline's in ensure_ready, so that its message is the one a
      // caller sees; a command gets a deadline of its own only when that one comes first.
      const auto own = runtime::Deadline::after(options_.list_timeout);
      const auto list_deadline = own.at() < deadline.at() ? own : runtime::Deadline::never();
      auto workspace = workspace_;
      auto queried = co_await query_workspace(cli_, std::move(workspace), list_deadline);
      if (!queried) co_return runtime::fail(annotate(std::move(queried.error())));
      if (!*queried) {
        co_return runtime::fail(annotate(workspace_not_found(workspace_)));
      }
      observe(**queried);
      const auto verdict = judge(**queried, started);
      if (verdict.step == Step::ready) {
        emit({ReadinessEvent::Kind::ready, last_->summary(), last_});
        co_return **queried;
      }
      if (verdict.step == Step::fail) {
        co_return runtime::fail(annotate(workspace_unusable(workspace_, verdict.why)));
      }
      if (verdict.step == Step::start) {
        auto start = co_await start_workspace();
        if (!start) co_return runtime::fail(annotate(std::move(start.error())));
        started = true;
        continue;  // look again at once: the start waited for the build
      }
      auto waited = co_await pause();
      if (!waited) co_return runtime::fail(annotate(std::move(waited.error())));
    }
  }

 private:
  void emit(ReadinessEvent event) const {
    if (options_.on_progress) options_.on_progress(event);
  }

  void observe(const WorkspaceState& state) {
    const auto summary = state.summary();
    if (!last_ || last_->summary() != summary) emit({ReadinessEvent::Kind::state, summary, state});
    last_ = state;
  }

  Error annotate(Error error) const {
    if (last_ && !error.find_evidence("last state")) error.with("last state", last_->summary());
    return std::move(error).while_(fmt::format("getting workspace {} ready", workspace_.to_string()));
  }

  asio::awaitable<runtime::Result<void>> start_workspace() {
    emit({ReadinessEvent::Kind::starting, fmt::format("starting workspace {}", workspace_.to_string()), {}});
    RunOptions run;
    run.deadline = runtime::Deadline::never();  // bounded by the overall deadline
    const auto pass_on = [this](std::string_view line) {
      const auto plain = strip_ansi(line);
      if (!plain.empty()) emit({ReadinessEvent::Kind::output, plain, {}});
    };
    run.on_stdout_line = pass_on;
    run.on_stderr_line = pass_on;
    std::vector<std::string> args{"start", workspace_.to_string(), "--yes"};
    auto ran = co_await cli_.run(std::move(args), std::move(run));
    if (!ran) co_return runtime::fail(std::move(ran.error()));
    co_return runtime::Result<void>{};
  }

  asio::awaitable<runtime::Result<void>> pause() {
    auto executor = co_await asio::this_coro::executor;
    // A zero or negative interval would poll the CLI as fast as it can start.
    const auto interval = std::max(options_.poll_interval, std::chrono::milliseconds(10));
    asio::steady_timer timer(executor, interval);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return runtime::fail(Errc::cancelled, Layer::coder, "cancelled while waiting for the workspace");
    co_return runtime::Result<void>{};
  }

  const CoderCli& cli_;
  WorkspaceRef workspace_;
  ReadinessOptions options_;
  std::optional<WorkspaceState> last_;
};

}  // namespace

asio::awaitable<runtime::Result<WorkspaceState>> ensure_ready(const CoderCli& cli, WorkspaceRef workspace,
                                                              ReadinessOptions options) {
  const auto deadline = runtime::Deadline::after(options.overall_timeout);
  std::string what = fmt::format("getting workspace {} ready", workspace.to_string());
  auto readiness = std::make_shared<Readiness>(cli, std::move(workspace), std::move(options));
  auto running = readiness->run(deadline);
  auto outcome = co_await runtime::with_deadline(deadline, std::move(running), Layer::coder, std::move(what));
  co_return outcome;
}

}  // namespace cr::coder
