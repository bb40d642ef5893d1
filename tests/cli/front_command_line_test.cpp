// The front reads the plain exec lines a script writes without CLI11, and leaves every other line
// to the full program: what it reads must be exactly what CLI11 reads from the same words.

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/front_command_line.hpp"

using namespace cr;

namespace {

std::optional<cli::ExecCommandOptions> read_by_cli11(const std::vector<std::string>& words) {
  CLI::App app{cli::kProgramDescription};
  app.require_subcommand(1);
  cli::GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More detail on stderr (repeat for more)");
  cli::ExecCommandOptions o;
  auto* exec = cli::add_exec_options(app, o, global);
  std::vector<const char*> argv{"coder-runtime"};
  for (const auto& word : words) argv.push_back(word.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
    return std::nullopt;
  }
  cli::take_exec_words(*exec, o);
  o.verbosity = global.verbosity;
  return o;
}

std::optional<cli::ExecCommandOptions> read_by_front(const std::vector<std::string>& words) {
  const std::vector<std::string_view> views(words.begin(), words.end());
  return cli::read_front_exec(views);
}

std::string described(const std::optional<cli::ExecCommandOptions>& o) {
  if (!o) return "(not read)";
  return fmt::format(
      "workspace={} command={} coder={} suffix={} cwd={} env={} timeout={} tty={} json={} shell={} argv={} "
      "remote_shell={} -o={} verbosity={}",
      o->workspace, o->command, o->coder, o->suffix, o->cwd, o->env, o->timeout_seconds, o->tty, o->json, o->shell,
      o->argv, o->remote_shell, o->ssh_options, o->verbosity);
}

}  // namespace

TEST_CASE("front command line: each exec line the front reads, it reads as CLI11 does", "[cli][front]") {
  const std::vector<std::vector<std::string>> lines{
      {"exec", "ws", "--", "true"},
      {"exec", "ws", "--", "echo", "hello world", "x"},
      {"exec", "owner/ws", "--", "cat; echo err >&2; exit 3"},
      {"exec", "--tty", "--json", "ws", "--", "top"},
      {"exec", "--cwd", "/tmp", "--env", "A=1", "--env=B=two words", "ws", "--", "env"},
      {"exec", "--timeout", "2.5", "ws", "--", "sleep", "1"},
      {"exec", "--timeout=30", "ws", "--", "true"},
      {"exec", "-o", "ControlMaster=auto", "-o", "ControlPersist=60", "ws", "--", "true"},
      {"exec", "--coder", "/usr/bin/coder", "--suffix", "coder", "ws", "--", "true"},
      {"exec", "--shell", "ws", "--", "echo", "a", "b"},
      {"exec", "--argv", "ws", "--", "ls"},
      {"exec", "--remote-shell", "powershell", "ws", "--", "Get-Date"},
      {"exec", "--remote-shell=cmd", "ws", "--", "dir"},
      {"exec", "ws", "--", "--looks-like-an-option", "-v", "--", "--tty"},
      {"exec", "ws", "--", "[a,b]", "c"},
  };
  for (const auto& line : lines) {
    INFO(fmt::format("{}", line));
    const auto front = read_by_front(line);
    REQUIRE(front);
    CHECK(described(front) == described(read_by_cli11(line)));
  }
}

TEST_CASE("front command line: any other line is the full program's, mistakes included", "[cli][front]") {
  const std::vector<std::vector<std::string>> lines{
      {},
      {"connections", "list"},
      {"-v", "exec", "ws", "--", "true"},
      {"exec", "-v", "ws", "--", "true"},
      {"exec", "--help"},
      {"exec", "ws", "true"},
      {"exec", "ws", "--"},
      {"exec", "--", "ws", "true"},
      {"exec", "--tty=yes", "ws", "--", "true"},
      {"exec", "--tty", "--tty", "ws", "--", "true"},
      {"exec", "--shell", "--argv", "ws", "--", "true"},
      {"exec", "--remote-shell", "zsh", "ws", "--", "true"},
      {"exec", "--timeout", "1e3", "ws", "--", "true"},
      {"exec", "--timeout", "-1", "ws", "--", "true"},
      {"exec", "--cwd", "a", "--cwd", "b", "ws", "--", "true"},
      {"exec", "--cwd", "ws", "--", "true"},
      {"exec", "--cwd=", "ws", "--", "true"},
      {"exec", "-oControlMaster=no", "ws", "--", "true"},
      {"exec", "--unknown", "ws", "--", "true"},
      {"exec", "--coder"},
      {"exec", "++", "--", "true"},
  };
  for (const auto& line : lines) {
    INFO(fmt::format("{}", line));
    CHECK_FALSE(read_by_front(line));
  }
}
