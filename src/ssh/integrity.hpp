#pragma once
// Data the server sent that did not arrive as sent: a packet whose MAC does not match, or a host
// key signature that does not verify over the exchange hash (which both sides compute from the
// bytes each saw). Either means something between the two changed bytes: a relay or tunnel that
// corrupts them, or someone in the middle. Such errors carry the evidence "integrity".

#include <string>

#include "runtime/error.hpp"

namespace cr::ssh {

// `error` with the evidence "integrity": `failed_check`, what did not verify, as a sentence.
runtime::Error mark_altered(runtime::Error error, std::string failed_check);

// The error came from a check that found the server's data altered on the way.
bool data_altered(const runtime::Error& error);

}  // namespace cr::ssh
