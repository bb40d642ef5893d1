// The child-process stream on Windows (named pipes on stream_handle, a job object), run under
// Wine in CI: the AsyncStream contract through a child, exit codes and stderr, a child that exits
// at once, one that ignores the end of its stdin, and ProxyCommands quoted the way
// `coder config-ssh` writes them, through a folder whose name has spaces.

#include <random>

#include <asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include "proxy/process_stream.hpp"
#include "proxy/proxy_command.hpp"
#include "support/run.hpp"
#include "windows/helpers.hpp"

using namespace cr;
using namespace std::chrono_literals;
using runtime::Errc;

namespace {

std::unique_ptr<proxy::ProcessStream> start(asio::any_io_executor ex, std::vector<std::string> arguments,
                                            std::chrono::milliseconds close_grace = 1000ms) {
  proxy::ProcessOptions options;
  options.argv = {test::test_child()};
  options.argv.insert(options.argv.end(), arguments.begin(), arguments.end());
  options.close_grace = close_grace;
  auto spawned = proxy::spawn_process(ex, std::move(options));
  REQUIRE(spawned);
  return std::move(*spawned);
}

std::unique_ptr<proxy::ProcessStream> start_proxy(asio::any_io_executor ex, const std::string& command,
                                                  std::chrono::milliseconds close_grace = 1000ms) {
  const proxy::ProxyTokens tokens{"ws.mux--coder", "22", "coder", "ws"};
  proxy::ProcessOptions options;
  options.close_grace = close_grace;
  auto started = proxy::start_proxy_command(ex, command, tokens, std::move(options));
  REQUIRE(started);
  return std::move(*started);
}

// `"C:\...\Program Files Test\test child.exe" "mode" "arg"...`: every argument quoted, as the
// desktop app and `coder config-ssh` write a ProxyCommand.
std::string quoted_command(std::vector<std::string> arguments) {
  std::string command = "\"" + test::test_child() + "\"";
  for (const auto& argument : arguments) command += " \"" + argument + "\"";
  return command;
}

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  std::mt19937 random(7);
  for (auto& b : bytes) b = static_cast<char>(random());
  return bytes;
}

}  // namespace

TEST_CASE("windows: echo through a child, half-close, then end of stream on every read", "[windows][process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"cat"});
    auto sent = co_await runtime::write_all(*child, runtime::as_bytes("hello\n"));
    REQUIRE(sent);
    REQUIRE(child->shutdown_send());
    auto got = co_await test::read_to_end(*child);
    REQUIRE(got);
    CHECK(*got == "hello\n");
    std::array<std::uint8_t, 16> buffer;
    auto again = co_await child->read_some(buffer);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::end_of_stream);
    CHECK_THAT(again.error().message, Catch::Contains("exited with status 0"));
    REQUIRE(child->exit_status());
    CHECK(child->exit_status()->value == 0);
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("windows: 4 MiB written and read concurrently arrive intact", "[windows][process]") {
  test::run([]() -> asio::awaitable<int> {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"cat"});
    const auto data = pattern(4 << 20);
    auto writer = [&]() -> asio::awaitable<runtime::Result<void>> {
      auto written = co_await runtime::write_all(*child, runtime::as_bytes(data));
      if (written) (void)child->shutdown_send();
      co_return written;
    };
    auto [written, received] = co_await (writer() && test::read_to_end(*child));
    REQUIRE(written);
    REQUIRE(received);
    CHECK(received->size() == data.size());
    CHECK((*received == data));
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("windows: a read cut by its deadline leaves the stream usable, and after close it is stream_closed",
          "[windows][process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"cat"});
    std::array<std::uint8_t, 64> buffer;
    auto timed_out = co_await runtime::with_deadline(runtime::Deadline::after(50ms), child->read_some(buffer),
                                                     runtime::Layer::runtime, "read");
    REQUIRE_FALSE(timed_out);
    CHECK(timed_out.error().code == Errc::timed_out);
    auto sent = co_await runtime::write_all(*child, runtime::as_bytes("still here"));
    REQUIRE(sent);
    std::string got;
    while (got.size() < 10) {
      auto n = co_await child->read_some(buffer);
      REQUIRE(n);
      got.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
    }
    CHECK(got == "still here");
    co_await child->close();
    auto after_close = co_await child->read_some(buffer);
    REQUIRE_FALSE(after_close);
    CHECK(after_close.error().code == Errc::stream_closed);
    co_return 0;
  }());
}

TEST_CASE("windows: a child that exits at once: the read error carries its exit code and stderr",
          "[windows][process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"fail", "3", "error: workspace not found"});
    std::array<std::uint8_t, 64> buffer;
    auto n = co_await child->read_some(buffer);
    REQUIRE_FALSE(n);
    CHECK(n.error().code == Errc::end_of_stream);
    CHECK(n.error().layer == runtime::Layer::proxy);
    CHECK_THAT(n.error().message, Catch::Contains("exited with status 3"));
    REQUIRE(n.error().find_evidence("stderr"));
    CHECK(n.error().find_evidence("stderr")->text == "error: workspace not found\n");
    CHECK(child->exit_status() == proxy::ExitStatus{proxy::ExitStatus::Kind::exited, 3});
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("windows: the stderr tail keeps the last 4 KiB", "[windows][process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"bulk-stderr", "10000"});
    auto exited = co_await child->wait_exit(runtime::Deadline::after(10s));
    REQUIRE(exited);
    std::array<std::uint8_t, 16> buffer;
    auto output = co_await child->read_some(buffer);
    REQUIRE_FALSE(output);
    const auto* tail = output.error().find_evidence("stderr");
    REQUIRE(tail);
    CHECK(tail->text.size() == 4096);
    CHECK(tail->text.ends_with("aaaaEND\n"));
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("windows: close ends a child that ignores the end of its stdin", "[windows][process]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"ignore-stdin"}, 200ms);
    std::array<std::uint8_t, 64> buffer;
    auto ready = co_await child->read_some(buffer);
    REQUIRE(ready);
    co_await child->close();
    REQUIRE(child->exit_status());
    CHECK(child->exit_status()->value == 137);
    CHECK(test::process_ended(static_cast<unsigned long>(child->pid()), 5000));
    co_return 0;
  }());
}

TEST_CASE("windows: a program that cannot be run is a spawn error naming it", "[windows][process]") {
  asio::io_context io;
  proxy::ProcessOptions options;
  options.argv = {R"(C:\nonexistent\coder.exe)", "ssh", "--stdio"};
  auto spawned = proxy::spawn_process(io.get_executor(), std::move(options));
  REQUIRE_FALSE(spawned);
  CHECK(spawned.error().code == Errc::spawn_failed);
  REQUIRE(spawned.error().find_evidence("program"));
  CHECK(spawned.error().find_evidence("program")->text == R"(C:\nonexistent\coder.exe)");
}

TEST_CASE("windows: a ProxyCommand quoted the coder config-ssh way runs from a path with spaces", "[windows][proxy]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start_proxy(
        ex, quoted_command({"args", "ssh", "--stdio", "--hostname-suffix", "mux--coder", "%h", "two words"}));
    auto output = co_await test::read_to_end(*child);
    REQUIRE(output);
    CHECK(*output == "ssh|--stdio|--hostname-suffix|mux--coder|ws.mux--coder|two words\n");
    co_await child->close();

    auto echo = start_proxy(ex, quoted_command({"cat"}));
    auto sent = co_await runtime::write_all(*echo, runtime::as_bytes("through cmd.exe\n"));
    REQUIRE(sent);
    REQUIRE(echo->shutdown_send());
    auto echoed = co_await test::read_to_end(*echo);
    REQUIRE(echoed);
    CHECK(*echoed == "through cmd.exe\n");
    co_await echo->close();
    co_return 0;
  }());
}

TEST_CASE("windows: a ProxyCommand that exits 1 before any banner: its code and stderr, not 'premature close'",
          "[windows][proxy]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start_proxy(ex, quoted_command({"fail", "1", "error: workspace \\\"dev\\\" not found"}));
    std::array<std::uint8_t, 64> buffer;
    auto n = co_await child->read_some(buffer);
    REQUIRE_FALSE(n);
    CHECK(n.error().code == Errc::end_of_stream);
    CHECK_THAT(n.error().message, Catch::StartsWith("ProxyCommand `\"") && Catch::Contains("exited with status 1"));
    REQUIRE(n.error().find_evidence("stderr"));
    CHECK(n.error().find_evidence("stderr")->text == "error: workspace \"dev\" not found\n");
    co_await child->close();
    co_return 0;
  }());
}

TEST_CASE("windows: closing a ProxyCommand ends cmd.exe and the proxy it started (the job)", "[windows][proxy]") {
  test::run([]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start_proxy(ex, quoted_command({"ignore-stdin"}), 200ms);
    std::string line;
    std::array<std::uint8_t, 64> buffer;
    while (!line.ends_with("\n")) {
      auto n = co_await child->read_some(buffer);
      REQUIRE(n);
      line.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
    }
    REQUIRE(line.starts_with("ready "));
    const auto proxy_pid = std::stoul(line.substr(6));
    CHECK(proxy_pid != static_cast<unsigned long>(child->pid()));  // cmd.exe started it
    co_await child->close();
    REQUIRE(child->exit_status());
    CHECK(test::process_ended(proxy_pid, 5000));
    co_return 0;
  }());
}

TEST_CASE("windows: the child inherits its stdio and nothing else the host left inheritable", "[windows][process]") {
  // A signalled event made inheritable, as a careless host might leave a handle.
  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE event = CreateEventW(&inheritable, TRUE, TRUE, nullptr);
  REQUIRE(event);
  const auto value = fmt::format("{:x}", reinterpret_cast<std::uintptr_t>(event));
  test::run([&]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    auto child = start(ex, {"handle", value});
    auto output = co_await test::read_to_end(*child);
    REQUIRE(output);
    CHECK(*output == "clean\n");
    co_await child->close();
    co_return 0;
  }());
  CloseHandle(event);
}
