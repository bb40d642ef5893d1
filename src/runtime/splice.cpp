#include "runtime/splice.hpp"

#include <array>

#include <asio/experimental/awaitable_operators.hpp>

#include "runtime/event.hpp"

namespace cr::runtime {
namespace {

struct CleanEnds {
  explicit CleanEnds(asio::any_io_executor executor) : changed(std::move(executor)) {}
  int count = 0;
  Event changed;
};

// Copies until `from` ends (then half-closes `to`) or fails. One that ends cleanly then waits for
// the other direction's clean end; an error ends the splice at once, the other direction
// cancelled with it.
asio::awaitable<Result<void>> copy(AsyncStream& from, AsyncStream& to, std::uint64_t& count, CleanEnds& ends,
                                   bool ends_splice) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::array<std::uint8_t, 32 * 1024> buffer;
  for (;;) {
    auto n = co_await from.read_some(buffer);
    if (!n && n.error().code != Errc::end_of_stream) co_return fail(std::move(n.error()));
    if (!n) break;
    auto written = co_await write_all(to, ConstBytes(buffer.data(), *n));
    if (!written) co_return written;
    count += *n;
  }
  auto half_closed = to.shutdown_send();
  if (!half_closed) co_return half_closed;
  ++ends.count;
  ends.changed.notify();
  while (!ends_splice && ends.count < 2) {
    const bool woken = co_await ends.changed.wait();
    if (!woken) break;
  }
  co_return Result<void>{};
}

}  // namespace

asio::awaitable<Result<Spliced>> splice(AsyncStream& a, AsyncStream& b, SpliceUntil until) {
  using namespace asio::experimental::awaitable_operators;
  co_await asio::this_coro::throw_if_cancelled(false);
  Spliced spliced;
  CleanEnds ends(co_await asio::this_coro::executor);
  const bool b_ends_it = until == SpliceUntil::b_ended;
  auto ended = co_await (copy(a, b, spliced.a_to_b, ends, false) || copy(b, a, spliced.b_to_a, ends, b_ends_it));
  auto& result = ended.index() == 0 ? std::get<0>(ended) : std::get<1>(ended);
  if (!result) co_return fail(std::move(result.error()));
  co_return spliced;
}

}  // namespace cr::runtime
