#pragma once
// OpenSSH's patterns (ssh_config(5) PATTERNS): '*' matches any run of characters, '?' exactly one.
// Used for algorithm list edits, known_hosts host patterns and ssh_config Host lines.

#include <string_view>

namespace cr::ssh {

bool match_pattern(std::string_view text, std::string_view pattern);

}  // namespace cr::ssh
