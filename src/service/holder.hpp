#pragma once
// The per-user connection holder: a background coder-runtime process that serves the service
// protocol on a private endpoint (a Unix socket, or a named pipe on Windows; proxy/local_endpoint)
// and keeps one warm connection per workspace across processes, as OpenSSH's
// ControlMaster/ControlPersist does for ssh (docs/protocol.md, "The holder").
//
// Starting, POSIX: the first client that finds no holder starts one, holding `<socket>.spawn`
// locked meanwhile so that racing clients start one between them. The holder holds
// `<socket>.lock` for its life: a second holder exits at once, and only the lock's holder replaces
// a stale socket. Windows: a pipe's name lives only as long as its server, so nothing is stale;
// clients racing may each start a holder, and all but the one holding the lock exit at once.
// It ends once it has had no client and no connection for a few seconds; connections close after
// ControlPersist unused, so a holder lives as long as its connections.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "service/server.hpp"

namespace cr::service {

struct HolderPaths {
  std::string endpoint;        // ControlPath: the socket's path, or the pipe's name on Windows
  std::filesystem::path log;   // the holder's stderr
  std::filesystem::path lock;  // held by the serving holder for its life
  // POSIX: held by the client that starts a holder.
  std::filesystem::path spawn_lock() const { return endpoint + ".spawn"; }
};

// ControlPath as given, else the default for this user. POSIX: `holder.sock` in
// $XDG_RUNTIME_DIR/coder-runtime (when absolute), else in /tmp/coder-runtime-UID; the socket's
// directory is made private (0700) or must already be; the log and the lock are beside the socket.
// Windows: \\.\pipe\coder-runtime-SID (a ControlPath must name a pipe too); the log and the lock
// are in %LOCALAPPDATA%\coder-runtime.
runtime::Result<HolderPaths> holder_paths(const std::optional<std::string>& control_path);

struct HolderOptions {
  HolderPaths paths;
  ServerOptions server;
  // Where to say "ready" (or "busy": another holder runs) once listening; -1: nowhere.
  int ready_fd = -1;
  // How long the holder stays with no client and no connection before it ends: long enough for
  // the client that started it to arrive on a loaded machine.
  std::chrono::milliseconds linger{std::chrono::seconds(5)};
};

// Runs the holder to its end (idle, connections.stop, SIGTERM, SIGINT or SIGHUP); the exit code.
int run_holder(HolderOptions options);

struct HolderConnectOptions {
  HolderPaths paths;
  // What starts a holder: this executable with these arguments (the CLI's hidden
  // `connections holder ...`); empty: connect only, never start one.
  std::vector<std::string> holder_command;
  // Only a wedged holder meets it (one that dies closes its ready pipe at once), so it is generous:
  // on a loaded machine a process can take seconds just to start.
  runtime::Deadline deadline = runtime::Deadline::after(std::chrono::seconds(30));
  runtime::Logger log;
};

// A stream to the holder, starting one when none answers. Errors: Layer::runtime, connect_failed
// (with the holder's log when it failed to start).
asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_holder(HolderConnectOptions options);

// This program's own path, to start a holder from.
runtime::Result<std::filesystem::path> current_executable();

}  // namespace cr::service
