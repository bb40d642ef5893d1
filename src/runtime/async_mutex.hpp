#pragma once
// Mutual exclusion between coroutines on one executor (e.g. whole packets from concurrent
// writers must not interleave). lock() returns false if the waiting coroutine was cancelled.

#include "runtime/event.hpp"

namespace cr::runtime {

class AsyncMutex {
 public:
  explicit AsyncMutex(asio::any_io_executor executor) : released_(std::move(executor)) {}

  asio::awaitable<bool> lock() {
    while (locked_) {
      const bool woken = co_await released_.wait();
      if (!woken) co_return false;
    }
    locked_ = true;
    co_return true;
  }
  void unlock() {
    locked_ = false;
    released_.notify();
  }

 private:
  bool locked_ = false;
  Event released_;
};

}  // namespace cr::runtime
