#pragma once
// A digest for naming things after a destination without writing the destination itself, as
// OpenSSH's ControlPath %C does (the remembered first choices key their lines by it).

#include <string>
#include <string_view>

namespace cr::ssh {

// SHA-256 of `text`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view text);

}  // namespace cr::ssh
