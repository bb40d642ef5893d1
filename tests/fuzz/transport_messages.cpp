// Everything after the first key exchange, fed arbitrary server bytes under the null cipher: a
// Transport made directly keeps the "none" cipher and MAC of the state before the first NEWKEYS,
// so the input is plain packets. The client authenticates (none, then password and
// keyboard-interactive), opens a session and runs a command with a variable and stdin, as
// the server's messages allow: the transport's message loop (IGNORE, DEBUG, EXT_INFO,
// UNIMPLEMENTED, DISCONNECT, a key re-exchange the server starts), authentication, the connection's
// dispatch, channels, flow control and the session's requests and exit.

#include "fuzz/session_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cr::fuzz::fuzz_against_server_bytes({data, size}, cr::fuzz::authenticate_and_exec,
                                      cr::fuzz::Pacing::packet_by_packet);
  return 0;
}
