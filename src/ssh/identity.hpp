#pragma once
// Identities from key files (OpenSSH's IdentityFile): read the file, ask for a passphrase only
// when the key is encrypted, and refuse a key others can read, as OpenSSH does.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "ssh/client_auth.hpp"

namespace cr::ssh {

struct IdentityFileOptions {
  // Asked for an encrypted key's passphrase (path, attempt 1, 2, ...); nullopt gives up.
  std::function<std::optional<std::string>(const std::string& path, int attempt)> passphrase;
  // How often a wrong passphrase is asked again (OpenSSH's NumberOfPasswordPrompts).
  int passphrase_attempts = 3;
  // POSIX: refuse a key file of ours that group or others may read (OpenSSH's "UNPROTECTED
  // PRIVATE KEY FILE"): such a key is likely known to someone else already.
  bool check_permissions = true;
};

// Errors are Layer::auth and name the path: missing or unreadable (with the OS error),
// permissions too open, no passphrase given, wrong passphrase, or what parse_private_key says.
runtime::Result<Identity> load_identity_file(const std::filesystem::path& path,
                                             const IdentityFileOptions& options = {});

}  // namespace cr::ssh
