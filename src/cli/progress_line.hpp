#pragma once
// A transfer's progress on one terminal line, redrawn in place as scp draws it: the name, the
// share done, the bytes so far, the rate and the time left (or taken, once done).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cr::cli {

// The line for `width` columns: the name cut (or padded) to what the figures leave.
std::string format_progress(std::string_view name, std::uint64_t done, std::optional<std::uint64_t> total,
                            std::chrono::steady_clock::duration elapsed, bool finished, unsigned width);

// Draws on stderr, which the caller has checked is a terminal; at most ten times a second.
class ProgressLine {
 public:
  explicit ProgressLine(std::string name);
  void update(std::uint64_t done, std::optional<std::uint64_t> total);
  // The final figures, and the line ends.
  void finish();

 private:
  void draw(bool finished);
  std::string name_;
  std::uint64_t done_ = 0;
  std::optional<std::uint64_t> total_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point drawn_{};
};

}  // namespace cr::cli
