#pragma once
// Replacing a user's file (~/.ssh/config) so that a reader, or a crash, sees the old content or
// the new, never half of it: a temporary file in the same folder, written, given the old file's
// mode, fsynced, renamed over the target, the folder fsynced. A symlink is followed, so the file it
// points to is replaced and the link stays a link.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/error.hpp"

namespace cr::runtime {

// The file a path names once symlinks are followed (the path itself when it does not exist yet).
// A loop of links is an error.
Result<std::filesystem::path> resolve_symlinks(const std::filesystem::path& path);

// The whole content, or nullopt when the file does not exist. Errors: Layer::config, io_error.
Result<std::optional<std::string>> read_file_if_exists(const std::filesystem::path& path);

// `new_file_mode` applies to a new file; an existing one keeps its mode. A missing parent folder
// is created with `new_folder_mode` (~/.ssh: 0700).
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                   std::filesystem::perms new_file_mode = std::filesystem::perms::owner_read |
                                                                          std::filesystem::perms::owner_write,
                                   std::filesystem::perms new_folder_mode = std::filesystem::perms::owner_all);

}  // namespace cr::runtime
