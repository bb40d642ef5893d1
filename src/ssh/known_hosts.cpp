#include "ssh/known_hosts.hpp"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>

#include "runtime/atomic_file.hpp"
#include "ssh/crypto/encoding.hpp"
#include "ssh/crypto/hmac.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/random.hpp"
#include "ssh/pattern.hpp"

namespace cr::ssh {
namespace {

namespace fs = std::filesystem;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;

constexpr std::string_view kBlanks = " \t";
constexpr std::string_view kHashedNamePrefix = "|1|";
constexpr std::size_t kSha1Size = 20;
constexpr std::uint16_t kDefaultPort = 22;
constexpr std::size_t kQuotedFieldLimit = 40;  // enough of a bad field to find it in the file

std::string lowercase(std::string_view text) {
  std::string lower(text);
  std::ranges::transform(lower, lower.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
  return lower;
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// The next blank-separated field of `rest`, removed from it; empty at the end of the line.
std::string_view next_field(std::string_view& rest) {
  const auto start = std::min(rest.find_first_not_of(kBlanks), rest.size());
  const auto end = std::min(rest.find_first_of(kBlanks, start), rest.size());
  const auto field = rest.substr(start, end - start);
  rest.remove_prefix(end);
  return field;
}

std::string_view trim(std::string_view text) {
  const auto start = text.find_first_not_of(kBlanks);
  if (start == std::string_view::npos) return {};
  return text.substr(start, text.find_last_not_of(kBlanks) - start + 1);
}

struct HashedName {
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> digest;  // HMAC-SHA1(salt, name)
};

// "|1|base64(salt)|base64(digest)"; nullopt when malformed. OpenSSH's salt is a SHA-1 key (20 bytes).
std::optional<HashedName> parse_hashed_name(std::string_view field) {
  if (!field.starts_with(kHashedNamePrefix)) return std::nullopt;
  field.remove_prefix(kHashedNamePrefix.size());
  const auto separator = field.find('|');
  if (separator == std::string_view::npos) return std::nullopt;
  auto salt = crypto::base64_decode(field.substr(0, separator));
  auto digest = crypto::base64_decode(field.substr(separator + 1));
  if (!salt || !digest || salt->size() != kSha1Size || digest->size() != kSha1Size) return std::nullopt;
  return HashedName{std::move(*salt), std::move(*digest)};
}

std::string hashed_name(std::string_view name) {
  std::vector<std::uint8_t> salt(kSha1Size);
  crypto::random_bytes(salt);
  return fmt::format("{}{}|{}", kHashedNamePrefix, crypto::base64_encode(salt),
                     crypto::base64_encode(crypto::hmac_sha1(salt, as_bytes(name))));
}

std::string shown(std::string_view field) { return "'" + runtime::printable(field, kQuotedFieldLimit) + "'"; }

// `text` is the line without leading blanks; the error is why it is skipped.
tl::expected<KnownHostLine, std::string> parse_line(std::string_view text, FileLine where) {
  KnownHostLine line;
  line.where = std::move(where);
  auto field = next_field(text);
  if (field.starts_with('@')) {
    if (field == "@revoked") {
      line.marker = KnownHostMarker::revoked;
    } else if (field == "@cert-authority") {
      line.marker = KnownHostMarker::cert_authority;
    } else {
      return tl::unexpected("unknown marker " + shown(field));
    }
    field = next_field(text);
  }
  line.hosts = field;
  line.key_type = next_field(text);
  const auto key = next_field(text);
  if (key.empty()) return tl::unexpected(std::string("expected [marker] hosts keytype base64-key [comment]"));
  if (line.hosts.starts_with('|') && !parse_hashed_name(line.hosts)) {
    return tl::unexpected("malformed hashed host name " + shown(line.hosts) + " (expected |1|salt|hash)");
  }
  auto blob = crypto::base64_decode(key);
  if (!blob) return tl::unexpected("the key " + shown(key) + " is not base64");
  const auto blob_type = crypto::key_blob_type(*blob);
  if (!blob_type) return tl::unexpected(std::string("the key is not an SSH public key blob"));
  if (*blob_type != line.key_type) {
    return tl::unexpected(
        fmt::format("the key type field says {} but the key is {}", shown(line.key_type), shown(*blob_type)));
  }
  line.key_blob = std::move(*blob);
  line.comment = trim(text);
  return line;
}

// Callers pass last_system_error() with a literal and an existing path: nothing in the arguments
// allocates before errno is read.
Error file_error(std::error_code cause, std::string_view what, const fs::path& path) {
  return std::move(Error(Errc::io_error, Layer::kex, fmt::format("{} {}: {}", what, path.string(), cause.message()))
                       .with_system(cause));
}

#ifndef _WIN32
std::error_code last_system_error() { return {errno, std::generic_category()}; }

// Closes the descriptor it holds.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

// The file's bytes; nullopt when it does not exist.
runtime::Result<std::optional<std::string>> read_whole_file(const fs::path& path) {
  Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return runtime::fail(file_error(last_system_error(), "cannot open known hosts file", path));
  }
  std::string content;
  std::array<char, 8192> buffer;
  for (;;) {
    const auto n = ::read(file.get(), buffer.data(), buffer.size());
    if (n == 0) return std::optional<std::string>(std::move(content));
    if (n > 0) {
      content.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (errno != EINTR) {
      return runtime::fail(file_error(last_system_error(), "cannot read known hosts file", path));
    }
  }
}

// Creates the missing directories of `directory` with mode 0700, as ssh does for ~/.ssh.
runtime::Result<void> make_private_directories(const fs::path& directory) {
  std::error_code ignored;
  if (directory.empty() || fs::exists(directory, ignored)) return {};
  if (auto parent = make_private_directories(directory.parent_path()); !parent) return parent;
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return runtime::fail(file_error(last_system_error(), "cannot create directory", directory));
  }
  return {};
}

#else
// Windows: reading, folders and appending through the standard library. No directory lock (like OpenSSH for
// Windows, a second writer may race between our read and our rename).

runtime::Result<std::optional<std::string>> read_whole_file(const fs::path& path) {
  std::error_code missing;
  if (!fs::exists(path, missing)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {
    return runtime::fail(file_error(std::make_error_code(std::errc::io_error), "cannot read known hosts file", path));
  }
  return std::optional<std::string>(std::move(content));
}

runtime::Result<void> make_private_directories(const fs::path& directory) {
  std::error_code ec;
  if (directory.empty() || fs::exists(directory, ec)) return {};
  fs::create_directories(directory, ec);
  if (ec) return runtime::fail(file_error(ec, "cannot create directory", directory));
  return {};
}

runtime::Result<void> write_file(const fs::path& file, std::string_view content, std::ios::openmode mode) {
  std::ofstream out(file, std::ios::binary | mode);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return runtime::fail(file_error(std::make_error_code(std::errc::io_error), "cannot write", file));
  return {};
}

#endif

KnownKey known_key(const KnownHostLine& line) {
  return {line.where, line.key_type, crypto::fingerprint_sha256(line.key_blob)};
}

std::string describe(const KnownKey& key) {
  return fmt::format("{} {} at {}", key.key_type, key.fingerprint, key.where.to_string());
}

struct Offered {
  std::string name;  // as known_hosts lines match it
  std::string key_type;
  std::string fingerprint;
  std::string describe() const { return key_type + " " + fingerprint; }
};

Error refusal(std::string message, const Offered& offered, const std::vector<KnownKey>& known_keys,
              std::string_view known_label) {
  Error error(Errc::protocol_error, Layer::kex, std::move(message));
  error.with("host", offered.name).with("offered key", offered.describe());
  for (const auto& key : known_keys) error.with(std::string(known_label), describe(key));
  return error;
}

Error revoked_error(const Offered& offered, const HostKeyLookup& found) {
  return refusal(fmt::format("REVOKED HOST KEY for {}: the server's {} key {} is marked @revoked in {}; refusing to "
                             "connect",
                             offered.name, offered.key_type, offered.fingerprint, found.keys.front().where.to_string()),
                 offered, found.keys, "revoked at");
}

Error changed_error(const Offered& offered, const HostKeyLookup& found) {
  const auto& old = found.keys.front();
  return refusal(fmt::format("REMOTE HOST IDENTIFICATION HAS CHANGED for {}: the server's {} key {} is not the one "
                             "in {} ({}). Someone could be eavesdropping on you (a man-in-the-middle attack), or "
                             "the host key has just been changed. If the change is expected, remove the old key "
                             "with: ssh-keygen -f '{}' -R '{}'",
                             offered.name, offered.key_type, offered.fingerprint, old.where.to_string(),
                             old.fingerprint, old.where.file, offered.name),
                 offered, found.keys, "known key");
}

Error unknown_error(const Offered& offered, const HostKeyLookup& found, const std::vector<fs::path>& files) {
  auto error = refusal(fmt::format("no {} host key is known for {} and StrictHostKeyChecking is yes; add the key "
                                   "{} to a known hosts file once you have checked it",
                                   offered.key_type, offered.name, offered.fingerprint),
                       offered, found.keys, "known key of another type");
  for (const auto& file : files) error.with("known hosts file", file.string());
  return error;
}

// The null device as ssh_config names it (the Coder profile's UserKnownHostsFile /dev/null), and on
// Windows also NUL: OpenSSH for Windows maps /dev/null to NUL, where a file path would make
// \dev\null on the current drive. What is written to it is dropped.
bool is_null_device(const fs::path& file) {
  const auto text = file.generic_string();
#ifdef _WIN32
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "/dev/null" || lower == "nul";
#else
  return text == "/dev/null";
#endif
}

runtime::Result<void> record_new_key(std::string_view host, std::uint16_t port, const KnownHostsOptions& options,
                                     const Offered& offered, const HostKeyLookup& found, const HostKey& key) {
  for (const auto& other : found.keys) {
    options.log.info("{} also has a known key of another type: {}", offered.name, describe(other));
  }
  if (options.user_files.empty()) {
    options.log.warning("accepting the new host key {} of {} without recording it: no user known hosts file",
                        offered.describe(), offered.name);
    return {};
  }
  const auto& file = options.user_files.front();
  // The Coder profile's choice (its agents' host keys are vouched for by the Coder connection):
  // nothing is written, so nothing is said to be added.
  if (is_null_device(file)) {
    options.log.debug("not recording the new host key {} of {}: the user known hosts file is {}", offered.describe(),
                      offered.name, file.string());
    return {};
  }
  if (auto added = add_known_host(file, host, port, key.blob, options.hash_new_entries); !added) {
    options.log.warning("Failed to add the host to the list of known hosts ({}): {}", file.string(),
                        added.error().summary());
  } else {
    options.log.info("Permanently added '{}' ({}) to the list of known hosts.", offered.name, offered.key_type);
  }
  return {};
}

runtime::Result<void> check_host_key(std::string_view host, std::uint16_t port, const KnownHostsOptions& options,
                                     const HostKey& key) {
  auto key_type = crypto::key_blob_type(key.blob);
  if (!key_type) return runtime::fail(std::move(key_type.error()));
  auto files = options.user_files;
  files.insert(files.end(), options.global_files.begin(), options.global_files.end());
  auto known = load_known_hosts(files);
  if (!known) return runtime::fail(std::move(known.error()).while_("checking the server's host key"));
  for (const auto& skipped : known->skipped) {
    options.log.warning("{}: line skipped: {}", skipped.where.to_string(), skipped.reason);
  }

  const Offered offered{known_hosts_name(host, port), *key_type, crypto::fingerprint_sha256(key.blob)};
  const auto found = lookup_host_key(*known, host, port, *key_type, key.blob);
  switch (found.status) {
    case HostKeyStatus::matches:
      options.log.debug("host key {} of {} found at {}", offered.describe(), offered.name,
                        found.keys.front().where.to_string());
      return {};
    case HostKeyStatus::revoked:
      return runtime::fail(revoked_error(offered, found));
    case HostKeyStatus::changed:
      if (options.strict != StrictHostKeyChecking::no) return runtime::fail(changed_error(offered, found));
      options.log.warning("{} (accepted: StrictHostKeyChecking is no)", changed_error(offered, found).summary());
      return {};
    case HostKeyStatus::unknown:
      if (options.strict == StrictHostKeyChecking::yes) return runtime::fail(unknown_error(offered, found, files));
      return record_new_key(host, port, options, offered, found, key);
  }
  return {};
}

}  // namespace

std::string FileLine::to_string() const { return fmt::format("{}:{}", file, line); }

bool KnownHostLine::matches_host(std::string_view name) const {
  if (!hosts.starts_with('|')) return match_pattern_list(name, hosts);
  const auto hashed = parse_hashed_name(hosts);
  return hashed && crypto::hmac_sha1(hashed->salt, as_bytes(name)) == hashed->digest;
}

KnownHosts parse_known_hosts(std::string_view text, std::string_view file) {
  KnownHosts known;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    const auto start = line.find_first_not_of(kBlanks);
    if (start == std::string_view::npos || line[start] == '#') continue;
    FileLine where{std::string(file), number};
    auto parsed = parse_line(line.substr(start), where);
    if (parsed) {
      known.lines.push_back(std::move(*parsed));
    } else {
      known.skipped.push_back({std::move(where), std::move(parsed.error())});
    }
  }
  return known;
}

runtime::Result<KnownHosts> load_known_hosts(std::span<const fs::path> files) {
  KnownHosts all;
  for (const auto& path : files) {
    auto content = read_whole_file(path);
    if (!content) return runtime::fail(std::move(content.error()));
    if (!*content) continue;
    auto known = parse_known_hosts(**content, path.string());
    std::ranges::move(known.lines, std::back_inserter(all.lines));
    std::ranges::move(known.skipped, std::back_inserter(all.skipped));
  }
  return all;
}

std::string known_hosts_name(std::string_view host, std::uint16_t port) {
  if (port == kDefaultPort) return lowercase(host);
  return fmt::format("[{}]:{}", lowercase(host), port);
}

HostKeyLookup lookup_host_key(const KnownHosts& known, std::string_view host, std::uint16_t port,
                              std::string_view key_type, std::span<const std::uint8_t> key_blob) {
  const auto name = known_hosts_name(host, port);
  HostKeyLookup revoked{HostKeyStatus::revoked, {}};
  HostKeyLookup matching{HostKeyStatus::matches, {}};
  HostKeyLookup changed{HostKeyStatus::changed, {}};
  HostKeyLookup other_types{HostKeyStatus::unknown, {}};
  for (const auto& line : known.lines) {
    if (line.marker == KnownHostMarker::cert_authority || !line.matches_host(name)) continue;
    const bool same_key = std::ranges::equal(line.key_blob, key_blob);
    if (line.marker == KnownHostMarker::revoked) {
      if (same_key) revoked.keys.push_back(known_key(line));
    } else if (same_key) {
      matching.keys.push_back(known_key(line));
    } else if (line.key_type == key_type) {
      changed.keys.push_back(known_key(line));
    } else {
      other_types.keys.push_back(known_key(line));
    }
  }
  for (auto* decided : {&revoked, &matching, &changed}) {
    if (!decided->keys.empty()) return std::move(*decided);
  }
  return other_types;
}

std::vector<std::string> known_key_types(const KnownHosts& known, std::string_view host, std::uint16_t port) {
  const auto name = known_hosts_name(host, port);
  std::vector<std::string> types;
  for (const auto& line : known.lines) {
    if (line.marker != KnownHostMarker::none || !line.matches_host(name)) continue;
    if (std::ranges::find(types, line.key_type) == types.end()) types.push_back(line.key_type);
  }
  return types;
}

namespace {

std::string known_hosts_line(std::string_view host, std::uint16_t port, std::string_view key_type,
                             std::span<const std::uint8_t> key_blob, bool hash_name) {
  const auto name = known_hosts_name(host, port);
  return fmt::format("{} {} {}\n", hash_name ? hashed_name(name) : name, key_type, crypto::base64_encode(key_blob));
}

runtime::Result<void> append_line(const fs::path& file, std::string_view line) {
#ifdef _WIN32
  return write_file(file, line, std::ios::app);
#else
  Descriptor out(::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK));
  if (!out.valid()) return runtime::fail(file_error(last_system_error(), "cannot open", file));
  if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return runtime::fail(file_error(last_system_error(), "cannot write", file));
  }
  return {};
#endif
}

}  // namespace

runtime::Result<void> add_known_host(const fs::path& file, std::string_view host, std::uint16_t port,
                                     std::span<const std::uint8_t> key_blob, bool hash_name) {
  auto key_type = crypto::key_blob_type(key_blob);
  if (!key_type) return runtime::fail(std::move(key_type.error()));
  if (is_null_device(file)) return {};
  // Through a symlink (a dotfiles repository), replace the file it points to, not the link.
  auto target = file;
  if (std::error_code link_error; fs::is_symlink(fs::symlink_status(file, link_error))) {
    target = fs::canonical(file, link_error);
    if (link_error) return runtime::fail(file_error(link_error, "cannot resolve", file));
  }
  // /dev/null (the Coder profile's UserKnownHostsFile), a FIFO: append as ssh does. Replacing
  // such a file with a regular one would break it for everyone else.
  if (std::error_code status_error; fs::exists(target, status_error) && !fs::is_regular_file(target, status_error)) {
    return append_line(target, known_hosts_line(host, port, *key_type, key_blob, hash_name));
  }
  const auto directory = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  if (auto made = make_private_directories(directory); !made) return made;

#ifndef _WIN32
  Descriptor directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory_fd.valid()) return runtime::fail(file_error(last_system_error(), "cannot open", directory));
  // Held until the rename: another writer in this library re-reads the file after us.
  while (::flock(directory_fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return runtime::fail(file_error(last_system_error(), "cannot lock", directory));
  }
#endif
  auto existing = read_whole_file(target);
  if (!existing) return runtime::fail(std::move(existing.error()));
  auto content = existing->value_or("");
  const auto already = lookup_host_key(parse_known_hosts(content, target.string()), host, port, *key_type, key_blob);
  if (already.status == HostKeyStatus::matches) return {};

  if (!content.empty() && !content.ends_with('\n')) content += '\n';
  content += known_hosts_line(host, port, *key_type, key_blob, hash_name);
  // A new file is 0600, an existing one keeps its mode.
  auto replaced = runtime::write_file_atomically(target, content);
  if (!replaced) {
    auto error = std::move(replaced.error());
    error.layer = Layer::kex;
    return runtime::fail(std::move(error).while_("adding the host key to " + target.string()));
  }
  return {};
}

HostKeyVerifier known_hosts_verifier(std::string host, std::uint16_t port, KnownHostsOptions options) {
  return [host = std::move(host), port, options = std::move(options)](const HostKey& key) {
    return check_host_key(host, port, options, key);
  };
}

}  // namespace cr::ssh
