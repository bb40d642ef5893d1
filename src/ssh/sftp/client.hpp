#pragma once
// An SFTP version 3 client on a session channel's "sftp" subsystem. Requests carry ids and the
// server may answer them in any order, so any number may be outstanding at once: one reader hands
// each reply to the request waiting on its id, and a transfer keeps many READs or WRITEs in flight
// so that it is bound by bandwidth, not round trips. When the subsystem ends or breaks the protocol,
// every waiting request gets that error, with the subsystem's stderr as evidence.
//
// Errors are Layer::sftp. A server's STATUS maps to NO_SUCH_FILE: Errc::not_found,
// PERMISSION_DENIED: permission_denied, OP_UNSUPPORTED: refused, BAD_MESSAGE: protocol_error, any
// other: io_error; the evidence holds its message, the status, the operation and the path.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "runtime/async_stream.hpp"
#include "ssh/sftp/types.hpp"

namespace cr::ssh {
class Connection;
}

namespace cr::ssh::sftp {

// An open file or directory: the server's handle, and the path it was opened by (for errors).
// Close it: the server keeps it open (and counts it against its limit) until then.
struct File {
  std::string handle;
  std::string path;
};

// Each chunk of a download, in file order; an error stops the transfer with it.
using DownloadSink = std::function<asio::awaitable<runtime::Result<void>>(runtime::ConstBytes)>;
// Fills the buffer with the next bytes of an upload: how many, 0 at the end.
using UploadSource = std::function<asio::awaitable<runtime::Result<std::size_t>>(runtime::Bytes)>;
// Bytes done so far, and the whole when known (a download's file size from FSTAT).
using TransferProgress = std::function<void(std::uint64_t done, std::optional<std::uint64_t> total)>;

struct TransferOptions {
  // READs or WRITEs in flight at once (OpenSSH's sftp: 64).
  std::size_t max_requests = 64;
  // Bytes a request: by default limits@openssh.com's lengths where the server offers it, else
  // 32 KiB, which every server accepts.
  std::optional<std::uint32_t> chunk_size;
  TransferProgress progress;
  // An upload's new file's mode (it is created, or truncated, as OPEN's attributes say).
  std::optional<std::uint32_t> permissions;
};

class Client {
 public:
  // Opens a session, asks for the "sftp" subsystem and sends INIT behind it without waiting for the
  // answer, then reads VERSION: one round trip after the channel is open where the server opens
  // the channel's window at once (sshd opens it only once the subsystem runs: two). A refused
  // subsystem is Errc::refused. limits@openssh.com, when offered, is asked for at once and not
  // waited on.
  static asio::awaitable<runtime::Result<std::shared_ptr<Client>>> start(Connection& connection);
  // Closes the channel in the background if close() was not awaited.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // False once the subsystem has ended or broken the protocol, or close() has begun: every
  // request would fail.
  bool is_open() const;
  std::uint32_t version() const;
  const std::vector<Extension>& extensions() const;
  bool has_extension(std::string_view name) const;

  asio::awaitable<runtime::Result<FileAttributes>> stat(std::string path);
  asio::awaitable<runtime::Result<FileAttributes>> lstat(std::string path);
  asio::awaitable<runtime::Result<FileAttributes>> fstat(const File& file);
  asio::awaitable<runtime::Result<void>> setstat(std::string path, FileAttributes attrs);
  asio::awaitable<runtime::Result<void>> fsetstat(const File& file, FileAttributes attrs);
  asio::awaitable<runtime::Result<std::string>> realpath(std::string path);
  asio::awaitable<runtime::Result<std::string>> readlink(std::string path);
  // A symbolic link at `link` that points to `target`.
  asio::awaitable<runtime::Result<void>> symlink(std::string target, std::string link);
  asio::awaitable<runtime::Result<void>> mkdir(std::string path, FileAttributes attrs);
  asio::awaitable<runtime::Result<void>> rmdir(std::string path);
  asio::awaitable<runtime::Result<void>> remove(std::string path);
  // Version 3's RENAME, which OpenSSH's server refuses when `to` exists (see posix_rename).
  asio::awaitable<runtime::Result<void>> rename(std::string from, std::string to);

  // flags: open_flags; attrs apply to a file it creates.
  asio::awaitable<runtime::Result<File>> open(std::string path, std::uint32_t flags, FileAttributes attrs);
  // Up to `length` bytes at `offset`: fewer near the end or when the server sends less; empty at
  // the end of the file.
  asio::awaitable<runtime::Result<std::string>> read(const File& file, std::uint64_t offset, std::uint32_t length);
  asio::awaitable<runtime::Result<void>> write(const File& file, std::uint64_t offset, runtime::ConstBytes data);
  asio::awaitable<runtime::Result<void>> close(const File& file);
  // Every entry of a directory but "." and "..", in the server's order.
  asio::awaitable<runtime::Result<std::vector<NameEntry>>> list_directory(std::string path);

  // OpenSSH's extensions: Errc::refused naming the extension when VERSION did not offer it.
  // posix-rename@openssh.com: replaces `to` if it exists, atomically.
  asio::awaitable<runtime::Result<void>> posix_rename(std::string from, std::string to);
  asio::awaitable<runtime::Result<StatVfs>> statvfs(std::string path);
  asio::awaitable<runtime::Result<void>> fsync(const File& file);
  // A hard link at `link` to the existing `target`.
  asio::awaitable<runtime::Result<void>> hardlink(std::string target, std::string link);
  asio::awaitable<runtime::Result<Limits>> limits();
  // A path with "~" and "~user" expanded, then made absolute as REALPATH does.
  asio::awaitable<runtime::Result<std::string>> expand_path(std::string path);
  // copy-data: the server copies `length` bytes (0: to the end) between two open files.
  asio::awaitable<runtime::Result<void>> copy_data(const File& from, std::uint64_t from_offset, std::uint64_t length,
                                                   const File& to, std::uint64_t to_offset);

  // The whole file at `path` into `sink`, in order, with many READs in flight. Cancelled (through
  // the cancellation slot), it stops asking, leaves what is in flight to be dropped as it comes,
  // closes the handle and returns Errc::cancelled. Returns the bytes delivered.
  asio::awaitable<runtime::Result<std::uint64_t>> download(std::string path, DownloadSink sink,
                                                           TransferOptions options);
  // `source` into a file at `path`, created or truncated, with many WRITEs in flight; cancelled
  // like a download. Returns the bytes written.
  asio::awaitable<runtime::Result<std::uint64_t>> upload(UploadSource source, std::string path,
                                                         TransferOptions options);
  // The same into a file the caller opened for writing, from offset 0 (options.permissions does
  // not apply). The file is closed at the end, whether the upload succeeded or not.
  asio::awaitable<runtime::Result<std::uint64_t>> upload(UploadSource source, File file, TransferOptions options);

  // Closes the channel and waits for the server's end; waiting requests fail with stream_closed.
  asio::awaitable<void> close();

  struct State;
  explicit Client(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cr::ssh::sftp
