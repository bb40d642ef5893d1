#pragma once
// A local endpoint for a service that only its own user may reach, and the stream a client opens
// to it: a Unix domain socket on POSIX, a named pipe on Windows.
//
// POSIX: every accepted connection's peer credentials are checked (SO_PEERCRED, getpeereid), and
// a peer of another uid is closed before a byte is read from it. The socket's directory is what
// keeps everyone else out in the first place: private_directory makes it (0700) or checks that it
// is ours, 0700, and no symlink, and refuses it otherwise.
//
// Windows: the pipe's DACL grants access to our user's SID alone, it rejects remote clients
// (PIPE_REJECT_REMOTE_CLIENTS), and its first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE,
// so a name another process already serves cannot be taken over.

#include <filesystem>
#include <memory>
#include <string>

#include "proxy/stream_listener.hpp"
#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "runtime/logging.hpp"

namespace cr::proxy {

#ifndef _WIN32
// Creates `directory` (and no parents) mode 0700 when it is missing; an existing one must be a
// directory (not a link) owned by us with no group or other permissions. Errors: Layer::config,
// invalid_argument, saying what is wrong and how to fix it.
runtime::Result<void> private_directory(const std::filesystem::path& directory);
#endif

class LocalListener : public StreamListener {
 public:
  // Listens at `endpoint`: a socket path (its directory already private; an existing file there is
  // the caller's to remove first) or a pipe name (\\.\pipe\NAME). Errors: Layer::network,
  // connect_failed with the OS reason; refused when another process serves the pipe name.
  static runtime::Result<std::unique_ptr<LocalListener>> listen(asio::any_io_executor executor, std::string endpoint,
                                                                runtime::Logger log = {});
  // accept() gives connections from processes of our own user; others are logged and closed.
  // close() takes the endpoint with it (the socket file is removed), so that the next client finds
  // nobody rather than a listener that no longer accepts.
  // The connections refused so far (for tests and logs).
  virtual std::size_t refused() const = 0;
};

// A stream to the service at `endpoint`. A busy pipe (every instance taken) is retried until the
// deadline, and its server must run as our user (a pipe name is global to the machine, so another
// user could have taken it first). Errors: Layer::network, connect_failed with the OS reason and
// the endpoint.
asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_local(std::string endpoint,
                                                                                      runtime::Deadline deadline);

#ifdef _WIN32
// Any named pipe, whoever serves it (OpenSSH's agent service runs as SYSTEM); busy is retried.
asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_named_pipe(std::string name,
                                                                                           runtime::Deadline deadline);
// Our user's SID as text (S-1-5-21-...).
runtime::Result<std::string> current_user_sid();
#endif

}  // namespace cr::proxy
