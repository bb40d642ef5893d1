#pragma once
// Test plumbing: run a coroutine to completion on a fresh io_context under a watchdog, so a hung
// operation fails its test instead of hanging the suite.

#include <chrono>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include <array>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "runtime/async_stream.hpp"

namespace cr::test {

inline constexpr std::chrono::seconds kWatchdog{20};

template <class T>
T run(asio::io_context& io, asio::awaitable<T> coroutine, std::chrono::steady_clock::duration limit = kWatchdog) {
  std::optional<T> result;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(coroutine), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) result.emplace(std::move(value));
  });
  io.restart();
  io.run_for(limit);
  if (failure) std::rethrow_exception(failure);
  if (!result) throw std::runtime_error("watchdog: the coroutine did not finish in time");
  // Let detached helpers (a stderr reader, a timer's handler) see their cancellations through.
  io.restart();
  io.poll();
  return std::move(*result);
}

template <class T>
T run(asio::awaitable<T> coroutine, std::chrono::steady_clock::duration limit = kWatchdog) {
  asio::io_context io;
  return run(io, std::move(coroutine), limit);
}

// Everything the stream delivers until its end; any other error is returned as it is.
inline asio::awaitable<runtime::Result<std::string>> read_to_end(runtime::AsyncStream& stream) {
  std::string all;
  std::array<std::uint8_t, 32768> buffer;
  for (;;) {
    auto n = co_await stream.read_some(buffer);
    if (!n) {
      if (n.error().code == runtime::Errc::end_of_stream) co_return all;
      co_return runtime::fail(std::move(n.error()));
    }
    all.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
  }
}

inline std::size_t open_descriptor_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace cr::test
