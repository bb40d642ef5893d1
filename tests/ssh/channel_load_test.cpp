// Channels under load against real servers: many sessions at once on one connection, a large
// download checked byte by byte, and key re-exchanges in the middle of a transfer. Sizes shrink
// under the sanitizers (CODER_RUNTIME_SANITIZED), which run several times slower.

#include <asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/logged_in_sshd.hpp"
#include "support/connect.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

// As a plain user with /bin/sh: root's shell startup files here (pyenv) are slow and print noise
// when 200 of them run at once.
namespace {

#ifdef CODER_RUNTIME_SANITIZED
constexpr std::uint64_t kLargeTransfer = std::uint64_t{64} << 20;
constexpr std::uint64_t kRekeyTransfer = std::uint64_t{8} << 20;
#else
constexpr std::uint64_t kLargeTransfer = std::uint64_t{1} << 30;
constexpr std::uint64_t kRekeyTransfer = std::uint64_t{48} << 20;
#endif

// `yes` repeats this line; 61 bytes, so a lost or repeated 32 KiB packet shifts the pattern.
constexpr std::string_view kLine = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX\n";

std::string pattern_command(std::uint64_t bytes) {
  return fmt::format("yes {} | head -c {}", kLine.substr(0, kLine.size() - 1), bytes);
}

// Checks a stream of bytes against the pattern as it arrives, without keeping it.
struct PatternCheck {
  std::uint64_t count = 0;
  std::optional<std::uint64_t> first_mismatch;
  void operator()(std::string_view chunk) {
    for (const char c : chunk) {
      if (!first_mismatch && c != kLine[count % kLine.size()]) first_mismatch = count;
      ++count;
    }
  }
};

double mib_per_second(std::uint64_t bytes, std::chrono::milliseconds elapsed) {
  return static_cast<double>(bytes) / (1 << 20) / std::max(0.001, static_cast<double>(elapsed.count()) / 1000.0);
}

}  // namespace

TEST_CASE("sshd: 200 commands at once on one connection each get their own output and exit code", "[load][sshd]") {
  constexpr int kCount = 200;
  test::LoggedInSshd server("MaxSessions 250", test::kUnprivilegedUser);
  const auto started = runtime::Clock::now();
  auto outputs = test::run(
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto connection = co_await server.connect();
        REQUIRE(connection);
        std::function<std::string(int)> command = [](int i) {
          return fmt::format("echo {0}; echo err{0} >&2; exit {1}", i, i % 7);
        };
        auto seen = co_await test::exec_concurrently(**connection, kCount, std::move(command));
        co_await (*connection)->close();
        co_return seen;
      }(),
      60s);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Clock::now() - started);
  WARN(fmt::format("{} concurrent execs on one connection: {} ms", kCount, elapsed.count()));
  for (int i = 0; i < kCount; ++i)
    CHECK(outputs[static_cast<std::size_t>(i)] == fmt::format("{0}\n|err{0}\n|{1}", i, i % 7));
}

TEST_CASE("sshd: a large download arrives complete and in order", "[load][sshd]") {
  test::LoggedInSshd server("", test::kUnprivilegedUser);
  PatternCheck check;
  auto result = test::run(
      [&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
        auto connection = co_await server.connect();
        REQUIRE(connection);
        ssh::ExecOptions options;
        options.on_stdout = std::ref(check);
        auto command = pattern_command(kLargeTransfer);
        auto ran = co_await test::exec(**connection, std::move(command), std::move(options), 200s);
        co_await (*connection)->close();
        co_return ran;
      }(),
      240s);
  INFO((result ? "ok" : result.error().detailed()));
  REQUIRE(result);
  WARN(fmt::format("{} MiB in {} ms: {:.0f} MiB/s", kLargeTransfer >> 20, result->duration.count(),
                   mib_per_second(kLargeTransfer, result->duration)));
  CHECK(result->exit_code == 0);
  CHECK(result->stderr_data.empty());
  CHECK(check.count == kLargeTransfer);
  CHECK_FALSE(check.first_mismatch);
}

TEST_CASE("sshd with RekeyLimit 1M: data stays intact both ways across many key re-exchanges", "[load][sshd][rekey]") {
  test::LoggedInSshd server("RekeyLimit 1M", test::kUnprivilegedUser);
  PatternCheck check;
  std::size_t exchanges = 0;
  std::string upload(kRekeyTransfer / 4, '\0');
  for (std::size_t i = 0; i < upload.size(); ++i) upload[i] = static_cast<char>(i * 31 % 251);
  std::optional<runtime::Result<ssh::ExecResult>> uploaded;
  auto downloaded = test::run(
      [&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
        auto connection = co_await server.connect();
        REQUIRE(connection);
        ssh::ExecOptions download_options;
        download_options.on_stdout = std::ref(check);
        ssh::ExecOptions upload_options;
        upload_options.stdin_data = upload;
        using namespace asio::experimental::awaitable_operators;
        // What goes up comes back through cat, so both directions are checked byte for byte.
        std::string echo_back = "cat";
        auto download = test::exec(**connection, pattern_command(kRekeyTransfer), std::move(download_options), 100s);
        auto round_trip = test::exec(**connection, std::move(echo_back), std::move(upload_options), 100s);
        auto both = co_await (std::move(download) && std::move(round_trip));
        auto [down, up] = std::move(both);
        uploaded = std::move(up);
        exchanges = (*connection)->transport().completed_key_exchanges();
        co_await (*connection)->close();
        co_return down;
      }(),
      120s);
  INFO((downloaded ? "ok" : downloaded.error().detailed()));
  REQUIRE(downloaded);
  CHECK(downloaded->exit_code == 0);
  CHECK(check.count == kRekeyTransfer);
  CHECK_FALSE(check.first_mismatch);
  REQUIRE(uploaded);
  INFO((*uploaded ? (*uploaded)->stderr_data : uploaded->error().detailed()));
  REQUIRE(*uploaded);
  CHECK((*uploaded)->stdout_data.size() == upload.size());
  CHECK(((*uploaded)->stdout_data == upload));
  // The first exchange counts too. With a 1 MiB limit and this much data sshd re-exchanges many
  // times; at least one re-exchange must have happened whatever the timing.
  WARN(fmt::format("{} key exchanges for {} MiB down and {} MiB up", exchanges, kRekeyTransfer >> 20,
                   upload.size() >> 20));
  CHECK(exchanges >= 2);
}

TEST_CASE("sshd: our own frequent re-exchanges while 100 channels open and close", "[load][sshd][rekey]") {
  // Each CLOSE from the server needs our CLOSE back. Were the reader to write it itself, it would
  // wait for the end of a re-exchange we had started, which only the reader can read: a deadlock
  // that a re-exchange every 16 KiB makes likely here.
  constexpr int kCount = 100;
  test::LoggedInSshd server("MaxSessions 150", test::kUnprivilegedUser);
  std::size_t exchanges = 0;
  auto outputs = test::run(
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto options = server.options();
        options.transport.rekey_after_bytes = 16 * 1024;
        auto proxy_command = server.proxy_command();
        auto connection = co_await test::connect_through(std::move(proxy_command), std::move(options));
        REQUIRE(connection);
        std::function<std::string(int)> command = [](int i) {
          return fmt::format("head -c {} /dev/zero; exit {}", i * 1000, i % 5);
        };
        auto seen = co_await test::exec_concurrently(**connection, kCount, std::move(command));
        exchanges = (*connection)->transport().completed_key_exchanges();
        co_await (*connection)->close();
        co_return seen;
      }(),
      60s);
  for (int i = 0; i < kCount; ++i) {
    CHECK(outputs[static_cast<std::size_t>(i)] ==
          fmt::format("{}||{}", std::string(static_cast<std::size_t>(i) * 1000, '\0'), i % 5));
  }
  WARN(fmt::format("{} key exchanges", exchanges));
  CHECK(exchanges >= 2);
}
