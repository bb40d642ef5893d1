// Event and AsyncMutex under cancellation. A cancellation and a notify can land in the same turn of
// the executor (a writer unlocks while the waiter behind it is cancelled); the waiter must still see
// the cancellation. Each test runs the io_context with a deadline: a hang fails, it does not block.

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/async_mutex.hpp"
#include "runtime/event.hpp"

using namespace cr::runtime;
using namespace std::chrono_literals;

namespace {
// With earlier_cancellation, the waiter waits again after a first wait was cancelled, as code that
// cleans up after a cancellation does; what the last wait said.
asio::awaitable<bool> wait_once(Event& event, bool earlier_cancellation) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (earlier_cancellation) {
    const bool first = co_await event.wait();
    if (first) throw std::logic_error("the first wait was not cancelled");
  }
  co_return co_await event.wait();
}

asio::awaitable<void> hold(AsyncMutex& mutex, bool& held) { held = co_await mutex.lock(); }

// Runs with Asio's default throw_if_cancelled(true), as each branch of asio's awaitable operators
// does (they co_spawn their operands).
asio::awaitable<void> take_turn(AsyncMutex& mutex, std::vector<std::string>& log, std::string name) {
  const bool locked = co_await mutex.lock();
  log.push_back(name + (locked ? " locked" : " gave up"));
  if (locked) mutex.unlock();
}
}  // namespace

namespace {

// What wait() said after a notify, with a terminal cancellation emitted in the same turn or not.
std::optional<bool> woken_by_notify(bool cancelled_too, bool earlier_cancellation = false) {
  asio::io_context io;
  Event event(io.get_executor());
  asio::cancellation_signal cancel;
  std::optional<bool> woken;
  asio::co_spawn(io, wait_once(event, earlier_cancellation),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, bool w) { woken = w; }));
  io.poll();
  REQUIRE_FALSE(woken);
  if (earlier_cancellation) {
    cancel.emit(asio::cancellation_type::terminal);
    io.restart();
    io.poll();
    REQUIRE_FALSE(woken);
  }
  if (cancelled_too) cancel.emit(asio::cancellation_type::terminal);
  event.notify();
  io.restart();
  io.run_for(5s);
  return woken;
}

}  // namespace

TEST_CASE("an Event waiter cancelled in the same turn as a notify sees the cancellation", "[event]") {
  const auto woken = woken_by_notify(true);
  REQUIRE(woken);
  CHECK_FALSE(*woken);
}

// The coroutine's cancellation state already holds "terminal" from the first: only the wait itself
// can tell that another came.
TEST_CASE("an Event waiter cancelled a second time in the same turn as a notify sees the cancellation", "[event]") {
  const auto woken = woken_by_notify(true, true);
  REQUIRE(woken);
  CHECK_FALSE(*woken);
}

TEST_CASE("an Event waiter notified after an earlier cancellation is woken", "[event]") {
  const auto woken = woken_by_notify(false, true);
  REQUIRE(woken);
  CHECK(*woken);
}

TEST_CASE("an Event waiter notified without a cancellation is woken", "[event]") {
  const auto woken = woken_by_notify(false);
  REQUIRE(woken);
  CHECK(*woken);
}

// The hang of 50 concurrent execs on one connection: a channel's EOF waiting in line for the
// transport was cancelled as the line moved; it threw out of lock() holding its ticket, and every
// later message on the connection waited for that ticket's turn.
TEST_CASE("an AsyncMutex waiter cancelled as the line moves gives up its turn", "[event]") {
  asio::io_context io;
  AsyncMutex mutex(io.get_executor());
  bool held = false;
  asio::co_spawn(io, hold(mutex, held), asio::detached);
  io.poll();
  REQUIRE(held);
  std::vector<std::string> log;
  asio::cancellation_signal cancel;
  bool threw = false;
  asio::co_spawn(io, take_turn(mutex, log, "first"), asio::detached);
  asio::co_spawn(io, take_turn(mutex, log, "cancelled"),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { threw = e != nullptr; }));
  asio::co_spawn(io, take_turn(mutex, log, "last"), asio::detached);
  io.restart();
  io.poll();
  REQUIRE(log.empty());
  cancel.emit(asio::cancellation_type::terminal);
  mutex.unlock();
  io.restart();
  io.run_for(5s);
  CHECK_FALSE(threw);
  CHECK(log == std::vector<std::string>{"cancelled gave up", "first locked", "last locked"});
}

namespace {

asio::awaitable<void> take_reserved_turn(AsyncMutex& mutex, AsyncMutex::Place place, std::vector<std::string>& log,
                                         std::string name) {
  const bool locked = co_await mutex.lock(std::move(place));
  log.push_back(name + (locked ? " locked" : " gave up"));
  if (locked) mutex.unlock();
}

}  // namespace

TEST_CASE("AsyncMutex places are served in the order they were reserved, and one dropped is skipped", "[event]") {
  asio::io_context io;
  AsyncMutex mutex(io.get_executor());
  auto first = mutex.reserve();
  std::optional<AsyncMutex::Place> dropped(mutex.reserve());
  auto third = mutex.reserve();
  std::vector<std::string> log;
  // The later place starts waiting first, and a plain lock() comes after every reservation.
  asio::co_spawn(io, take_reserved_turn(mutex, std::move(third), log, "third"), asio::detached);
  asio::co_spawn(io, take_turn(mutex, log, "unreserved"), asio::detached);
  io.poll();
  CHECK(log.empty());
  asio::co_spawn(io, take_reserved_turn(mutex, std::move(first), log, "first"), asio::detached);
  dropped.reset();
  io.restart();
  io.run_for(5s);
  CHECK(log == std::vector<std::string>{"first locked", "third locked", "unreserved locked"});
}
