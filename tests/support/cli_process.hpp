#pragma once
// Running the built coder-runtime as a script would: arguments, stdin fed then closed, stdout
// collected, the exit status and the end of stderr, all within the watchdog; or as a child whose
// stdin and stdout a test drives as it goes.

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "proxy/process_stream.hpp"
#include "runtime/event.hpp"
#include "support/run.hpp"

namespace cr::test {

struct Ran {
  int status = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// The built coder-runtime (or `executable`) with `args`, as a child whose stdin and stdout the test
// drives; or, with `stdin_file`, whose stdin is that file (as a script's `< FILE` or `< /dev/null`
// gives it).
inline std::unique_ptr<proxy::ProcessStream> start_cli(asio::any_io_executor executor, std::vector<std::string> args,
                                                       const std::string& stdin_file = "",
                                                       const std::string& executable = CODER_RUNTIME_EXECUTABLE) {
  proxy::ProcessOptions options;
  if (!stdin_file.empty()) options.argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" < \"$STDIN_FILE\""};
  options.argv.push_back(executable);
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  if (!stdin_file.empty()) options.environment = {{"STDIN_FILE", stdin_file}};
  options.name = "coder-runtime";
  auto process = proxy::spawn_process(executor, std::move(options));
  REQUIRE(process);
  return std::move(*process);
}

// The built coder-runtime as a child whose stderr the test waits on.
struct WatchedCli {
  std::unique_ptr<proxy::ProcessStream> process;
  std::shared_ptr<std::string> err = std::make_shared<std::string>();
  std::shared_ptr<runtime::Event> said;

  WatchedCli(asio::any_io_executor ex, std::vector<std::string> args) : said(std::make_shared<runtime::Event>(ex)) {
    proxy::ProcessOptions options;
    options.argv.push_back(CODER_RUNTIME_EXECUTABLE);
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.name = "coder-runtime";
    options.on_stderr = [err = err, said = said](std::string_view chunk) {
      err->append(chunk);
      said->notify();
    };
    auto spawned = proxy::spawn_process(ex, std::move(options));
    REQUIRE(spawned);
    process = std::move(*spawned);
  }
  // The number after `text` on stderr, once it has come (the watchdog bounds the wait).
  asio::awaitable<std::uint16_t> number_after(std::string_view text) {
    for (;;) {
      const auto at = err->find(text);
      const auto end = at == std::string::npos ? at : err->find(' ', at + text.size());
      if (end != std::string::npos) co_return static_cast<std::uint16_t>(std::stoi(err->substr(at + text.size())));
      co_await said->wait();
    }
  }
  // Once `text` has come on stderr (the watchdog bounds the wait).
  asio::awaitable<void> wait_for(std::string_view text) {
    while (err->find(text) == std::string::npos) co_await said->wait();
  }
};

// Reads the child's stdout into `out` until it holds `text` (the watchdog bounds the wait); false
// when its output ends first.
inline asio::awaitable<bool> read_until(proxy::ProcessStream& child, std::string& out, std::string_view text) {
  std::array<std::uint8_t, 4096> buffer;
  while (out.find(text) == std::string::npos) {
    auto n = co_await child.read_some(buffer);
    if (!n) co_return false;
    out.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
  }
  co_return true;
}

// Sends `signal` (SIGTERM, as a person's Ctrl-C would end a forward-only command) and waits for
// the child's end; its exit status (-1: a signal's).
inline asio::awaitable<int> terminated(proxy::ProcessStream& child, int signal = SIGTERM) {
  ::kill(child.pid(), signal);
  auto status = co_await child.wait_exit(runtime::Deadline::after(std::chrono::seconds(15)));
  REQUIRE(status);
  co_return status->kind == proxy::ExitStatus::Kind::exited ? status->value : -1;
}

// With `interrupt_after_lines`, sends SIGTERM once stdout has that many lines, as a person's
// Ctrl-C would once a command shows it has started. A child whose output has not ended within
// `limit` is killed, and what it said by then comes back with status -1, for the test to show.
inline asio::awaitable<Ran> run_cli_async(std::vector<std::string> args, std::string input = "",
                                          int interrupt_after_lines = 0,
                                          std::chrono::seconds limit = std::chrono::seconds(15),
                                          std::string stdin_file = "",
                                          std::string executable = CODER_RUNTIME_EXECUTABLE) {
  const auto deadline = runtime::Deadline::after(limit);
  auto ex = co_await asio::this_coro::executor;
  auto process = start_cli(ex, std::move(args), stdin_file, executable);
  auto& child = *process;
  if (!input.empty()) {
    auto written = co_await runtime::write_all(child, runtime::as_bytes(input));
    REQUIRE(written);
  }
  REQUIRE(child.shutdown_send());
  std::string out;
  std::array<std::uint8_t, 4096> buffer;
  for (bool signalled = false;;) {
    auto n = co_await runtime::with_deadline(deadline, child.read_some(buffer), runtime::Layer::runtime, "its output");
    if (!n && n.error().code == runtime::Errc::timed_out) {
      ::kill(child.pid(), SIGKILL);
      co_await child.wait_exit(runtime::Deadline::after(std::chrono::seconds(15)));
      co_return Ran{-1, out,
                    fmt::format("{}[killed: its output did not end within {} s]", child.stderr_tail(), limit.count())};
    }
    if (!n) break;
    out.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
    if (interrupt_after_lines > 0 && !signalled && std::count(out.begin(), out.end(), '\n') >= interrupt_after_lines) {
      signalled = true;
      ::kill(child.pid(), SIGTERM);
    }
  }
  auto status = co_await child.wait_exit(runtime::Deadline::after(std::chrono::seconds(15)));
  REQUIRE(status);
  co_return Ran{status->kind == proxy::ExitStatus::Kind::exited ? status->value : -1, out, child.stderr_tail()};
}

inline Ran run_cli(std::vector<std::string> args, const std::string& input = "", int interrupt_after_lines = 0) {
  return run(run_cli_async(std::move(args), input, interrupt_after_lines));
}

// Another copy of the executable, as installed elsewhere.
inline Ran run_executable(const std::string& executable, std::vector<std::string> args) {
  return run(run_cli_async(std::move(args), "", 0, std::chrono::seconds(15), "", executable));
}

inline Ran run_cli_reading(std::vector<std::string> args, const std::string& stdin_file) {
  return run(run_cli_async(std::move(args), "", 0, std::chrono::seconds(15), stdin_file));
}

}  // namespace cr::test
