#pragma once
// Deadlines for any awaitable that returns a Result. A deadline that passes cancels the operation
// through its cancellation slot (the operation then decides whether its object stays usable) and
// turns the outcome into Errc::timed_out naming what did not finish and the budget it had.
// Deadline::after(budget) is taken when the operation starts; pass one Deadline down a chain of
// calls to bound them all together.

#include <chrono>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "runtime/error.hpp"

namespace cr::runtime {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  static Deadline never() { return Deadline(Clock::time_point::max(), Clock::duration::max()); }
  static Deadline after(Clock::duration budget) { return Deadline(Clock::now() + budget, budget); }

  bool is_never() const { return at_ == Clock::time_point::max(); }
  bool expired() const { return !is_never() && Clock::now() >= at_; }
  Clock::time_point at() const { return at_; }
  Clock::duration budget() const { return budget_; }
  // The earlier of the two, keeping the budget of the one that wins (for the message).
  Deadline earliest(const Deadline& other) const { return other.at_ < at_ ? other : *this; }

 private:
  Deadline(Clock::time_point at, Clock::duration budget) : at_(at), budget_(budget) {}
  Clock::time_point at_;
  Clock::duration budget_;
};

std::string describe_budget(Clock::duration budget);

namespace detail {
// Shared with the timer's handler, which may run after with_deadline has returned.
struct DeadlineWatch {
  DeadlineWatch(asio::any_io_executor ex, Clock::time_point at) : timer(ex, at) {}
  asio::steady_timer timer;
  asio::cancellation_signal cancel;
  bool fired = false;
};
}  // namespace detail

// Runs the operation as a coroutine of its own that reports cancellation as a Result instead of
// Asio's default exception, so no exception crosses our API.
template <class T>
asio::awaitable<Result<T>> without_cancellation_exceptions(asio::awaitable<Result<T>> operation) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return co_await std::move(operation);
}

// The operation runs with a cancellation slot of its own, which the deadline and our caller's own
// cancellation both trigger. A timed-out operation still finishes its cancellation, and what it
// had gathered (its evidence: bytes received, a proxy's stderr) and what it was doing then carry
// over into the timeout.
// This is the one place where cancellation crosses from the caller into our operations.
template <class T>
asio::awaitable<Result<T>> with_deadline(Deadline deadline, asio::awaitable<Result<T>> operation, Layer layer,
                                         std::string what) {
  const auto timeout = [&] {
    return Error(Errc::timed_out, layer,
                 fmt::format("{} did not finish within {}", what, describe_budget(deadline.budget())));
  };
  if (deadline.expired()) co_return fail(timeout());
  auto executor = co_await asio::this_coro::executor;
  auto watch = std::make_shared<detail::DeadlineWatch>(executor, deadline.at());
  auto caller = co_await asio::this_coro::cancellation_state;
  auto caller_slot = caller.slot();
  if (caller_slot.is_connected()) {
    caller_slot.assign([watch](asio::cancellation_type type) { watch->cancel.emit(type); });
  }
  if (!deadline.is_never()) {
    watch->timer.async_wait([watch](std::error_code ec) {
      if (ec) return;
      watch->fired = true;
      watch->cancel.emit(asio::cancellation_type::terminal);
    });
  }
  Result<T> outcome = co_await asio::co_spawn(executor, without_cancellation_exceptions(std::move(operation)),
                                              asio::bind_cancellation_slot(watch->cancel.slot(), asio::use_awaitable));
  watch->timer.cancel();
  if (caller_slot.is_connected()) caller_slot.clear();
  if (outcome || !watch->fired) co_return outcome;
  Error error = timeout();
  error.evidence = std::move(outcome.error().evidence);
  error.context = std::move(outcome.error().context);  // the phase it was in ("waiting for ...")
  co_return fail(std::move(error));
}

}  // namespace cr::runtime
