#include "cli/exec_report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"

namespace cr::cli {
namespace {

// Invalid UTF-8 from a command's output is replaced, not fatal.
void emit(const nlohmann::json& event) {
  write_stdout(event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace

void Reporter::progress(const std::string& text) const {
  if (json_) emit({{"event", "progress"}, {"text", text}});
}

void Reporter::warning(const std::string& text, bool terminal) const {
  if (json_) return emit({{"event", "warning"}, {"message", text}});
  write_stderr(fmt::format("{}coder-runtime: warning: {}\n", terminal ? "\r\x1b[K" : "", text));
}

void Reporter::output(std::string_view stream, std::string_view data) const {
  if (json_) return emit({{"event", stream}, {"data", std::string(data)}});
  if (stream == "stdout") {
    write_stdout(data);
  } else {
    write_stderr(data);
  }
}

int Reporter::failure(const runtime::Error& error, int exit_code, const runtime::Logger& log) const {
  if (json_) {
    nlohmann::json evidence = nlohmann::json::object();
    for (const auto& e : error.evidence) evidence[e.label] = e.text;
    emit({{"event", "error"},
          {"layer", std::string(to_string(error.layer))},
          {"message", error.message},
          {"evidence", evidence},
          {"exit_code", exit_code}});
  } else {
    write_stderr(fmt::format("coder-runtime: {}\n", error.summary()));
    if (log.enabled(runtime::LogLevel::debug)) write_stderr(error.detailed());
  }
  return exit_code;
}

void Reporter::exit(const coder::ExecOutcome& outcome, int exit_code) const {
  if (json_) {
    nlohmann::json event{{"event", "exit"},
                         {"end", std::string(coder::to_string(outcome.end))},
                         {"exit_code", exit_code},
                         {"duration_ms", outcome.duration.count()}};
    if (outcome.exit_code) event["status"] = *outcome.exit_code;
    if (outcome.signal) event["signal"] = outcome.signal->name;
    return emit(event);
  }
  if (outcome.end == coder::ExecEnd::exited) return;
  const auto signal = outcome.signal ? fmt::format(" (signal {})", outcome.signal->name) : std::string();
  write_stderr(fmt::format("coder-runtime: the command {} after {}{}\n", coder::to_string(outcome.end),
                           runtime::describe_budget(outcome.duration), signal));
}

int exit_code_of(const coder::ExecOutcome& outcome) {
  switch (outcome.end) {
    case coder::ExecEnd::exited:
      return *outcome.exit_code;
    case coder::ExecEnd::timed_out:
      return kExitTimedOut;
    case coder::ExecEnd::cancelled:
      return kExitCancelled;
    case coder::ExecEnd::signalled:
    case coder::ExecEnd::closed_without_status:
      return kExitConnectionFailed;
  }
  return kExitConnectionFailed;
}

int exit_code_for(const runtime::Error& error, int otherwise) {
  return error.code == runtime::Errc::cancelled ? kExitCancelled : otherwise;
}

}  // namespace cr::cli
