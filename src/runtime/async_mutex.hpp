#pragma once
// Mutual exclusion between coroutines on one executor, first come first served: whole messages
// from concurrent writers go out in the order they were sent. lock() returns false if the waiting
// coroutine was cancelled; its turn passes to the next in line, as it does when the waiter leaves
// by an exception (Asio's throw_if_cancelled). Hold the lock through an Unlocker, so that a holder
// that leaves by an exception does not keep everyone behind it waiting.

#include <cstdint>
#include <set>
#include <utility>

#include "runtime/event.hpp"

namespace cr::runtime {

class AsyncMutex {
 public:
  explicit AsyncMutex(asio::any_io_executor executor) : turn_changed_(std::move(executor)) {}

  asio::awaitable<bool> lock() {
    Ticket ticket(*this);
    while (ticket.number != serving_) {
      const bool woken = co_await turn_changed_.wait();
      if (!woken) co_return false;
    }
    ticket.served = true;
    co_return true;
  }

  void unlock() {
    ++serving_;
    skip_abandoned();
    turn_changed_.notify();
  }

  // Unlocks when it goes out of scope, or at unlock_now(), whichever comes first.
  class [[nodiscard]] Unlocker {
   public:
    explicit Unlocker(AsyncMutex& mutex) : mutex_(&mutex) {}
    Unlocker(const Unlocker&) = delete;
    Unlocker& operator=(const Unlocker&) = delete;
    ~Unlocker() { unlock_now(); }
    void unlock_now() {
      if (mutex_) std::exchange(mutex_, nullptr)->unlock();
    }

   private:
    AsyncMutex* mutex_;
  };

 private:
  // A place in line, given up unless it was served.
  struct Ticket {
    explicit Ticket(AsyncMutex& line) : mutex(line), number(line.next_ticket_++) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() {
      if (served) return;
      mutex.abandoned_.insert(number);
      mutex.skip_abandoned();
    }
    AsyncMutex& mutex;
    const std::uint64_t number;
    bool served = false;
  };

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
