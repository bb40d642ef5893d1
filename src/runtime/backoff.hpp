#pragma once
// Backoff between failed attempts, and a retry loop built on it.
//
// The default schedule is the one the desktop app we replace uses (1, 2, 4, 7, 10 s, capped at
// 10 s, each +-20%, and a caller waits at most 120 s through backoff in total), so hosts moving
// over keep the behaviour their users know.

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "runtime/deadline.hpp"
#include "runtime/error.hpp"
#include "runtime/logging.hpp"

namespace cr::runtime {

using Millis = std::chrono::milliseconds;

struct BackoffSchedule {
  // Delay before retry n (after the nth consecutive failure) is table[n-1]; past the table each
  // delay is the previous one times growth. Every delay is capped, then jittered.
  std::vector<Millis> table{Millis(1000), Millis(2000), Millis(4000), Millis(7000), Millis(10000)};
  double growth = 1.0;
  Millis cap{10000};
  double jitter = 0.2;            // a delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
  Millis max_total_wait{120000};  // 0: the first failure is final

  static BackoffSchedule exponential(Millis initial, double factor, Millis cap, Millis max_total_wait);

  // The delay without jitter after `failures` consecutive failures (failures >= 1).
  Millis nominal_delay(std::size_t failures) const;
  Millis jittered_delay(std::size_t failures, std::mt19937_64& random) const;
};

template <class T>
struct RetryPolicy {
  BackoffSchedule schedule;
  // Which errors are worth another attempt; others end the loop at once (a cancelled attempt or a
  // wrong password does not get better by waiting).
  std::function<bool(const Error&)> retryable = [](const Error& e) {
    return e.code != Errc::cancelled && e.code != Errc::invalid_argument;
  };
  std::uint64_t seed = std::random_device{}();
  Logger log;
};

// Calls attempt(n) for n = 1, 2, ... until it succeeds, fails with an error the policy does not
// retry, or the next wait would take the total past max_total_wait. The final error is the last
// attempt's, with the retry history added as context.
template <class T, class Attempt>
asio::awaitable<Result<T>> retry(Attempt attempt, RetryPolicy<T> policy) {
  std::mt19937_64 random(policy.seed);
  Millis waited{0};
  for (std::size_t n = 1;; ++n) {
    Result<T> outcome = co_await attempt(n);
    if (outcome) co_return outcome;
    Error& error = outcome.error();
    if (!policy.retryable(error)) co_return outcome;
    const Millis delay = policy.schedule.jittered_delay(n, random);
    if (waited + delay > policy.schedule.max_total_wait) {
      error.context.push_back(fmt::format("gave up after {} attempt{} and {} of backoff (limit {})", n,
                                          n == 1 ? "" : "s", describe_budget(waited),
                                          describe_budget(policy.schedule.max_total_wait)));
      co_return outcome;
    }
    policy.log.debug("attempt {} failed ({}); retrying in {}", n, error.summary(), describe_budget(delay));
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, delay);
    auto [cancelled] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (cancelled) {
      co_return fail(std::move(
          Error(Errc::cancelled, error.layer, "cancelled while waiting to retry").with("last error", error.summary())));
    }
    waited += delay;
  }
}

}  // namespace cr::runtime
