#include "service/exec_params.hpp"

#include <fmt/format.h>

namespace cr::service {

using nlohmann::json;

namespace {

constexpr std::uint64_t kLargestHandle = 0xffffffff;
constexpr std::uint64_t kLargestTerminalSide = 10000;
// A files request without a handle cannot be cancelled by its client: its default bound.
constexpr std::chrono::milliseconds kFileRequestTimeout = std::chrono::seconds(30);

tl::unexpected<ReplyError> invalid(std::string message) {
  return tl::unexpected(ReplyError{kInvalidParams, std::move(message), nullptr});
}

// An object of names to string values, e.g. env and coder_env.
tl::expected<std::vector<std::pair<std::string, std::string>>, ReplyError> string_map(const json& params,
                                                                                      std::string_view name) {
  std::vector<std::pair<std::string, std::string>> values;
  const auto found = params.find(name);
  if (found == params.end()) return values;
  if (!found->is_object()) return invalid(fmt::format("params.{} must be an object of strings", name));
  for (const auto& [key, value] : found->items()) {
    auto bytes = bytes_param(value, fmt::format("{}.{}", name, key));
    if (!bytes) return tl::unexpected(std::move(bytes.error()));
    values.emplace_back(key, std::move(*bytes));
  }
  return values;
}

tl::expected<std::optional<std::string>, ReplyError> optional_string(const json& params, std::string_view name) {
  if (!params.contains(name)) return std::nullopt;
  auto value = bytes_param(params[name], name);
  if (!value) return tl::unexpected(std::move(value.error()));
  return std::move(*value);
}

// timeout_ms, when given.
tl::expected<std::optional<std::chrono::milliseconds>, ReplyError> timeout_param(const json& params) {
  if (!params.contains("timeout_ms")) return std::nullopt;
  auto timeout = unsigned_param(params, "timeout_ms", std::uint64_t{1} << 40);
  if (!timeout || *timeout == 0) return invalid("params.timeout_ms must be a whole number of milliseconds over 0");
  return std::chrono::milliseconds(*timeout);
}

}  // namespace

tl::expected<std::uint32_t, ReplyError> handle_param(const json& params) {
  auto handle = unsigned_param(params, "handle", kLargestHandle);
  if (!handle) return tl::unexpected(std::move(handle.error()));
  if (*handle == 0) return invalid("params.handle must be from 1 to 4294967295");
  return static_cast<std::uint32_t>(*handle);
}

tl::expected<CreditGrant, ReplyError> credit_param(const json& params) {
  auto stream = string_param(params, "stream");
  if (!stream) return tl::unexpected(std::move(stream.error()));
  const auto id = stream_from_name(*stream);
  if (!id || id == StreamId::stdin_stream) return invalid("params.stream must be \"stdout\" or \"stderr\"");
  auto bytes = unsigned_param(params, "bytes", std::uint64_t{1} << 40);
  if (!bytes) return tl::unexpected(std::move(bytes.error()));
  return CreditGrant{*id, *bytes};
}

tl::expected<std::pair<std::uint32_t, std::uint32_t>, ReplyError> resize_params(const json& params) {
  auto columns = unsigned_param(params, "columns", kLargestTerminalSide);
  if (!columns) return tl::unexpected(std::move(columns.error()));
  auto rows = unsigned_param(params, "rows", kLargestTerminalSide);
  if (!rows) return tl::unexpected(std::move(rows.error()));
  return std::pair{static_cast<std::uint32_t>(*columns), static_cast<std::uint32_t>(*rows)};
}

tl::expected<WorkspaceTarget, ReplyError> parse_target(const json& params) {
  WorkspaceTarget target;
  auto workspace_text = string_param(params, "workspace");
  if (!workspace_text) return tl::unexpected(std::move(workspace_text.error()));
  auto workspace = coder::parse_workspace_ref(*workspace_text);
  if (!workspace) return invalid(fmt::format("params.workspace: {}", workspace.error().message));
  target.workspace = std::move(*workspace);
  auto coder_path = optional_string(params, "coder");
  if (!coder_path) return tl::unexpected(std::move(coder_path.error()));
  if (*coder_path) target.coder = std::move(**coder_path);
  auto suffix = optional_string(params, "suffix");
  if (!suffix) return tl::unexpected(std::move(suffix.error()));
  if (*suffix) target.suffix = std::move(**suffix);
  auto coder_env = string_map(params, "coder_env");
  if (!coder_env) return tl::unexpected(std::move(coder_env.error()));
  target.coder_env = std::move(*coder_env);
  return target;
}

tl::expected<WorkspaceParams, ReplyError> parse_workspace_params(const json& params) {
  WorkspaceParams workspace;
  if (params.contains("handle")) {
    auto handle = handle_param(params);
    if (!handle) return tl::unexpected(std::move(handle.error()));
    workspace.handle = *handle;
  }
  auto target = parse_target(params);
  if (!target) return tl::unexpected(std::move(target.error()));
  workspace.target = std::move(*target);
  return workspace;
}

tl::expected<FileParams, ReplyError> parse_file_params(const json& params, FileRequest kind) {
  FileParams file;
  if (kind == FileRequest::read || kind == FileRequest::write) {
    auto handle = handle_param(params);
    if (!handle) return tl::unexpected(std::move(handle.error()));
    file.handle = *handle;
  }
  auto target = parse_target(params);
  if (!target) return tl::unexpected(std::move(target.error()));
  file.target = std::move(*target);
  if (!params.contains("path")) return invalid("params.path is required");
  auto path = bytes_param(params["path"], "path");
  if (!path) return tl::unexpected(std::move(path.error()));
  if (path->empty()) return invalid("params.path must not be empty");
  file.path = std::move(*path);
  auto via = optional_string(params, "via");
  if (!via) return tl::unexpected(std::move(via.error()));
  auto shell = optional_string(params, "remote_shell");
  if (!shell) return tl::unexpected(std::move(shell.error()));
  if (*via && **via != "exec" && **via != "sftp") return invalid("params.via must be \"exec\" or \"sftp\"");
  if (*shell && **shell != "posix" && **shell != "cmd" && **shell != "powershell") {
    return invalid("params.remote_shell must be \"posix\", \"cmd\" or \"powershell\"");
  }
  const bool posix_shell = !*shell || **shell == "posix";
  if (*via && **via == "exec" && !posix_shell) {
    return invalid("params.via \"exec\" needs a POSIX remote shell: files go through cat and mv");
  }
  file.over_sftp = *via ? **via == "sftp" : !posix_shell;
  auto timeout = timeout_param(params);
  if (!timeout) return tl::unexpected(std::move(timeout.error()));
  const bool transfer = kind == FileRequest::read || kind == FileRequest::write;
  file.timeout = *timeout || transfer ? *timeout : kFileRequestTimeout;
  if (kind == FileRequest::write) {
    if (!params.contains("size"))
      return invalid("params.size is required: the file is replaced only once that many bytes have arrived");
    auto size = unsigned_param(params, "size", std::uint64_t{1} << 50);
    if (!size) return tl::unexpected(std::move(size.error()));
    file.size = *size;
  }
  return file;
}

tl::expected<ExecParams, ReplyError> parse_exec_params(const json& params) {
  ExecParams exec;
  auto handle = handle_param(params);
  if (!handle) return tl::unexpected(std::move(handle.error()));
  exec.handle = *handle;
  auto target = parse_target(params);
  if (!target) return tl::unexpected(std::move(target.error()));
  exec.target = std::move(*target);

  auto& request = exec.request;
  const bool has_command = params.contains("command");
  const bool has_argv = params.contains("argv");
  const bool has_shell = params.contains("shell");
  if (has_command + has_argv + has_shell != 1) {
    return invalid("exec takes exactly one of params.command, params.argv and params.shell");
  }
  if (has_shell) {
    if (params["shell"] != true) return invalid("params.shell must be true (the user's login shell)");
    request.login_shell = true;
  } else if (has_command) {
    auto command = bytes_param(params["command"], "command");
    if (!command) return tl::unexpected(std::move(command.error()));
    request.command = std::move(*command);
  } else {
    const auto& argv = params["argv"];
    if (!argv.is_array() || argv.empty()) return invalid("params.argv must be a list of one or more words");
    for (const auto& word : argv) {
      auto bytes = bytes_param(word, "argv[]");
      if (!bytes) return tl::unexpected(std::move(bytes.error()));
      request.argv.push_back(std::move(*bytes));
    }
  }
  auto remote_shell = optional_string(params, "remote_shell");
  if (!remote_shell) return tl::unexpected(std::move(remote_shell.error()));
  if (*remote_shell) {
    const auto shell = **remote_shell;
    if (shell != "posix" && shell != "cmd" && shell != "powershell") {
      return invalid("params.remote_shell must be \"posix\", \"cmd\" or \"powershell\"");
    }
    request.remote_shell = shell == "cmd"          ? coder::RemoteShell::cmd
                           : shell == "powershell" ? coder::RemoteShell::powershell
                                                   : coder::RemoteShell::posix;
  }
  auto cwd = optional_string(params, "cwd");
  if (!cwd) return tl::unexpected(std::move(cwd.error()));
  if (*cwd) request.cwd = std::move(**cwd);
  auto env = string_map(params, "env");
  if (!env) return tl::unexpected(std::move(env.error()));
  request.env = std::move(*env);
  auto timeout = timeout_param(params);
  if (!timeout) return tl::unexpected(std::move(timeout.error()));
  request.timeout = *timeout;
  if (params.contains("pty")) {
    const auto& pty = params["pty"];
    if (!pty.is_object()) return invalid("params.pty must be an object");
    ssh::PtyRequest terminal;
    auto term = optional_string(pty, "term");
    if (!term) return tl::unexpected(std::move(term.error()));
    if (*term) terminal.term = std::move(**term);
    if (pty.contains("columns") || pty.contains("rows")) {
      auto size = resize_params(pty);
      if (!size) return tl::unexpected(std::move(size.error()));
      terminal.columns = size->first;
      terminal.rows = size->second;
    }
    request.pty = std::move(terminal);
  }
  if (params.contains("stdin")) {
    if (!params["stdin"].is_boolean()) return invalid("params.stdin must be true or false");
    exec.stdin_follows = params["stdin"].get<bool>();
  }
  // What exec would refuse before it runs (an argv for cmd.exe, a line over the packet limit).
  auto line = coder::exec_program(request);
  if (!line) return invalid(line.error().message);
  return exec;
}

}  // namespace cr::service
