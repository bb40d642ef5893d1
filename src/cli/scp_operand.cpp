#include "cli/scp_operand.hpp"

#include <cctype>

#include <fmt/format.h>

#include "ssh/client_config.hpp"

namespace cr::cli {
namespace {

using runtime::Errc;
using runtime::Layer;

constexpr std::string_view kScheme = "scp://";

// The colon between host and path, or npos for a local path: scp's rule, where a leading colon
// belongs to a file name, a slash before any colon makes the operand local, and a bracketed host
// (after the start or an '@') keeps its own colons.
std::size_t host_colon(std::string_view text) {
  if (text.empty() || text.front() == ':') return std::string_view::npos;
  bool bracketed = text.front() == '[';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool colon_next = i + 1 < text.size() && text[i + 1] == ':';
    if (text[i] == '@' && i + 1 < text.size() && text[i + 1] == '[') bracketed = true;
    if (text[i] == ']' && colon_next && bracketed) return i + 1;
    if (text[i] == ':' && !bracketed) return i;
    if (text[i] == '/') return std::string_view::npos;
  }
  return std::string_view::npos;
}

bool is_drive_letter_path(std::string_view text) {
  return text.size() >= 3 && std::isalpha(static_cast<unsigned char>(text[0])) && text[1] == ':' &&
         (text[2] == '\\' || text[2] == '/');
}

runtime::Result<std::string> percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    const auto hex = text.substr(i + 1, 2);
    const bool valid = hex.size() == 2 && std::isxdigit(static_cast<unsigned char>(hex[0])) &&
                       std::isxdigit(static_cast<unsigned char>(hex[1]));
    if (!valid || std::sscanf(std::string(hex).c_str(), "%2x", &value) != 1 || value == 0) {
      return runtime::fail(Errc::invalid_argument, Layer::cli,
                           "a % in an scp:// path must start an escape such as %20");
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

runtime::Result<RemoteFile> remote_file(std::string_view destination, std::string path) {
  auto parsed = ssh::parse_destination(destination);
  if (!parsed) return runtime::fail(std::move(parsed.error()));
  RemoteFile remote;
  remote.user = std::move(parsed->user);
  remote.host = std::move(parsed->host);
  if (remote.host.size() > 2 && remote.host.front() == '[' && remote.host.back() == ']') {
    remote.host = remote.host.substr(1, remote.host.size() - 2);
  }
  remote.port = parsed->port;
  remote.path = path.empty() ? "." : std::move(path);
  return remote;
}

runtime::Result<RemoteFile> parse_remote(std::string_view text, std::size_t colon) {
  if (!text.starts_with(kScheme)) return remote_file(text.substr(0, colon), std::string(text.substr(colon + 1)));
  const auto rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  auto path = percent_decoded(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  if (!path) return runtime::fail(std::move(path.error()));
  return remote_file(fmt::format("ssh://{}", rest.substr(0, slash)), std::move(*path));
}

}  // namespace

runtime::Result<ScpOperand> parse_scp_operand(std::string_view text, bool drive_letters) {
  const auto colon = host_colon(text);
  const bool local = colon == std::string_view::npos || (drive_letters && is_drive_letter_path(text));
  if (local && !text.starts_with(kScheme)) return ScpOperand{std::nullopt, std::string(text)};
  auto remote = parse_remote(text, colon);
  if (!remote) {
    return runtime::fail(Errc::invalid_argument, Layer::cli,
                         fmt::format("scp operand '{}': {}", text, remote.error().message));
  }
  return ScpOperand{std::move(*remote), {}};
}

}  // namespace cr::cli
