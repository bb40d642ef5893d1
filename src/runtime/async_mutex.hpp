#pragma once
// Mutual exclusion between coroutines on one executor, first come first served: whole messages
// from concurrent writers go out in the order they were sent, or in the order their places in
// line were reserved. lock() returns false if the waiting
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

  // A place in line taken now and waited for later (lock(Place)): the order of the calls that took
  // them, whatever the order in which their coroutines get to wait. Given up when dropped unused.
  class [[nodiscard]] Place {
   public:
    explicit Place(AsyncMutex& line) : mutex_(&line), number_(line.next_ticket_++) {}
    Place(Place&& other) noexcept
        : mutex_(std::exchange(other.mutex_, nullptr)), number_(other.number_), served_(other.served_) {}
    Place& operator=(Place&&) = delete;
    ~Place() {
      if (!mutex_ || served_) return;
      mutex_->abandoned_.insert(number_);
      mutex_->skip_abandoned();
    }

   private:
    friend class AsyncMutex;
    AsyncMutex* mutex_;
    std::uint64_t number_;
    bool served_ = false;
  };

  Place reserve() { return Place(*this); }

  asio::awaitable<bool> lock() {
    auto place = reserve();
    co_return co_await lock(std::move(place));
  }

  asio::awaitable<bool> lock(Place place) {
    while (place.number_ != serving_) {
      const bool woken = co_await turn_changed_.wait();
      if (!woken) co_return false;
    }
    place.served_ = true;
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
