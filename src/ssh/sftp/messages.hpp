#pragma once
// SFTP version 3 packets (draft-ietf-secsh-filexfer-02): each is a uint32 length, a type byte and,
// except INIT and VERSION, a uint32 request id. Requests are encoded here; the server's packets
// are parsed by pure functions that reject what does not add up (lengths, counts, sizes) with the
// bytes that arrived as evidence.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/sftp/types.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh::sftp {

inline constexpr std::uint32_t kVersion = 3;
// The largest packet (its length field) either side sends or accepts: OpenSSH's
// SFTP_MAX_MSG_LENGTH. A longer one is a broken or hostile peer, not a large file.
inline constexpr std::uint32_t kMaxPacket = 256 * 1024;
// What a READ or WRITE may carry so that its packet stays within kMaxPacket (OpenSSH's margin).
inline constexpr std::uint32_t kMaxPayload = kMaxPacket - 1024;

enum class PacketType : std::uint8_t {
  init = 1,
  version = 2,
  open = 3,
  close = 4,
  read = 5,
  write = 6,
  lstat = 7,
  fstat = 8,
  setstat = 9,
  fsetstat = 10,
  opendir = 11,
  readdir = 12,
  remove = 13,
  mkdir = 14,
  rmdir = 15,
  realpath = 16,
  stat = 17,
  rename = 18,
  readlink = 19,
  symlink = 20,
  status = 101,
  handle = 102,
  data = 103,
  name = 104,
  attrs = 105,
  extended = 200,
  extended_reply = 201,
};
// "STAT", "READ": the draft's names without SSH_FXP_, for errors.
std::string_view to_string(PacketType type);

enum class StatusCode : std::uint32_t {
  ok = 0,
  eof = 1,
  no_such_file = 2,
  permission_denied = 3,
  failure = 4,
  bad_message = 5,
  no_connection = 6,
  connection_lost = 7,
  op_unsupported = 8,
};
// "SSH_FX_NO_SUCH_FILE"; a number the draft does not define is "SSH_FX_UNKNOWN".
std::string_view to_string(StatusCode code);

struct VersionReply {
  std::uint32_t version = 0;
  std::vector<Extension> extensions;
};
struct StatusReply {
  std::uint32_t code = 0;  // a StatusCode, or a number the draft does not define
  std::string message;
  std::string language;
};
struct HandleReply {
  std::string handle;
};
struct DataReply {
  std::string data;
};
struct NameReply {
  std::vector<NameEntry> entries;
};
struct AttrsReply {
  FileAttributes attrs;
};
// What follows the id: the extension defines it (parse_statvfs, parse_limits).
struct ExtendedReply {
  std::string data;
};

struct Reply {
  std::uint32_t id = 0;
  std::variant<StatusReply, HandleReply, DataReply, NameReply, AttrsReply, ExtendedReply> body;
  PacketType type() const;
};

// The packet's length from its first four bytes: what follows them, at least a type byte and at
// most kMaxPacket.
runtime::Result<std::uint32_t> packet_length(ConstBytes header);

// A packet from the type byte on (its length already taken off).
runtime::Result<VersionReply> parse_version(ConstBytes packet);
runtime::Result<Reply> parse_reply(ConstBytes packet);
runtime::Result<StatVfs> parse_statvfs(std::string_view data);
runtime::Result<Limits> parse_limits(std::string_view data);

// Requests, framed (length first) and ready to send.
std::vector<std::uint8_t> encode_init();
// STAT, LSTAT, OPENDIR, REMOVE, RMDIR, REALPATH, READLINK: a path alone.
std::vector<std::uint8_t> encode_path_request(PacketType type, std::uint32_t id, std::string_view path);
// CLOSE, FSTAT, READDIR: a handle alone.
std::vector<std::uint8_t> encode_handle_request(PacketType type, std::uint32_t id, std::string_view handle);
// SETSTAT and MKDIR (a path), FSETSTAT (a handle): the string, then attributes.
std::vector<std::uint8_t> encode_attrs_request(PacketType type, std::uint32_t id, std::string_view path_or_handle,
                                               const FileAttributes& attrs);
// RENAME (old, new) and SYMLINK: OpenSSH sends the link's target first and the link's path second,
// the reverse of the draft, and every server follows OpenSSH.
std::vector<std::uint8_t> encode_two_paths(PacketType type, std::uint32_t id, std::string_view first,
                                           std::string_view second);
std::vector<std::uint8_t> encode_open(std::uint32_t id, std::string_view path, std::uint32_t flags,
                                      const FileAttributes& attrs);
std::vector<std::uint8_t> encode_read(std::uint32_t id, std::string_view handle, std::uint64_t offset,
                                      std::uint32_t length);
std::vector<std::uint8_t> encode_write(std::uint32_t id, std::string_view handle, std::uint64_t offset,
                                       ConstBytes data);
// EXTENDED: the request's name, then its own fields (already encoded).
std::vector<std::uint8_t> encode_extended(std::uint32_t id, std::string_view name, ConstBytes fields);

}  // namespace cr::ssh::sftp
