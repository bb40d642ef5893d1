#pragma once
// OpenSSH's known_hosts files (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") and its host key policy
// (ssh_config(5) StrictHostKeyChecking, UserKnownHostsFile, GlobalKnownHostsFile, HashKnownHosts).
//
// A line is `[@revoked|@cert-authority] hosts keytype base64-key [comment]`. `hosts` is either a
// comma-separated pattern list ('*', '?', '!' negates; `[host]:port` for a port other than 22) or
// one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. A malformed line is skipped
// and reported, the rest of the file still counts.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/logging.hpp"
#include "ssh/transport.hpp"

namespace cr::ssh {

struct FileLine {
  std::string file;
  std::size_t line = 0;           // from 1
  std::string to_string() const;  // "file:line"
};

enum class KnownHostMarker { none, revoked, cert_authority };

struct KnownHostLine {
  FileLine where;
  KnownHostMarker marker = KnownHostMarker::none;
  std::string hosts;  // the field as written
  std::string key_type;
  std::vector<std::uint8_t> key_blob;
  std::string comment;

  // `name` as known_hosts_name() makes it.
  bool matches_host(std::string_view name) const;
};

struct SkippedLine {
  FileLine where;
  std::string reason;
};

struct KnownHosts {
  std::vector<KnownHostLine> lines;
  std::vector<SkippedLine> skipped;
};

// `file` names the text in FileLine references.
KnownHosts parse_known_hosts(std::string_view text, std::string_view file);
// The files in order, as one list. A missing file has no lines; one we cannot read is an error
// (Layer::kex, io_error): treating it as empty could accept a key it would refuse.
runtime::Result<KnownHosts> load_known_hosts(std::span<const std::filesystem::path> files);

// The name lines match: the host in lower case, as `[host]:port` unless the port is 22.
std::string known_hosts_name(std::string_view host, std::uint16_t port);

enum class HostKeyStatus {
  matches,  // a line has this key for this host
  revoked,  // an @revoked line for this host has this key: refuse whatever the policy
  changed,  // the host has other keys of this key type, not this one
  unknown,  // no key of this type for this host (keys of other types may be known)
};

struct KnownKey {
  FileLine where;
  std::string key_type;
  std::string fingerprint;  // "SHA256:..."
};

struct HostKeyLookup {
  HostKeyStatus status = HostKeyStatus::unknown;
  // matches: the lines with this key; revoked: the @revoked lines; changed: the lines with this
  // host's other keys of the type; unknown: the lines with this host's keys of other types.
  std::vector<KnownKey> keys;
};

// @cert-authority lines never match a plain host key.
HostKeyLookup lookup_host_key(const KnownHosts& known, std::string_view host, std::uint16_t port,
                              std::string_view key_type, std::span<const std::uint8_t> key_blob);

// The key types of the host's plain key lines (not @revoked, not @cert-authority), each once, in
// file order.
std::vector<std::string> known_key_types(const KnownHosts& known, std::string_view host, std::uint16_t port);

// Adds `name keytype base64-key` to `file` by writing the whole new file beside it, fsyncing and
// renaming it over the old one, so a reader sees the old file or the new one. The mode is kept
// (0600 for a new file; a missing parent directory is created 0700). Writers in this library take
// an exclusive lock on the directory and re-read the file: the line is not added twice.
runtime::Result<void> add_known_host(const std::filesystem::path& file, std::string_view host, std::uint16_t port,
                                     std::span<const std::uint8_t> key_blob, bool hash_name);

enum class StrictHostKeyChecking {
  yes,         // unknown or changed keys are refused
  accept_new,  // unknown keys are added to the first user file and accepted; changed ones refused
  no,          // unknown keys are added and accepted; changed ones accepted with a warning
};

struct KnownHostsOptions {
  std::vector<std::filesystem::path> user_files;    // UserKnownHostsFile: new keys go to the first
  std::vector<std::filesystem::path> global_files;  // GlobalKnownHostsFile: read only
  StrictHostKeyChecking strict = StrictHostKeyChecking::yes;
  bool hash_new_entries = false;  // HashKnownHosts
  runtime::Logger log;            // skipped lines, added keys, accepted changes
};

// The files are read at every key exchange. Refusals are Layer::kex protocol_error with the host,
// the offered key's fingerprint and the known keys with their file:line as evidence. As OpenSSH
// does, a key that cannot be recorded is still accepted (with a warning in the log).
HostKeyVerifier known_hosts_verifier(std::string host, std::uint16_t port, KnownHostsOptions options);

}  // namespace cr::ssh
