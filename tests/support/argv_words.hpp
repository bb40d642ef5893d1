#pragma once
// Words a remote program must get byte for byte when they are sent as an argv: each of the
// characters a shell gives a meaning to, an empty word, line breaks, text that is not ASCII, bytes
// that are not UTF-8, and a 100 KiB word. The remote program is `printf '%s\0' WORDS...`, whose
// output shows the words it got, each followed by a NUL.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "runtime/error.hpp"

namespace cr::test {

// `size` bytes of every value but NUL, quotes included, in a repeating pattern.
inline std::string large_word(std::size_t size) {
  std::string word(size, '\0');
  for (std::size_t i = 0; i < size; ++i) word[i] = static_cast<char>(1 + (i * 31) % 255);
  return word;
}

inline std::vector<std::string> awkward_words() {
  return {"a b",
          "it's",
          "say \"hi\"",
          "'",
          "\"",
          "$HOME",
          "${HOME}",
          "`id`",
          "$(id)",
          "a;b",
          "a|b",
          "a&b",
          "*",
          "~",
          "~root",
          "-n",
          "--",
          "",
          "two\nlines",
          "tab\there",
          "end\n",
          "back\\slash",
          "\\'",
          "!!",
          "%s%d\\n",
          "{a,b}",
          "[ab]",
          "[a,b]",
          "a>b",
          "#comment",
          "é ü 日本語",
          "\xff\xfe\x80 not UTF-8",
          large_word(100 * 1024)};
}

// What `printf '%s\0' WORDS...` prints.
inline std::string nul_terminated(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += word + '\0';
  return out;
}

// Where `got` first differs from `expected`, short enough for a failure message (a whole 100 KiB
// word is not).
inline std::string first_difference(std::string_view expected, std::string_view got) {
  if (expected == got) return "the same";
  const auto at = static_cast<std::size_t>(
      std::mismatch(expected.begin(), expected.end(), got.begin(), got.end()).first - expected.begin());
  const auto from = at > 40 ? at - 40 : 0;
  return fmt::format("{} bytes expected, {} got; from byte {}: expected \"{}\", got \"{}\"", expected.size(),
                     got.size(), from, runtime::printable(expected.substr(from), 120),
                     runtime::printable(got.substr(std::min(from, got.size())), 120));
}

}  // namespace cr::test
