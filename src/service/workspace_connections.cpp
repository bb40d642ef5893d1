#include "service/workspace_connections.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "coder/cli_driver.hpp"
#include "coder/workspace_connect.hpp"
#include "runtime/paths.hpp"

namespace cr::service {
namespace {

constexpr std::string_view kCoderPrefix = "CODER_";

std::string pool_key(const WorkspaceTarget& target) {
  auto env = target.coder_env;
  std::sort(env.begin(), env.end());
  std::string identity = target.coder;
  for (const auto& [name, value] : env) identity += fmt::format("\n{}={}", name, value);
  return fmt::format("{} {:016x}", destination_of(target), std::hash<std::string>{}(identity));
}

// The CODER_* variables the CLI runs with: exactly the client's, whatever ours are.
std::vector<std::pair<std::string, std::optional<std::string>>> environment_changes(const WorkspaceTarget& target) {
  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  for (const auto& [name, value] : coder_environment()) changes.emplace_back(name, std::nullopt);
  for (const auto& variable : target.coder_env) {
    const auto& name = variable.first;
    if (!name.starts_with(kCoderPrefix)) continue;
    std::erase_if(changes, [&name](const auto& change) { return change.first == name; });
    changes.emplace_back(name, variable.second);
  }
  return changes;
}

}  // namespace

std::string destination_of(const std::string& pool_key) { return pool_key.substr(0, pool_key.rfind(' ')); }

std::string destination_of(const WorkspaceTarget& target) {
  return fmt::format("{}.{}", target.workspace.to_string(), target.suffix);
}

runtime::Result<coder::CoderCli> coder_cli_for(const WorkspaceTarget& target, const runtime::Logger& log) {
  std::optional<std::filesystem::path> explicit_cli;
  if (!target.coder.empty()) explicit_cli = runtime::utf8_to_path(target.coder);
  auto program = coder::find_cli(explicit_cli);
  if (!program) return runtime::fail(std::move(program.error()));
  return coder::CoderCli(*program, log.child("coder"), environment_changes(target));
}

asio::awaitable<runtime::Result<coder::Lease>> acquire_workspace(coder::ConnectionPool& pool, WorkspaceTarget target,
                                                                 const ServerOptions& options, TextCallback on_progress,
                                                                 TextCallback on_warning) {
  auto key = pool_key(target);
  auto dial = [&]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    auto cli = coder_cli_for(target, options.log);
    if (!cli) co_return runtime::fail(std::move(cli.error()));
    coder::WorkspaceConnectOptions connect;
    connect.suffix = target.suffix;
    connect.timeout = std::chrono::seconds(120);  // the workspace's start included
    connect.remembered_choices = options.remembered_choices;
    connect.log = options.log;
    const auto name = target.workspace.to_string();
    connect.on_progress = [on_progress, name](const coder::ReadinessEvent& event) {
      if (event.kind == coder::ReadinessEvent::Kind::ready) return;
      on_progress(fmt::format("workspace {}: {}", name, event.text));
    };
    connect.on_warning = on_warning;
    co_return co_await coder::connect_workspace(*cli, target.workspace, std::move(connect));
  };
  co_return co_await pool.acquire(std::move(key), dial);
}

}  // namespace cr::service
