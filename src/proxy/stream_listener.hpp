#pragma once
// Where a forward takes local connections from: a TCP port (tcp_listener.hpp) or a local endpoint
// (local_endpoint.hpp: a Unix socket, or a named pipe on Windows). Each connection comes as an
// AsyncStream.

#include <memory>
#include <string>

#include <asio/awaitable.hpp>

#include "runtime/async_stream.hpp"

namespace cr::proxy {

class StreamListener {
 public:
  virtual ~StreamListener() = default;

  // The next connection; cancellable. After close() it fails.
  virtual asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> accept() = 0;
  // Stops listening at once: what it listened on is free when it returns.
  virtual void close() = 0;
  virtual std::string describe() const = 0;  // "127.0.0.1:8080", "unix /run/app.sock"
};

}  // namespace cr::proxy
