#pragma once
// Asking the person at the terminal for a secret (a passphrase, a password), as ssh does: on the
// controlling terminal (/dev/tty) with echo off, never on stdin, which carries the session's data.
// Without a terminal there is no one to ask, and the answer is nullopt.

#include <optional>
#include <string>
#include <string_view>

namespace cr::cli {

std::optional<std::string> ask_secret(std::string_view prompt);

}  // namespace cr::cli
