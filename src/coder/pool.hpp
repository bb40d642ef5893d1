#pragma once
// Connections shared per destination, the way the desktop app's pool shares them, minus its
// failure mode: one connection per key (user, host, port, identity); concurrent callers share one
// connect in flight; consecutive failures back off on the runtime's schedule (1, 2, 4, 7, 10 s,
// +-20%) and a caller waits through backoff at most max_wait, then gets the last attempt's own
// error (its layer and evidence), never a bare "in backoff". A connection that has failed (its
// keepalives went unanswered, the proxy died) is evicted at the next acquire; one nobody holds
// for idle_timeout is closed, and its ProxyCommand process ends with it.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>

#include "runtime/backoff.hpp"
#include "runtime/event.hpp"
#include "runtime/logging.hpp"
#include "ssh/connection.hpp"

namespace cr::coder {

struct PoolOptions {
  std::chrono::milliseconds idle_timeout{60000};
  // Its max_total_wait is how long one acquire waits through backoff (0: the first failure is
  // final).
  runtime::BackoffSchedule backoff;
  // Called whenever a connection leaves the pool (closed for idleness or by close(), or evicted).
  std::function<void()> on_closed;
  runtime::Logger log;
};

class ConnectionPool;

// A connection in use. While any lease on it lives, the pool does not close it for idleness.
class Lease {
 public:
  // Empty, holding nothing (what asio::co_spawn hands a completion handler with an exception).
  Lease() = default;
  Lease(std::shared_ptr<ConnectionPool> pool, std::string key, std::shared_ptr<ssh::Connection> connection);
  ~Lease();
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  ssh::Connection& operator*() const { return *connection_; }
  ssh::Connection* operator->() const { return connection_.get(); }
  const std::shared_ptr<ssh::Connection>& connection() const { return connection_; }
  explicit operator bool() const { return connection_ != nullptr; }

 private:
  std::shared_ptr<ConnectionPool> pool_;
  std::string key_;
  std::shared_ptr<ssh::Connection> connection_;
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  using Dialer = std::function<asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>>()>;

  static std::shared_ptr<ConnectionPool> create(asio::any_io_executor executor, PoolOptions options);

  // The key's connection, dialing it with `dial` when there is none. Cancellation and attempts
  // that were cancelled do not count as failures; nor do channel-level errors.
  asio::awaitable<runtime::Result<Lease>> acquire(std::string key, Dialer dial);
  // Closes every connection (and ends their proxy processes).
  asio::awaitable<void> close_all();
  // Closes the key's connection now, leased or not (its channels see the connection end); false
  // when it has none.
  asio::awaitable<bool> close(const std::string& key);

  struct Pooled {
    std::string key;
    std::shared_ptr<ssh::Connection> connection;
    runtime::Clock::time_point since;  // when it was connected
    std::size_t leases = 0;
  };
  // The live connections, by key.
  std::vector<Pooled> connections() const;

  std::size_t open_connections() const;
  std::size_t consecutive_failures(const std::string& key) const;

  ConnectionPool(asio::any_io_executor executor, PoolOptions options);

 private:
  friend class Lease;
  struct Entry;
  void release(const std::string& key);
  static asio::awaitable<void> close_when_idle(std::weak_ptr<ConnectionPool> weak, std::string key,
                                               std::shared_ptr<asio::steady_timer> idle);
  static bool counts_as_failure(const runtime::Error& error);

  asio::any_io_executor executor_;
  PoolOptions options_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace cr::coder
