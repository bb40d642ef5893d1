#include "ssh/pattern.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace cr::ssh {

bool match_pattern(std::string_view text, std::string_view pattern) {
  // Iterative glob with one backtrack point: linear in practice, no recursion on hostile input.
  std::size_t t = 0, p = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++t, ++p;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool match_pattern_list(std::string_view name, std::string_view patterns) {
  const auto lower = [](std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  const std::string lowered_name = lower(name);
  bool matched = false;
  while (!patterns.empty()) {
    const auto comma = patterns.find(',');
    auto pattern = patterns.substr(0, comma);
    patterns.remove_prefix(comma == std::string_view::npos ? patterns.size() : comma + 1);
    const bool negated = pattern.starts_with('!');
    if (negated) pattern.remove_prefix(1);
    if (pattern.empty() || !match_pattern(lowered_name, lower(pattern))) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

}  // namespace cr::ssh
