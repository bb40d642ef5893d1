// The child-process stream against real children: exit statuses, stderr, a child that exits at
// once, one that never reads, one that ignores SIGTERM, and what the child inherits.

#include <csignal>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/post.hpp>
#include <catch2/catch.hpp>

#include "proxy/process_stream.hpp"
#include "proxy/proxy_command.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;
using runtime::Errc;

namespace {

std::unique_ptr<proxy::ProcessStream> start(asio::any_io_executor ex, std::string shell_command,
                                            std::chrono::milliseconds close_grace = 1000ms) {
  proxy::ProcessOptions options;
  options.argv = {"/bin/sh", "-c", std::move(shell_command)};
  options.close_grace = close_grace;
  auto spawned = proxy::spawn_process(ex, std::move(options));
  REQUIRE(spawned);
  return std::move(*spawned);
}

bool reaped(int pid) { return waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD; }

}  // namespace

TEST_CASE("a child that exits at once: the read error carries its status and stderr", "[process]") {
  const auto descriptors_before = test::open_descriptor_count();
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "echo 'error: workspace \"dev\" not found' >&2; exit 3");
    std::array<std::uint8_t, 64> buffer;
    auto n = co_await child->read_some(buffer);
    REQUIRE_FALSE(n);
    const auto& error = n.error();
    CHECK(error.code == Errc::end_of_stream);
    CHECK(error.layer == runtime::Layer::proxy);
    CHECK_THAT(error.message, Catch::Contains("exited with status 3"));
    REQUIRE(error.find_evidence("stderr"));
    CHECK(error.find_evidence("stderr")->text == "error: workspace \"dev\" not found\n");
    CHECK(child->exit_status() == proxy::ExitStatus{proxy::ExitStatus::Kind::exited, 3});
    CHECK(reaped(child->pid()));
    co_await child->close();
    co_return 0;
  }());
  CHECK(test::open_descriptor_count() == descriptors_before);
}

TEST_CASE("the stderr tail keeps the last 4 KiB", "[process]") {
  test::run([]() -> asio::awaitable<int> {
    // 10000 bytes of 'a' then a marker: the tail must end with the marker and be 4096 bytes long.
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "head -c 10000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1");
    std::array<std::uint8_t, 16> buffer;
    auto output = co_await child->read_some(buffer);
    REQUIRE_FALSE(output);
    const auto* tail = output.error().find_evidence("stderr");
    REQUIRE(tail);
    CHECK(tail->text.size() == 4096);
    CHECK(tail->text.ends_with("aaaaEND\n"));
    CHECK(child->stderr_tail() == tail->text);
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("a child killed by a signal is reported as such", "[process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "kill -KILL $$");
    auto exit = co_await child->wait_exit(runtime::Deadline::after(5s));
    REQUIRE(exit);
    CHECK(exit->kind == proxy::ExitStatus::Kind::signalled);
    CHECK(exit->value == SIGKILL);
    CHECK(exit->describe() == "was killed by signal 9 (SIGKILL)");
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("a program that cannot be run is a spawn error naming it", "[process]") {
  asio::io_context io;
  proxy::ProcessOptions options;
  options.argv = {"/nonexistent/coder", "ssh", "--stdio"};
  auto spawned = proxy::spawn_process(io.get_executor(), std::move(options));
  REQUIRE_FALSE(spawned);
  CHECK(spawned.error().code == Errc::spawn_failed);
  CHECK(spawned.error().system == std::errc::no_such_file_or_directory);
  REQUIRE(spawned.error().find_evidence("program"));
  CHECK(spawned.error().find_evidence("program")->text == "/nonexistent/coder");
}

TEST_CASE("a child that never reads: writes stall, the deadline fires, close ends it", "[process]") {
  const auto descriptors_before = test::open_descriptor_count();
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "exec sleep 30", 100ms);
    const std::vector<std::uint8_t> block(1 << 20, 'x');  // more than any pipe buffer
    auto written = co_await runtime::with_deadline(runtime::Deadline::after(200ms), runtime::write_all(*child, block),
                                                   runtime::Layer::proxy, "writing to the proxy");
    REQUIRE_FALSE(written);
    CHECK(written.error().code == Errc::timed_out);
    co_await child->close();
    REQUIRE(child->exit_status());
    CHECK(*child->exit_status() == proxy::ExitStatus{proxy::ExitStatus::Kind::signalled, SIGTERM});
    CHECK(reaped(child->pid()));
    co_return 0;
  }());
  CHECK(test::open_descriptor_count() == descriptors_before);
}

TEST_CASE("close escalates to SIGKILL when the child ignores SIGTERM", "[process]") {
  test::run([]() -> asio::awaitable<int> {
    // The child says when its trap is set, so the TERM cannot arrive before it.
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "trap '' TERM; echo ready; while :; do sleep 1; done", 100ms);
    std::array<std::uint8_t, 16> buffer;
    auto ready = co_await child->read_some(buffer);
    REQUIRE(ready);
    co_await child->close();
    REQUIRE(child->exit_status());
    CHECK(*child->exit_status() == proxy::ExitStatus{proxy::ExitStatus::Kind::signalled, SIGKILL});
    CHECK(reaped(child->pid()));
    co_return 0;
  }());
}

TEST_CASE("writing to a child that has exited is an error with its status, not SIGPIPE", "[process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "echo bye >&2; exit 2");
    auto exited = co_await child->wait_exit(runtime::Deadline::after(5s));
    REQUIRE(exited);
    const std::vector<std::uint8_t> block(1 << 20, 'x');
    auto written = co_await runtime::write_all(*child, block);
    REQUIRE_FALSE(written);
    CHECK(written.error().code == Errc::io_error);
    CHECK_THAT(written.error().message, Catch::Contains("exited with status 2"));
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("the child inherits only its stdio", "[process]") {
  // A descriptor the host left inheritable (no O_CLOEXEC) must not reach the child.
  const int leaked = fcntl(open("/dev/null", O_RDONLY), F_DUPFD, 57);
  REQUIRE(leaked >= 57);
  test::run([leaked]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, fmt::format("test -e /proc/self/fd/{} && echo inherited || echo clean", leaked));
    auto output = co_await test::read_to_end(*child);
    REQUIRE(output);
    CHECK(*output == "clean\n");
    co_await child->close();

    // Nor another child's pipes: cat must see its stdin end while a second child is alive.
    auto first = start(ex, "exec cat");
    auto second = start(ex, "exec sleep 30", 100ms);
    REQUIRE(first->shutdown_send());
    auto status = co_await first->wait_exit(runtime::Deadline::after(5s));
    REQUIRE(status);
    CHECK(status->success());
    co_await first->close();
    co_await second->close();
    co_return 0;
  }());
  close(leaked);
}

TEST_CASE("a cancelled read leaves the child running and the stream usable", "[process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, "exec cat");
    asio::cancellation_signal cancel;
    std::array<std::uint8_t, 16> buffer;
    std::optional<runtime::Result<std::size_t>> cancelled_read;
    asio::co_spawn(ex, child->read_some(buffer),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, runtime::Result<std::size_t> r) {
                     cancelled_read.emplace(std::move(r));
                   }));
    co_await asio::post(ex, asio::use_awaitable);  // the read starts and waits for data
    cancel.emit(asio::cancellation_type::terminal);
    while (!cancelled_read) {
      co_await asio::post(ex, asio::use_awaitable);
    }
    REQUIRE(cancelled_read);
    REQUIRE_FALSE(*cancelled_read);
    CHECK(cancelled_read->error().code == Errc::cancelled);
    CHECK_FALSE(child->exit_status());
    auto sent = co_await runtime::write_all(*child, runtime::as_bytes("ping"));
    REQUIRE(sent);
    auto n = co_await child->read_some(buffer);
    REQUIRE(n);
    CHECK(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)) == "ping");
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("a ProxyCommand runs through the shell with its tokens expanded", "[process][proxy]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    const proxy::ProxyTokens tokens{"ws.coder", "2222", "alice", "ws"};
    auto child = proxy::start_proxy_command(ex, "echo '%h %p %r %n 100%%'", tokens);
    REQUIRE(child);
    CHECK_THAT((*child)->describe(), Catch::StartsWith("ProxyCommand `echo 'ws.coder 2222 alice ws 100%'`"));
    auto output = co_await test::read_to_end(**child);
    REQUIRE(output);
    CHECK(*output == "ws.coder 2222 alice ws 100%\n");
    co_await (*child)->close();
    co_return 0;
  }());
}
