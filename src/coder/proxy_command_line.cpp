#include "coder/proxy_command_line.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

runtime::Result<std::string> quote_proxy_argument(std::string_view argument, bool expand_tokens_literally) {
  if (argument.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return runtime::fail(std::move(
        Error(Errc::invalid_argument, Layer::config, "a ProxyCommand argument cannot contain a line break or NUL")
            .with("argument", runtime::printable(argument, 300))));
  }
  std::string quoted = "\"";
  for (const char c : argument) {
    if (c == '"') {
      quoted += "\\\"";
    } else if (c == '%' && expand_tokens_literally) {
      quoted += "%%";
    } else {
      quoted += c;
    }
  }
  quoted += '"';
  return quoted;
}

runtime::Result<std::string> coder_proxy_command(const std::filesystem::path& coder, std::string_view suffix,
                                                 std::string_view host) {
  if (suffix.empty()) return runtime::fail(Errc::invalid_argument, Layer::config, "the host name suffix is empty");
  const std::string program = coder.string();
  const std::vector<std::pair<std::string_view, bool>> arguments{
      {program, true}, {"ssh", true}, {"--stdio", true}, {"--hostname-suffix", true}, {suffix, true}, {host, false}};
  std::string line;
  for (const auto& [argument, literal] : arguments) {
    auto quoted = quote_proxy_argument(argument, literal);
    if (!quoted) return runtime::fail(std::move(quoted.error()));
    if (!line.empty()) line += ' ';
    line += *quoted;
  }
  return line;
}

namespace {

// One argument as quote_proxy_argument writes it, or a bare word without shell syntax, from the
// front of `rest`; nullopt for anything else. The %h token comes back as "%h", "%%" as "%".
std::optional<std::string> read_argument(std::string_view& rest) {
  std::string word;
  if (rest.front() != '"') {
    const auto end = std::min(rest.find(' '), rest.size());
    word = rest.substr(0, end);
    rest.remove_prefix(end);
    if (word.find_first_of("\"'\\$`;&|<>()*?[]{}~#!\t=") != std::string::npos) return std::nullopt;
  } else {
    std::size_t i = 1;
    for (; i < rest.size() && rest[i] != '"'; ++i) {
      const char c = rest[i];
      if (c == '$' || c == '`') return std::nullopt;
      if (c == '\\' && i + 1 < rest.size() && std::string_view("\"\\$`").find(rest[i + 1]) != std::string_view::npos) {
        if (rest[i + 1] != '"') return std::nullopt;
        ++i;
      }
      word += rest[i];
    }
    if (i == rest.size()) return std::nullopt;
    rest.remove_prefix(i + 1);
    // A shell joins what follows a closing quote to the same word.
    if (!rest.empty() && rest.front() != ' ') return std::nullopt;
  }
  std::string unescaped;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (word[i] == '%' && i + 1 < word.size() && word[i + 1] == '%') ++i;
    unescaped += word[i];
  }
  return unescaped;
}

}  // namespace

std::optional<CoderProxyRoute> read_coder_proxy_command(std::string_view line, std::string_view host) {
  std::vector<std::string> words;
  while (!line.empty()) {
    if (line.front() == ' ') {
      line.remove_prefix(1);
      continue;
    }
    auto word = read_argument(line);
    if (!word) return std::nullopt;
    words.push_back(std::move(*word));
  }
  if (words.size() != 6 || words[1] != "ssh" || words[2] != "--stdio" || words[3] != "--hostname-suffix" ||
      words[0].empty() || words[4].empty() || (words[5] != "%h" && words[5] != host)) {
    return std::nullopt;
  }
  return CoderProxyRoute{std::filesystem::path(words[0]), words[4]};
}

}  // namespace cr::coder
