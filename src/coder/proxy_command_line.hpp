#pragma once
// The ProxyCommand line that reaches a workspace through the CLI: `"<coder>" "ssh" "--stdio"
// "--hostname-suffix" "<suffix>" "<host>"`, written the way the desktop app writes it so that both
// OpenSSH (through /bin/sh) and cmd.exe read it back as the same arguments: every argument in
// double quotes, an embedded `"` as `\"`, backslashes kept (`C:\Program Files\coder.exe`).
// A '%' becomes "%%", since ssh and we expand %-tokens in a ProxyCommand before running it.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace cr::coder {

inline constexpr std::string_view kDefaultHostSuffix = "mux--coder";

// One argument, quoted. CR, LF or NUL cannot be written into an ssh_config line (or survive a
// shell): invalid_argument naming the argument. `expand_tokens_literally` false keeps '%' as it is (for %h).
runtime::Result<std::string> quote_proxy_argument(std::string_view argument, bool expand_tokens_literally = true);

// `host` is passed through as written, so "%h" stays a token; the rest are literal.
runtime::Result<std::string> coder_proxy_command(const std::filesystem::path& coder, std::string_view suffix,
                                                 std::string_view host);

// A ProxyCommand read back: exactly the line above, with `host` either the %h token or the host
// itself. Anything else (other flags, shell syntax, `$` or a backquote that a shell would expand,
// a backslash escape other than \") is nullopt: the connection is then not known to be a
// workspace's, and is made as the line says.
struct CoderProxyRoute {
  std::filesystem::path coder;
  std::string suffix;
};
std::optional<CoderProxyRoute> read_coder_proxy_command(std::string_view line, std::string_view host);

}  // namespace cr::coder
