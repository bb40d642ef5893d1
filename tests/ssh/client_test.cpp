// The client end to end: authentication and commands on real servers through a ProxyCommand.
// The Go server stands in for the Coder agent (x/crypto/ssh, "none" auth).

#include <asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include "ssh/client.hpp"
#include "support/connect.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"
#include "support/sshd.hpp"

using namespace cr;
using namespace std::chrono_literals;
using test::as_user;
using test::connect_through;

TEST_CASE("Go server: none auth, then a command's stdout, stderr and exit code", "[client][go]") {
  auto result =
      test::run(test::exec_through(CODER_RUNTIME_GO_SSHD, as_user("coder"), "echo hello; echo oops >&2; exit 3"));
  INFO((result ? "ok" : result.error().summary()));
  REQUIRE(result);
  CHECK(result->stdout_data == "hello\n");
  CHECK(result->stderr_data == "oops\n");
  CHECK(result->exit_code == 3);
  CHECK_FALSE(result->signal);
}

TEST_CASE("Go server: stdin reaches the command and 4 MiB come back intact", "[client][go]") {
  std::string input(4 << 20, '\0');
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>('a' + (i * 7) % 26);
  ssh::ExecOptions options;
  options.stdin_data = input;
  auto result = test::run(test::exec_through(CODER_RUNTIME_GO_SSHD, as_user("coder"), "cat", std::move(options)));
  INFO((result ? "ok" : result.error().summary()));
  REQUIRE(result);
  CHECK(result->exit_code == 0);
  CHECK(result->stdout_data.size() == input.size());
  CHECK((result->stdout_data == input));
}

TEST_CASE("Go server: 50 commands at once on one connection each get their own output", "[client][go]") {
  constexpr int kCount = 50;
  auto outputs = test::run([]() -> asio::awaitable<std::vector<std::string>> {
    auto connection = co_await connect_through(CODER_RUNTIME_GO_SSHD, as_user("coder"));
    REQUIRE(connection);
    std::function<std::string(int)> command = [](int i) { return fmt::format("echo {}; exit {}", i, i % 7); };
    auto seen = co_await test::exec_concurrently(**connection, kCount, std::move(command));
    co_await (*connection)->close();
    co_return seen;
  }());
  for (int i = 0; i < kCount; ++i) CHECK(outputs[static_cast<std::size_t>(i)] == fmt::format("{}\n||{}", i, i % 7));
}

TEST_CASE("sshd: with no key to offer, the error lists what was tried and what the server accepts", "[client][sshd]") {
  test::Sshd sshd("PasswordAuthentication no\nKbdInteractiveAuthentication no");
  auto connection = test::run(connect_through(sshd.proxy_command(), as_user("root")));
  REQUIRE_FALSE(connection);
  const auto& error = connection.error();
  CHECK(error.layer == runtime::Layer::auth);
  CHECK(error.message == "permission denied for user \"root\"");
  REQUIRE(error.find_evidence("methods tried"));
  CHECK(error.find_evidence("methods tried")->text == "none");
  REQUIRE(error.find_evidence("server accepts"));
  CHECK(error.find_evidence("server accepts")->text == "publickey");
}
