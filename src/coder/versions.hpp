#pragma once
// Coder's version rules. The CLI and the server "match" when major.minor are equal (patch,
// pre-release and build metadata do not count) and a dev build (v0.0.0) matches anything; the CLI
// says so itself with "version mismatch: client vX, server vY" on stderr after its first HTTP
// call. We also require a CLI of at least 2.25.0, the oldest whose `ssh --stdio` and JSON output
// the desktop app we replace relies on.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "coder/cli_driver.hpp"
#include "runtime/error.hpp"

namespace cr::coder {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string text;  // as the CLI printed it, e.g. "v2.31.6+abcdef0"

  bool is_dev() const { return text.find("v0.0.0") != std::string::npos || (major == 0 && minor == 0 && patch == 0); }
};

// "v2.31.6+abcdef0", "2.25.0", "v2.30.0-rc.1": a leading v is dropped and everything from the first
// '-' or '+' on is ignored; then three dot-separated whole numbers (a missing patch reads as 0).
std::optional<Version> parse_version(std::string_view text);

// `coder version --output json`: its "version" field.
runtime::Result<Version> parse_version_output(std::string_view json_text);

struct MismatchWarning {
  std::string client;
  std::string server;
};
// The CLI's "version mismatch: client vX, server vY" line, colour codes and all, anywhere in stderr.
std::optional<MismatchWarning> find_mismatch_warning(std::string_view stderr_text);

// The compatibility rule above, on version strings as the CLI prints them.
bool versions_compatible(std::string_view client, std::string_view server);

inline constexpr std::string_view kMinimumCliVersion = "2.25.0";
// Numerically, major then minor then patch. A dev build passes: it is built from current sources.
bool meets_minimum(const Version& version, std::string_view minimum = kMinimumCliVersion);

enum class MismatchPolicy { warn, fail };

struct VersionReport {
  Version client;
  std::optional<std::string> server;   // when the CLI told us (only on a mismatch)
  std::optional<std::string> warning;  // the mismatch, both versions and the remedy, under `warn`
  std::string username;                // from whoami, when it said
};

// The mismatch as one message: both versions and what to do about it.
std::string describe_mismatch(const MismatchWarning& mismatch);

// Decides on what the CLI said: its version, and the stderr of a command that talked to the
// server. Too old a CLI is always an error; a mismatch is an error under `fail`, else a warning.
runtime::Result<VersionReport> judge_versions(const Version& client, std::string_view server_stderr,
                                              MismatchPolicy policy);

struct VersionCheckOptions {
  MismatchPolicy policy = MismatchPolicy::warn;
  std::chrono::milliseconds command_timeout{30000};
};

// Runs `coder version --output json`, then `coder whoami --output json` (which also shows that
// the CLI is logged in, and whose stderr carries the mismatch warning), and judges them.
asio::awaitable<runtime::Result<VersionReport>> check_versions(const CoderCli& cli, VersionCheckOptions options = {});

}  // namespace cr::coder
