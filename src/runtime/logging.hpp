#pragma once
// Logging through a sink the host provides. The library is silent until a host hands it one; the
// CLI installs a stderr sink for -v. Formatting happens only for enabled levels.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace cr::runtime {

enum class LogLevel { trace, debug, info, warning, error, off };

std::string_view to_string(LogLevel level);

using LogSink = std::function<void(LogLevel level, std::string_view component, std::string_view message)>;

class Logger {
 public:
  Logger() = default;  // silent
  Logger(LogSink sink, LogLevel threshold, std::string component = "coder-runtime")
      : sink_(std::make_shared<LogSink>(std::move(sink))), threshold_(threshold), component_(std::move(component)) {}

  bool enabled(LogLevel level) const { return sink_ && level >= threshold_ && level != LogLevel::off; }

  // The same sink and threshold under a sub-component name ("proxy" -> "coder-runtime.proxy").
  Logger child(std::string_view name) const {
    Logger copy = *this;
    copy.component_ = fmt::format("{}.{}", component_, name);
    return copy;
  }

  template <class... Args>
  void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) const {
    if (enabled(level)) (*sink_)(level, component_, fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void trace(fmt::format_string<Args...> f, Args&&... a) const {
    log(LogLevel::trace, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... a) const {
    log(LogLevel::debug, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... a) const {
    log(LogLevel::info, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void warning(fmt::format_string<Args...> f, Args&&... a) const {
    log(LogLevel::warning, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... a) const {
    log(LogLevel::error, f, std::forward<Args>(a)...);
  }

 private:
  std::shared_ptr<LogSink> sink_;
  LogLevel threshold_ = LogLevel::off;
  std::string component_ = "coder-runtime";
};

// "debug1: ..."-style lines on stderr, for the executable's -v flags.
LogSink stderr_sink();

}  // namespace cr::runtime
