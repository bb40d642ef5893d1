// What both of exec's relays through the holder share, and with the exec on a connection of its
// own: the request checked before anything is touched, the holder's params, its notices and its
// answer. Kept apart from the CLI11 and Asio code so that the front (front_main.cpp) links only
// what its start needs.

#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exec_command.hpp"
#include "cli/local_terminal.hpp"
#include "coder/cli_driver.hpp"
#include "runtime/paths.hpp"
#include "service/json_rpc.hpp"
#include "service/workspace_connections.hpp"

namespace cr::cli {
namespace {

using nlohmann::json;

runtime::Result<std::vector<std::pair<std::string, std::string>>> parse_env(
    const std::vector<std::string>& assignments) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& assignment : assignments) {
    const auto equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::cli,
                           fmt::format("--env takes NAME=VALUE, not '{}'", assignment));
    }
    env.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
  }
  return env;
}

runtime::Result<coder::ExecRequest> exec_request_of(const ExecCommandOptions& o) {
  auto env = parse_env(o.env);
  if (!env) return runtime::fail(std::move(env.error()));
  coder::ExecRequest request;
  request.login_shell = o.login_shell;
  if (o.argv || (!o.shell && o.command.size() > 1)) {
    request.argv = o.command;
  } else {
    for (const auto& word : o.command) request.command += (request.command.empty() ? "" : " ") + word;
  }
  if (o.remote_shell == "cmd") request.remote_shell = coder::RemoteShell::cmd;
  if (o.remote_shell == "powershell") request.remote_shell = coder::RemoteShell::powershell;
  request.cwd = o.cwd;
  request.env = std::move(*env);
  if (o.timeout_seconds > 0) request.timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000));
  auto line = coder::exec_program(request);
  if (!line) return runtime::fail(std::move(line.error()));
  return request;
}

coder::ExecOutcome outcome_from(const json& result) {
  coder::ExecOutcome outcome;
  const auto end = result.value("end", std::string());
  outcome.end = end == "exited"      ? coder::ExecEnd::exited
                : end == "signalled" ? coder::ExecEnd::signalled
                : end == "timed_out" ? coder::ExecEnd::timed_out
                : end == "cancelled" ? coder::ExecEnd::cancelled
                                     : coder::ExecEnd::closed_without_status;
  if (result.contains("exit_code") && result["exit_code"].is_number_integer())
    outcome.exit_code = result["exit_code"].get<int>();
  if (outcome.end == coder::ExecEnd::exited && !outcome.exit_code) outcome.end = coder::ExecEnd::closed_without_status;
  if (result.contains("signal") && result["signal"].is_string()) {
    ssh::ExitSignal signal;
    signal.name = result["signal"].get<std::string>();
    outcome.signal = std::move(signal);
  }
  outcome.duration = std::chrono::milliseconds(result.value("duration_ms", std::int64_t{0}));
  return outcome;
}

}  // namespace

runtime::Result<PreparedExec> prepare_exec(const ExecCommandOptions& o) {
  auto workspace = coder::parse_workspace_ref(o.workspace);
  if (!workspace) return runtime::fail(std::move(workspace.error()));
  auto request = exec_request_of(o);
  if (!request) return runtime::fail(std::move(request.error()));
  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli = coder::find_cli(explicit_cli);
  if (!cli) return runtime::fail(std::move(cli.error()));
  return PreparedExec{std::move(*workspace), std::move(*request), std::move(*cli)};
}

json holder_exec_params(const ExecCommandOptions& o, const PreparedExec& prepared) {
  const auto& request = prepared.request;
  const auto& cli = prepared.cli;
  json params{{"handle", kHolderExecHandle},
              {"workspace", o.workspace},
              {"coder", runtime::path_to_utf8(cli)},
              {"suffix", o.suffix},
              {"stdin", true},
              {"remote_shell", o.remote_shell}};
  if (request.login_shell) {
    params["shell"] = true;
  } else if (request.argv.empty()) {
    params["command"] = service::bytes_value(request.command);
  } else {
    json words = json::array();
    for (const auto& word : request.argv) words.push_back(service::bytes_value(word));
    params["argv"] = std::move(words);
  }
  json coder_env = json::object();
  for (const auto& [name, value] : service::coder_environment()) coder_env[name] = service::bytes_value(value);
  params["coder_env"] = std::move(coder_env);
  if (!request.cwd.empty()) params["cwd"] = service::bytes_value(request.cwd);
  json variables = json::object();
  for (const auto& [name, value] : request.env) variables[name] = service::bytes_value(value);
  params["env"] = std::move(variables);
  if (request.timeout) params["timeout_ms"] = request.timeout->count();
  if (o.tty) {
    const auto size = terminal_size();
    const char* term = std::getenv("TERM");
    params["pty"] = {{"term", term ? term : "xterm-256color"}, {"columns", size.columns}, {"rows", size.rows}};
  }
  return params;
}

void show_holder_notice(const Reporter& report, bool json_events, std::string_view method, const json& params) {
  if (method == "progress") {
    const auto text = params.value("text", std::string());
    if (json_events) {
      report.progress(text);
    } else {
      write_stderr(fmt::format("coder-runtime: {}\n", text));
    }
  } else if (method == "warning") {
    report.warning(params.value("text", std::string()), !json_events && stderr_is_terminal());
  }
}

int finish_holder_exec(const Reporter& report, const ExecCommandOptions& o, const service::HolderPaths& paths,
                       const runtime::Result<json>& answer, const std::optional<runtime::Error>& holder_stream_failure,
                       const runtime::Logger& log) {
  if (!answer) {
    if (holder_stream_failure) {
      auto error = runtime::Error(
                       runtime::Errc::end_of_stream, runtime::Layer::runtime,
                       fmt::format("the connection holder ended while the command ran; the next call starts a new one"))
                       .with("holder endpoint", paths.endpoint)
                       .with("holder log", runtime::path_to_utf8(paths.log))
                       .with("stream", holder_stream_failure->message);
      return report.failure(error, kExitConnectionFailed, log);
    }
    const int code = answer.error().layer == runtime::Layer::coder ? o.coder_failed_exit : kExitConnectionFailed;
    return report.failure(answer.error(), exit_code_for(answer.error(), code), log);
  }
  const auto outcome = outcome_from(*answer);
  const int code = exit_code_of(outcome);
  report.exit(outcome, code);
  return code;
}

}  // namespace cr::cli
