#pragma once
// The handshake's stall budget. Before the server's first byte a wait may be long and legitimate
// (a Coder CLI starting the workspace, a tunnel being set up); once bytes flow, a server that
// sends nothing for seconds while we wait on it has stalled: its relay or tunnel stopped passing
// data. Such a read fails at once with what it had seen, instead of waiting out the whole connect
// budget and blaming the step it was in.

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/async_stream.hpp"

namespace cr::ssh {

// One read_some, bounded by `budget`: Errc::timed_out with the evidence "stalled" ("no data for
// 10 s after 1234 bytes") and "last arrived" (`last_arrived`) when nothing came in time.
asio::awaitable<runtime::Result<std::size_t>> read_some_within(runtime::AsyncStream& stream, runtime::Bytes buffer,
                                                               std::chrono::milliseconds budget, std::uint64_t received,
                                                               std::string last_arrived);

// The error came from a read that ran out of its stall budget.
bool stalled(const runtime::Error& error);

// "SSH_MSG_KEXINIT (20)": a message by its RFC name, for what arrived last (before a stall, or
// before the stream ended).
std::string describe_message(std::uint8_t type);

}  // namespace cr::ssh
