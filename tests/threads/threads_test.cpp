// The parts that run threads of their own, on their own so that scripts/setup --thread-sanitize
// can build just these under ThreadSanitizer: the local terminal's stdin reader (blocking reads on
// a thread, each chunk handed to the executor) and Asio's resolver (getaddrinfo on a thread of its
// own), which connect_tcp uses for a host name. The Windows stdio pumps are threads too, but MinGW
// has no ThreadSanitizer. Everything else (serve, the holder) runs on one thread.

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "cli/local_terminal.hpp"
#include "proxy/tcp_stream.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// Our stdin becomes a pipe the test writes, for as long as it lives. A reader thread still
// blocked on the pipe when it goes sees its end once the write side is closed.
class StdinPipe {
 public:
  StdinPipe() {
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    saved_ = ::dup(STDIN_FILENO);
    REQUIRE(saved_ >= 0);
    REQUIRE(::dup2(ends[0], STDIN_FILENO) == STDIN_FILENO);
    ::close(ends[0]);
    write_end_ = ends[1];
  }
  ~StdinPipe() {
    close_write_end();
    ::dup2(saved_, STDIN_FILENO);
    ::close(saved_);
  }
  StdinPipe(const StdinPipe&) = delete;
  StdinPipe& operator=(const StdinPipe&) = delete;

  // False on an error (Catch's assertions are for the main thread: another thread reports this).
  bool write(std::string_view data) const {
    while (!data.empty()) {
      const auto n = ::write(write_end_, data.data(), data.size());
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void close_write_end() {
    if (write_end_ >= 0) ::close(write_end_);
    write_end_ = -1;
  }
  // Returns once a reader has taken everything written so far (within a deadline).
  static void wait_drained() {
    const auto until = std::chrono::steady_clock::now() + 10s;
    int left = 1;
    while (left > 0 && std::chrono::steady_clock::now() < until) {
      if (::ioctl(STDIN_FILENO, FIONREAD, &left) != 0) FAIL("FIONREAD on stdin: " << errno);
      if (left > 0) std::this_thread::sleep_for(1ms);  // a poll: nothing tells us when a thread reads
    }
    REQUIRE(left == 0);
  }
  // Returns once one of our threads is blocked in read(2) on stdin (Linux tells each thread's
  // system call and its first argument in /proc).
  static void wait_for_blocked_read() {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream syscall(task.path() / "syscall");
        std::string number, fd;
        syscall >> number >> fd;
        if (number == std::to_string(SYS_read) && fd == "0x0") return;
      }
      std::this_thread::sleep_for(1ms);  // a poll: nothing tells us when a thread blocks
    }
    FAIL("no thread blocked in a read of stdin within 10 s");
  }

 private:
  int saved_ = -1;
  int write_end_ = -1;
};

std::string pattern(std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return text;
}

asio::awaitable<std::string> read_all_stdin() {
  cli::StdinReader reader(co_await asio::this_coro::executor);
  std::string got;
  for (;;) {
    auto chunk = co_await reader.next();
    if (!chunk) co_return got;
    got += *chunk;
  }
}

asio::awaitable<std::optional<std::string>> next_chunk(cli::StdinReader& reader) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return co_await reader.next();
}

}  // namespace

TEST_CASE("threads: stdin read on its own thread arrives whole and in order, then its end", "[threads]") {
  StdinPipe stdin_pipe;
  const auto sent = pattern(3 * 1024 * 1024 + 17);
  bool written = true;
  std::thread writer([&stdin_pipe, &sent, &written] {
    std::size_t at = 0;
    for (std::size_t size = 1; at < sent.size() && written; size = size * 3 % 100003 + 1) {
      const auto piece = std::min(size, sent.size() - at);
      written = stdin_pipe.write(std::string_view(sent).substr(at, piece));
      at += piece;
    }
    stdin_pipe.close_write_end();
  });
  std::string got;
  try {
    got = test::run(read_all_stdin());
  } catch (...) {
    writer.join();
    throw;
  }
  writer.join();
  REQUIRE(written);
  CHECK(got.size() == sent.size());
  CHECK(got == sent);
}

TEST_CASE("threads: a stdin reader gone while its thread waits in a read leaves that thread nothing of its own",
          "[threads]") {
  StdinPipe stdin_pipe;
  REQUIRE(stdin_pipe.write("one"));
  const auto first = test::run([]() -> asio::awaitable<std::optional<std::string>> {
    cli::StdinReader reader(co_await asio::this_coro::executor);
    auto chunk = co_await reader.next();
    StdinPipe::wait_for_blocked_read();
    co_return chunk;
  }());
  CHECK(first == "one");
  // The reader has gone; its thread wakes with these bytes and must leave them.
  REQUIRE(stdin_pipe.write("two"));
  StdinPipe::wait_drained();
  stdin_pipe.close_write_end();
}

TEST_CASE("threads: a cancelled wait for stdin ends at once, and the reader goes after it", "[threads]") {
  StdinPipe stdin_pipe;
  const auto cancelled = test::run([]() -> asio::awaitable<std::optional<std::string>> {
    auto executor = co_await asio::this_coro::executor;
    cli::StdinReader reader(executor);
    asio::cancellation_signal cancel;
    asio::steady_timer soon(executor, 50ms);
    soon.async_wait([&cancel](std::error_code ec) {
      if (!ec) cancel.emit(asio::cancellation_type::terminal);
    });
    co_return co_await asio::co_spawn(executor, next_chunk(reader),
                                      asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
  }());
  CHECK_FALSE(cancelled);
  StdinPipe::wait_for_blocked_read();
  REQUIRE(stdin_pipe.write("late"));
  StdinPipe::wait_drained();
  stdin_pipe.close_write_end();
}

TEST_CASE("threads: a host name is resolved on Asio's resolver thread and connected", "[threads]") {
  const auto echoed = test::run([]() -> asio::awaitable<std::string> {
    auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    auto connected = co_await proxy::connect_tcp("localhost", port, runtime::Deadline::after(10s));
    REQUIRE(connected);
    auto accepted = co_await acceptor.async_accept(asio::use_awaitable);
    const std::string hello = "hello";
    auto written = co_await runtime::write_all(**connected, runtime::as_bytes(hello));
    REQUIRE(written);
    std::string got(hello.size(), '\0');
    co_await asio::async_read(accepted, asio::buffer(got), asio::use_awaitable);
    co_return got;
  }());
  CHECK(echoed == "hello");
}
