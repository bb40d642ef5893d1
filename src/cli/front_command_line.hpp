#pragma once
// The command lines the front (front_main.cpp) runs itself: `exec [OPTIONS] WORKSPACE -- WORD...`
// in the plain form a script writes, read without CLI11 (whose start the front does not pay for).
// Anything else, a mistake included, is the full program's to read and report, so this reads only
// what it is sure CLI11 reads the same way (a test holds the two side by side).

#include <optional>
#include <span>
#include <string_view>

#include "cli/exec_command.hpp"

namespace cr::cli {

// `args`: the words after the program's name. nullopt: not a line the front runs. A -v line is
// left to the full program too: its logging is for a person looking, not for speed.
std::optional<ExecCommandOptions> read_front_exec(std::span<const std::string_view> args);

}  // namespace cr::cli
