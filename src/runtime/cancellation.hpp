#pragma once
// A cancellation that arrives while a coroutine is between two operations (one has completed, its
// handler is queued, the next has not started) reaches no operation: Asio 1.22 only records it in
// the coroutine's cancellation state. Loops that run many operations (polling, reading a CLI's
// output, SSH packets) ask that state before each one, so such a cancellation still ends them.

#include <asio/awaitable.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/this_coro.hpp>

namespace cr::runtime {

inline asio::awaitable<bool> cancellation_requested() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace cr::runtime
