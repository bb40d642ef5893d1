#include "coder/workspace_plan.hpp"

#include <fmt/format.h>

#include "runtime/local_user.hpp"
#include "runtime/paths.hpp"

namespace cr::coder {

runtime::Result<ssh::ClientPlan> workspace_plan(const WorkspaceRef& workspace, const WorkspacePlanOptions& options) {
  // Coder's own form for another user's workspace is owner/name; in a host name it stays as is,
  // and the CLI strips only the suffix.
  const std::string host = fmt::format("{}.{}", workspace.to_string(), options.suffix);
  auto proxy = coder_proxy_command(options.coder, options.suffix, host);
  if (!proxy) return runtime::fail(std::move(proxy.error()));

  ssh::ConfigContext context;
  context.host = host;
  context.local_user = runtime::local_user_name();
  if (auto home = runtime::home_directory()) context.home = *home;
  ssh::SshConfig config(std::move(context));
  // The values the config block gives OpenSSH, read through the same planning as a user's file.
  const std::string origin = "Coder workspace profile";
  const auto set = [&](std::string keyword, std::string value) {
    config.add({std::move(keyword), {std::move(value)}, origin});
  };
  set("proxycommand", *proxy);
  set("stricthostkeychecking", "no");
  set("userknownhostsfile", "/dev/null");
  set("globalknownhostsfile", "/dev/null");
  set("loglevel", "ERROR");
  set("batchmode", "yes");
  set("identitiesonly", "yes");
  set("identityagent", "none");
  // The desktop app's keepalive: a dead tunnel is found within 10 s and evicted from the pool.
  set("serveraliveinterval", "5");
  set("serveralivecountmax", "2");
  // The agent's host key is RSA and it lists rsa-sha2-256 first; current agents (x/crypto 0.38
  // and later) lead their key exchanges with mlkem768x25519-sha256, as our defaults do. Leading
  // with both makes the first dial's first_kex_packet_follows guess right against them; against an
  // older agent it is wrong once, and dial remembers that agent's first choices. x/crypto has no
  // sntrup761x25519-sha512, so the profile does not offer it.
  set("hostkeyalgorithms", "^rsa-sha2-256");
  set("kexalgorithms", "-sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com");
  if (!options.user.empty()) set("user", options.user);
  if (options.connect_timeout) set("connecttimeout", std::to_string(options.connect_timeout->count()));

  ssh::Destination destination;
  destination.host = host;
  auto plan = ssh::plan_connection(config, destination, options.log);
  if (!plan) return runtime::fail(std::move(plan.error()));
  // None authentication is the only method the agent takes; no key file is opened. It succeeds,
  // so the first session channel opens behind it, and a spare one stays open for the next exec.
  plan->identity_files.clear();
  plan->options.none_auth_expected = true;
  plan->options.connection.spare_session = true;
  plan->options.transport.stall_budget = options.stall_budget;
  return plan;
}

}  // namespace cr::coder
