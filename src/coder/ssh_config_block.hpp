#pragma once
// The block of ~/.ssh/config that lets plain `ssh ws.mux--coder` (and editors that run ssh) reach
// Coder workspaces through the CLI, between two marker lines, as the desktop app writes it:
//
//   # --- START MUX CODER SSH ---
//   Host *.mux--coder
//     ConnectTimeout 0
//     LogLevel ERROR
//     StrictHostKeyChecking no
//     UserKnownHostsFile /dev/null
//     ProxyCommand "<coder>" "ssh" "--stdio" "--hostname-suffix" "mux--coder" "%h"
//   # --- END MUX CODER SSH ---
//
// Written in place of the old block, or appended; removed with the blank line we put before it.
// More than one marker of a kind, or one without the other, is an error naming the lines: the file
// is someone's, and we do not guess which block they meant.

#include <filesystem>
#include <string>
#include <string_view>

#include "coder/proxy_command_line.hpp"
#include "runtime/error.hpp"

namespace cr::coder {

inline constexpr std::string_view kBlockStart = "# --- START MUX CODER SSH ---";
inline constexpr std::string_view kBlockEnd = "# --- END MUX CODER SSH ---";

struct SshConfigBlock {
  std::filesystem::path coder;  // the CLI, as the ProxyCommand runs it
  std::string suffix{kDefaultHostSuffix};
};

// The block's lines, markers included, each ending in '\n'.
runtime::Result<std::string> render_block(const SshConfigBlock& block);

// Pure text edits; `file_name` is for errors ("~/.ssh/config:12").
runtime::Result<std::string> with_block(std::string_view config_text, std::string_view rendered_block,
                                        std::string_view file_name);
// The text without the block; unchanged when there is none.
runtime::Result<std::string> without_block(std::string_view config_text, std::string_view file_name);

// The file edits: read, edit, write atomically (mode kept, 0600 for a new file, the folder created
// 0700, symlinks followed). Writing unchanged content is skipped.
runtime::Result<void> write_block(const std::filesystem::path& config_file, const SshConfigBlock& block);
// True when a block was there and is gone; a missing file or block is not an error.
runtime::Result<bool> remove_block(const std::filesystem::path& config_file);

}  // namespace cr::coder
