#pragma once
// Mutual exclusion between coroutines on one executor, first come first served: whole messages
// from concurrent writers go out in the order they were sent. lock() returns false if the waiting
// coroutine was cancelled; its turn passes to the next in line.

#include <cstdint>
#include <set>

#include "runtime/event.hpp"

namespace cr::runtime {

class AsyncMutex {
 public:
  explicit AsyncMutex(asio::any_io_executor executor) : turn_changed_(std::move(executor)) {}

  asio::awaitable<bool> lock() {
    const std::uint64_t ticket = next_ticket_++;
    while (ticket != serving_) {
      const bool woken = co_await turn_changed_.wait();
      if (!woken) {
        abandoned_.insert(ticket);
        skip_abandoned();
        co_return false;
      }
    }
    co_return true;
  }

  void unlock() {
    ++serving_;
    skip_abandoned();
    turn_changed_.notify();
  }

 private:
  void skip_abandoned() {
    const auto before = serving_;
    while (abandoned_.erase(serving_) > 0) ++serving_;
    if (serving_ != before) turn_changed_.notify();
  }

  std::uint64_t next_ticket_ = 0;
  std::uint64_t serving_ = 0;
  std::set<std::uint64_t> abandoned_;  // tickets whose holders gave up waiting
  Event turn_changed_;
};

}  // namespace cr::runtime
