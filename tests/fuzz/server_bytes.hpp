#pragma once
// For the fuzz targets that play a server: the input is everything the server sends, through an
// in-memory stream, after which the server ends its side; what the client sends is dropped.
// The client must then come to an end by itself: one still waiting when nothing else can happen,
// or after kLimit, is a hang. Shared by the fuzz targets and the regression tests in tests/ssh/.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "runtime/async_stream.hpp"
#include "runtime/logging.hpp"
#include "runtime/memory_stream.hpp"

namespace cr::fuzz {

inline constexpr std::chrono::seconds kLimit{10};

// Every log line formatted (what the server sent is fuzzed there too) and dropped, or printed with
// FUZZ_LOG=1 when replaying one input to see what happened.
inline runtime::Logger trace_logger() {
  if (std::getenv("FUZZ_LOG")) return runtime::Logger(runtime::stderr_sink(), runtime::LogLevel::trace);
  return runtime::Logger([](runtime::LogLevel, std::string_view, std::string_view) {}, runtime::LogLevel::trace);
}

inline asio::awaitable<void> drop_everything(runtime::AsyncStream& server) {
  std::array<std::uint8_t, 4096> dropped;
  for (;;) {
    auto n = co_await server.read_some(dropped);
    if (!n) co_return;
  }
}

// Where the null cipher's packets end (uint32 packet_length first); the last piece takes whatever
// is left when a length runs past the end.
inline std::vector<std::span<const std::uint8_t>> packet_pieces(std::span<const std::uint8_t> bytes) {
  std::vector<std::span<const std::uint8_t>> pieces;
  while (!bytes.empty()) {
    std::size_t size = bytes.size();
    if (bytes.size() >= 4) {
      const std::uint64_t length = std::uint64_t{bytes[0]} << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3];
      size = static_cast<std::size_t>(std::min<std::uint64_t>(4 + length, bytes.size()));
    }
    pieces.push_back(bytes.first(size));
    bytes = bytes.subspan(size);
  }
  return pieces;
}

// `client` owns its end of the stream and closes it (or drops it) when done.
using Client = std::function<asio::awaitable<void>(std::unique_ptr<runtime::AsyncStream>)>;

enum class Pacing {
  all_at_once,  // the whole input arrives at once
  // One packet at a time, each once the client has done all it can with the one before: a real
  // server answers a request after it arrives, and a client whose reader runs beside its requests
  // (the connection) must not see a channel's confirmation before it has opened the channel.
  packet_by_packet,
};

// True when the client finished; false for a hang.
inline bool run_against_server_bytes(std::span<const std::uint8_t> bytes, const Client& client,
                                     Pacing pacing = Pacing::all_at_once) {
  asio::io_context io;
  auto [client_end, server_end] = runtime::make_memory_stream_pair(io.get_executor());
  bool finished = false;
  asio::co_spawn(io, client(std::move(client_end)), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // no exception may leave the library: libFuzzer reports it
    finished = true;
  });
  asio::co_spawn(io, drop_everything(*server_end), asio::detached);
  io.poll();
  const auto pieces =
      pacing == Pacing::packet_by_packet ? packet_pieces(bytes) : std::vector<std::span<const std::uint8_t>>{bytes};
  for (const auto piece : pieces) {
    // The stream buffers far more than an input holds, so each write completes within the poll.
    asio::co_spawn(io, runtime::write_all(*server_end, piece), asio::detached);
    io.poll();
  }
  (void)server_end->shutdown_send();
  io.run_for(kLimit);
  return finished;
}

// For the fuzz targets: a hang aborts, so libFuzzer keeps the input.
inline void fuzz_against_server_bytes(std::span<const std::uint8_t> bytes, const Client& client,
                                      Pacing pacing = Pacing::all_at_once) {
  if (!run_against_server_bytes(bytes, client, pacing)) {
    std::fprintf(stderr, "fuzz: the client did not finish: it waits for something that will never come\n");
    std::abort();
  }
}

}  // namespace cr::fuzz
