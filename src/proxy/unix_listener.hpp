#pragma once
// A listening Unix domain socket for a service only its own user may reach (POSIX): every
// accepted connection's peer credentials are checked (SO_PEERCRED, getpeereid), and a peer of
// another uid is closed before a byte is read from it.
//
// The socket's directory is what keeps everyone else out in the first place: private_directory
// makes it (0700) or checks that it is ours, 0700, and no symlink, and refuses it otherwise.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "runtime/async_stream.hpp"
#include "runtime/logging.hpp"

namespace cr::proxy {

// Creates `directory` (and no parents) mode 0700 when it is missing; an existing one must be a
// directory (not a link) owned by us with no group or other permissions. Errors: Layer::config,
// invalid_argument, saying what is wrong and how to fix it.
runtime::Result<void> private_directory(const std::filesystem::path& directory);

class UnixListener {
 public:
  // Binds and listens at `path` (its directory already private); an existing file there is the
  // caller's to remove first. Errors: Layer::network, connect_failed with the OS reason.
  static runtime::Result<std::unique_ptr<UnixListener>> listen(asio::any_io_executor executor, std::string path,
                                                               runtime::Logger log = {});
  virtual ~UnixListener() = default;

  // The next connection from a process of our own uid; others are logged and closed. Cancellable;
  // after close() it fails with stream_closed.
  virtual asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> accept() = 0;
  virtual void close() = 0;
  // The uids refused so far (for tests and logs).
  virtual std::size_t refused() const = 0;
};

}  // namespace cr::proxy
