#pragma once
// Two streams joined: what arrives on one is written to the other, both ways at once. When one
// side's input ends, the other side's output is half-closed (shutdown_send) and the other
// direction goes on, as ssh's forwarded connections do; it returns once both directions have
// ended, or at the first error (which it returns), or when cancelled.

#include "runtime/async_stream.hpp"

namespace cr::runtime {

struct Spliced {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
};

// When it ends: once both directions have (a forwarded connection), or once b's input has and a's
// output is half-closed (ssh -W, which is done when the server's side closes).
enum class SpliceUntil { both_ended, b_ended };

asio::awaitable<Result<Spliced>> splice(AsyncStream& a, AsyncStream& b, SpliceUntil until = SpliceUntil::both_ended);

}  // namespace cr::runtime
