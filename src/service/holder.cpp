// Serving as the holder, on either platform, once its endpoint is ours.

#include <csignal>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>

#include "runtime/event.hpp"
#include "service/detail/holder_serve.hpp"

namespace cr::service::detail {
namespace {

asio::awaitable<void> accept_clients(proxy::LocalListener& listener, std::shared_ptr<Server> server) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto client = co_await listener.accept();
    if (!client) co_return;
    asio::co_spawn(executor, server->serve(std::move(*client)), asio::detached);
  }
}

// Until a client asks the holder to stop, or it has been idle (no client, no connection) for
// `linger`.
asio::awaitable<void> hold(std::shared_ptr<Server> server, std::chrono::milliseconds linger) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer alarm(executor);
  std::optional<runtime::Clock::time_point> idle_since = runtime::Clock::now();
  while (!server->stop_requested()) {
    const bool idle = server->clients() == 0 && server->open_connections() == 0;
    if (!idle) {
      idle_since.reset();
    } else if (!idle_since) {
      idle_since = runtime::Clock::now();
    }
    if (idle && runtime::Clock::now() >= *idle_since + linger) co_return;
    if (idle) {
      alarm.expires_at(*idle_since + linger);
      alarm.async_wait([server](std::error_code ec) {
        if (!ec) server->changed().notify();
      });
    }
    co_await server->changed().wait();
    alarm.cancel();
  }
}

}  // namespace

asio::awaitable<int> serve_holder(std::unique_ptr<proxy::LocalListener> listener, HolderOptions options,
                                  std::function<void()> ready) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  const auto log = options.server.log;
  auto server = Server::create(executor, options.server);
#ifdef _WIN32
  asio::signal_set signals(executor, SIGTERM, SIGINT);
#else
  asio::signal_set signals(executor, SIGTERM, SIGINT, SIGHUP);
#endif
  signals.async_wait([server](std::error_code ec, int) {
    if (!ec) server->request_stop();
  });
  // The accept loop uses the listener: it must have ended before the listener goes.
  bool accepting = true;
  runtime::Event accept_ended(executor);
  asio::co_spawn(executor, accept_clients(*listener, server), [&](std::exception_ptr) {
    accepting = false;
    accept_ended.notify();
  });
  log.info("holder serving {}", options.paths.endpoint);
  ready();
  co_await hold(server, options.linger);
  listener->close();
  while (accepting) co_await accept_ended.wait();
  signals.cancel();
  co_await server->stop();
  log.info("holder done");
  co_return 0;
}

}  // namespace cr::service::detail

namespace cr::service {

int run_holder(HolderOptions options) {
  asio::io_context io;
  int exit_code = 1;
  asio::co_spawn(io, detail::hold_endpoint(std::move(options)), [&](std::exception_ptr e, int code) {
    if (e) std::rethrow_exception(e);
    exit_code = code;
  });
  io.run();
  return exit_code;
}

}  // namespace cr::service
