#include "coder/pool.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace cr::coder {

using runtime::Clock;
using runtime::Errc;
using runtime::Error;

struct ConnectionPool::Entry {
  explicit Entry(asio::any_io_executor executor) : connect_ended(executor) {}
  std::shared_ptr<ssh::Connection> connection;
  Clock::time_point connected_at{};
  bool connecting = false;
  runtime::Event connect_ended;
  std::size_t failures = 0;  // consecutive
  Clock::time_point retry_at{};
  std::optional<Error> last_error;
  std::size_t leases = 0;
  // Runs while nobody holds the connection; a new lease or close_all cancels it, so no timer
  // outlives its purpose (or keeps the caller's io_context busy).
  std::shared_ptr<asio::steady_timer> idle_timer;
};

Lease::Lease(std::shared_ptr<ConnectionPool> pool, std::string key, std::shared_ptr<ssh::Connection> connection)
    : pool_(std::move(pool)), key_(std::move(key)), connection_(std::move(connection)) {}

Lease::~Lease() {
  if (pool_) pool_->release(key_);
}

std::shared_ptr<ConnectionPool> ConnectionPool::create(asio::any_io_executor executor, PoolOptions options) {
  return std::make_shared<ConnectionPool>(std::move(executor), std::move(options));
}

ConnectionPool::ConnectionPool(asio::any_io_executor executor, PoolOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

bool ConnectionPool::counts_as_failure(const Error& error) {
  return error.code != Errc::cancelled && error.layer != runtime::Layer::channel;
}

namespace {

Error cancelled_while(std::string_view what) {
  return Error(Errc::cancelled, runtime::Layer::runtime, fmt::format("cancelled while {}", what));
}

void close_in_background(asio::any_io_executor executor, std::shared_ptr<ssh::Connection> connection) {
  asio::co_spawn(
      executor, [connection]() -> asio::awaitable<void> { co_await connection->close(); }, asio::detached);
}

}  // namespace

asio::awaitable<runtime::Result<Lease>> ConnectionPool::acquire(std::string key, Dialer dial) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto started = Clock::now();
  const auto max_wait = options_.backoff.max_total_wait;
  auto& slot = entries_[key];
  if (!slot) slot = std::make_unique<Entry>(executor_);
  Entry& entry = *slot;  // entries are never erased while the pool lives
  for (;;) {
    if (entry.connection && entry.connection->failure()) {
      options_.log.info("evicting the connection for {}: {}", key, entry.connection->failure()->summary());
      close_in_background(executor_, std::move(entry.connection));
      entry.connection.reset();
      if (options_.on_closed) options_.on_closed();
    }
    if (entry.connection) {
      ++entry.leases;
      if (entry.idle_timer) {
        entry.idle_timer->cancel();
        entry.idle_timer.reset();
      }
      co_return Lease(shared_from_this(), key, entry.connection);
    }
    if (entry.connecting) {
      const bool ended = co_await entry.connect_ended.wait();
      if (!ended) co_return runtime::fail(cancelled_while(fmt::format("waiting for the connect to {} in flight", key)));
      continue;
    }
    const auto now = Clock::now();
    if (entry.failures > 0 && now < entry.retry_at) {
      const auto waited = std::chrono::duration_cast<runtime::Millis>(now - started);
      const auto wait = std::chrono::duration_cast<runtime::Millis>(entry.retry_at - now);
      if (waited + wait > max_wait) {
        Error error = *entry.last_error;
        error.context.push_back(fmt::format(
            "connecting to {}: {} consecutive failure{}; the next attempt is due in {}, past the {} a caller waits",
            key, entry.failures, entry.failures == 1 ? "" : "s", runtime::describe_budget(wait),
            runtime::describe_budget(max_wait)));
        co_return runtime::fail(std::move(error));
      }
      asio::steady_timer backoff(executor_, entry.retry_at);
      auto [interrupted] = co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (interrupted)
        co_return runtime::fail(cancelled_while(fmt::format("backing off before connecting to {}", key)));
      continue;
    }
    entry.connecting = true;
    auto dialed = co_await dial();
    entry.connecting = false;
    entry.connect_ended.notify();
    if (dialed) {
      entry.failures = 0;
      entry.last_error.reset();
      entry.connection = std::move(*dialed);
      entry.connected_at = Clock::now();
      continue;
    }
    if (!counts_as_failure(dialed.error())) co_return runtime::fail(std::move(dialed.error()));
    ++entry.failures;
    entry.retry_at = Clock::now() + options_.backoff.jittered_delay(entry.failures, random_);
    entry.last_error = dialed.error();
    options_.log.info("connecting to {} failed ({} in a row): {}", key, entry.failures, dialed.error().summary());
  }
}

void ConnectionPool::release(const std::string& key) {
  const auto found = entries_.find(key);
  if (found == entries_.end()) return;
  Entry& entry = *found->second;
  if (entry.leases > 0) --entry.leases;
  if (entry.leases > 0 || !entry.connection) return;
  if (entry.idle_timer) entry.idle_timer->cancel();
  entry.idle_timer = std::make_shared<asio::steady_timer>(executor_, options_.idle_timeout);
  asio::co_spawn(executor_, close_when_idle(weak_from_this(), key, entry.idle_timer), asio::detached);
}

asio::awaitable<void> ConnectionPool::close_when_idle(std::weak_ptr<ConnectionPool> weak, std::string key,
                                                      std::shared_ptr<asio::steady_timer> idle) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto [interrupted] = co_await idle->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  auto pool = weak.lock();
  if (interrupted || !pool) co_return;
  Entry& entry = *pool->entries_.at(key);
  if (entry.idle_timer != idle || entry.leases > 0 || !entry.connection) co_return;
  entry.idle_timer.reset();
  pool->options_.log.info("closing the connection for {}: idle for {}", key,
                          runtime::describe_budget(pool->options_.idle_timeout));
  auto connection = std::move(entry.connection);
  entry.connection.reset();
  co_await connection->close();
  if (pool->options_.on_closed) pool->options_.on_closed();
}

asio::awaitable<void> ConnectionPool::close_all() {
  for (const auto& [key, entry] : entries_) co_await close(key);
}

asio::awaitable<bool> ConnectionPool::close(const std::string& key) {
  const auto found = entries_.find(key);
  if (found == entries_.end() || !found->second->connection) co_return false;
  Entry& entry = *found->second;
  if (entry.idle_timer) {
    entry.idle_timer->cancel();
    entry.idle_timer.reset();
  }
  auto connection = std::move(entry.connection);
  entry.connection.reset();
  co_await connection->close();
  if (options_.on_closed) options_.on_closed();
  co_return true;
}

std::vector<ConnectionPool::Pooled> ConnectionPool::connections() const {
  std::vector<Pooled> live;
  for (const auto& [key, entry] : entries_) {
    if (entry->connection && !entry->connection->failure())
      live.push_back({key, entry->connection, entry->connected_at, entry->leases});
  }
  return live;
}

std::size_t ConnectionPool::open_connections() const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [](const auto& entry) { return entry.second->connection != nullptr; }));
}

std::size_t ConnectionPool::consecutive_failures(const std::string& key) const {
  const auto found = entries_.find(key);
  return found == entries_.end() ? 0 : found->second->failures;
}

}  // namespace cr::coder
