// The client's one-reply operations: version 3's requests and OpenSSH's extensions.

#include <fmt/format.h>

#include "ssh/sftp/client.hpp"
#include "ssh/sftp/client_state.hpp"

namespace cr::ssh::sftp {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

asio::awaitable<Result<FileAttributes>> attrs_request(Client::State& state, PacketType type, std::string path) {
  const auto id = state.take_id();
  auto reply = co_await state.call(id, encode_path_request(type, id, path));
  auto attrs = expect<AttrsReply>(std::move(reply), to_string(type), path);
  if (!attrs) co_return runtime::fail(std::move(attrs.error()));
  co_return std::move(attrs->attrs);
}

asio::awaitable<Result<void>> status_request(Client::State& state, PacketType type, std::string path) {
  const auto id = state.take_id();
  auto reply = co_await state.call(id, encode_path_request(type, id, path));
  co_return expect_ok(std::move(reply), to_string(type), path);
}

// REALPATH, READLINK and expand-path: a NAME of exactly one entry.
Result<std::string> one_name(Result<Reply> reply, std::string_view operation, std::string_view path) {
  auto name = expect<NameReply>(std::move(reply), operation, path);
  if (!name) return runtime::fail(std::move(name.error()));
  if (name->entries.size() != 1) {
    return runtime::fail(std::move(
        Error(Errc::protocol_error, Layer::sftp,
              fmt::format("the SFTP server answered {} with {} names, not one", operation, name->entries.size()))
            .with("path", std::string(path))));
  }
  return std::move(name->entries.front().filename);
}

asio::awaitable<Result<std::string>> name_request(Client::State& state, PacketType type, std::string path) {
  const auto id = state.take_id();
  auto reply = co_await state.call(id, encode_path_request(type, id, path));
  co_return one_name(std::move(reply), to_string(type), path);
}

std::string both(std::string_view first, std::string_view second) { return fmt::format("{} -> {}", first, second); }

}  // namespace

asio::awaitable<Result<FileAttributes>> Client::stat(std::string path) {
  co_return co_await attrs_request(*state_, PacketType::stat, std::move(path));
}

asio::awaitable<Result<FileAttributes>> Client::lstat(std::string path) {
  co_return co_await attrs_request(*state_, PacketType::lstat, std::move(path));
}

asio::awaitable<Result<FileAttributes>> Client::fstat(const File& file) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_handle_request(PacketType::fstat, id, file.handle));
  auto attrs = expect<AttrsReply>(std::move(reply), "FSTAT", file.path);
  if (!attrs) co_return runtime::fail(std::move(attrs.error()));
  co_return std::move(attrs->attrs);
}

asio::awaitable<Result<void>> Client::setstat(std::string path, FileAttributes attrs) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_attrs_request(PacketType::setstat, id, path, attrs));
  co_return expect_ok(std::move(reply), "SETSTAT", path);
}

asio::awaitable<Result<void>> Client::fsetstat(const File& file, FileAttributes attrs) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_attrs_request(PacketType::fsetstat, id, file.handle, attrs));
  co_return expect_ok(std::move(reply), "FSETSTAT", file.path);
}

asio::awaitable<Result<std::string>> Client::realpath(std::string path) {
  co_return co_await name_request(*state_, PacketType::realpath, std::move(path));
}

asio::awaitable<Result<std::string>> Client::readlink(std::string path) {
  co_return co_await name_request(*state_, PacketType::readlink, std::move(path));
}

asio::awaitable<Result<void>> Client::symlink(std::string target, std::string link) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_two_paths(PacketType::symlink, id, target, link));
  co_return expect_ok(std::move(reply), "SYMLINK", both(link, target));
}

asio::awaitable<Result<void>> Client::mkdir(std::string path, FileAttributes attrs) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_attrs_request(PacketType::mkdir, id, path, attrs));
  co_return expect_ok(std::move(reply), "MKDIR", path);
}

asio::awaitable<Result<void>> Client::rmdir(std::string path) {
  co_return co_await status_request(*state_, PacketType::rmdir, std::move(path));
}

asio::awaitable<Result<void>> Client::remove(std::string path) {
  co_return co_await status_request(*state_, PacketType::remove, std::move(path));
}

asio::awaitable<Result<void>> Client::rename(std::string from, std::string to) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_two_paths(PacketType::rename, id, from, to));
  co_return expect_ok(std::move(reply), "RENAME", both(from, to));
}

asio::awaitable<Result<File>> Client::open(std::string path, std::uint32_t flags, FileAttributes attrs) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_open(id, path, flags, attrs));
  auto handle = expect<HandleReply>(std::move(reply), "OPEN", path);
  if (!handle) co_return runtime::fail(std::move(handle.error()));
  co_return File{std::move(handle->handle), std::move(path)};
}

asio::awaitable<Result<std::string>> Client::read(const File& file, std::uint64_t offset, std::uint32_t length) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_read(id, file.handle, offset, length));
  if (reply) {
    if (auto* status = std::get_if<StatusReply>(&reply->body); status && status->code == 1) co_return std::string();
  }
  auto data = expect<DataReply>(std::move(reply), "READ", file.path);
  if (!data) co_return runtime::fail(std::move(data.error()));
  if (data->data.size() > length) {
    co_return runtime::fail(
        std::move(Error(Errc::protocol_error, Layer::sftp,
                        fmt::format("the SFTP server sent {} bytes for a READ of {}", data->data.size(), length))
                      .with("path", file.path)));
  }
  co_return std::move(data->data);
}

asio::awaitable<Result<void>> Client::write(const File& file, std::uint64_t offset, runtime::ConstBytes data) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_write(id, file.handle, offset, data));
  co_return expect_ok(std::move(reply), "WRITE", file.path);
}

asio::awaitable<Result<void>> Client::close(const File& file) {
  const auto id = state_->take_id();
  auto reply = co_await state_->call(id, encode_handle_request(PacketType::close, id, file.handle));
  co_return expect_ok(std::move(reply), "CLOSE", file.path);
}

asio::awaitable<Result<std::vector<NameEntry>>> Client::list_directory(std::string path) {
  auto id = state_->take_id();
  auto opened = co_await state_->call(id, encode_path_request(PacketType::opendir, id, path));
  auto handle = expect<HandleReply>(std::move(opened), "OPENDIR", path);
  if (!handle) co_return runtime::fail(std::move(handle.error()));
  const File directory{std::move(handle->handle), path};
  std::vector<NameEntry> entries;
  for (;;) {
    id = state_->take_id();
    auto reply = co_await state_->call(id, encode_handle_request(PacketType::readdir, id, directory.handle));
    if (reply) {
      if (auto* status = std::get_if<StatusReply>(&reply->body); status && status->code == 1) break;
    }
    auto names = expect<NameReply>(std::move(reply), "READDIR", path);
    if (!names) {
      state_->close_in_background(directory.handle);
      co_return runtime::fail(std::move(names.error()));
    }
    for (auto& entry : names->entries) {
      if (entry.filename != "." && entry.filename != "..") entries.push_back(std::move(entry));
    }
  }
  auto closed = co_await close(directory);
  if (!closed) co_return runtime::fail(std::move(closed.error()));
  co_return entries;
}

namespace {

Result<void> offered(const Client& client, std::string_view extension) {
  if (client.has_extension(extension)) return {};
  return runtime::fail(
      std::move(Error(Errc::refused, Layer::sftp, fmt::format("the SFTP server does not offer {}", extension))
                    .with("extension", std::string(extension))));
}

asio::awaitable<Result<Reply>> extended(Client::State& state, std::string_view name, const Writer& fields) {
  const auto id = state.take_id();
  co_return co_await state.call(id, encode_extended(id, name, fields.bytes()));
}

// posix-rename (old path, new path) and hardlink (the target, then the link's path).
asio::awaitable<Result<void>> two_paths(const Client& client, Client::State& state, std::string_view name,
                                        std::string first, std::string second, std::string described) {
  if (auto ok = offered(client, name); !ok) co_return ok;
  Writer fields;
  fields.string(first);
  fields.string(second);
  auto reply = co_await extended(state, name, fields);
  co_return expect_ok(std::move(reply), name, described);
}

}  // namespace

asio::awaitable<Result<void>> Client::posix_rename(std::string from, std::string to) {
  auto described = both(from, to);
  co_return co_await two_paths(*this, *state_, "posix-rename@openssh.com", std::move(from), std::move(to),
                               std::move(described));
}

asio::awaitable<Result<StatVfs>> Client::statvfs(std::string path) {
  constexpr std::string_view kName = "statvfs@openssh.com";
  if (auto ok = offered(*this, kName); !ok) co_return runtime::fail(std::move(ok.error()));
  Writer fields;
  fields.string(path);
  auto reply = co_await extended(*state_, kName, fields);
  auto data = expect<ExtendedReply>(std::move(reply), kName, path);
  if (!data) co_return runtime::fail(std::move(data.error()));
  co_return parse_statvfs(data->data);
}

asio::awaitable<Result<void>> Client::fsync(const File& file) {
  constexpr std::string_view kName = "fsync@openssh.com";
  if (auto ok = offered(*this, kName); !ok) co_return ok;
  Writer fields;
  fields.string(file.handle);
  auto reply = co_await extended(*state_, kName, fields);
  co_return expect_ok(std::move(reply), kName, file.path);
}

asio::awaitable<Result<void>> Client::hardlink(std::string target, std::string link) {
  auto described = both(link, target);
  co_return co_await two_paths(*this, *state_, "hardlink@openssh.com", std::move(target), std::move(link),
                               std::move(described));
}

asio::awaitable<Result<Limits>> Client::limits() {
  constexpr std::string_view kName = "limits@openssh.com";
  if (auto ok = offered(*this, kName); !ok) co_return runtime::fail(std::move(ok.error()));
  // Asked for at start; several callers may wait on that one answer.
  while (!state_->limits) {
    if (!state_->limits_pending) {
      const auto id = state_->take_id();
      state_->limits_pending = state_->send(id, encode_extended(id, kName, {}));
    }
    auto waiting = state_->limits_pending;
    // Not abandoned when cancelled: other callers may be waiting on it too.
    const bool answered = co_await wait_for_reply(*waiting);
    if (!answered) co_return runtime::fail(Errc::cancelled, Layer::sftp, "cancelled while waiting for the SFTP server");
    if (state_->limits) break;
    state_->limits_pending.reset();
    auto data = expect<ExtendedReply>(*waiting->reply, kName, "");
    if (!data) co_return runtime::fail(std::move(data.error()));
    auto parsed = parse_limits(data->data);
    if (!parsed) co_return runtime::fail(std::move(parsed.error()));
    state_->limits = *parsed;
  }
  co_return *state_->limits;
}

asio::awaitable<Result<std::string>> Client::expand_path(std::string path) {
  constexpr std::string_view kName = "expand-path@openssh.com";
  if (auto ok = offered(*this, kName); !ok) co_return runtime::fail(std::move(ok.error()));
  Writer fields;
  fields.string(path);
  auto reply = co_await extended(*state_, kName, fields);
  co_return one_name(std::move(reply), kName, path);
}

asio::awaitable<Result<void>> Client::copy_data(const File& from, std::uint64_t from_offset, std::uint64_t length,
                                                const File& to, std::uint64_t to_offset) {
  constexpr std::string_view kName = "copy-data";
  if (auto ok = offered(*this, kName); !ok) co_return ok;
  Writer fields;
  fields.string(from.handle);
  fields.uint64(from_offset);
  fields.uint64(length);
  fields.string(to.handle);
  fields.uint64(to_offset);
  auto reply = co_await extended(*state_, kName, fields);
  co_return expect_ok(std::move(reply), kName, both(from.path, to.path));
}

}  // namespace cr::ssh::sftp
