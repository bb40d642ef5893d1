// The packet layer's framing and limits, with the unencrypted state of the first key exchange.

#include <optional>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include "runtime/memory_stream.hpp"
#include "ssh/packet_stream.hpp"
#include "support/late_cancellation_stream.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {
// Feeds raw bytes to a PacketStream and returns what read_packet makes of them.
runtime::Result<std::vector<std::uint8_t>> read_from(std::vector<std::uint8_t> wire) {
  asio::io_context io;
  auto [ours, theirs] = runtime::make_memory_stream_pair(io.get_executor());
  return test::run(io, [&]() -> asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> {
    auto sent = co_await runtime::write_all(*theirs, wire);
    REQUIRE(sent);
    REQUIRE(theirs->shutdown_send());
    ssh::PacketStream packets(*ours);
    co_return co_await packets.read_packet();
  }());
}
}  // namespace

TEST_CASE("packets written are read back, split across reads at any point", "[packet]") {
  asio::io_context io;
  auto [a, b] = runtime::make_memory_stream_pair(io.get_executor(), {.capacity = 7});
  test::run(io, [&]() -> asio::awaitable<int> {
    using namespace asio::experimental::awaitable_operators;
    ssh::PacketStream writer(*a);
    ssh::PacketStream reader(*b);
    const std::vector<std::uint8_t> first{21}, second(1000, 0x5a);
    auto write_both = [&]() -> asio::awaitable<runtime::Result<void>> {
      auto one = co_await writer.write_packet(first);
      if (!one) co_return one;
      co_return co_await writer.write_packet(second);
    };
    auto read_both = [&]() -> asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> {
      auto one = co_await reader.read_packet();
      REQUIRE(one);
      CHECK(*one == first);
      co_return co_await reader.read_packet();
    };
    auto [written, got] = co_await (write_both() && read_both());
    REQUIRE(written);
    REQUIRE(got);
    CHECK(*got == second);
    CHECK(reader.receive_sequence() == 2);
    co_return 0;
  }());
}

TEST_CASE("an oversized packet length is refused before anything is allocated", "[packet]") {
  auto r = read_from({0x7f, 0xff, 0xff, 0xf8, 4, 0, 0, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().layer == runtime::Layer::transport);
  CHECK_THAT(r.error().find_evidence("packet_length")->text, Catch::StartsWith("2147483640"));
}

TEST_CASE("padding shorter than 4 bytes or longer than the packet is refused", "[packet]") {
  // packet_length 12: padding_length 3 (too short), 8 bytes of payload and padding.
  auto short_padding = read_from({0, 0, 0, 12, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  REQUIRE_FALSE(short_padding);
  CHECK_THAT(short_padding.error().message, Catch::Contains("invalid padding"));
  auto long_padding = read_from({0, 0, 0, 12, 200, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  REQUIRE_FALSE(long_padding);
}

TEST_CASE("a stream that ends inside a packet is an end-of-stream error", "[packet]") {
  auto r = read_from({0, 0, 0, 12, 4, 1, 2});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == runtime::Errc::end_of_stream);
}

namespace {

// Reads a packet from a stream cancelled as its first byte arrives, as with_deadline runs it.
asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> read_cancellable(runtime::AsyncStream& stream) {
  co_await asio::this_coro::throw_if_cancelled(false);
  ssh::PacketStream packets(stream);
  co_return co_await packets.read_packet();
}

}  // namespace

// Asio 1.22 gives a cancellation that lands between two reads to no operation: the next read
// waited for bytes that were not coming, past the deadline that had cancelled it.
TEST_CASE("a cancellation that lands as a read completes stops the packet's next read", "[packet]") {
  asio::io_context io;
  asio::cancellation_signal cancel;
  test::LateCancellationStream stream(io.get_executor(), std::string("\0\0\0", 3), cancel, 5s);
  std::optional<runtime::Result<std::vector<std::uint8_t>>> read;
  asio::co_spawn(io, read_cancellable(stream),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, auto r) { read = std::move(r); }));
  io.run_for(10s);
  REQUIRE(read);
  REQUIRE_FALSE(*read);
  CHECK(read->error().code == runtime::Errc::cancelled);
  CHECK(stream.bytes_read() == 1);
}
