// The connection pool against the Go server (the Coder agent's library) through a ProxyCommand:
// one connect in flight shared by every caller, backoff bounded by max_wait with the last error
// kept whole, idle connections closed with their proxy process, and dead ones evicted.

#include <csignal>
#include <set>

#include <asio/co_spawn.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "coder/pool.hpp"
#include "support/files.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

ssh::ClientOptions none_auth() {
  ssh::ClientOptions options;
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.auth.user = "coder";
  return options;
}

// The Go server behind a shell that records its pid, so a test can see the process end.
struct RecordedServer {
  test::TemporaryDirectory dir{"pool_test"};
  std::filesystem::path pid_file = dir.path() / "server.pid";
  std::string proxy_command() const {
    return fmt::format("sh -c 'echo $$ > {}; exec {}'", pid_file.string(), CODER_RUNTIME_GO_SSHD);
  }
  pid_t pid() const { return static_cast<pid_t>(std::stoi(test::read_text(pid_file))); }
};

coder::ConnectionPool::Dialer counting_dialer(std::string proxy_command, int& dials) {
  return [proxy_command, &dials]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    ++dials;
    auto command = proxy_command;
    auto options = none_auth();
    co_return co_await test::connect_through(std::move(command), std::move(options));
  };
}

coder::ConnectionPool::Dialer failing_dialer(int& dials, runtime::Errc code = runtime::Errc::spawn_failed) {
  return [&dials, code]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    ++dials;
    co_return runtime::fail(
        std::move(runtime::Error(code, runtime::Layer::proxy, fmt::format("attempt {} failed", dials))
                      .with("stderr", "workspace not found")));
  };
}

coder::PoolOptions fixed_backoff(std::vector<runtime::Millis> table, runtime::Millis max_wait) {
  coder::PoolOptions options;
  options.backoff.table = std::move(table);
  options.backoff.jitter = 0;
  options.backoff.cap = 10s;
  options.backoff.max_total_wait = max_wait;
  return options;
}

// Polls `done` every 10 ms until it holds or the budget runs out: a condition with a deadline.
asio::awaitable<bool> eventually(std::function<bool()> done, std::chrono::milliseconds budget = 5s) {
  auto executor = co_await asio::this_coro::executor;
  const auto deadline = runtime::Clock::now() + budget;
  while (!done()) {
    if (runtime::Clock::now() > deadline) co_return false;
    asio::steady_timer tick(executor, 10ms);
    co_await tick.async_wait(asio::use_awaitable);
  }
  co_return true;
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0; }

}  // namespace

TEST_CASE("pool: callers at once share one connect in flight and one connection", "[pool][go]") {
  int dials = 0;
  auto shared = test::run([&]() -> asio::awaitable<std::size_t> {
    auto executor = co_await asio::this_coro::executor;
    auto pool = coder::ConnectionPool::create(executor, {});
    std::vector<std::shared_ptr<ssh::Connection>> got(8);
    int finished = 0;
    runtime::Event done(executor);
    for (std::size_t i = 0; i < got.size(); ++i) {
      auto acquiring = pool->acquire("coder@ws", counting_dialer(CODER_RUNTIME_GO_SSHD, dials));
      asio::co_spawn(executor, std::move(acquiring), [&, i](std::exception_ptr, runtime::Result<coder::Lease> lease) {
        if (lease) got[i] = lease->connection();
        ++finished;
        done.notify();
      });
    }
    while (finished < static_cast<int>(got.size())) co_await done.wait();
    std::set<ssh::Connection*> distinct;
    for (const auto& connection : got) distinct.insert(connection.get());
    co_await pool->close_all();
    co_return distinct.count(nullptr) ? 0 : distinct.size();
  }());
  CHECK(dials == 1);
  CHECK(shared == 1);
}

TEST_CASE("pool: backoff between failures, bounded by max_wait, ends with the last error whole", "[pool]") {
  int dials = 0;
  auto acquired = test::run([&]() -> asio::awaitable<runtime::Result<bool>> {
    auto executor = co_await asio::this_coro::executor;
    auto pool = coder::ConnectionPool::create(executor, fixed_backoff({100ms, 200ms}, 450ms));
    auto lease_dialer = failing_dialer(dials);
    std::string lease_key = "coder@ws";
    auto lease = co_await pool->acquire(std::move(lease_key), std::move(lease_dialer));
    CHECK(pool->consecutive_failures("coder@ws") == 3);
    if (!lease) co_return runtime::fail(std::move(lease.error()));
    co_return true;
  }());
  REQUIRE_FALSE(acquired);
  // Attempts at 0, 100 and 300 ms; the next would come at 500 ms, past the 450 ms a caller waits.
  CHECK(dials == 3);
  const auto& error = acquired.error();
  CHECK(error.layer == runtime::Layer::proxy);
  CHECK(error.message == "attempt 3 failed");
  REQUIRE(error.find_evidence("stderr"));
  CHECK(error.find_evidence("stderr")->text == "workspace not found");
  REQUIRE_FALSE(error.context.empty());
  CHECK_THAT(error.context.back(), Catch::Contains("3 consecutive failures"));
}

TEST_CASE("pool: max_wait 0 makes the first failure final, and cancelled attempts do not count", "[pool]") {
  int dials = 0;
  test::run([&]() -> asio::awaitable<bool> {
    auto executor = co_await asio::this_coro::executor;
    auto pool = coder::ConnectionPool::create(executor, fixed_backoff({100ms}, 0ms));
    auto first_dialer = failing_dialer(dials);
    std::string first_key = "a";
    auto first = co_await pool->acquire(std::move(first_key), std::move(first_dialer));
    CHECK_FALSE(first);
    CHECK(dials == 1);
    auto cancelled_dialer = failing_dialer(dials, runtime::Errc::cancelled);
    std::string cancelled_key = "b";
    auto cancelled = co_await pool->acquire(std::move(cancelled_key), std::move(cancelled_dialer));
    CHECK_FALSE(cancelled);
    CHECK(pool->consecutive_failures("b") == 0);
    co_return true;
  }());
}

TEST_CASE("pool: an idle connection is closed after idle_timeout, and its proxy process ends", "[pool][go]") {
  RecordedServer server;
  int dials = 0;
  auto outcome = test::run([&]() -> asio::awaitable<std::pair<bool, std::size_t>> {
    auto executor = co_await asio::this_coro::executor;
    coder::PoolOptions options;
    options.idle_timeout = 100ms;
    auto pool = coder::ConnectionPool::create(executor, options);
    pid_t pid = 0;
    {
      auto lease_dialer = counting_dialer(server.proxy_command(), dials);
      std::string lease_key = "coder@ws";
      auto lease = co_await pool->acquire(std::move(lease_key), std::move(lease_dialer));
      REQUIRE(lease);
      pid = server.pid();
      CHECK_FALSE(process_gone(pid));
    }
    std::function<bool()> gone = [pid] { return process_gone(pid); };
    const bool ended = co_await eventually(std::move(gone));
    co_return std::pair{ended, pool->open_connections()};
  }());
  CHECK(outcome.first);
  CHECK(outcome.second == 0);
}

TEST_CASE("pool: a connection whose server died is evicted and the next caller gets a new one", "[pool][go]") {
  RecordedServer server;
  int dials = 0;
  test::run([&]() -> asio::awaitable<bool> {
    auto executor = co_await asio::this_coro::executor;
    auto pool = coder::ConnectionPool::create(executor, {});
    auto first_dialer = counting_dialer(server.proxy_command(), dials);
    std::string first_key = "coder@ws";
    auto first = co_await pool->acquire(std::move(first_key), std::move(first_dialer));
    REQUIRE(first);
    REQUIRE(::kill(server.pid(), SIGKILL) == 0);
    auto connection = first->connection();
    std::function<bool()> failed = [connection] { return connection->failure().has_value(); };
    const bool noticed = co_await eventually(std::move(failed));
    CHECK(noticed);
    auto second_dialer = counting_dialer(server.proxy_command(), dials);
    std::string second_key = "coder@ws";
    auto second = co_await pool->acquire(std::move(second_key), std::move(second_dialer));
    REQUIRE(second);
    CHECK(second->connection() != connection);
    auto ran = co_await (*second)->exec("echo again");
    REQUIRE(ran);
    CHECK(ran->stdout_data == "again\n");
    co_await pool->close_all();
    co_return true;
  }());
  CHECK(dials == 2);
}
