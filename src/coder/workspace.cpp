#include "coder/workspace.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "coder/cli_json.hpp"

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

constexpr std::string_view kList = "`coder list`";

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::vector<AgentState> read_agents(const Json& build) {
  std::vector<AgentState> agents;
  const auto resources = build.find("resources");
  if (resources == build.end() || !resources->is_array()) return agents;
  for (const auto& resource : *resources) {
    const auto list = resource.is_object() ? resource.find("agents") : resource.end();
    if (!resource.is_object() || list == resource.end() || !list->is_array()) continue;
    for (const auto& agent : *list) {
      agents.push_back({optional_string(agent, "name"), optional_string(agent, "status"),
                        optional_string(agent, "lifecycle_state")});
    }
  }
  return agents;
}

runtime::Result<WorkspaceState> read_state(const Json& entry) {
  WorkspaceState state;
  state.name = optional_string(entry, "name");
  state.owner = optional_string(entry, "owner_name");
  const auto build = entry.find("latest_build");
  if (build == entry.end() || !build->is_object()) {
    return runtime::fail(std::move(Error(Errc::protocol_error, Layer::coder,
                                         fmt::format("{}: workspace {} has no latest_build", kList, state.name))
                                       .with("json", json_preview(entry))));
  }
  auto status = required_string(*build, "status", kList);
  if (!status) return runtime::fail(std::move(status.error()));
  state.status = std::move(*status);
  state.transition = optional_string(*build, "transition");
  state.agents = read_agents(*build);
  const auto outdated = entry.find("outdated");
  state.outdated = outdated != entry.end() && outdated->is_boolean() && outdated->get<bool>();
  return state;
}

}  // namespace

runtime::Result<WorkspaceRef> parse_workspace_ref(std::string_view text) {
  WorkspaceRef ref;
  const auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    ref.owner = std::string(text.substr(0, slash));
    ref.name = std::string(text.substr(slash + 1));
  } else {
    ref.name = std::string(text);
  }
  if (!valid_name(ref.name) || (slash != std::string_view::npos && !valid_name(ref.owner))) {
    return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::coder,
                                         "a workspace is \"name\" or \"owner/name\" of letters, digits, '-' and '_'")
                                       .with("workspace", runtime::printable(text, 200))));
  }
  return ref;
}

std::string WorkspaceState::summary() const {
  std::string text = fmt::format("{} ({})", status, transition.empty() ? "no transition" : transition);
  for (const auto& agent : agents) {
    text += fmt::format(", agent {} {}/{}", agent.name.empty() ? "(unnamed)" : agent.name, agent.status,
                        agent.lifecycle_state);
  }
  return text;
}

runtime::Result<std::optional<WorkspaceState>> find_workspace(std::string_view list_json,
                                                              const WorkspaceRef& workspace) {
  auto parsed = parse_cli_json(list_json, kList);
  if (!parsed) return runtime::fail(std::move(parsed.error()));
  if (!parsed->is_array()) {
    return runtime::fail(
        std::move(Error(Errc::protocol_error, Layer::coder, fmt::format("{} did not print a JSON array", kList))
                      .with("json", json_preview(*parsed))));
  }
  for (const auto& entry : *parsed) {
    if (!entry.is_object() || optional_string(entry, "name") != workspace.name) continue;
    if (!workspace.owner.empty() && optional_string(entry, "owner_name") != workspace.owner) continue;
    auto state = read_state(entry);
    if (!state) return runtime::fail(std::move(state.error()));
    return std::optional<WorkspaceState>(std::move(*state));
  }
  return std::optional<WorkspaceState>();
}

std::vector<std::string> list_arguments(const WorkspaceRef& workspace) {
  std::string search = fmt::format("name:{}", workspace.name);
  if (!workspace.owner.empty()) search = fmt::format("owner:{} {}", workspace.owner, search);
  return {"list", "--search", std::move(search), "--output", "json"};
}

asio::awaitable<runtime::Result<std::optional<WorkspaceState>>> query_workspace(
    const CoderCli& cli, WorkspaceRef workspace, runtime::Deadline deadline,
    std::function<void(std::string_view line)> on_stderr_line) {
  RunOptions options;
  options.deadline = deadline;
  options.on_stderr_line = std::move(on_stderr_line);
  auto args = list_arguments(workspace);
  auto listed = co_await cli.run(std::move(args), std::move(options));
  if (!listed) co_return runtime::fail(std::move(listed.error()));
  co_return find_workspace(listed->out, workspace);
}

nlohmann::json to_json(const WorkspaceState& state) {
  nlohmann::json agents = nlohmann::json::array();
  for (const auto& agent : state.agents) {
    agents.push_back({{"name", agent.name}, {"status", agent.status}, {"lifecycle_state", agent.lifecycle_state}});
  }
  return {{"owner", state.owner},           {"name", state.name},         {"status", state.status},
          {"transition", state.transition}, {"outdated", state.outdated}, {"agents", agents}};
}

}  // namespace cr::coder
