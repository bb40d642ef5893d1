#pragma once
// A TCP connection as an AsyncStream: resolve, try each address in turn within one deadline, and
// set TCP_NODELAY (SSH sends many small packets; Nagle would hold them back a round trip).

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "runtime/logging.hpp"

namespace cr::proxy {

asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_tcp(std::string host,
                                                                                    std::uint16_t port,
                                                                                    runtime::Deadline deadline,
                                                                                    runtime::Logger log = {});

}  // namespace cr::proxy
