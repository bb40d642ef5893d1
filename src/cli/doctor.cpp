// `coder-runtime doctor WORKSPACE`: the diagnosis a person does by hand when a connection fails,
// step by step, each with a mark, its time and, when it fails, the evidence and what to do:
// the CLI, its version against the server's and the login, the workspace and its agent, the
// ProxyCommand exactly as it will run, what the proxy sends first (an SSH banner, or not), the key
// exchange, authentication, a test command and the round-trip time; then the same command through
// the user's connection holder (started if need be), as exec and ssh run it. Exit 0 only if all
// pass.

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/local_terminal.hpp"
#include "coder/cli_driver.hpp"
#include "coder/versions.hpp"
#include "coder/workspace.hpp"
#include "coder/workspace_plan.hpp"
#include "proxy/proxy_command.hpp"
#include "runtime/deadline.hpp"
#include "service/client.hpp"
#include "ssh/client_auth.hpp"
#include "ssh/connection.hpp"

namespace cr::cli {
namespace {

struct DoctorOptions {
  std::vector<std::string> ssh_options;  // -o ControlMaster, ControlPersist, ControlPath
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  std::string workspace;
  double timeout_seconds = 30;
  bool json = false;
};

struct Step {
  std::string name;
  bool passed = false;
  std::string detail;    // what was found
  std::string remedy;    // for a failure
  std::vector<runtime::Evidence> evidence;
  std::chrono::milliseconds took{0};
};

class Checklist {
 public:
  explicit Checklist(bool json) : json_(json) {}

  void pass(std::string name, std::string detail) { add({std::move(name), true, std::move(detail), {}, {}, lap()}); }
  void fail(std::string name, const runtime::Error& error, std::string remedy) {
    Step step{std::move(name), false, fmt::format("{}: {}", to_string(error.layer), error.message), std::move(remedy),
              error.evidence, lap()};
    add(std::move(step));
  }
  void fail(std::string name, std::string detail, std::string remedy) {
    add({std::move(name), false, std::move(detail), std::move(remedy), {}, lap()});
  }
  int finish() const {
    const bool all_passed = std::all_of(steps_.begin(), steps_.end(), [](const Step& s) { return s.passed; });
    if (json_) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& step : steps_) {
        nlohmann::json evidence = nlohmann::json::object();
        for (const auto& e : step.evidence) evidence[e.label] = e.text;
        steps.push_back({{"step", step.name}, {"passed", step.passed}, {"detail", step.detail},
                         {"remedy", step.remedy}, {"evidence", evidence}, {"ms", step.took.count()}});
      }
      write_stdout(nlohmann::json{{"passed", all_passed}, {"steps", steps}}.dump(-1, ' ', false,
                                                                               nlohmann::json::error_handler_t::replace) +
                   "\n");
    }
    return all_passed ? 0 : 1;
  }

 private:
  std::chrono::milliseconds lap() {
    const auto now = runtime::Clock::now();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_);
    last_ = now;
    return took;
  }
  void add(Step step) {
    if (!json_) {
      write_stdout(fmt::format("{} {:<16} {:>6} ms  {}\n", step.passed ? "[ok]  " : "[FAIL]", step.name,
                               step.took.count(), step.detail));
      for (const auto& e : step.evidence) write_stdout(fmt::format("         {}: {}\n", e.label, runtime::printable(e.text, 600)));
      if (!step.remedy.empty()) write_stdout(fmt::format("         what to do: {}\n", step.remedy));
    }
    steps_.push_back(std::move(step));
  }
  bool json_;
  std::vector<Step> steps_;
  runtime::Clock::time_point last_ = runtime::Clock::now();
};

// The layers after the stream, one step each, so a failure names the first one that broke.
// True when every step passed.
asio::awaitable<bool> check_connection(Checklist& list, const ssh::ClientPlan& plan, runtime::Deadline deadline,
                                       const runtime::Logger& log) {
  list.pass("ProxyCommand", *plan.proxy_command);
  auto executor = co_await asio::this_coro::executor;
  proxy::ProcessOptions process;
  process.log = log.child("proxy");
  const proxy::ProxyTokens tokens{plan.hostname, std::to_string(plan.port), plan.user, plan.host_alias};
  auto started = proxy::start_proxy_command(executor, *plan.proxy_command, tokens, std::move(process));
  if (!started) {
    list.fail("proxy starts", started.error(), "check the CLI path in the ProxyCommand above");
    co_return false;
  }
  std::unique_ptr<runtime::AsyncStream> stream = std::move(*started);
  ssh::TransportOptions transport_options = plan.options.transport;
  auto connecting = ssh::Transport::connect(*stream, std::move(transport_options));
  auto transport = co_await runtime::with_deadline(deadline, std::move(connecting), runtime::Layer::kex, "the SSH handshake");
  if (!transport) {
    const auto layer = transport.error().layer;
    if (layer == runtime::Layer::proxy || layer == runtime::Layer::banner || layer == runtime::Layer::network) {
      list.fail("SSH banner", transport.error(),
                "run the ProxyCommand by hand: it must print SSH-2.0-... on stdout and nothing else there");
    } else {
      list.fail("key exchange", transport.error(), "compare both sides' algorithm lists in the evidence");
    }
    co_await stream->close();
    co_return false;
  }
  list.pass("SSH banner", runtime::printable((*transport)->server_version().line));
  const auto& agreed = (*transport)->algorithms();
  list.pass("key exchange", fmt::format("{}, {}, {}{}", agreed.kex, agreed.host_key, agreed.cipher_client_to_server,
                                        agreed.strict_kex ? " (strict kex)" : ""));
  auto authenticating = ssh::authenticate(**transport, plan.options.auth);
  auto authenticated = co_await runtime::with_deadline(deadline, std::move(authenticating), runtime::Layer::auth, "authentication");
  if (!authenticated) {
    list.fail("auth", authenticated.error(), "the Coder agent accepts only 'none': is this a Coder workspace agent?");
    co_await (*transport)->disconnect(14, "doctor: auth failed");
    co_return false;
  }
  list.pass("auth", authenticated->method);
  auto connection = ssh::Connection::start(std::move(stream), std::move(*transport), plan.options.connection);
  bool passed = false;
  auto running = connection->exec("true");
  auto ran = co_await runtime::with_deadline(deadline, std::move(running), runtime::Layer::channel, "the test command");
  if (!ran || ran->exit_code != 0) {
    if (!ran) {
      list.fail("test exec", ran.error(), "the agent accepted the login but could not run a command: check its logs");
    } else {
      list.fail("test exec", fmt::format("`true` ended without exit status 0 ({})",
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
      list.fail("round trip", pinged.error(), "the connection stalls after login: check the network path");
    }
  }
  co_await connection->close();
  co_return passed;
}

// The way exec and ssh reach the workspace: `true` on the holder's connection to it, then that
// connection's age and last round trip as the holder lists them.
asio::awaitable<bool> check_shared(Checklist& list, const DoctorOptions& o, const ControlOptions& control,
                                   runtime::Deadline deadline, const runtime::Logger& log) {
  ExecCommandOptions exec;
  exec.workspace = o.workspace;
  exec.coder = o.coder;
  exec.suffix = o.suffix;
  exec.command = {"true"};
  auto prepared = prepare_exec(exec);
  if (!prepared) {
    list.fail("shared", prepared.error(), "run the check again with -v");
    co_return false;
  }
  auto holder = co_await runtime::with_deadline(deadline, reach_holder(control, 0, log), runtime::Layer::runtime,
                                                "reaching the connection holder");
  if (!holder) {
    list.fail("shared", holder.error(),
              "the holder's log is in the evidence; `coder-runtime connections stop` ends a holder that is stuck, "
              "and -o ControlMaster=no gets by without one");
    co_return false;
  }
  const auto endpoint = holder->paths.endpoint;
  auto client = service::ServiceClient::start(std::move(holder->stream), {});
  auto params = holder_exec_params(exec, *prepared);
  params["stdin"] = false;
  const auto sent = runtime::Clock::now();
  auto ran = co_await runtime::with_deadline(deadline, client->call("exec", std::move(params)), runtime::Layer::runtime,
                                             "the test command through the holder");
  const auto took = std::chrono::duration<double, std::milli>(runtime::Clock::now() - sent).count();
  if (!ran || ran->value("exit_code", -1) != 0) {
    co_await client->close();
    if (!ran) {
      list.fail("shared", std::move(ran.error()).with("holder endpoint", endpoint),
                "the direct connection above worked, so the holder is at fault: its log says more; "
                "`coder-runtime connections stop` starts the next call afresh");
    } else {
      list.fail("shared", fmt::format("`true` through the holder ended {}", ran->dump()), "check the workspace's shell");
    }
    co_return false;
  }
  auto listed = co_await runtime::with_deadline(deadline, client->call("connections.list", nlohmann::json::object()),
                                                runtime::Layer::runtime, "the holder's connections");
  co_await client->close();
  std::string connection;
  const auto destination = fmt::format("{}.{}", o.workspace, o.suffix);
  if (listed) {
    for (const auto& entry : listed->value("connections", nlohmann::json::array())) {
      if (entry.value("destination", "") != destination) continue;
      connection = fmt::format("; its connection is {} s old", entry.value("age_ms", std::int64_t{0}) / 1000);
      if (entry.contains("round_trip_ms")) connection += fmt::format(", {:.1f} ms round trip", entry["round_trip_ms"].get<double>());
    }
  }
  list.pass("shared", fmt::format("`true` exited 0 in {:.1f} ms through the holder ({}){}", took, endpoint, connection));
  co_return true;
}

asio::awaitable<int> doctor(DoctorOptions o, runtime::Logger log) {
  Checklist list(o.json);
  const auto deadline = runtime::Deadline::after(std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000)));
  auto workspace = coder::parse_workspace_ref(o.workspace);
  if (!workspace) {
    list.fail("workspace name", workspace.error(), "give the name as coder list shows it, or owner/name");
    co_return list.finish();
  }
  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli_path = coder::find_cli(explicit_cli);
  if (!cli_path) {
    list.fail("Coder CLI", cli_path.error(), "install the Coder CLI, or pass --coder PATH");
    co_return list.finish();
  }
  const coder::CoderCli cli(*cli_path, log.child("coder"));
  auto versions = co_await coder::check_versions(cli);
  if (!versions) {
    list.fail("Coder CLI", versions.error(), "upgrade the CLI, or log in with `coder login`");
    co_return list.finish();
  }
  const auto found_cli = fmt::format("{} {}{}", cli_path->string(), versions->client.text,
                                     versions->username.empty() ? "" : ", logged in as " + versions->username);
  if (versions->warning) {
    // The CLI still works, so the steps after this one still tell something.
    list.fail("Coder CLI", fmt::format("{}; {}", found_cli, *versions->warning),
              "install the CLI version the server serves (major.minor must match)");
  } else {
    list.pass("Coder CLI", found_cli);
  }
  auto state = co_await coder::query_workspace(cli, *workspace, deadline);
  if (!state) {
    list.fail("workspace", state.error(), "check `coder list` by hand");
    co_return list.finish();
  }
  if (!*state) {
    list.fail("workspace", fmt::format("no workspace {} in coder list", workspace->to_string()),
              "create it, or check the name and owner");
    co_return list.finish();
  }
  const auto& found = **state;
  const bool agents_ready = !found.agents.empty() && std::all_of(found.agents.begin(), found.agents.end(), [](const auto& a) {
    return a.status == "connected" && a.lifecycle_state == "ready";
  });
  if (found.status == "running" && agents_ready) {
    list.pass("workspace", found.summary());
  } else {
    list.fail("workspace", found.summary(), fmt::format("coder-runtime start {}", workspace->to_string()));
  }
  coder::WorkspacePlanOptions plan_options;
  plan_options.coder = *cli_path;
  plan_options.suffix = o.suffix;
  plan_options.log = log;
  auto plan = coder::workspace_plan(*workspace, plan_options);
  if (!plan) {
    list.fail("ProxyCommand", plan.error(), "the CLI path or suffix cannot go into a ProxyCommand");
    co_return list.finish();
  }
  const bool connected = co_await check_connection(list, *plan, deadline, log);
  auto control = parse_control_options(o.ssh_options);
  if (!control) {
    list.fail("shared", control.error(), "-o takes ControlMaster=auto|no, ControlPersist=TIME or ControlPath=PATH|none");
  } else if (connected && control->shared) {
    co_await check_shared(list, o, *control, deadline, log);
  }
  co_return list.finish();
}

}  // namespace

void add_doctor_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<DoctorOptions>();
  auto* cmd = app.add_subcommand("doctor", "Check every step between here and a workspace, and say what to do about a failure");
  cmd->add_option("--coder", o->coder, "The Coder CLI (default: coder on PATH)");
  cmd->add_option("--suffix", o->suffix, "The host name suffix of the workspaces' ssh config block");
  cmd->add_option("--timeout", o->timeout_seconds, "Seconds for the whole check");
  cmd->add_flag("--json", o->json, "Print the steps as one JSON object");
  cmd->add_option("-o", o->ssh_options,
                  "ControlMaster=no (skip the check through the connection holder), ControlPersist=TIME, "
                  "ControlPath=PATH|none")
      ->allow_extra_args(false);
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->add_option("workspace", o->workspace, "The workspace: name or owner/name")->required();
  cmd->callback([o, &global, &exit_code] { exit_code = run_to_exit_code(doctor(*o, global.logger())); });
}

}  // namespace cr::cli
