#include "coder/proxy_command_line.hpp"

#include <fmt/format.h>

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

runtime::Result<std::string> quote_proxy_argument(std::string_view argument, bool expand_tokens_literally) {
  if (argument.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::config,
                                         "a ProxyCommand argument cannot contain a line break or NUL")
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

}  // namespace cr::coder
