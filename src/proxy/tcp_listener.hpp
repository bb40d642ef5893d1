#pragma once
// A listening TCP socket whose connections come as AsyncStreams: the local end of a forwarded port
// (ssh -L, -D). Bound to loopback unless told otherwise: IPv4's and, where there is IPv6, ::1 on
// the same port, as ssh binds.

#include <cstdint>
#include <memory>
#include <string>

#include "proxy/stream_listener.hpp"
#include "runtime/async_stream.hpp"

namespace cr::proxy {

class TcpListener : public StreamListener {
 public:
  // Errors: Layer::network, Errc::io_error naming the address and the OS reason (in use, denied).
  // An empty address and "localhost" bind loopback (127.0.0.1, and ::1 where it can), "*" every
  // address (0.0.0.0, and :: where it can); an address binds that address alone. Port 0 takes a
  // free port (see port()), the same for both.
  static runtime::Result<std::unique_ptr<TcpListener>> bind(asio::any_io_executor executor, std::string address,
                                                            std::uint16_t port);
  // accept() sets TCP_NODELAY on each connection; a waiting accept() ends (cancelled) on close().
  virtual std::uint16_t port() const = 0;
};

}  // namespace cr::proxy
