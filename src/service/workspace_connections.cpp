#include "service/workspace_connections.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "coder/cli_driver.hpp"
#include "coder/dial.hpp"
#include "coder/versions.hpp"
#include "coder/workspace_plan.hpp"
#include "runtime/paths.hpp"

#ifdef _WIN32
#include <windows.h>

#include <cwchar>
#else
extern char** environ;
#endif

namespace cr::service {
namespace {

constexpr std::string_view kCoderPrefix = "CODER_";

std::string pool_key(const WorkspaceTarget& target) {
  auto env = target.coder_env;
  std::sort(env.begin(), env.end());
  std::string identity = target.coder;
  for (const auto& [name, value] : env) identity += fmt::format("\n{}={}", name, value);
  return fmt::format("{}.{} {:016x}", target.workspace.to_string(), target.suffix, std::hash<std::string>{}(identity));
}

// The CODER_* variables the CLI runs with: exactly the client's, whatever ours are.
std::vector<std::pair<std::string, std::optional<std::string>>> environment_changes(const WorkspaceTarget& target) {
  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  for (const auto& [name, value] : coder_environment()) changes.emplace_back(name, std::nullopt);
  for (const auto& [name, value] : target.coder_env) {
    if (!name.starts_with(kCoderPrefix)) continue;
    std::erase_if(changes, [&](const auto& change) { return change.first == name; });
    changes.emplace_back(name, value);
  }
  return changes;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> coder_environment() {
  std::vector<std::pair<std::string, std::string>> variables;
#ifdef _WIN32
  wchar_t* block = GetEnvironmentStringsW();
  for (const wchar_t* entry = block; entry && *entry; entry += std::wcslen(entry) + 1) {
    const auto variable = runtime::narrow(entry);
#else
  for (char** entry = environ; *entry; ++entry) {
    const std::string variable(*entry);
#endif
    const auto equals = variable.find('=');
    if (equals == std::string::npos || !variable.starts_with(kCoderPrefix)) continue;
    variables.emplace_back(variable.substr(0, equals), variable.substr(equals + 1));
  }
#ifdef _WIN32
  if (block) FreeEnvironmentStringsW(block);
#endif
  return variables;
}

std::string destination_of(const std::string& pool_key) { return pool_key.substr(0, pool_key.rfind(' ')); }

asio::awaitable<runtime::Result<coder::Lease>> acquire_workspace(coder::ConnectionPool& pool, WorkspaceTarget target,
                                                                 const ServerOptions& options, [[maybe_unused]] TextCallback on_progress,
                                                                 TextCallback on_warning) {
  auto key = pool_key(target);
  auto dial = [&]() -> asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> {
    std::optional<std::filesystem::path> explicit_cli;
    if (!target.coder.empty()) explicit_cli = runtime::utf8_to_path(target.coder);
    auto cli = coder::find_cli(explicit_cli);
    if (!cli) co_return runtime::fail(std::move(cli.error()));
    coder::WorkspacePlanOptions plan_options;
    plan_options.coder = *cli;
    plan_options.suffix = target.suffix;
    plan_options.log = options.log;
    auto plan = coder::workspace_plan(target.workspace, plan_options);
    if (!plan) co_return runtime::fail(std::move(plan.error()));
    coder::DialOptions dial_options;
    dial_options.log = options.log;
    dial_options.remembered_choices = options.remembered_choices;
    dial_options.proxy_environment = environment_changes(target);
    auto said = std::make_shared<std::string>();
    auto warned = std::make_shared<bool>(false);
    dial_options.on_proxy_stderr = [said, warned, on_warning](std::string_view chunk) {
      if (*warned) return;
      said->append(chunk);
      // The CLI warns at its start; a proxy that has said this much without it will not.
      *warned = said->size() > 64 * 1024;
      if (const auto mismatch = coder::find_mismatch_warning(*said)) {
        *warned = true;
        on_warning(coder::describe_mismatch(*mismatch));
      }
    };
    co_return co_await coder::dial(std::move(*plan), std::move(dial_options));
  };
  co_return co_await pool.acquire(std::move(key), dial);
}

}  // namespace cr::service
