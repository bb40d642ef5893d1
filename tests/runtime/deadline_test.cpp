#include <asio/bind_cancellation_slot.hpp>
#include <asio/post.hpp>
#include <catch2/catch.hpp>

#include "runtime/deadline.hpp"
#include "runtime/memory_stream.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace cr::runtime;
using namespace std::chrono_literals;

namespace {
// Waits for a byte that never comes; on cancellation reports what it had "received".
asio::awaitable<Result<int>> wait_forever(AsyncStream& stream) {
  std::array<std::uint8_t, 1> byte;
  auto n = co_await stream.read_some(byte);
  if (!n) co_return fail(std::move(n.error()).with("received", "half a banner").while_("reading the banner"));
  co_return 1;
}
asio::awaitable<Result<int>> immediate() { co_return 7; }
}  // namespace

TEST_CASE("an operation that finishes in time gives its own result", "[deadline]") {
  auto r = test::run(with_deadline(Deadline::after(1s), immediate(), Layer::runtime, "nothing"));
  REQUIRE(r);
  CHECK(*r == 7);
}

TEST_CASE("a deadline that passes cancels the operation and keeps its evidence and phase", "[deadline]") {
  asio::io_context io;
  auto [a, b] = make_memory_stream_pair(io.get_executor());
  const auto start = Clock::now();
  auto r =
      test::run(io, with_deadline(Deadline::after(50ms), wait_forever(*a), Layer::banner, "waiting for the banner"));
  REQUIRE_FALSE(r);
  CHECK(Clock::now() - start >= 50ms);
  CHECK(r.error().code == Errc::timed_out);
  CHECK(r.error().layer == Layer::banner);
  CHECK(r.error().message == "waiting for the banner did not finish within 50 ms");
  REQUIRE(r.error().find_evidence("received"));
  CHECK(r.error().find_evidence("received")->text == "half a banner");
  CHECK(r.error().context == std::vector<std::string>{"reading the banner"});
}

TEST_CASE("a deadline already passed fails without starting", "[deadline]") {
  const auto past = Deadline::after(-1ms);
  CHECK(past.expired());
  auto r = test::run(with_deadline(past, immediate(), Layer::kex, "kex"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::timed_out);
  CHECK(Deadline::never().earliest(past).at() == past.at());
}

TEST_CASE("the caller's cancellation reaches an operation under a deadline", "[deadline]") {
  asio::io_context io;
  auto [a, b] = make_memory_stream_pair(io.get_executor());
  asio::cancellation_signal cancel;
  std::optional<Result<int>> outcome;
  asio::co_spawn(io, with_deadline(Deadline::after(10s), wait_forever(*a), Layer::runtime, "read"),
                 asio::bind_cancellation_slot(
                     cancel.slot(), [&](std::exception_ptr, Result<int> r) { outcome.emplace(std::move(r)); }));
  io.poll();  // the read is now waiting
  cancel.emit(asio::cancellation_type::terminal);
  io.run_for(5s);
  REQUIRE(outcome);
  REQUIRE_FALSE(*outcome);
  CHECK(outcome->error().code == Errc::cancelled);
}
