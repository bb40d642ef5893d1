#pragma once
// Reading a session's output until an expected line shows up, within a deadline, and many execs at
// once on one connection. Connecting is support/ssh_client.hpp's.

#include <array>
#include <functional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "runtime/deadline.hpp"
#include "ssh/client.hpp"
#include "support/ssh_client.hpp"

namespace cr::test {

// Appends a session's stdout to `seen` until it contains `needle` (then true) or the output ends.
// The needle is a view so that a string literal makes no temporary in the caller's co_await.
inline asio::awaitable<runtime::Result<bool>> read_until(ssh::Session& session, std::string& seen,
                                                         std::string_view needle) {
  std::array<std::uint8_t, 4096> buffer;
  while (seen.find(needle) == std::string::npos) {
    auto n = co_await session.read_stdout(buffer);
    if (!n) {
      if (n.error().code == runtime::Errc::end_of_stream) co_return false;
      co_return runtime::fail(std::move(n.error()));
    }
    seen.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
  }
  co_return true;
}

inline asio::awaitable<runtime::Result<bool>> read_until(ssh::Session& session, std::string& seen,
                                                         std::string_view needle, std::chrono::seconds budget) {
  const auto deadline = runtime::Deadline::after(budget);
  auto reading = read_until(session, seen, needle);
  std::string what = fmt::format("waiting for \"{}\" in the output", needle);
  co_return co_await runtime::with_deadline(deadline, std::move(reading), runtime::Layer::channel, std::move(what));
}

// Connection::exec within a deadline, so a command that never ends fails its test with a timeout.
inline asio::awaitable<runtime::Result<ssh::ExecResult>> exec(ssh::Connection& connection, std::string command,
                                                              ssh::ExecOptions options,
                                                              std::chrono::seconds budget = std::chrono::seconds(20)) {
  const auto deadline = runtime::Deadline::after(budget);
  std::string what = fmt::format("running `{}`", command);
  auto running = connection.exec(std::move(command), std::move(options));
  co_return co_await runtime::with_deadline(deadline, std::move(running), runtime::Layer::channel, std::move(what));
}

// No default options argument: a `{}` made in the caller's co_await expression trips GCC 12.
inline asio::awaitable<runtime::Result<ssh::ExecResult>> exec(ssh::Connection& connection, std::string command) {
  ssh::ExecOptions options;
  co_return co_await exec(connection, std::move(command), std::move(options));
}

// Runs `count` commands at once on one connection, command(i) for the i-th, and sums each up as
// "stdout|stderr|exit code" (or its error, a timeout included).
inline asio::awaitable<std::vector<std::string>> exec_concurrently(ssh::Connection& connection, int count,
                                                                   std::function<std::string(int)> command) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::string> seen(static_cast<std::size_t>(count));
  int finished = 0;
  runtime::Event done(ex);
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(ex, exec(connection, command(i)), [&, i](std::exception_ptr, runtime::Result<ssh::ExecResult> r) {
      seen[static_cast<std::size_t>(i)] =
          r ? fmt::format("{}|{}|{}", r->stdout_data, r->stderr_data, r->exit_code.value_or(-1)) : r.error().summary();
      ++finished;
      done.notify();
    });
  }
  while (finished < count) co_await done.wait();
  co_return seen;
}

}  // namespace cr::test
