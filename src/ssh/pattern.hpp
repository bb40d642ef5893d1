#pragma once
// OpenSSH's patterns (ssh_config(5) PATTERNS): '*' matches any run of characters, '?' exactly one.
// Used for algorithm list edits, known_hosts host patterns and ssh_config Host lines.

#include <string_view>

namespace cr::ssh {

bool match_pattern(std::string_view text, std::string_view pattern);

// A comma-separated pattern-list as OpenSSH's match_hostname reads it: case-insensitive, any
// pattern may be negated with '!', and a matching negated pattern vetoes the whole list.
bool match_pattern_list(std::string_view name, std::string_view patterns);

}  // namespace cr::ssh
