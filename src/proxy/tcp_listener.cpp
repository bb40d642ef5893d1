#include "proxy/tcp_listener.hpp"

#include <chrono>
#include <deque>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>

#include "proxy/socket_stream.hpp"
#include "runtime/event.hpp"

namespace cr::proxy {
namespace {

using asio::ip::tcp;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;

std::string endpoint_name(const tcp::endpoint& local) {
  return local.address().is_v6() ? fmt::format("[{}]:{}", local.address().to_string(), local.port())
                                 : fmt::format("{}:{}", local.address().to_string(), local.port());
}

using Accepted = runtime::Result<std::unique_ptr<runtime::AsyncStream>>;

// One port on one address, or on IPv4's and IPv6's alike (loopback, or every address), as ssh
// listens. accept() has each acceptor accept one connection, at most, into one queue that it
// takes from: no connection waits on the other address's accept, none is lost to a cancelled
// accept(), and those not asked for wait in the kernel's backlog, not as descriptors of ours.
class AsioTcpListener final : public TcpListener {
 public:
  AsioTcpListener(asio::any_io_executor executor, std::vector<tcp::acceptor> acceptors)
      : shared_(std::make_shared<Shared>(std::move(executor), std::move(acceptors))) {
    const auto local = shared_->acceptors.front().local_endpoint();
    port_ = local.port();
    shared_->name = endpoint_name(local);
  }
  ~AsioTcpListener() override { close(); }
  AsioTcpListener(const AsioTcpListener&) = delete;
  AsioTcpListener& operator=(const AsioTcpListener&) = delete;

  asio::awaitable<Accepted> accept() override {
    auto shared = shared_;  // this listener may be gone when a wait ends
    for (;;) {
      if (!shared->ready.empty()) {
        auto accepted = std::move(shared->ready.front());
        shared->ready.pop_front();
        co_return accepted;
      }
      if (shared->closed) {
        co_return runtime::fail(Errc::cancelled, Layer::network, fmt::format("{} was closed", shared->name));
      }
      for (std::size_t i = 0; i < shared->acceptors.size(); ++i) {
        if (shared->accepting[i]) continue;
        shared->accepting[i] = true;
        asio::co_spawn(shared->executor, accept_one(shared, i), asio::detached);
      }
      const bool woken = co_await shared->arrived.wait();
      if (!woken) {
        co_return runtime::fail(Errc::cancelled, Layer::network,
                                fmt::format("accepting on {} cancelled", shared->name));
      }
    }
  }
  void close() override {
    if (shared_->closed) return;
    shared_->closed = true;
    for (auto& acceptor : shared_->acceptors) {
      std::error_code ignored;
      acceptor.close(ignored);
    }
    for (auto& pause : shared_->pauses) pause.cancel();
    shared_->ready.clear();
    shared_->arrived.notify();
  }
  std::uint16_t port() const override { return port_; }
  std::string describe() const override { return shared_->name; }

 private:
  struct Shared {
    Shared(asio::any_io_executor ex, std::vector<tcp::acceptor> all)
        : executor(std::move(ex)), acceptors(std::move(all)), accepting(acceptors.size(), false), arrived(executor) {
      for (std::size_t i = 0; i < acceptors.size(); ++i) pauses.emplace_back(executor);
    }
    asio::any_io_executor executor;
    std::vector<tcp::acceptor> acceptors;
    std::vector<bool> accepting;
    std::deque<Accepted> ready;
    runtime::Event arrived;
    std::vector<asio::steady_timer> pauses;
    std::string name;
    bool closed = false;
  };

  // One connection on acceptors[index]. As ssh, a failed accept (no descriptors or buffers for
  // now, a network error about one connection) is tried again a second later; only closing ends it.
  static asio::awaitable<void> accept_one(std::shared_ptr<Shared> shared, std::size_t index) {
    for (;;) {
      auto [ec, socket] = co_await shared->acceptors[index].async_accept(as_tuple);
      if (shared->closed) co_return;
      if (ec) {
        auto& pause = shared->pauses[index];
        pause.expires_after(std::chrono::seconds(1));
        co_await pause.async_wait(as_tuple);
        if (shared->closed) co_return;
        continue;
      }
      std::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      const auto local = socket.local_endpoint(ignored);
      const auto peer = socket.remote_endpoint(ignored);
      auto described = fmt::format("tcp {} from {}", endpoint_name(local), endpoint_name(peer));
      shared->ready.push_back(std::make_unique<SocketStream<tcp::socket>>(std::move(socket), std::move(described)));
      shared->accepting[index] = false;
      shared->arrived.notify();
      co_return;
    }
  }

  std::shared_ptr<Shared> shared_;
  std::uint16_t port_ = 0;  // kept: a closed acceptor has no endpoint
};

tcp::acceptor open_acceptor(const asio::any_io_executor& executor, const tcp::endpoint& endpoint, std::error_code& ec) {
  tcp::acceptor acceptor(executor);
  acceptor.open(endpoint.protocol(), ec);
#ifndef _WIN32
  // A port whose last connections are in TIME_WAIT can be listened on again at once. (Windows'
  // SO_REUSEADDR would let another process take a port in use: not there.)
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
#endif
  // IPv6's side of a dual listener takes IPv6 alone: IPv4 has its own.
  if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return acceptor;
}

runtime::Result<asio::ip::address> bind_address(const std::string& address) {
  if (address.empty() || address == "localhost") return asio::ip::address(asio::ip::address_v4::loopback());
  if (address == "*") return asio::ip::address(asio::ip::address_v4::any());
  std::error_code ec;
  auto parsed = asio::ip::make_address(address, ec);
  if (ec) {
    return runtime::fail(Errc::invalid_argument, Layer::network,
                         fmt::format("'{}' is not an address to listen on (an IP address, localhost or *)", address));
  }
  return parsed;
}

}  // namespace

runtime::Result<std::unique_ptr<TcpListener>> TcpListener::bind(asio::any_io_executor executor, std::string address,
                                                                std::uint16_t port) {
  auto ip = bind_address(address);
  if (!ip) return runtime::fail(std::move(ip.error()));
  std::error_code ec;
  std::vector<tcp::acceptor> acceptors;
  acceptors.push_back(open_acceptor(executor, tcp::endpoint(*ip, port), ec));
  if (ec) {
    return runtime::fail(std::move(Error(Errc::io_error, Layer::network,
                                         fmt::format("cannot listen on {} port {}: {}",
                                                     address.empty() ? "localhost" : address, port, ec.message()))
                                       .with_system(ec)));
  }
  // Loopback and every address are IPv6's too, on the same port, where the machine has IPv6 and
  // the port is free there; a name that resolves to ::1 first then reaches the forward.
  if (address.empty() || address == "localhost" || address == "*") {
    const auto v6 = address == "*" ? asio::ip::address_v6::any() : asio::ip::address_v6::loopback();
    std::error_code v6_ec;
    auto second = open_acceptor(executor, tcp::endpoint(v6, acceptors.front().local_endpoint().port()), v6_ec);
    if (!v6_ec) acceptors.push_back(std::move(second));
  }
  return std::unique_ptr<TcpListener>(std::make_unique<AsioTcpListener>(std::move(executor), std::move(acceptors)));
}

}  // namespace cr::proxy
