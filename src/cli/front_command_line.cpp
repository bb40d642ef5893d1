#include "cli/front_command_line.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <string>

namespace cr::cli {
namespace {

// A number as CLI11 surely reads it: digits, with at most one point between digits.
std::optional<double> plain_number(std::string_view text) {
  const auto digits = [](std::string_view part) {
    return !part.empty() &&
           std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  const auto point = text.find('.');
  const bool plain =
      point == std::string_view::npos ? digits(text) : digits(text.substr(0, point)) && digits(text.substr(point + 1));
  if (!plain) return std::nullopt;
  // As CLI11 converts it.
  return static_cast<double>(std::strtold(std::string(text).c_str(), nullptr));
}

}  // namespace

std::optional<ExecCommandOptions> read_front_exec(std::span<const std::string_view> args) {
  if (args.empty() || args.front() != "exec") return std::nullopt;
  ExecCommandOptions o;
  std::string timeout;
  struct Flag {
    std::string_view name;
    bool* target;
    bool seen = false;
  };
  std::array<Flag, 4> flags{{{"--tty", &o.tty}, {"--json", &o.json}, {"--shell", &o.shell}, {"--argv", &o.argv}}};
  // Each option once, as CLI11 takes these; --env and -o may repeat.
  struct Option {
    std::string_view name;
    std::string* once;
    std::vector<std::string>* repeated;
    bool seen = false;
  };
  std::array<Option, 7> options{{{"--coder", &o.coder, nullptr},
                                 {"--suffix", &o.suffix, nullptr},
                                 {"--cwd", &o.cwd, nullptr},
                                 {"--timeout", &timeout, nullptr},
                                 {"--remote-shell", &o.remote_shell, nullptr},
                                 {"--env", nullptr, &o.env},
                                 {"-o", nullptr, &o.ssh_options}}};
  std::size_t i = 1;
  for (; i < args.size() && args[i].starts_with('-'); ++i) {
    const auto word = args[i];
    const auto equals = word.starts_with("--") ? word.find('=') : std::string_view::npos;
    const auto name = word.substr(0, equals);
    std::optional<std::string_view> value;
    if (equals != std::string_view::npos) value = word.substr(equals + 1);

    const auto flag = std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag != flags.end()) {
      if (value || flag->seen) return std::nullopt;
      flag->seen = true;
      *flag->target = true;
      continue;
    }
    const auto option = std::find_if(options.begin(), options.end(), [&](const Option& op) { return op.name == name; });
    if (option == options.end()) return std::nullopt;
    if (!value) {
      // A value that looks like an option is CLI11's to judge.
      if (i + 1 == args.size() || args[i + 1].starts_with('-')) return std::nullopt;
      value = args[++i];
    }
    if (value->empty()) return std::nullopt;
    if (option->repeated) {
      option->repeated->emplace_back(*value);
      continue;
    }
    if (option->seen) return std::nullopt;
    option->seen = true;
    option->once->assign(*value);
  }
  if (!timeout.empty()) {
    const auto seconds = plain_number(timeout);
    if (!seconds) return std::nullopt;
    o.timeout_seconds = *seconds;
  }
  if (o.shell && o.argv) return std::nullopt;
  if (o.remote_shell != "posix" && o.remote_shell != "cmd" && o.remote_shell != "powershell") return std::nullopt;
  // WORKSPACE -- WORD...
  // CLI11 reads `++` as the end of the subcommand.
  if (i + 2 >= args.size() || args[i] == "++" || args[i + 1] != "--") return std::nullopt;
  o.workspace = args[i];
  for (auto word : args.subspan(i + 2)) o.command.emplace_back(word);
  return o;
}

}  // namespace cr::cli
