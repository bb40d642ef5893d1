#pragma once
// For the fuzz targets that play a server: the input is everything the server sends, through an
// in-memory stream, after which the server ends its side and only drops what the client sends.
// The client must then come to an end by itself: one still waiting when nothing else can happen,
// or after kLimit, is a hang, and the process aborts so libFuzzer keeps the input.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <span>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "runtime/async_stream.hpp"
#include "runtime/logging.hpp"
#include "runtime/memory_stream.hpp"

namespace cr::fuzz {

inline constexpr std::chrono::seconds kLimit{10};

// Every log line formatted and dropped: the formatting of what the server sent is fuzzed too.
inline runtime::Logger trace_logger() {
  return runtime::Logger([](runtime::LogLevel, std::string_view, std::string_view) {}, runtime::LogLevel::trace);
}

inline asio::awaitable<void> serve(runtime::AsyncStream& server, std::span<const std::uint8_t> bytes) {
  auto sent = co_await runtime::write_all(server, bytes);
  if (sent) (void)server.shutdown_send();
  std::array<std::uint8_t, 4096> dropped;
  for (;;) {
    auto n = co_await server.read_some(dropped);
    if (!n) co_return;
  }
}

// `client` owns its end of the stream and closes it (or drops it) when done.
using Client = std::function<asio::awaitable<void>(std::unique_ptr<runtime::AsyncStream>)>;

inline void run_against_server_bytes(std::span<const std::uint8_t> bytes, const Client& client) {
  asio::io_context io;
  auto [client_end, server_end] = runtime::make_memory_stream_pair(io.get_executor());
  bool finished = false;
  asio::co_spawn(io, serve(*server_end, bytes), asio::detached);
  asio::co_spawn(io, client(std::move(client_end)), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // no exception may leave the library: libFuzzer reports it
    finished = true;
  });
  io.run_for(kLimit);
  if (!finished) {
    std::fprintf(stderr, "fuzz: the client did not finish: it waits for something that will never come\n");
    std::abort();
  }
}

}  // namespace cr::fuzz
