#pragma once
// OpenSSH's connection sharing options, as `-o Name=value` on the commands that share a
// connection: ControlMaster (auto, yes, ask or autoask: use the holder, starting one when there
// is none; no: a connection of this process's own), ControlPersist (how long an unused connection stays: yes,
// no, or a time such as 600, 10m, 1h) and ControlPath (the holder's socket, or none).

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/error.hpp"

namespace cr::cli {

struct ControlOptions {
  bool shared = true;  // ControlMaster other than no
  std::chrono::milliseconds persist{std::chrono::minutes(10)};
  std::optional<std::string> path;  // unset: the holder's default
};

// Each of `options` is "Name=value" or "Name value"; a name other than the three is an error, as
// is a value they do not take.
runtime::Result<ControlOptions> parse_control_options(const std::vector<std::string>& options);

// "600s" as the holder's own command line takes ControlPersist back.
std::string persist_argument(std::chrono::milliseconds persist);

}  // namespace cr::cli
