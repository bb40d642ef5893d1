#pragma once
// A listening TCP socket whose connections come as AsyncStreams: the local end of a forwarded port
// (ssh -L, -D). Bound to IPv4's loopback address unless told otherwise (ssh binds ::1 as well).

#include <cstdint>
#include <memory>
#include <string>

#include "proxy/stream_listener.hpp"
#include "runtime/async_stream.hpp"

namespace cr::proxy {

class TcpListener : public StreamListener {
 public:
  // Errors: Layer::network, Errc::io_error naming the address and the OS reason (in use, denied).
  // An empty address, "localhost" and "127.0.0.1" bind IPv4 loopback; "*" (or "0.0.0.0") binds
  // every IPv4 address, "::1" and "::" the IPv6 ones. Port 0 takes a free port (see port()).
  static runtime::Result<std::unique_ptr<TcpListener>> bind(asio::any_io_executor executor, std::string address,
                                                            std::uint16_t port);
  // accept() sets TCP_NODELAY on each connection; a waiting accept() ends (cancelled) on close().
  virtual std::uint16_t port() const = 0;
};

}  // namespace cr::proxy
