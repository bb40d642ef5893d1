#pragma once
// The params of `exec`, of the small requests on a running command and of `files.*`
// (docs/protocol.md), read into the library's types; anything that does not fit is an
// invalid-params error naming it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

#include "coder/operations.hpp"
#include "service/frame.hpp"
#include "service/json_rpc.hpp"
#include "service/workspace_connections.hpp"

namespace cr::service {

struct ExecParams {
  std::uint32_t handle = 0;
  WorkspaceTarget target;
  coder::ExecRequest request;  // command line, cwd, env, timeout, pty
  bool stdin_follows = false;  // the client sends stdin frames, then an end frame
};

tl::expected<ExecParams, ReplyError> parse_exec_params(const nlohmann::json& params);

// files.read and files.write move a file's bytes on a handle's streams (stdout, stdin); the others
// answer in one reply.
enum class FileRequest { read, write, stat, ensure_dir, resolve_path };

struct FileParams {
  std::uint32_t handle = 0;  // read and write
  WorkspaceTarget target;
  std::string path;
  std::uint64_t size = 0;  // write: the bytes that must arrive before the file is replaced
  // Over the "sftp" subsystem rather than commands on the POSIX shell: asked for with "via", and
  // the only way on a workspace whose remote_shell is cmd or powershell.
  bool over_sftp = false;
  // timeout_ms: a read or write's bound, none unless given; a stat, ensure_dir or resolve_path
  // (which have no handle to cancel them by) is bounded, dial included, by default.
  std::optional<std::chrono::milliseconds> timeout;
};

// workspace.status and workspace.ensure_ready: the workspace (with coder, suffix, coder_env) and,
// for ensure_ready's progress notifications, an optional handle.
struct WorkspaceParams {
  std::uint32_t handle = 0;  // 0: no progress notifications
  WorkspaceTarget target;
};
tl::expected<WorkspaceParams, ReplyError> parse_workspace_params(const nlohmann::json& params);

tl::expected<FileParams, ReplyError> parse_file_params(const nlohmann::json& params, FileRequest kind);

tl::expected<std::uint32_t, ReplyError> handle_param(const nlohmann::json& params);

struct CreditGrant {
  StreamId stream = StreamId::stdout_stream;
  std::uint64_t bytes = 0;
};
// A client grants credit for stdout and stderr only.
tl::expected<CreditGrant, ReplyError> credit_param(const nlohmann::json& params);

// columns, rows
tl::expected<std::pair<std::uint32_t, std::uint32_t>, ReplyError> resize_params(const nlohmann::json& params);

}  // namespace cr::service
