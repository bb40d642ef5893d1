#include "coder/cli_text.hpp"

#include <fmt/format.h>

namespace cr::coder {

std::string strip_ansi(std::string_view text) {
  constexpr char kEscape = '\x1b';
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != kEscape || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char kind = text[i + 1];
    if (kind == '[') {
      // CSI: parameter and intermediate bytes, then one final byte in @..~.
      std::size_t j = i + 2;
      while (j < text.size() && !(text[j] >= '@' && text[j] <= '~')) ++j;
      i = j;
    } else if (kind == ']') {
      // OSC: up to BEL or ESC backslash (terminal hyperlinks in newer CLIs).
      std::size_t j = i + 2;
      while (j < text.size() && text[j] != '\a' && !(text[j] == kEscape && j + 1 < text.size() && text[j + 1] == '\\'))
        ++j;
      i = (j < text.size() && text[j] == kEscape) ? j + 1 : j;
    } else {
      ++i;  // a two-byte escape
    }
  }
  return out;
}

std::string tail(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return fmt::format("[{} bytes before this left out] {}", text.size() - max_bytes,
                     text.substr(text.size() - max_bytes));
}

}  // namespace cr::coder
