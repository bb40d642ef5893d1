#include "cli/progress_line.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "cli/local_terminal.hpp"

namespace cr::cli {
namespace {

// "812B", "4.0KB", "12MB", "1.1GB": scp's units, powers of 1024.
std::string bytes_text(double bytes) {
  constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{:.0f}{}", bytes, kUnits[unit]);
  return bytes < 10 ? fmt::format("{:.1f}{}", bytes, kUnits[unit]) : fmt::format("{:.0f}{}", bytes, kUnits[unit]);
}

std::string clock_text(std::chrono::seconds time) {
  const auto s = time.count();
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string format_progress(std::string_view name, std::uint64_t done, std::optional<std::uint64_t> total,
                            std::chrono::steady_clock::duration elapsed, bool finished, unsigned width) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string share = "    ";
  if (total) share = fmt::format("{:3}%", *total == 0 ? 100 : std::min<std::uint64_t>(100, done * 100 / *total));
  std::string time = "   --:-- ETA";
  if (finished) {
    time = fmt::format("{:>8}    ", clock_text(std::chrono::seconds(static_cast<long long>(seconds))));
  } else if (total && rate > 0 && *total >= done) {
    const auto left = std::chrono::seconds(static_cast<long long>(static_cast<double>(*total - done) / rate));
    time = fmt::format("{:>8} ETA", clock_text(left));
  }
  const auto figures =
      fmt::format(" {} {:>6} {:>7}/s {}", share, bytes_text(static_cast<double>(done)), bytes_text(rate), time);
  const std::size_t room = width > figures.size() + 1 ? width - figures.size() - 1 : 1;
  std::string label(name.substr(0, room));
  label.resize(room, ' ');
  return label + figures;
}

ProgressLine::ProgressLine(std::string name) : name_(std::move(name)) {}

void ProgressLine::update(std::uint64_t done, std::optional<std::uint64_t> total) {
  done_ = done;
  total_ = total;
  const auto now = std::chrono::steady_clock::now();
  if (now - drawn_ < std::chrono::milliseconds(100)) return;
  drawn_ = now;
  draw(false);
}

void ProgressLine::finish() { draw(true); }

void ProgressLine::draw(bool finished) {
  const auto line = format_progress(name_, done_, total_, std::chrono::steady_clock::now() - started_, finished,
                                    terminal_size().columns);
  write_stderr(fmt::format("\r{}\x1b[K{}", line, finished ? "\n" : ""));
}

}  // namespace cr::cli
