#include "cli/ssh_connect.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"
#include "cli/prompt.hpp"
#include "coder/dial.hpp"
#include "coder/workspace_plan.hpp"
#include "runtime/local_user.hpp"
#include "runtime/paths.hpp"

namespace cr::cli {
namespace {

// An ssh_config argument: quoted so that spaces in a path survive the config reader's splitting.
std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

runtime::Result<ssh::SshConfig> read_user_config(const SshCommandLine& line, const ssh::Destination& destination) {
  ssh::ConfigInput input;
  // -J is ProxyJump before any -o, as with ssh.
  if (!line.jump_hosts.empty()) input.command_line.push_back("ProxyJump " + quoted(line.jump_hosts));
  for (const auto& identity : line.identity_files) input.command_line.push_back("IdentityFile " + quoted(identity));
  input.command_line.insert(input.command_line.end(), line.options.begin(), line.options.end());
  const auto home = runtime::home_directory().value_or(".");
  if (line.config_file.empty()) {
    input.files = ssh::default_config_files(home);
  } else if (line.config_file != "none") {
    input.files = {line.config_file};
  }
  ssh::ConfigContext context;
  context.host = destination.host;
  context.local_user = runtime::local_user_name();
  context.home = home;
  context.run_exec = [](const std::string& command) { return std::system(command.c_str()) == 0; };
  return ssh::read_config(input, std::move(context));
}

// A server gone quiet mid-handshake is named as a stall, with what arrived, while ConnectTimeout
// still runs: half of it, at most the workspaces' budget, leaves the rest to the handshake's own
// pace. The login may wait on a person (a second factor), so it has no stall budget; ConnectTimeout
// still bounds the whole dial, the login included.
void set_stall_budget(ssh::ClientPlan& plan) {
  if (!plan.connect_timeout) return;
  auto& transport = plan.options.transport;
  transport.stall_budget = std::min(coder::kDefaultStallBudget, std::chrono::milliseconds(*plan.connect_timeout) / 2);
  transport.stall_budget_in_auth = false;
}

// Unless BatchMode says no one is there, a password is asked for on the terminal.
void ask_for_passwords(ssh::ClientPlan& plan) {
  if (plan.batch_mode) return;
  plan.options.auth.password = [](const std::string& user, const std::string& host) {
    return ask_secret(fmt::format("{}@{}'s password: ", user, host));
  };
}

}  // namespace

void add_connection_options(CLI::App& command, SshCommandLine& line, const std::string& port_flag) {
  command.add_option("-F", line.config_file, "Read this configuration file instead of ~/.ssh/config (none: no file)");
  command.add_option("-i", line.identity_files, "An identity (private key) file; may be repeated")
      ->allow_extra_args(false);
  command.add_option(port_flag, line.port, "The port to connect to");
  command.add_option("-J", line.jump_hosts,
                     "Connect through these jump hosts first ([user@]host[:port], apart by commas), as ProxyJump");
  command.add_option("-o", line.options, "An option in ssh_config's format, e.g. -o ConnectTimeout=5; may be repeated")
      ->allow_extra_args(false);
}

runtime::Result<PlannedConnection> plan_like_ssh(const SshCommandLine& line, ssh::Destination destination,
                                                 int verbosity) {
  if (destination.user.empty()) destination.user = line.login;
  if (!destination.port) destination.port = line.port;
  auto config = read_user_config(line, destination);
  if (!config) return runtime::fail(std::move(config.error()));
  auto level = runtime::LogLevel::warning;  // ssh's default, INFO, shows warnings
  if (const auto configured = config->text("LogLevel")) level = ssh::parse_log_level(*configured).value_or(level);
  if (verbosity > 0)
    level = verbosity >= 3   ? runtime::LogLevel::trace
            : verbosity == 2 ? runtime::LogLevel::debug
                             : runtime::LogLevel::info;
  const runtime::Logger log(runtime::stderr_sink(), level);
  auto plan = ssh::plan_connection(*config, destination, log);
  if (!plan) return runtime::fail(std::move(plan.error()));
  return PlannedConnection{std::move(*config), std::move(*plan), log};
}

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_like_ssh(ssh::ClientPlan plan,
                                                                                 const SshCommandLine& line,
                                                                                 runtime::Logger log) {
  set_stall_budget(plan);
  coder::DialOptions dial_options;
  dial_options.log = log;
  dial_options.remembered_choices = remembered_choices_file();
  dial_options.on_proxy_stderr = [](std::string_view chunk) { write_stderr(chunk); };
  if (!plan.batch_mode) {
    dial_options.identity_files.passphrase = [](const std::string& path, int) {
      return ask_secret(fmt::format("Enter passphrase for key '{}': ", path));
    };
  }
  ask_for_passwords(plan);
  SshCommandLine files_only;
  files_only.config_file = line.config_file;
  dial_options.plan_jump_host = [files_only, log](const ssh::Destination& host) {
    auto config = read_user_config(files_only, host);
    if (!config) return runtime::Result<ssh::ClientPlan>(runtime::fail(std::move(config.error())));
    auto jump_plan = ssh::plan_connection(*config, host, log);
    if (!jump_plan) return jump_plan;
    set_stall_budget(*jump_plan);
    ask_for_passwords(*jump_plan);
    return jump_plan;
  };
  co_return co_await coder::dial(std::move(plan), std::move(dial_options));
}

int report_failure(const runtime::Error& error, const runtime::Logger& log) {
  write_stderr(fmt::format("coder-runtime: {}\n", error.summary()));
  if (log.enabled(runtime::LogLevel::debug)) write_stderr(error.detailed());
  return kExitConnectionFailed;
}

}  // namespace cr::cli
