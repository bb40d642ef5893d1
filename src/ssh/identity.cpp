#include "ssh/identity.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <fmt/format.h>

#include "ssh/crypto/private_key.hpp"
#include "ssh/crypto/secret.hpp"

namespace cr::ssh {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

// A key file is a few KiB; anything past this is not one, and is not read into memory whole.
constexpr std::size_t kMaximumKeyFileSize = 1 << 20;

// `what` empty: the OS's words for `error_number`.
Error file_error(const std::filesystem::path& path, std::string_view what, int error_number) {
  const std::error_code system(error_number, std::generic_category());
  Error error(Errc::invalid_argument, Layer::auth,
              fmt::format("cannot read identity file {}: {}", path.string(),
                          what.empty() ? system.message() : std::string(what)));
  if (error_number != 0) error.system = system;
  return error;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// The contents, overwritten once parsed (see load_identity_file).
runtime::Result<std::vector<std::uint8_t>> read_key_file(const std::filesystem::path& path) {
  // A FIFO or a device would block the open or never end; a missing file gets the OS's words below.
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (!status_error && !std::filesystem::is_regular_file(status)) {
    return runtime::fail(file_error(path, "not a regular file", 0));
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.string().c_str(), "rb"));
  if (!file) return runtime::fail(file_error(path, "", errno));
  std::vector<std::uint8_t> contents;
  std::uint8_t buffer[4096];
  for (;;) {
    const auto n = std::fread(buffer, 1, sizeof buffer, file.get());
    contents.insert(contents.end(), buffer, buffer + n);
    if (contents.size() > kMaximumKeyFileSize) {
      crypto::wipe(contents);
      return runtime::fail(
          file_error(path, fmt::format("larger than {} bytes: not a key file", kMaximumKeyFileSize), 0));
    }
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get())) {
    const int error_number = errno;
    crypto::wipe(contents);
    return runtime::fail(file_error(path, "", error_number));
  }
  return contents;
}

runtime::Result<void> check_permissions(const std::filesystem::path& path) {
#ifndef _WIN32
  struct stat status {};
  if (::stat(path.string().c_str(), &status) != 0) return runtime::fail(file_error(path, "", errno));
  if (status.st_uid == ::getuid() && (status.st_mode & 077) != 0) {
    return runtime::fail(Error(Errc::invalid_argument, Layer::auth,
                               fmt::format("permissions {:04o} for identity file {} are too open: a private key must "
                                           "not be readable by others (chmod 600 {})",
                                           status.st_mode & 07777, path.string(), path.string())));
  }
#else
  (void)path;
#endif
  return {};
}

runtime::Result<std::unique_ptr<crypto::PrivateKey>> parse(const std::vector<std::uint8_t>& contents,
                                                           const std::filesystem::path& path,
                                                           const IdentityFileOptions& options) {
  const std::string source = path.string();
  if (!crypto::private_key_is_encrypted(contents)) return crypto::parse_private_key(contents, "", source);
  for (int attempt = 1;; ++attempt) {
    auto passphrase = options.passphrase ? options.passphrase(source, attempt) : std::nullopt;
    if (!passphrase) return crypto::parse_private_key(contents, "", source);  // "no passphrase was given"
    auto key = crypto::parse_private_key(contents, *passphrase, source);
    crypto::wipe(*passphrase);
    if (key || !crypto::is_wrong_passphrase(key.error()) || attempt >= options.passphrase_attempts) return key;
  }
}

}  // namespace

runtime::Result<Identity> load_identity_file(const std::filesystem::path& path, const IdentityFileOptions& options) {
  auto contents = read_key_file(path);
  if (!contents) return runtime::fail(std::move(contents.error()));
  if (options.check_permissions) {
    if (auto permitted = check_permissions(path); !permitted) {
      crypto::wipe(*contents);
      return runtime::fail(std::move(permitted.error()));
    }
  }
  auto key = parse(*contents, path, options);
  crypto::wipe(*contents);
  if (!key) return runtime::fail(std::move(key.error()));
  std::shared_ptr<const crypto::PrivateKey> shared = std::move(*key);
  return Identity{make_signer(std::move(shared)), path.string()};
}

}  // namespace cr::ssh
