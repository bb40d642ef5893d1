#pragma once
// A wake-up for coroutines on one executor: wait() suspends until the next notify() and says
// whether that is what woke it (true) or a cancellation (false). A timer whose expiry stays at the
// far future does the work: cancelling it resumes every waiter, and a generation count tells a
// notify from a cancellation. Waiters re-check their condition after waking.

#include <cstdint>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
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
  asio::awaitable<bool> wait() {
    const auto before = generation_;
    auto cancellation = co_await asio::this_coro::cancellation_state;
    const auto cancelled_before = cancellation.cancelled();
    co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    const auto cancelled = cancellation.cancelled();
    if (cancelled != asio::cancellation_type::none && cancelled != cancelled_before) co_return false;
    co_return generation_ != before;
  }

 private:
  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
};

}  // namespace cr::runtime
