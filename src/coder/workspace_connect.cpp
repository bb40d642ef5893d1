#include "coder/workspace_connect.hpp"

#include <algorithm>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "coder/dial.hpp"
#include "coder/versions.hpp"
#include "coder/workspace_plan.hpp"
#include "runtime/event.hpp"

namespace cr::coder {

using runtime::Errc;
using runtime::Error;

namespace {

// The mismatch warning in any `coder` run's stderr, reported once. Shared with the stderr
// callbacks, which may outlive connect_workspace (the proxy's lives as long as the connection).
class MismatchWatch {
 public:
  explicit MismatchWatch(std::function<void(const std::string&)> on_warning) : on_warning_(std::move(on_warning)) {}

  void line(std::string_view line) {
    if (reported_ || !on_warning_) return;
    const auto mismatch = find_mismatch_warning(line);
    // The CLI warns on its own rule; we apply ours too, as judge_versions does.
    if (!mismatch || versions_compatible(mismatch->client, mismatch->server)) return;
    reported_ = true;
    on_warning_(describe_mismatch(*mismatch));
  }

  // The proxy's stderr comes in chunks: whole lines are looked at, a line longer than any
  // warning is cut to its end.
  void proxy_chunk(std::string_view chunk) {
    if (reported_ || !on_warning_) return;
    proxy_line_.append(chunk);
    for (auto newline = proxy_line_.find('\n'); newline != std::string::npos; newline = proxy_line_.find('\n')) {
      line(std::string_view(proxy_line_).substr(0, newline));
      proxy_line_.erase(0, newline + 1);
    }
    constexpr std::size_t kLongest = 1024;
    if (proxy_line_.size() > kLongest) proxy_line_.erase(0, proxy_line_.size() - kLongest);
  }

 private:
  std::function<void(const std::string&)> on_warning_;
  bool reported_ = false;
  std::string proxy_line_;
};

asio::awaitable<runtime::Result<std::optional<WorkspaceState>>> list_workspace(
    const CoderCli& cli, const WorkspaceRef& workspace, std::chrono::milliseconds timeout,
    const std::shared_ptr<MismatchWatch>& mismatch) {
  auto ref = workspace;
  const auto deadline = runtime::Deadline::after(timeout);
  std::function<void(std::string_view)> on_stderr_line = [mismatch](std::string_view line) { mismatch->line(line); };
  co_return co_await query_workspace(cli, std::move(ref), deadline, std::move(on_stderr_line));
}

// `coder list` while the dial goes on, from progress_after on, until cancelled. It runs beside the
// dial as a coroutine of its own; connect_workspace cancels it and waits for its end.
struct Watch {
  Watch(asio::any_io_executor executor, CoderCli coder_cli, WorkspaceRef ref, const WorkspaceConnectOptions& options,
        std::shared_ptr<MismatchWatch> warnings)
      : cli(std::move(coder_cli)),
        workspace(std::move(ref)),
        progress_after(options.progress_after),
        poll_interval(std::max(options.poll_interval, std::chrono::milliseconds(10))),
        list_timeout(options.list_timeout),
        on_progress(options.on_progress),
        log(options.log),
        mismatch(std::move(warnings)),
        timer(executor),
        finished(executor) {}

  CoderCli cli;
  WorkspaceRef workspace;
  std::chrono::milliseconds progress_after;
  std::chrono::milliseconds poll_interval;
  std::chrono::milliseconds list_timeout;
  std::function<void(const ReadinessEvent&)> on_progress;
  runtime::Logger log;
  std::shared_ptr<MismatchWatch> mismatch;
  asio::steady_timer timer;
  asio::cancellation_signal cancel;
  runtime::Event finished;
  bool done = false;
  std::string last_summary;

  void end() {
    done = true;
    finished.notify();
  }

  void observe(const WorkspaceState& state) {
    auto summary = state.summary();
    if (summary == last_summary) return;
    last_summary = summary;
    if (on_progress) on_progress({ReadinessEvent::Kind::state, std::move(summary), state});
  }

  // False when cancelled.
  asio::awaitable<bool> pause(std::chrono::milliseconds interval) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    co_return !ec;
  }

  static asio::awaitable<void> run(std::shared_ptr<Watch> self) {
    co_await asio::this_coro::throw_if_cancelled(false);
    // The cancellation may come before any of our operations has started: it is asked first.
    for (auto interval = self->progress_after;; interval = self->poll_interval) {
      const bool cancelled_before_pause = co_await runtime::cancellation_requested();
      if (cancelled_before_pause) co_return;
      const bool paused = co_await self->pause(interval);
      if (!paused) co_return;
      const bool cancelled_before_list = co_await runtime::cancellation_requested();
      if (cancelled_before_list) co_return;
      auto state = co_await list_workspace(self->cli, self->workspace, self->list_timeout, self->mismatch);
      if (!state) {
        if (state.error().code == Errc::cancelled) co_return;
        self->log.debug("no progress from `coder list`: {}", state.error().summary());
      } else if (*state) {
        self->observe(**state);
      }
    }
  }

  // Until run() has ended: its `coder list`, if any, ended and reaped. A cancellation of ours does
  // not cut this short: run() was cancelled first and ends at once.
  asio::awaitable<void> ended() {
    while (!done) co_await finished.wait();
  }
};

// Why the dial failed, from the workspace's state: a Coder-layer error when the workspace is the
// cause, the dial's own error (with the state as evidence) otherwise.
asio::awaitable<Error> explain(const CoderCli& cli, const WorkspaceRef& workspace, Error dialed,
                               const WorkspaceConnectOptions& options, const std::shared_ptr<MismatchWatch>& mismatch) {
  if (dialed.code == Errc::cancelled) co_return dialed;
  const bool cancelled = co_await runtime::cancellation_requested();
  if (cancelled) co_return dialed;
  auto state = co_await list_workspace(cli, workspace, options.list_timeout, mismatch);
  if (!state) {
    options.log.debug("`coder list` after the failed connection: {}", state.error().summary());
    co_return dialed;
  }
  const auto doing = fmt::format("connecting to workspace {}", workspace.to_string());
  if (!*state) co_return std::move(workspace_not_found(workspace).with("connection", dialed.summary())).while_(doing);
  const auto& found = **state;
  auto why = unusable_reason(found);
  // `coder ssh` starts a stopped or failed workspace; one that is failed now did not start.
  if (!why && found.status == "failed") {
    why = fmt::format("its latest build ({}) failed", found.transition.empty() ? "no transition" : found.transition);
  }
  if (!why) co_return std::move(dialed.with("workspace state", found.summary()));
  co_return std::move(
      workspace_unusable(workspace, *why).with("last state", found.summary()).with("connection", dialed.summary()))
      .while_(doing);
}

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect_within(CoderCli cli, WorkspaceRef workspace,
                                                                                  WorkspaceConnectOptions options) {
  WorkspacePlanOptions plan_options;
  plan_options.coder = cli.program();
  plan_options.suffix = options.suffix;
  plan_options.user = options.user;
  plan_options.connect_timeout = options.timeout;
  plan_options.stall_budget = options.stall_budget;
  plan_options.log = options.log;
  auto plan = workspace_plan(workspace, plan_options);
  if (!plan) co_return runtime::fail(std::move(plan.error()));

  auto mismatch = std::make_shared<MismatchWatch>(std::move(options.on_warning));
  DialOptions dial_options;
  dial_options.on_proxy_stderr = [mismatch](std::string_view chunk) { mismatch->proxy_chunk(chunk); };
  dial_options.remembered_choices = options.remembered_choices;
  dial_options.proxy_environment = cli.environment();
  dial_options.log = options.log;

  auto executor = co_await asio::this_coro::executor;
  auto watch = std::make_shared<Watch>(executor, cli, workspace, options, mismatch);
  auto watching = Watch::run(watch);
  asio::co_spawn(executor, std::move(watching),
                 asio::bind_cancellation_slot(watch->cancel.slot(), [watch](std::exception_ptr) { watch->end(); }));
  auto dialed = co_await dial(std::move(*plan), std::move(dial_options));
  watch->cancel.emit(asio::cancellation_type::terminal);
  co_await watch->ended();
  if (dialed) co_return dialed;
  auto explained = co_await explain(cli, workspace, std::move(dialed.error()), options, mismatch);
  co_return runtime::fail(std::move(explained));
}

}  // namespace

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect_workspace(const CoderCli& cli,
                                                                                     WorkspaceRef workspace,
                                                                                     WorkspaceConnectOptions options) {
  // Through with_deadline (no deadline of its own: the dial has the plan's), so that the caller's
  // cancellation reaches the dial and the watch as a Result, never as an exception.
  auto what = fmt::format("connecting to workspace {}", workspace.to_string());
  auto connecting = connect_within(cli, std::move(workspace), std::move(options));
  auto connected = co_await runtime::with_deadline(runtime::Deadline::never(), std::move(connecting),
                                                   runtime::Layer::coder, std::move(what));
  co_return connected;
}

}  // namespace cr::coder
