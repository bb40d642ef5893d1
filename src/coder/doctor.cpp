#include "coder/doctor.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "coder/versions.hpp"
#include "proxy/proxy_command.hpp"
#include "ssh/client_auth.hpp"
#include "ssh/connection.hpp"

namespace cr::coder {

void Diagnosis::pass(std::string name, std::string detail) {
  add({std::move(name), true, std::move(detail), FaultClass::none, {}, {}, {}});
}

void Diagnosis::fail_connection(std::string name, const runtime::Error& error, std::string step_remedy) {
  const auto fault = classify_fault(error);
  auto remedy = fault_remedy(fault, error);
  add({std::move(name),
       false,
       fmt::format("{}: {}", to_string(error.layer), error.message),
       fault,
       remedy.empty() ? std::move(step_remedy) : std::move(remedy),
       error.evidence,
       {}});
}

void Diagnosis::fail(std::string name, const runtime::Error& error, std::string remedy) {
  add({std::move(name),
       false,
       fmt::format("{}: {}", to_string(error.layer), error.message),
       FaultClass::other,
       std::move(remedy),
       error.evidence,
       {}});
}

void Diagnosis::fail(std::string name, std::string detail, std::string remedy) {
  add({std::move(name), false, std::move(detail), FaultClass::other, std::move(remedy), {}, {}});
}

bool Diagnosis::passed() const {
  return std::all_of(steps_.begin(), steps_.end(), [](const DiagnosisStep& s) { return s.passed; });
}

void Diagnosis::add(DiagnosisStep step) {
  const auto now = runtime::Clock::now();
  step.took = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_);
  last_ = now;
  steps_.push_back(std::move(step));
  if (on_step_) on_step_(steps_.back());
}

namespace {

// The layers after the stream, one step each, so a failure names the first one that broke.
// True when every step passed.
asio::awaitable<bool> check_connection(Diagnosis& list, const ssh::ClientPlan& plan, const CoderCli& cli,
                                       runtime::Deadline deadline, const runtime::Logger& log) {
  list.pass("ProxyCommand", *plan.proxy_command);
  auto executor = co_await asio::this_coro::executor;
  proxy::ProcessOptions process;
  process.log = log.child("proxy");
  process.environment = cli.environment();
  const proxy::ProxyTokens tokens{plan.hostname, std::to_string(plan.port), plan.user, plan.host_alias};
  auto started = proxy::start_proxy_command(executor, *plan.proxy_command, tokens, std::move(process));
  if (!started) {
    list.fail("proxy starts", started.error(), "check the CLI path in the ProxyCommand above");
    co_return false;
  }
  std::unique_ptr<runtime::AsyncStream> stream = std::move(*started);
  ssh::TransportOptions transport_options = plan.options.transport;
  auto connecting = ssh::Transport::connect(*stream, std::move(transport_options));
  auto transport =
      co_await runtime::with_deadline(deadline, std::move(connecting), runtime::Layer::kex, "the SSH handshake");
  if (!transport) {
    // The handshake's errors carry the server's version line once it has come: before that, the
    // banner step failed, whatever layer noticed.
    if (!transport.error().find_evidence("server version")) {
      list.fail_connection("SSH banner", transport.error(),
                           "run the ProxyCommand by hand: it must print SSH-2.0-... on stdout and nothing else there");
    } else {
      list.fail_connection("key exchange", transport.error(), "the evidence says what the key exchange stopped at");
    }
    co_await stream->close();
    co_return false;
  }
  list.pass("SSH banner", runtime::printable((*transport)->server_version().line));
  const auto& agreed = (*transport)->algorithms();
  list.pass("key exchange", fmt::format("{}, {}, {}{}", agreed.kex, agreed.host_key, agreed.cipher_client_to_server,
                                        agreed.strict_kex ? " (strict kex)" : ""));
  auto authenticating = ssh::authenticate(**transport, plan.options.auth);
  auto authenticated =
      co_await runtime::with_deadline(deadline, std::move(authenticating), runtime::Layer::auth, "authentication");
  if (!authenticated) {
    list.fail_connection("auth", authenticated.error(),
                         "the evidence says what the login stopped at (a Coder agent accepts 'none' at once)");
    co_await (*transport)->disconnect(ssh::DisconnectReason::no_more_auth_methods_available, "doctor: auth failed");
    co_return false;
  }
  list.pass("auth", authenticated->method);
  auto connection = ssh::Connection::start(std::move(stream), std::move(*transport), plan.options.connection);
  bool passed = false;
  auto running = connection->exec("true");
  auto ran = co_await runtime::with_deadline(deadline, std::move(running), runtime::Layer::channel, "the test command");
  if (!ran || ran->exit_code != 0) {
    if (!ran) {
      list.fail_connection("test exec", ran.error(),
                           "the agent accepted the login but could not run a command: check its logs");
    } else {
      list.fail("test exec",
                fmt::format("`true` ended without exit status 0 ({})",
                            ran->exit_code ? std::to_string(*ran->exit_code) : "no status"),
                "check the workspace's shell");
    }
  } else {
    list.pass("test exec", "`true` exited 0");
    const auto sent = runtime::Clock::now();
    auto pinged = co_await connection->ping(deadline);
    const auto rtt = std::chrono::duration<double, std::milli>(runtime::Clock::now() - sent).count();
    passed = pinged.has_value();
    if (pinged) {
      list.pass("round trip", fmt::format("{:.1f} ms (keepalive@openssh.com)", rtt));
    } else {
      list.fail_connection("round trip", pinged.error(), "the connection stalls after login: check the network path");
    }
  }
  co_await connection->close();
  co_return passed;
}

}  // namespace

asio::awaitable<bool> diagnose(Diagnosis& list, runtime::Result<CoderCli> found_cli, std::string workspace_name,
                               DiagnoseOptions o) {
  const auto& deadline = o.deadline;
  const auto& log = o.log;
  auto workspace = parse_workspace_ref(workspace_name);
  if (!workspace) {
    list.fail("workspace name", workspace.error(), "give the name as coder list shows it, or owner/name");
    co_return false;
  }
  if (!found_cli) {
    list.fail("Coder CLI", found_cli.error(), "install the Coder CLI, or pass --coder PATH");
    co_return false;
  }
  const auto& cli = *found_cli;
  auto versions = co_await check_versions(cli);
  if (!versions) {
    list.fail("Coder CLI", versions.error(), "upgrade the CLI, or log in with `coder login`");
    co_return false;
  }
  const auto found = fmt::format("{} {}{}", cli.program().string(), versions->client.text,
                                 versions->username.empty() ? "" : ", logged in as " + versions->username);
  if (versions->warning) {
    // The CLI still works, so the steps after this one still tell something.
    list.fail("Coder CLI", fmt::format("{}; {}", found, *versions->warning),
              "install the CLI version the server serves (major.minor must match)");
  } else {
    list.pass("Coder CLI", found);
  }
  auto state = co_await query_workspace(cli, *workspace, deadline);
  if (!state) {
    list.fail("workspace", state.error(), "check `coder list` by hand");
    co_return false;
  }
  if (!*state) {
    list.fail("workspace", fmt::format("no workspace {} in coder list", workspace->to_string()),
              "create it, or check the name and owner");
    co_return false;
  }
  const auto& listed = **state;
  const bool agents_ready =
      !listed.agents.empty() && std::all_of(listed.agents.begin(), listed.agents.end(), [](const auto& a) {
        return a.status == "connected" && a.lifecycle_state == "ready";
      });
  if (listed.status == "running" && agents_ready) {
    list.pass("workspace", listed.summary());
  } else {
    list.fail("workspace", listed.summary(), fmt::format("coder-runtime start {}", workspace->to_string()));
  }
  WorkspacePlanOptions plan_options;
  plan_options.coder = cli.program();
  plan_options.suffix = o.suffix;
  plan_options.stall_budget = o.stall_budget;
  plan_options.log = log;
  auto plan = workspace_plan(*workspace, plan_options);
  if (!plan) {
    list.fail("ProxyCommand", plan.error(), "the CLI path or suffix cannot go into a ProxyCommand");
    co_return false;
  }
  const bool connected = co_await check_connection(list, *plan, cli, deadline, log);
  co_return connected&& list.passed();
}

}  // namespace cr::coder
