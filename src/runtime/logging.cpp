#include "runtime/logging.hpp"

#include <cstdio>

namespace cr::runtime {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return "trace";
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
    case LogLevel::off:
      return "off";
  }
  return "unknown";
}

LogSink stderr_sink() {
  return [](LogLevel level, std::string_view component, std::string_view message) {
    fmt::print(stderr, "{} [{}] {}\n", to_string(level), component, message);
  };
}

}  // namespace cr::runtime
