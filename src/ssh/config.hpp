#pragma once
// ssh_config(5) for one destination, read the way OpenSSH reads it: the command line's -o options,
// then each file in turn (-F FILE, or ~/.ssh/config then /etc/ssh/ssh_config), Host and Match
// blocks, Include, and for each keyword the first value obtained wins (IdentityFile and the other
// list keywords accumulate). A keyword OpenSSH would not know is an error naming file and line,
// as ssh refuses it too, unless IgnoreUnknown names it.

#include <filesystem>
#include <initializer_list>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace cr::ssh {

// What Host and Match lines are matched against and what %-tokens expand to.
struct ConfigContext {
  std::string host;            // as given on the command line: Host, Match originalhost, %n
  std::string local_user;      // %u, Match localuser
  std::filesystem::path home;  // ~ and %d; relative Include paths are under home/.ssh
  // Runs a `Match exec` command (tokens already expanded) and says whether it exited 0. Without
  // it, a Match exec line is an error: the ssh layer starts no processes of its own.
  std::function<bool(const std::string& command)> run_exec;
};

struct ConfigInput {
  std::vector<std::string> command_line;     // -o "Keyword=Value" / "Keyword Value", first of all
  std::vector<std::filesystem::path> files;  // in order; a missing file is skipped
};

class SshConfig {
 public:
  // The arguments of the first value obtained for keyword (any case), or nullptr.
  const std::vector<std::string>* find(std::string_view keyword) const;
  // The keyword's first argument, or nullopt.
  std::optional<std::string> text(std::string_view keyword) const;
  // Every value of a list keyword (IdentityFile, SendEnv, ...), in the order obtained.
  std::vector<std::string> all(std::string_view keyword) const;
  struct Value;
  // Every line given for keyword, in the order obtained, each with its arguments apart
  // (LocalForward's listening side and its target).
  std::vector<Value> lines(std::string_view keyword) const;
  // yes/no (and the synonyms OpenSSH takes); an error names the file and line.
  runtime::Result<std::optional<bool>> flag(std::string_view keyword) const;
  // A whole number within [low, high]; an error names the file and line.
  runtime::Result<std::optional<long>> number(std::string_view keyword, long low, long high) const;
  // Of keywords that exclude each other (ProxyCommand and ProxyJump), the one obtained first, in
  // lower case; empty when none was.
  std::string first_given(std::initializer_list<std::string_view> keywords) const;
  // "~/.ssh/config:12" or "command line", for errors about a value.
  std::string origin(std::string_view keyword) const;

  // %-tokens of ssh_config(5) TOKENS (%% %d %h %l %n %p %r %u) and a leading ~, for paths such as
  // IdentityFile; HostName, Port and User resolved so far fill %h %p %r.
  runtime::Result<std::string> expand(std::string_view value, std::string_view keyword) const;

  struct Value {
    std::string keyword;  // lower case
    std::vector<std::string> args;
    std::string origin;
  };
  void add(Value value);
  const ConfigContext& context() const { return context_; }
  explicit SshConfig(ConfigContext context) : context_(std::move(context)) {}

 private:
  const Value* first(std::string_view keyword) const;
  ConfigContext context_;
  std::vector<Value> values_;
};

// Errors are Layer::config with the file and line ("~/.ssh/config:7: Bad configuration option:
// foo"), the line itself as evidence; never a silent fallback.
runtime::Result<SshConfig> read_config(const ConfigInput& input, ConfigContext context);

// The user's files: ~/.ssh/config and the system-wide one, as ssh reads them without -F.
std::vector<std::filesystem::path> default_config_files(const std::filesystem::path& home);

}  // namespace cr::ssh
