#include "coder/ssh_config_block.hpp"

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "runtime/atomic_file.hpp"

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

struct Line {
  std::size_t begin = 0;  // offset of the first byte
  std::size_t end = 0;    // offset after its '\n' (or the end of the text)
};

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const auto newline = text.find('\n', begin);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    lines.push_back({begin, end});
    begin = end;
  }
  return lines;
}

// The line without its line ending and surrounding blanks, for comparing with a marker.
std::string_view trimmed(std::string_view text, const Line& line) {
  auto content = text.substr(line.begin, line.end - line.begin);
  const auto first = content.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = content.find_last_not_of(" \t\r\n");
  return content.substr(first, last - first + 1);
}

struct BlockSpan {
  std::size_t start_line = 0;  // index of the start marker
  std::size_t end_line = 0;    // index of the end marker
};

std::string line_numbers(const std::vector<std::size_t>& indexes) {
  std::vector<std::string> numbers;
  for (const auto index : indexes) numbers.push_back(std::to_string(index + 1));
  return fmt::format("{}", fmt::join(numbers, ", "));
}

Error marker_error(std::string_view file_name, std::string message, const std::vector<std::size_t>& starts,
                   const std::vector<std::size_t>& ends) {
  Error error(Errc::invalid_argument, Layer::config,
              fmt::format("{}: {}; fix or remove the markers by hand", file_name, message));
  if (!starts.empty()) error.with(std::string(kBlockStart), fmt::format("line {}", line_numbers(starts)));
  if (!ends.empty()) error.with(std::string(kBlockEnd), fmt::format("line {}", line_numbers(ends)));
  return error;
}

// Where the block is, nullopt when there is none; duplicate or unbalanced markers are errors.
runtime::Result<std::optional<BlockSpan>> find_block(std::string_view text, const std::vector<Line>& lines,
                                                     std::string_view file_name) {
  std::vector<std::size_t> starts;
  std::vector<std::size_t> ends;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto line = trimmed(text, lines[i]);
    if (line == kBlockStart) starts.push_back(i);
    if (line == kBlockEnd) ends.push_back(i);
  }
  if (starts.empty() && ends.empty()) return std::optional<BlockSpan>();
  if (starts.size() > 1 || ends.size() > 1) {
    return runtime::fail(marker_error(file_name, "the Coder block's markers appear more than once", starts, ends));
  }
  if (starts.size() != ends.size() || starts.front() > ends.front()) {
    return runtime::fail(marker_error(file_name, "the Coder block's markers are unbalanced", starts, ends));
  }
  return std::optional<BlockSpan>(BlockSpan{starts.front(), ends.front()});
}

bool is_blank(std::string_view text, const Line& line) { return trimmed(text, line).empty(); }

}  // namespace

runtime::Result<std::string> render_block(const SshConfigBlock& block) {
  if (block.suffix.find_first_of(" \t\r\n\"*?!,%") != std::string::npos || block.suffix.empty()) {
    return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::config,
                                         "the host name suffix must be one word without wildcards or quotes")
                                       .with("suffix", runtime::printable(block.suffix, 100))));
  }
  auto proxy = coder_proxy_command(block.coder, block.suffix, "%h");
  if (!proxy) return runtime::fail(std::move(proxy.error()));
  return fmt::format(
      "{}\n"
      "Host *.{}\n"
      "  ConnectTimeout 0\n"
      "  LogLevel ERROR\n"
      "  StrictHostKeyChecking no\n"
      "  UserKnownHostsFile /dev/null\n"
      "  ProxyCommand {}\n"
      "{}\n",
      kBlockStart, block.suffix, *proxy, kBlockEnd);
}

runtime::Result<std::string> with_block(std::string_view text, std::string_view rendered, std::string_view file_name) {
  const auto lines = split_lines(text);
  auto found = find_block(text, lines, file_name);
  if (!found) return runtime::fail(std::move(found.error()));
  std::string out;
  if (*found) {
    const auto& span = **found;
    out.append(text.substr(0, lines[span.start_line].begin));
    out.append(rendered);
    out.append(text.substr(lines[span.end_line].end));
    return out;
  }
  out.append(text);
  if (!out.empty() && !out.ends_with('\n')) out += '\n';
  if (!out.empty()) out += '\n';  // a blank line between the user's lines and ours
  out.append(rendered);
  return out;
}

runtime::Result<std::string> without_block(std::string_view text, std::string_view file_name) {
  const auto lines = split_lines(text);
  auto found = find_block(text, lines, file_name);
  if (!found) return runtime::fail(std::move(found.error()));
  if (!*found) return std::string(text);
  const auto& span = **found;
  std::size_t cut_from = lines[span.start_line].begin;
  const bool at_end = span.end_line + 1 == lines.size();
  // The blank line with_block put before an appended block goes with it.
  if (at_end && span.start_line > 0 && is_blank(text, lines[span.start_line - 1])) {
    cut_from = lines[span.start_line - 1].begin;
  }
  std::string out(text.substr(0, cut_from));
  out.append(text.substr(lines[span.end_line].end));
  return out;
}

runtime::Result<void> write_block(const std::filesystem::path& config_file, const SshConfigBlock& block) {
  auto rendered = render_block(block);
  if (!rendered) return runtime::fail(std::move(rendered.error()));
  auto current = runtime::read_file_if_exists(config_file);
  if (!current) return runtime::fail(std::move(current.error()));
  const std::string old_text = current->value_or("");
  auto updated = with_block(old_text, *rendered, config_file.string());
  if (!updated) return runtime::fail(std::move(updated.error()));
  if (*current && *updated == old_text) return {};
  return runtime::write_file_atomically(config_file, *updated);
}

runtime::Result<bool> remove_block(const std::filesystem::path& config_file) {
  auto current = runtime::read_file_if_exists(config_file);
  if (!current) return runtime::fail(std::move(current.error()));
  if (!*current) return false;
  auto updated = without_block(**current, config_file.string());
  if (!updated) return runtime::fail(std::move(updated.error()));
  if (*updated == **current) return false;
  auto written = runtime::write_file_atomically(config_file, *updated);
  if (!written) return runtime::fail(std::move(written.error()));
  return true;
}

}  // namespace cr::coder
