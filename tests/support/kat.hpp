#pragma once
// Known-answer data files in tests/data/: blocks of `name = value` lines separated by blank
// lines; '#' starts a comment line. A name may repeat within a block (one packet after another).

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace cr::test {

using KatLines = std::vector<std::pair<std::string, std::string>>;

inline std::vector<KatLines> read_kat_blocks(const std::string& file_name) {
  std::ifstream in(std::string(CODER_RUNTIME_TEST_DATA) + "/" + file_name);
  REQUIRE(in);
  std::vector<KatLines> blocks(1);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with('#')) continue;
    if (line.empty()) {
      if (!blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    const auto separator = line.find(" =");
    REQUIRE(separator != std::string::npos);
    blocks.back().emplace_back(line.substr(0, separator),
                               separator + 3 <= line.size() ? line.substr(separator + 3) : "");
  }
  if (blocks.back().empty()) blocks.pop_back();
  return blocks;
}

// The blocks as name -> value, for files where no name repeats.
inline std::vector<std::map<std::string, std::string>> read_kat_maps(const std::string& file_name) {
  std::vector<std::map<std::string, std::string>> maps;
  for (const auto& block : read_kat_blocks(file_name)) maps.emplace_back(block.begin(), block.end());
  return maps;
}

// Hex to bytes; "-" stands for no bytes.
inline std::vector<std::uint8_t> from_hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  if (text == "-") return out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Hex with a space between fields, for a message laid out as its RFC lists the fields.
inline std::vector<std::uint8_t> from_fields_hex(std::string_view text) {
  std::string digits;
  for (const char c : text) {
    if (c != ' ') digits += c;
  }
  return from_hex(digits);
}

inline std::string to_hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const auto byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0x0f];
  }
  return out;
}

}  // namespace cr::test
