#include "ssh/sftp/messages.hpp"

#include <fmt/format.h>

namespace cr::ssh::sftp {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

// SSH_FILEXFER_ATTR_* flags.
constexpr std::uint32_t kAttrSize = 0x1;
constexpr std::uint32_t kAttrUidGid = 0x2;
constexpr std::uint32_t kAttrPermissions = 0x4;
constexpr std::uint32_t kAttrTimes = 0x8;
constexpr std::uint32_t kAttrExtended = 0x80000000;
constexpr std::uint32_t kAttrKnown = kAttrSize | kAttrUidGid | kAttrPermissions | kAttrTimes | kAttrExtended;

constexpr std::uint32_t kTypeMask = 0170000;

ConstBytes bytes_of(std::string_view text) { return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}; }

// The wire reader's error, told as the SFTP layer's, with the packet that broke it.
Error malformed(Error error, ConstBytes packet) {
  error.layer = Layer::sftp;
  return std::move(error.with("packet", runtime::hex_preview(packet, 64)));
}

Error malformed(std::string message, ConstBytes packet) {
  return malformed(Error(Errc::protocol_error, Layer::sftp, std::move(message)), packet);
}

// A count the rest of the packet cannot hold, each item taking at least `least` bytes, is refused
// before anything is allocated for it.
bool count_fits(Reader& r, std::uint32_t count, std::size_t least) { return count <= r.remaining() / least; }

std::optional<std::string> read_attrs(Reader& r, FileAttributes& attrs) {
  const std::uint32_t flags = r.uint32();
  if ((flags & ~kAttrKnown) != 0) return fmt::format("attribute flags 0x{:08x} that version 3 does not define", flags);
  if (flags & kAttrSize) attrs.size = r.uint64();
  if (flags & kAttrUidGid) {
    attrs.uid = r.uint32();
    attrs.gid = r.uint32();
  }
  if (flags & kAttrPermissions) attrs.permissions = r.uint32();
  if (flags & kAttrTimes) {
    attrs.atime = r.uint32();
    attrs.mtime = r.uint32();
  }
  if (flags & kAttrExtended) {
    const std::uint32_t count = r.uint32();
    if (!count_fits(r, count, 8)) return fmt::format("{} extended attributes in {} bytes", count, r.remaining());
    for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
      auto type = r.text();
      auto data = r.text();
      attrs.extended.emplace_back(std::move(type), std::move(data));
    }
  }
  return std::nullopt;
}

void write_attrs(Writer& w, const FileAttributes& attrs) {
  std::uint32_t flags = 0;
  if (attrs.size) flags |= kAttrSize;
  if (attrs.uid && attrs.gid) flags |= kAttrUidGid;
  if (attrs.permissions) flags |= kAttrPermissions;
  if (attrs.atime && attrs.mtime) flags |= kAttrTimes;
  if (!attrs.extended.empty()) flags |= kAttrExtended;
  w.uint32(flags);
  if (flags & kAttrSize) w.uint64(*attrs.size);
  if (flags & kAttrUidGid) {
    w.uint32(*attrs.uid);
    w.uint32(*attrs.gid);
  }
  if (flags & kAttrPermissions) w.uint32(*attrs.permissions);
  if (flags & kAttrTimes) {
    w.uint32(*attrs.atime);
    w.uint32(*attrs.mtime);
  }
  if (flags & kAttrExtended) {
    w.uint32(static_cast<std::uint32_t>(attrs.extended.size()));
    for (const auto& [type, data] : attrs.extended) {
      w.string(type);
      w.string(data);
    }
  }
}

// A request's first fields; framed() puts the length in front once the rest is written.
Writer start(PacketType type, std::uint32_t id) {
  Writer w;
  w.uint32(0);
  w.byte(static_cast<std::uint8_t>(type));
  w.uint32(id);
  return w;
}

std::vector<std::uint8_t> framed(Writer& w) {
  auto bytes = w.take();
  const auto length = static_cast<std::uint32_t>(bytes.size() - 4);
  for (int i = 0; i < 4; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
  return bytes;
}

}  // namespace

std::string_view to_string(PacketType type) {
  switch (type) {
    case PacketType::init:
      return "INIT";
    case PacketType::version:
      return "VERSION";
    case PacketType::open:
      return "OPEN";
    case PacketType::close:
      return "CLOSE";
    case PacketType::read:
      return "READ";
    case PacketType::write:
      return "WRITE";
    case PacketType::lstat:
      return "LSTAT";
    case PacketType::fstat:
      return "FSTAT";
    case PacketType::setstat:
      return "SETSTAT";
    case PacketType::fsetstat:
      return "FSETSTAT";
    case PacketType::opendir:
      return "OPENDIR";
    case PacketType::readdir:
      return "READDIR";
    case PacketType::remove:
      return "REMOVE";
    case PacketType::mkdir:
      return "MKDIR";
    case PacketType::rmdir:
      return "RMDIR";
    case PacketType::realpath:
      return "REALPATH";
    case PacketType::stat:
      return "STAT";
    case PacketType::rename:
      return "RENAME";
    case PacketType::readlink:
      return "READLINK";
    case PacketType::symlink:
      return "SYMLINK";
    case PacketType::status:
      return "STATUS";
    case PacketType::handle:
      return "HANDLE";
    case PacketType::data:
      return "DATA";
    case PacketType::name:
      return "NAME";
    case PacketType::attrs:
      return "ATTRS";
    case PacketType::extended:
      return "EXTENDED";
    case PacketType::extended_reply:
      return "EXTENDED_REPLY";
  }
  return "UNKNOWN";
}

std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::ok:
      return "SSH_FX_OK";
    case StatusCode::eof:
      return "SSH_FX_EOF";
    case StatusCode::no_such_file:
      return "SSH_FX_NO_SUCH_FILE";
    case StatusCode::permission_denied:
      return "SSH_FX_PERMISSION_DENIED";
    case StatusCode::failure:
      return "SSH_FX_FAILURE";
    case StatusCode::bad_message:
      return "SSH_FX_BAD_MESSAGE";
    case StatusCode::no_connection:
      return "SSH_FX_NO_CONNECTION";
    case StatusCode::connection_lost:
      return "SSH_FX_CONNECTION_LOST";
    case StatusCode::op_unsupported:
      return "SSH_FX_OP_UNSUPPORTED";
  }
  return "SSH_FX_UNKNOWN";
}

bool FileAttributes::is_directory() const { return permissions && (*permissions & kTypeMask) == 0040000; }
bool FileAttributes::is_regular() const { return permissions && (*permissions & kTypeMask) == 0100000; }
bool FileAttributes::is_symlink() const { return permissions && (*permissions & kTypeMask) == 0120000; }

PacketType Reply::type() const {
  constexpr PacketType types[] = {PacketType::status, PacketType::handle, PacketType::data,
                                  PacketType::name,   PacketType::attrs,  PacketType::extended_reply};
  return types[body.index()];
}

Result<std::uint32_t> packet_length(ConstBytes header) {
  Reader r(header, "SFTP packet length");
  const std::uint32_t length = r.uint32();
  if (auto read = r.finish(); !read) return runtime::fail(malformed(std::move(read.error()), header));
  if (length == 0 || length > kMaxPacket) {
    return runtime::fail(
        std::move(malformed(fmt::format("an SFTP packet of {} bytes (1 to {} allowed)", length, kMaxPacket), header)
                      .with("length", std::to_string(length))));
  }
  return length;
}

Result<VersionReply> parse_version(ConstBytes packet) {
  Reader r(packet, "SFTP VERSION");
  const auto type = r.byte();
  if (!r.failed() && type != static_cast<std::uint8_t>(PacketType::version)) {
    return runtime::fail(malformed(fmt::format("the server's first packet is type {}, not VERSION", type), packet));
  }
  VersionReply version;
  version.version = r.uint32();
  while (!r.failed() && r.remaining() > 0) {
    Extension extension;
    extension.name = r.text();
    extension.data = r.text();
    version.extensions.push_back(std::move(extension));
  }
  if (auto read = r.finish(); !read) return runtime::fail(malformed(std::move(read.error()), packet));
  return version;
}

Result<Reply> parse_reply(ConstBytes packet) {
  Reader r(packet, "SFTP reply");
  const auto type = static_cast<PacketType>(r.byte());
  Reply reply;
  reply.id = r.uint32();
  std::optional<std::string> wrong;
  switch (type) {
    case PacketType::status: {
      StatusReply status;
      status.code = r.uint32();
      // Version 3 servers may stop after the code (the draft's earliest servers did).
      if (r.remaining() > 0) {
        status.message = r.text();
        status.language = r.text();
      }
      reply.body = std::move(status);
      break;
    }
    case PacketType::handle: {
      HandleReply handle{r.text()};
      // The draft caps a handle at 256 bytes; a longer one would be echoed in every request.
      if (handle.handle.size() > 256) wrong = fmt::format("a handle of {} bytes (256 at most)", handle.handle.size());
      reply.body = std::move(handle);
      break;
    }
    case PacketType::data:
      reply.body = DataReply{r.text()};
      break;
    case PacketType::name: {
      NameReply name;
      const std::uint32_t count = r.uint32();
      // Each entry is two strings and the attribute flags: 12 bytes at least.
      if (!r.failed() && !count_fits(r, count, 12)) {
        wrong = fmt::format("{} names in {} bytes", count, r.remaining());
        break;
      }
      name.entries.reserve(count);
      for (std::uint32_t i = 0; i < count && !r.failed() && !wrong; ++i) {
        NameEntry entry;
        entry.filename = r.text();
        entry.longname = r.text();
        wrong = read_attrs(r, entry.attrs);
        name.entries.push_back(std::move(entry));
      }
      reply.body = std::move(name);
      break;
    }
    case PacketType::attrs: {
      AttrsReply attrs;
      wrong = read_attrs(r, attrs.attrs);
      reply.body = std::move(attrs);
      break;
    }
    case PacketType::extended_reply: {
      const auto rest = r.rest();
      reply.body = ExtendedReply{std::string(rest.begin(), rest.end())};
      break;
    }
    default:
      if (!r.failed()) wrong = fmt::format("packet type {} is not a reply", static_cast<int>(type));
  }
  if (wrong) return runtime::fail(malformed(fmt::format("malformed SFTP {}: {}", to_string(type), *wrong), packet));
  if (auto read = r.finish(true); !read) return runtime::fail(malformed(std::move(read.error()), packet));
  return reply;
}

Result<StatVfs> parse_statvfs(std::string_view data) {
  Reader r(bytes_of(data), "statvfs@openssh.com reply");
  StatVfs s;
  for (auto* field : {&s.block_size, &s.fragment_size, &s.blocks, &s.free_blocks, &s.available_blocks, &s.files,
                      &s.free_files, &s.available_files, &s.filesystem_id, &s.flags, &s.max_name_length}) {
    *field = r.uint64();
  }
  if (auto read = r.finish(true); !read) return runtime::fail(malformed(std::move(read.error()), bytes_of(data)));
  return s;
}

Result<Limits> parse_limits(std::string_view data) {
  Reader r(bytes_of(data), "limits@openssh.com reply");
  Limits limits;
  for (auto* field :
       {&limits.max_packet_length, &limits.max_read_length, &limits.max_write_length, &limits.max_open_handles}) {
    *field = r.uint64();
  }
  if (auto read = r.finish(true); !read) return runtime::fail(malformed(std::move(read.error()), bytes_of(data)));
  return limits;
}

std::vector<std::uint8_t> encode_init() {
  Writer w;
  w.uint32(5);
  w.byte(static_cast<std::uint8_t>(PacketType::init));
  w.uint32(kVersion);
  return w.take();
}

std::vector<std::uint8_t> encode_path_request(PacketType type, std::uint32_t id, std::string_view path) {
  auto w = start(type, id);
  w.string(path);
  return framed(w);
}

std::vector<std::uint8_t> encode_handle_request(PacketType type, std::uint32_t id, std::string_view handle) {
  return encode_path_request(type, id, handle);
}

std::vector<std::uint8_t> encode_attrs_request(PacketType type, std::uint32_t id, std::string_view path_or_handle,
                                               const FileAttributes& attrs) {
  auto w = start(type, id);
  w.string(path_or_handle);
  write_attrs(w, attrs);
  return framed(w);
}

std::vector<std::uint8_t> encode_two_paths(PacketType type, std::uint32_t id, std::string_view first,
                                           std::string_view second) {
  auto w = start(type, id);
  w.string(first);
  w.string(second);
  return framed(w);
}

std::vector<std::uint8_t> encode_open(std::uint32_t id, std::string_view path, std::uint32_t flags,
                                      const FileAttributes& attrs) {
  auto w = start(PacketType::open, id);
  w.string(path);
  w.uint32(flags);
  write_attrs(w, attrs);
  return framed(w);
}

std::vector<std::uint8_t> encode_read(std::uint32_t id, std::string_view handle, std::uint64_t offset,
                                      std::uint32_t length) {
  auto w = start(PacketType::read, id);
  w.string(handle);
  w.uint64(offset);
  w.uint32(length);
  return framed(w);
}

std::vector<std::uint8_t> encode_write(std::uint32_t id, std::string_view handle, std::uint64_t offset,
                                       ConstBytes data) {
  auto w = start(PacketType::write, id);
  w.string(handle);
  w.uint64(offset);
  w.string(data);
  return framed(w);
}

std::vector<std::uint8_t> encode_extended(std::uint32_t id, std::string_view name, ConstBytes fields) {
  auto w = start(PacketType::extended, id);
  w.string(name);
  w.raw(fields);
  return framed(w);
}

}  // namespace cr::ssh::sftp
