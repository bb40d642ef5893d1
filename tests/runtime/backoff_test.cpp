#include <catch2/catch.hpp>

#include "runtime/backoff.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace cr::runtime;
using namespace std::chrono_literals;

TEST_CASE("the default schedule is the desktop app's: 1, 2, 4, 7, 10 s capped, 120 s in all", "[backoff]") {
  const BackoffSchedule schedule;
  const std::vector<Millis> expected{1000ms, 2000ms, 4000ms, 7000ms, 10000ms, 10000ms, 10000ms};
  for (std::size_t n = 1; n <= expected.size(); ++n) CHECK(schedule.nominal_delay(n) == expected[n - 1]);
  CHECK(schedule.max_total_wait == 120s);
  CHECK(schedule.jitter == 0.2);
}

TEST_CASE("jitter stays within +-20% and spreads across it", "[backoff]") {
  const BackoffSchedule schedule;
  std::mt19937_64 random(42);
  Millis lowest = 1h, highest = 0ms;
  for (int i = 0; i < 2000; ++i) {
    const auto d = schedule.jittered_delay(3, random);  // nominal 4 s
    REQUIRE(d >= 3200ms);
    REQUIRE(d <= 4800ms);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  CHECK(lowest < 3300ms);
  CHECK(highest > 4700ms);
}

TEST_CASE("an exponential schedule grows by its factor up to the cap", "[backoff]") {
  const auto schedule = BackoffSchedule::exponential(100ms, 2.0, 1000ms, 5000ms);
  CHECK(schedule.nominal_delay(1) == 100ms);
  CHECK(schedule.nominal_delay(2) == 200ms);
  CHECK(schedule.nominal_delay(4) == 800ms);
  CHECK(schedule.nominal_delay(5) == 1000ms);
  CHECK(schedule.nominal_delay(50) == 1000ms);
}

namespace {
RetryPolicy<int> quick_policy(Millis max_total_wait) {
  RetryPolicy<int> policy;
  policy.schedule = BackoffSchedule::exponential(1ms, 2.0, 4ms, max_total_wait);
  policy.seed = 1;
  return policy;
}
Error transient() { return Error(Errc::connect_failed, Layer::network, "connection refused"); }
}  // namespace

TEST_CASE("retry tries again after retryable errors and returns the first success", "[backoff]") {
  std::vector<std::size_t> attempts;
  auto outcome = test::run(retry<int>(
      [&](std::size_t n) -> asio::awaitable<Result<int>> {
        attempts.push_back(n);
        if (n < 3) co_return fail(transient());
        co_return 42;
      },
      quick_policy(1000ms)));
  REQUIRE(outcome);
  CHECK(*outcome == 42);
  CHECK(attempts == std::vector<std::size_t>{1, 2, 3});
}

TEST_CASE("retry stops at once on an error the policy does not retry", "[backoff]") {
  int calls = 0;
  auto outcome = test::run(retry<int>(
      [&](std::size_t) -> asio::awaitable<Result<int>> {
        ++calls;
        co_return fail(Errc::invalid_argument, Layer::auth, "bad key file");
      },
      quick_policy(1000ms)));
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == Errc::invalid_argument);
  CHECK(calls == 1);
}

TEST_CASE("retry gives up when the next wait would pass the total limit, saying so", "[backoff]") {
  int calls = 0;
  auto outcome = test::run(retry<int>(
      [&](std::size_t) -> asio::awaitable<Result<int>> {
        ++calls;
        co_return fail(transient());
      },
      quick_policy(10ms)));
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == Errc::connect_failed);
  // Waits of 1, 2, 4, 4 ms (+-20%): three always fit in 10 ms, four may, five never do.
  CHECK(calls >= 4);
  CHECK(calls <= 5);
  REQUIRE(outcome.error().context.size() == 1);
  CHECK_THAT(outcome.error().context[0], Catch::StartsWith(fmt::format("gave up after {} attempts", calls)));
}

TEST_CASE("a total limit of zero makes the first failure final", "[backoff]") {
  int calls = 0;
  auto outcome = test::run(retry<int>(
      [&](std::size_t) -> asio::awaitable<Result<int>> {
        ++calls;
        co_return fail(transient());
      },
      quick_policy(0ms)));
  REQUIRE_FALSE(outcome);
  CHECK(calls == 1);
}
