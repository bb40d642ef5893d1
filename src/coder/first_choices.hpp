#pragma once
// What each destination's server listed first in its KEXINIT (its key exchange and host key
// algorithm), remembered so that the next dial leads with them and its first_kex_packet_follows
// guess is right: the key exchange then takes one round trip instead of two. Kept in the process
// (the pool redials through it) and, when the caller names a file, across processes, since a CLI
// process dials once.
//
// The file holds a line per destination, `<SHA-256 of the destination, hex> <kex> <host key
// algorithm, or - when it is not to be led with>`, newest last, at most 256 lines, and is replaced atomically, only
// when a choice is new or changed. Destinations are hashed as HashKnownHosts hashes names, so the file does not say
// where the user goes. It is only a hint: a line that does not parse is dropped, a file that cannot be read or written
// is logged at debug level, and a wrong guess costs what not guessing costs.

#include <filesystem>
#include <optional>
#include <string>

#include "runtime/logging.hpp"
#include "ssh/algorithms.hpp"

namespace cr::coder {

// `destination` names where a connection goes (host, port, ProxyCommand); `file` may be empty.
std::optional<ssh::ServerFirstChoice> recall_first_choice(const std::string& destination,
                                                          const std::optional<std::filesystem::path>& file,
                                                          const runtime::Logger& log);
void remember_first_choice(const std::string& destination, const ssh::ServerFirstChoice& choice,
                           const std::optional<std::filesystem::path>& file, const runtime::Logger& log);

}  // namespace cr::coder
