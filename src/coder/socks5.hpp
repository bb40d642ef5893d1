#pragma once
// The server side of a SOCKS5 client's opening (RFC 1928), as ssh -D serves it: no
// authentication, CONNECT only, and a domain name passed on unresolved, for the SSH server to
// resolve where the connection is made.

#include <cstdint>

#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "ssh/connection.hpp"

namespace cr::coder {

// RFC 1928 section 6's reply codes that a dynamic forward sends.
enum class Socks5Reply : std::uint8_t {
  succeeded = 0,
  general_failure = 1,
  connection_refused = 5,
  command_not_supported = 7,
  address_type_not_supported = 8,
};

// Reads the client's greeting, answers it, and reads its request: where to connect. What is not
// such an opening fails with Errc::protocol_error quoting what arrived; a request it cannot serve
// is answered with its reply code first, as the RFC asks. Bounded by the deadline.
asio::awaitable<runtime::Result<ssh::DirectTcpip>> socks5_read_request(runtime::AsyncStream& client,
                                                                       runtime::Deadline deadline);
// Answers the request; after `succeeded` the stream carries the connection.
asio::awaitable<runtime::Result<void>> socks5_reply(runtime::AsyncStream& client, Socks5Reply reply);

}  // namespace cr::coder
