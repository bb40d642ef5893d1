#pragma once
// A wake-up for coroutines on one executor: wait() suspends until the next notify() and says
// whether that is what woke it (true) or a cancellation (false). A timer whose expiry stays at the
// far future does the work: cancelling it resumes every waiter, and a generation count tells a
// notify from a cancellation. Waiters re-check their condition after waking.

#include <cstdint>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/this_coro.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "runtime/deadline.hpp"

namespace cr::runtime {

class Event {
 public:
  explicit Event(asio::any_io_executor executor) : timer_(executor, Clock::time_point::max()) {}

  void notify() {
    ++generation_;
    timer_.cancel();
  }

  // A cancellation that lands in the same turn as a notify wins: both end the timer's wait alike,
  // and a waiter told "notified" loops back into a wait that nothing will cancel again (or, under
  // Asio's default throw_if_cancelled, throws from it). AsyncMutex::lock did so: its ticket was
  // never served nor given up, and every later message on the connection waited behind it.
  // The wait stands between the caller's cancellation slot and the timer, so it counts every
  // cancellation that arrives while it waits. The coroutine's cancellation state cannot tell: it
  // keeps the types seen so far, and a second cancellation of a type already seen (a waiter
  // cleaning up after one, then cancelled again) leaves it as it was.
  asio::awaitable<bool> wait() {
    const auto before = generation_;
    auto caller = (co_await asio::this_coro::cancellation_state).slot();
    bool cancelled = false;
    asio::cancellation_signal timer_cancel;
    if (caller.is_connected()) {
      caller.assign([&cancelled, &timer_cancel](asio::cancellation_type type) {
        cancelled = true;
        timer_cancel.emit(type);
      });
    }
    co_await timer_.async_wait(
        asio::bind_cancellation_slot(timer_cancel.slot(), asio::experimental::as_tuple(asio::use_awaitable)));
    if (caller.is_connected()) caller.clear();
    co_return !cancelled && generation_ != before;
  }

 private:
  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
};

}  // namespace cr::runtime
