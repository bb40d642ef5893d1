#include "coder/first_choices.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "runtime/atomic_file.hpp"
#include "ssh/digest.hpp"

namespace cr::coder {
namespace {

constexpr std::size_t kMaxRemembered = 256;
// In place of a host key algorithm not to lead with (the server's first named another key than the
// one agreed): no guess.
constexpr std::string_view kNoHostKey = "-";

struct Line {
  std::string key;
  ssh::ServerFirstChoice choice;
};

std::string key_for(const std::string& destination) { return ssh::sha256_hex(destination); }

// Algorithm names as RFC 4251 section 6 allows them, so that nothing else reaches a KEXINIT.
bool algorithm_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '@' || c == '.' ||
           c == '-' || c == '_' || c == '+';
  });
}

std::vector<Line> parse(const std::string& text) {
  std::vector<Line> lines;
  std::istringstream in(text);
  for (std::string row; std::getline(in, row);) {
    std::istringstream fields(row);
    Line line;
    std::string extra;
    if (!(fields >> line.key >> line.choice.kex >> line.choice.host_key) || (fields >> extra)) continue;
    if (line.choice.host_key == kNoHostKey) line.choice.host_key.clear();
    if (line.key.size() != 64 || !algorithm_name(line.choice.kex)) continue;
    if (!line.choice.host_key.empty() && !algorithm_name(line.choice.host_key)) continue;
    lines.push_back(std::move(line));
  }
  return lines;
}

// This process's choices, by key.
struct Memory {
  std::mutex mutex;
  std::map<std::string, ssh::ServerFirstChoice> choices;

  static Memory& process() {
    static Memory memory;
    return memory;
  }
};

std::vector<Line> read_lines(const std::filesystem::path& file, const runtime::Logger& log) {
  auto text = runtime::read_file_if_exists(file);
  if (!text) {
    log.debug("remembered server choices not read: {}", text.error().summary());
    return {};
  }
  return *text ? parse(**text) : std::vector<Line>{};
}

}  // namespace

std::optional<ssh::ServerFirstChoice> recall_first_choice(const std::string& destination,
                                                          const std::optional<std::filesystem::path>& file,
                                                          const runtime::Logger& log) {
  const auto key = key_for(destination);
  auto& memory = Memory::process();
  {
    const std::lock_guard lock(memory.mutex);
    if (const auto found = memory.choices.find(key); found != memory.choices.end()) return found->second;
  }
  if (!file) return std::nullopt;
  const auto lines = read_lines(*file, log);
  const auto found = std::find_if(lines.rbegin(), lines.rend(), [&](const Line& line) { return line.key == key; });
  if (found == lines.rend()) return std::nullopt;
  const std::lock_guard lock(memory.mutex);
  memory.choices.emplace(key, found->choice);
  return found->choice;
}

void remember_first_choice(const std::string& destination, const ssh::ServerFirstChoice& choice,
                           const std::optional<std::filesystem::path>& file, const runtime::Logger& log) {
  const auto key = key_for(destination);
  auto& memory = Memory::process();
  {
    const std::lock_guard lock(memory.mutex);
    auto [entry, added] = memory.choices.emplace(key, choice);
    if (!added && entry->second == choice) return;  // known already: nothing to write
    entry->second = choice;
  }
  if (!file) return;
  auto lines = read_lines(*file, log);
  std::erase_if(lines, [&](const Line& line) { return line.key == key; });
  lines.push_back({key, choice});
  if (lines.size() > kMaxRemembered) lines.erase(lines.begin(), lines.end() - kMaxRemembered);
  std::string text;
  for (const auto& line : lines) {
    const std::string_view host_key = line.choice.host_key.empty() ? kNoHostKey : line.choice.host_key;
    text += fmt::format("{} {} {}\n", line.key, line.choice.kex, host_key);
  }
  if (auto written = runtime::write_file_atomically(*file, text); !written) {
    log.debug("remembered server choices not written: {}", written.error().summary());
  }
}

}  // namespace cr::coder
