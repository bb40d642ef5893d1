// The holder's endpoint on Windows: a named pipe that only our user may open. Served and reached
// through proxy::LocalListener and connect_local, its security read back from a client handle.

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <atomic>

#include <asio/co_spawn.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "proxy/local_endpoint.hpp"
#include "runtime/event.hpp"
#include "runtime/paths.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

std::string unique_pipe_name() {
  static std::atomic<int> counter{0};
  return fmt::format(R"(\\.\pipe\coder-runtime-test-{}-{})", GetCurrentProcessId(), ++counter);
}

asio::awaitable<std::string> read_some_text(runtime::AsyncStream& stream) {
  std::array<std::uint8_t, 64> buffer{};
  auto n = co_await stream.read_some(buffer);
  co_return n ? std::string(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n))
              : std::string("error: " + n.error().summary());
}

asio::awaitable<void> write_text(runtime::AsyncStream& stream, std::string_view text) {
  auto written = co_await runtime::write_all(
      stream, runtime::ConstBytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  REQUIRE(written);
}

// Accepts the next client while `connect` opens the pipe; both ends.
asio::awaitable<std::pair<std::unique_ptr<runtime::AsyncStream>, std::unique_ptr<runtime::AsyncStream>>> connect_pair(
    proxy::LocalListener& listener, const std::string& name) {
  auto executor = co_await asio::this_coro::executor;
  std::optional<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> accepted;
  runtime::Event accept_ended(executor);
  asio::co_spawn(executor, listener.accept(), [&](std::exception_ptr, auto result) {
    accepted = std::move(result);
    accept_ended.notify();
  });
  auto client = co_await proxy::connect_local(name, runtime::Deadline::after(5s));
  INFO((client ? "connected" : client.error().summary()));
  REQUIRE(client);
  while (!accepted) co_await accept_ended.wait();
  REQUIRE(*accepted);
  co_return std::pair{std::move(**accepted), std::move(*client)};
}

}  // namespace

TEST_CASE("windows pipe: clients in turn are served, and closing removes it", "[windows][pipe]") {
  const auto name = unique_pipe_name();
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto executor = co_await asio::this_coro::executor;
    auto listener = proxy::LocalListener::listen(executor, name);
    INFO((listener ? "listening" : listener.error().summary()));
    REQUIRE(listener);
    for (int round = 0; round < 3; ++round) {
      auto [served, client] = co_await connect_pair(**listener, name);
      co_await write_text(*client, fmt::format("ping {}", round));
      // Read outside CHECK: the macro would evaluate a co_await in it more than once.
      const auto ping = co_await read_some_text(*served);
      CHECK(ping == fmt::format("ping {}", round));
      co_await write_text(*served, "pong");
      const auto pong = co_await read_some_text(*client);
      CHECK(pong == "pong");
      co_await client->close();
      co_await served->close();
    }
    (*listener)->close();
    auto after = co_await proxy::connect_local(name, runtime::Deadline::after(5s));
    REQUIRE_FALSE(after);
    CHECK(after.error().code == runtime::Errc::connect_failed);
    CHECK(after.error().system.value() == ERROR_FILE_NOT_FOUND);
    co_return true;
  }()));
}

TEST_CASE("windows pipe: its owner is our user, whose SID alone the DACL allows", "[windows][pipe][security]") {
  const auto name = unique_pipe_name();
  auto ours = proxy::current_user_sid();
  REQUIRE(ours);
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto executor = co_await asio::this_coro::executor;
    auto listener = proxy::LocalListener::listen(executor, name);
    REQUIRE(listener);
    HANDLE client = CreateFileW(runtime::widen(name).c_str(), READ_CONTROL, 0, nullptr, OPEN_EXISTING, 0, nullptr);
    REQUIRE(client != INVALID_HANDLE_VALUE);
    PSID owner = nullptr;
    PACL dacl = nullptr;
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    const DWORD status =
        GetSecurityInfo(client, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
                        nullptr, &dacl, nullptr, &descriptor);
    CloseHandle(client);
    REQUIRE(status == ERROR_SUCCESS);
    LPWSTR text = nullptr;
    REQUIRE(ConvertSecurityDescriptorToStringSecurityDescriptorW(
        descriptor, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &text, nullptr));
    const auto sddl = runtime::narrow(text);
    LocalFree(text);
    LocalFree(descriptor);
    INFO("security descriptor: " << sddl);
    CHECK_THAT(sddl, Catch::StartsWith("O:" + *ours));
    // One ACE, allowing our SID; protected, so nothing inherited joins it.
    CHECK_THAT(sddl, Catch::Contains("D:P(A;;"));
    CHECK_THAT(sddl, Catch::EndsWith(";;;" + *ours + ")"));
    CHECK(sddl.find(")(") == std::string::npos);
    (*listener)->close();
    co_return true;
  }()));
}
