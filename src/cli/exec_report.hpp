#pragma once
// What `coder-runtime exec` prints and the exit code it gives, whether the command ran on a
// connection of its own or through the connection holder: raw streams and lines on stderr, or
// with --json one JSON object per event on stdout.

#include <string>
#include <string_view>

#include "coder/operations.hpp"
#include "runtime/logging.hpp"

namespace cr::cli {

inline constexpr int kExitTimedOut = 124;
inline constexpr int kExitCoderFailed = 125;
inline constexpr int kExitCancelled = 130;

class Reporter {
 public:
  explicit Reporter(bool json) : json_(json) {}

  // Without --json, progress is the ReadinessDisplay's.
  void progress(const std::string& text) const;
  // A warning (the Coder CLI's version mismatch): a line on stderr, or an event. On a terminal
  // the line first clears the spinner's.
  void warning(const std::string& text, bool terminal) const;
  void output(std::string_view stream, std::string_view data) const;
  // Prints the error and returns exit_code.
  int failure(const runtime::Error& error, int exit_code, const runtime::Logger& log) const;
  // The exit event (--json), or a line on stderr when the command did not exit by itself.
  void exit(const coder::ExecOutcome& outcome, int exit_code) const;

 private:
  bool json_;
};

// The command's own exit code, or ours: 124 timed out, 130 cancelled, 255 no status.
int exit_code_of(const coder::ExecOutcome& outcome);
// 130 for a cancellation, `otherwise` for any other error.
int exit_code_for(const runtime::Error& error, int otherwise);

}  // namespace cr::cli
