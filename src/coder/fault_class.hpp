#pragma once
// What kind of fault an error shows, read from its code, layer and evidence, so that doctor's
// advice follows what happened rather than the step it happened in: a stall inside the version
// exchange is a tunnel that stopped passing data, not an algorithm mismatch, and a MAC that does
// not verify is altered data, not a login problem.

#include <string>
#include <string_view>

#include "runtime/error.hpp"

namespace cr::coder {

enum class FaultClass {
  none,                  // nothing failed
  proxy_exited,          // the ProxyCommand exited with a failure: its status and stderr
  stream_ended,          // the far side closed the stream: what arrived, which way it closed
  disconnected,          // the server ended the connection and said why (DISCONNECT)
  stall,                 // the server stopped sending mid-handshake: the bytes so far, the last to arrive
  data_altered,          // a MAC or host key signature did not verify: a security warning
  not_ssh,               // what arrived is not an SSH version line
  old_ssh,               // an SSH server of a protocol version before 2.0
  no_common_algorithms,  // nothing in common in a category: both sides' lists
  auth_refused,          // the server refused the login: the methods it accepts
  refused,               // the server declined a channel or a request
  timed_out,             // the time given ran out with no other evidence
  other,
};

// "proxy_exited", "stream_ended", ...: the names doctor --json carries.
std::string_view to_string(FaultClass fault);

FaultClass classify_fault(const runtime::Error& error);

// What to do about `error`, of class `fault`, naming only what its evidence shows; empty for
// none and other, where the step's own advice stands.
std::string fault_remedy(FaultClass fault, const runtime::Error& error);

}  // namespace cr::coder
