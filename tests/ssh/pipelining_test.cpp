// Round trips saved by guessing and pipelining, against both servers, and what each does when its
// guess is wrong: first_kex_packet_follows, the session channel opened behind "none", the signed
// publickey request behind "none", the spare session channel.

#include <catch2/catch.hpp>

#include "ssh/client.hpp"
#include "support/connect.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"
#include "support/sshd.hpp"

using namespace cr;
using test::as_user;
using test::connect_through;
using Guess = ssh::Transport::Guess;

namespace {

struct Outcome {
  Guess guess = Guess::none;
  ssh::Negotiated agreed;
  std::optional<int> exit_code;
  std::string stdout_data;
};

// Connects, runs a command (so the keys of the guessed exchange are shown to work), and tells how
// the guess went.
asio::awaitable<runtime::Result<Outcome>> guess_and_run(std::string proxy_command, ssh::ClientOptions options) {
  auto connection = co_await connect_through(std::move(proxy_command), std::move(options));
  if (!connection) co_return runtime::fail(std::move(connection.error()));
  Outcome outcome;
  outcome.guess = (*connection)->transport().first_kex_guess();
  outcome.agreed = (*connection)->transport().algorithms();
  auto ran = co_await (*connection)->exec("echo keys work");
  co_await (*connection)->close();
  if (!ran) co_return runtime::fail(std::move(ran.error()));
  outcome.exit_code = ran->exit_code;
  outcome.stdout_data = ran->stdout_data;
  co_return outcome;
}

ssh::ClientOptions leading_with(ssh::ClientOptions options, std::string kex, std::string host_key) {
  ssh::lead_with(options.transport.algorithms, {std::move(kex), std::move(host_key)});
  return options;
}

void check_ran(const runtime::Result<Outcome>& outcome, Guess expected) {
  INFO((outcome ? "" : outcome.error().detailed()));
  REQUIRE(outcome);
  CHECK(outcome->guess == expected);
  CHECK(outcome->exit_code == 0);
  CHECK(outcome->stdout_data == "keys work\n");
}

}  // namespace

TEST_CASE("lead_with moves the server's first choices to the front, and says when a guess cannot be right",
          "[pipelining]") {
  ssh::AlgorithmPreferences preferences{{"a", "b", "c"}, {"k1", "k2"}, {}, {}};
  CHECK(ssh::lead_with(preferences, {"c", "k2"}));
  CHECK(preferences.kex == ssh::NameList{"c", "a", "b"});
  CHECK(preferences.host_key == ssh::NameList{"k2", "k1"});
  CHECK_FALSE(ssh::lead_with(preferences, {"mlkem1024nistp384-sha384", "k1"}));
  CHECK(preferences.host_key == ssh::NameList{"k1", "k2"});
  CHECK_FALSE(ssh::lead_with(preferences, {"a", ""}));
}

TEST_CASE("Go server: a right kex guess is used, a wrong kex or host key guess is replaced", "[pipelining][go]") {
  // The Go server's RSA host key: it lists curve25519-sha256 and rsa-sha2-256 first.
  auto right = test::run(
      guess_and_run(CODER_RUNTIME_GO_SSHD, leading_with(as_user("coder"), "curve25519-sha256", "rsa-sha2-256")));
  check_ran(right, Guess::right);
  CHECK(right->agreed.host_key == "rsa-sha2-256");
  auto wrong_host_key = test::run(
      guess_and_run(CODER_RUNTIME_GO_SSHD, leading_with(as_user("coder"), "curve25519-sha256", "rsa-sha2-512")));
  check_ran(wrong_host_key, Guess::wrong);
  CHECK(wrong_host_key->agreed.host_key == "rsa-sha2-512");
  auto wrong_kex = test::run(
      guess_and_run(CODER_RUNTIME_GO_SSHD, leading_with(as_user("coder"), "ecdh-sha2-nistp256", "rsa-sha2-256")));
  check_ran(wrong_kex, Guess::wrong);
  CHECK(wrong_kex->agreed.kex == "ecdh-sha2-nistp256");
  auto options = as_user("coder");
  options.transport.guess_kex = false;
  check_ran(test::run(guess_and_run(CODER_RUNTIME_GO_SSHD, options)), Guess::none);
}

TEST_CASE("sshd: a right kex guess under strict kex, and wrong ones by kex or by host key", "[pipelining][sshd]") {
  {
    test::LoggedInSshd sshd("KexAlgorithms curve25519-sha256");
    auto right = test::run(
        guess_and_run(sshd.proxy_command(), leading_with(sshd.options(), "curve25519-sha256", "ssh-ed25519")));
    check_ran(right, Guess::right);
    CHECK(right->agreed.strict_kex);
    // sshd has only an ed25519 host key: leading with RSA is a wrong guess by host key alone.
    auto wrong_host_key = test::run(
        guess_and_run(sshd.proxy_command(), leading_with(sshd.options(), "curve25519-sha256", "rsa-sha2-512")));
    check_ran(wrong_host_key, Guess::wrong);
    CHECK(wrong_host_key->agreed.host_key == "ssh-ed25519");
    CHECK(wrong_host_key->agreed.strict_kex);
  }
  {
    test::LoggedInSshd sshd("KexAlgorithms ecdh-sha2-nistp384,curve25519-sha256");
    auto wrong_kex = test::run(
        guess_and_run(sshd.proxy_command(), leading_with(sshd.options(), "curve25519-sha256", "ssh-ed25519")));
    check_ran(wrong_kex, Guess::wrong);
    CHECK(wrong_kex->agreed.kex == "curve25519-sha256");
    CHECK(wrong_kex->agreed.strict_kex);
  }
  // Our defaults lead with mlkem768x25519-sha256, as OpenSSH 10 does; Debian 12's sshd leads with
  // sntrup761x25519-sha512, which is our second choice: the guess is wrong, the exchange post-quantum.
  test::LoggedInSshd sshd;
  auto by_default = test::run(guess_and_run(sshd.proxy_command(), sshd.options()));
  check_ran(by_default, Guess::wrong);
  CHECK(by_default->agreed.kex == "sntrup761x25519-sha512");
  CHECK(by_default->agreed.strict_kex);
}

TEST_CASE("Go server: with none expected, the first session opens behind it and later ones too", "[pipelining][go]") {
  auto options = as_user("coder");
  options.none_auth_expected = true;
  auto outputs = test::run([&]() -> asio::awaitable<std::vector<std::string>> {
    auto connection = co_await connect_through(CODER_RUNTIME_GO_SSHD, options);
    REQUIRE(connection);
    std::vector<std::string> seen;
    for (int i = 0; i < 3; ++i) {
      auto ran = co_await (*connection)->exec(fmt::format("echo {}", i));
      seen.push_back(ran ? ran->stdout_data : ran.error().summary());
    }
    co_await (*connection)->close();
    co_return seen;
  }());
  CHECK(outputs == std::vector<std::string>{"0\n", "1\n", "2\n"});
}

TEST_CASE("none expected but refused: the connection fails with an auth error that says so", "[pipelining][go][sshd]") {
  const auto check_refused = [](const runtime::Result<std::shared_ptr<ssh::Connection>>& connection) {
    REQUIRE_FALSE(connection);
    INFO(connection.error().detailed());
    CHECK(connection.error().layer == runtime::Layer::auth);
    const auto* expected = connection.error().find_evidence("expected");
    REQUIRE(expected);
    CHECK(expected->text.find("none authentication to succeed") != std::string::npos);
  };
  auto options = as_user("coder");
  options.none_auth_expected = true;
  // Go's x/crypto/ssh ends the connection over the CHANNEL_OPEN once none has failed.
  check_refused(test::run(connect_through(std::string(CODER_RUNTIME_GO_SSHD) + " -password secret", options)));
  // sshd answers it with UNIMPLEMENTED and would go on: we stop, with the same error.
  test::LoggedInSshd sshd;
  auto sshd_options = sshd.options();
  sshd_options.none_auth_expected = true;
  check_refused(test::run(connect_through(sshd.proxy_command(), sshd_options)));
}

TEST_CASE("sshd: the signed publickey request behind none logs in, and a refused one lets the next key try",
          "[pipelining][sshd]") {
  test::LoggedInSshd sshd;
  auto options = sshd.options();
  // A key the server does not know goes first (pipelined and refused), the authorized one next.
  test::Sshd other;
  test::KeyLogin stranger("root", other);
  auto authorized = options.auth.identities;
  options.auth.identities = stranger.auth().identities;
  options.auth.identities.insert(options.auth.identities.end(), authorized.begin(), authorized.end());
  auto ran = test::run(guess_and_run(sshd.proxy_command(), options));
  INFO((ran ? "" : ran.error().detailed()));
  REQUIRE(ran);
  CHECK(ran->stdout_data == "keys work\n");
}

TEST_CASE("sshd: a spare session the server refuses (MaxSessions 1) leaves the session and the connection working",
          "[pipelining][sshd]") {
  test::LoggedInSshd sshd("MaxSessions 1");
  auto options = sshd.options();
  options.connection.spare_session = true;
  auto outcome = test::run([&]() -> asio::awaitable<std::string> {
    auto connection = co_await connect_through(sshd.proxy_command(), options);
    REQUIRE(connection);
    // The spare opened at start is this session; its replacement is refused while it runs.
    auto ran = co_await (*connection)->exec("echo 0");
    auto answered = co_await (*connection)->ping(runtime::Deadline::after(test::kConnectBudget));
    co_await (*connection)->close();
    co_return fmt::format("{}|{}", ran ? ran->stdout_data : ran.error().summary(),
                          answered ? "answered" : answered.error().summary());
  }());
  CHECK(outcome == "0\n|answered");
}

TEST_CASE("Go server: after close nothing of the connection holds the executor, a keepalive tick included",
          "[pipelining][go][keepalive]") {
  asio::io_context io;
  auto options = as_user("coder");
  options.connection.keepalive_interval = std::chrono::minutes(1);
  auto ran = test::run(io, [&]() -> asio::awaitable<std::string> {
    auto connection = co_await connect_through(CODER_RUNTIME_GO_SSHD, options);
    REQUIRE(connection);
    auto result = co_await (*connection)->exec("echo done");
    co_await (*connection)->close();
    co_return result ? result->stdout_data : result.error().summary();
  }());
  CHECK(ran == "done\n");
  // A client exits once its work is done: the io_context runs out of work instead of waiting
  // out the keepalive interval (run_for returns at the watchdog if anything still waits).
  io.restart();
  io.run_for(test::kWatchdog);
  CHECK(io.stopped());
}
