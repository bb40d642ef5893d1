// Channel window arithmetic: the 2^32 - 1 ceiling, the peer's window and maximum packet as hard
// limits on what we send, and when we give window back; and the receive buffer behind the window.

#include <array>
#include <string>

#include <catch2/catch.hpp>

#include "ssh/channel_state.hpp"
#include "ssh/flow_window.hpp"

using namespace cr;
using ssh::ReceiveWindow;
using ssh::SendWindow;

TEST_CASE("a window adjust may take the send window to 2^32 - 1 but not past it", "[flow]") {
  SendWindow window(0xffff0000u, 32768);
  REQUIRE(window.grow(0xffff));
  CHECK(window.available() == 0xffffffffULL);
  auto overflow = window.grow(1);
  REQUIRE_FALSE(overflow);
  CHECK(overflow.error().code == runtime::Errc::protocol_error);
  CHECK(overflow.error().layer == runtime::Layer::channel);
  CHECK(overflow.error().find_evidence("adjust")->text == "1");
  CHECK(window.available() == 0xffffffffULL);  // unchanged by the refused adjust
  SendWindow empty;
  REQUIRE(empty.grow(0xffffffffu));
  CHECK_FALSE(empty.grow(1));
}

TEST_CASE("what we send stays within the peer's window and maximum packet", "[flow]") {
  SendWindow window(100000, 32768);
  CHECK(window.next_chunk(1 << 20) == 32768);  // of data: the header is not counted (RFC 4254 5.2)
  CHECK(window.next_chunk(10) == 10);
  window.consume(100000 - 5);
  CHECK(window.next_chunk(1 << 20) == 5);
  window.consume(5);
  CHECK(window.next_chunk(1 << 20) == 0);  // closed: the writer waits for an adjust
  REQUIRE(window.grow(7));
  CHECK(window.next_chunk(1 << 20) == 7);
  SendWindow tiny_packets(1000, 4);
  CHECK(tiny_packets.next_chunk(100) == 4);
}

TEST_CASE("data beyond our window or maximum packet is the peer's protocol error", "[flow]") {
  ReceiveWindow window(65536, 32768);
  REQUIRE(window.receive(32768));
  auto too_big = window.receive(32769);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().message == "the server sent data beyond the channel window");
  REQUIRE(window.receive(32768));
  CHECK(window.available() == 0);
  auto beyond = window.receive(1);
  REQUIRE_FALSE(beyond);
  CHECK(beyond.error().find_evidence("window")->text == "0");
}

TEST_CASE("window is given back once half of it has been read", "[flow]") {
  ReceiveWindow window(1000, 1000);
  REQUIRE(window.receive(1000));
  CHECK(window.consumed(499) == 0);
  CHECK(window.consumed(1) == 500);
  CHECK(window.available() == 500);
  CHECK(window.consumed(500) == 500);
  CHECK(window.available() == 1000);
}

TEST_CASE("received bytes come out in order whatever the read sizes, across compactions", "[flow]") {
  ssh::ByteQueue queue;
  std::string expected;
  std::string got;
  std::array<std::uint8_t, 7000> buffer;
  std::size_t next = 0;
  for (int round = 0; round < 50; ++round) {
    std::string chunk(static_cast<std::size_t>(1000 + round * 37), '\0');
    for (auto& c : chunk) c = static_cast<char>(next++ * 7 % 256);
    queue.append(chunk);
    expected += chunk;
    const std::size_t want = static_cast<std::size_t>(500 + (round * 131) % 6000);
    got += runtime::as_text(runtime::ConstBytes(buffer.data(), queue.take(runtime::Bytes(buffer.data(), want))));
  }
  while (!queue.empty()) got += runtime::as_text(runtime::ConstBytes(buffer.data(), queue.take(buffer)));
  CHECK(got.size() == expected.size());
  CHECK((got == expected));
  CHECK(queue.take(buffer) == 0);
}
