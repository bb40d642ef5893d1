// `coder-runtime port-forward WORKSPACE --tcp [BIND:]LOCAL[:REMOTE]`, as `coder port-forward`:
// local ports whose connections go to ports on the workspace's loopback, until Ctrl-C or SIGTERM
// (exit 0). Through the user's connection holder (the default) the listeners live there, on its
// warm connection, for as long as this process does; with ControlMaster=no they live here, on a
// connection of this process's own, as `ssh -N -L` would have them.

#include <CLI/CLI.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/exec_report.hpp"
#include "cli/local_terminal.hpp"
#include "cli/ssh_forwards.hpp"
#include "coder/cli_driver.hpp"
#include "coder/forward.hpp"
#include "coder/workspace_connect.hpp"
#include "runtime/event.hpp"
#include "runtime/paths.hpp"
#include "service/client.hpp"
#include "service/json_rpc.hpp"
#include "service/workspace_connections.hpp"

namespace cr::cli {
namespace {

using nlohmann::json;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;

constexpr int kExitUsage = 2;
// The handle of the holder's progress notifications while it dials for a forward.
constexpr std::uint32_t kProgressHandle = 1;

struct PortForwardOptions {
  std::vector<std::string> ssh_options;
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  std::vector<std::string> tcp;
  std::vector<std::string> udp;
  std::string workspace;
};

// What both ways to forward need before they touch anything.
struct PreparedForwards {
  coder::WorkspaceRef workspace;
  std::vector<coder::ForwardSpec> specs;
  std::filesystem::path cli;
};

int fail(const Error& error, int code, const runtime::Logger& log) { return Reporter(false).failure(error, code, log); }

// As coder port-forward says it, once the port listens (the port a LOCAL of 0 was given included).
void announce(std::string_view listening, const coder::ForwardSpec& spec) {
  write_stdout(fmt::format("Forwarding 'tcp://{}' locally to 'tcp://{}:{}' in the workspace\n", listening, spec.host,
                           spec.port));
}

asio::awaitable<int> on_own_connection(PortForwardOptions o, PreparedForwards prepared, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  ActiveForwards active;
  for (const auto& spec : prepared.specs) {
    auto listener = proxy::TcpListener::bind(executor, spec.bind_address, spec.bind_port);
    if (!listener) co_return fail(listener.error(), kExitConnectionFailed, log);
    active.local.emplace_back(std::move(*listener), spec);
  }
  const coder::CoderCli cli(prepared.cli, log.child("coder"));
  coder::WorkspaceConnectOptions connect;
  connect.suffix = o.suffix;
  connect.timeout = std::chrono::seconds(120);  // the workspace's start included
  connect.remembered_choices = remembered_choices_file();
  connect.log = log;
  const auto name = prepared.workspace.to_string();
  connect.on_progress = [&name](const coder::ReadinessEvent& event) {
    if (event.kind != coder::ReadinessEvent::Kind::ready) {
      write_stderr(fmt::format("coder-runtime: workspace {}: {}\n", name, event.text));
    }
  };
  connect.on_warning = [](const std::string& warning) { write_stderr(fmt::format("coder-runtime: {}\n", warning)); };
  auto connected = co_await coder::connect_workspace(cli, prepared.workspace, std::move(connect));
  if (!connected) {
    const int code = connected.error().layer == Layer::coder ? kExitCoderFailed : kExitConnectionFailed;
    co_return fail(connected.error(), exit_code_for(connected.error(), code), log);
  }
  auto connection = std::move(*connected);
  for (std::size_t i = 0; i < active.local.size(); ++i) announce(active.local[i].first->describe(), prepared.specs[i]);
  // Until the connection ends, or a signal cancels this. A forwarded connection that fails is
  // told, as ssh tells it, whatever the verbosity.
  const auto forward_log = log.enabled(runtime::LogLevel::warning)
                               ? log
                               : runtime::Logger(runtime::stderr_sink(), runtime::LogLevel::warning);
  co_await serve_forwards(connection, active, forward_log);
  const auto ended = connection->failure();
  co_await connection->close();
  if (ended) co_return fail(*ended, kExitConnectionFailed, log);
  co_return 0;
}

// What ends a forwarding through the holder: a signal, or a forward that ended by itself.
struct Stop {
  explicit Stop(asio::any_io_executor executor) : changed(std::move(executor)) {}
  bool interrupted = false;
  std::optional<Error> forward_ended;
  runtime::Event changed;
};

asio::awaitable<void> until_stopped(Stop& stop) {
  while (!stop.interrupted && !stop.forward_ended) {
    const bool woken = co_await stop.changed.wait();
    if (!woken) co_return;
  }
}

json open_params(const PortForwardOptions& o, const PreparedForwards& prepared, const coder::ForwardSpec& spec) {
  json coder_env = json::object();
  for (const auto& [name, value] : service::coder_environment()) coder_env[name] = service::bytes_value(value);
  return {{"handle", kProgressHandle},
          {"workspace", o.workspace},
          {"coder", runtime::path_to_utf8(prepared.cli)},
          {"suffix", o.suffix},
          {"coder_env", std::move(coder_env)},
          {"listen", {{"address", spec.bind_address}, {"port", spec.bind_port}}},
          {"target", {{"host", spec.host}, {"port", spec.port}}}};
}

asio::awaitable<int> through_holder(PortForwardOptions o, PreparedForwards prepared, ControlOptions control,
                                    int verbosity, runtime::Logger log, asio::cancellation_slot interrupts) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  asio::cancellation_signal connecting;
  interrupts.assign([&connecting](asio::cancellation_type type) { connecting.emit(type); });
  auto holder = co_await asio::co_spawn(executor, reach_holder(control, verbosity, log),
                                        asio::bind_cancellation_slot(connecting.slot(), asio::use_awaitable));
  interrupts.clear();
  if (!holder) co_return fail(holder.error(), exit_code_for(holder.error(), kExitConnectionFailed), log);

  Stop stop(executor);
  service::ClientHandlers handlers;
  handlers.on_notification = [&stop](std::string_view method, const json& params) {
    if (method == "progress" || method == "warning") {
      write_stderr(fmt::format("coder-runtime: {}\n", params.value("text", std::string())));
    } else if (method == "forward.ended") {
      stop.forward_ended = service::error_from_data(params.value("error", json::object()),
                                                    params.value("message", std::string("the forward ended")));
      stop.changed.notify();
    }
  };
  auto client = service::ServiceClient::start(std::move(holder->stream), std::move(handlers));
  interrupts.assign([&stop](asio::cancellation_type) {
    stop.interrupted = true;
    stop.changed.notify();
  });
  using namespace asio::experimental::awaitable_operators;
  // Leaving (a failure, a signal) closes every forward opened so far: they are this client's.
  int code = 0;
  for (const auto& spec : prepared.specs) {
    std::string method = "forward.open";
    auto params = open_params(o, prepared, spec);
    auto opened = co_await (client->call(std::move(method), std::move(params)) || until_stopped(stop));
    if (opened.index() == 1) {
      // A forward opened before may have ended meanwhile: its error, below, is the exit's.
      if (stop.interrupted) code = kExitCancelled;
      break;
    }
    auto& answer = std::get<0>(opened);
    if (!answer) {
      const int otherwise = answer.error().layer == Layer::coder ? kExitCoderFailed : kExitConnectionFailed;
      code = fail(answer.error(), otherwise, log);
      break;
    }
    announce(answer->value("listen", std::string()), spec);
  }
  if (code == 0) co_await (client->wait_ended() || until_stopped(stop));
  interrupts.clear();
  if (code == 0 && stop.forward_ended) code = fail(*stop.forward_ended, kExitConnectionFailed, log);
  if (code == 0 && client->failure()) {
    const auto error =
        Error(Errc::end_of_stream, Layer::runtime, "the connection holder ended, and its forwards with it")
            .with("holder log", runtime::path_to_utf8(holder->paths.log))
            .with("stream", client->failure()->message);
    code = fail(error, kExitConnectionFailed, log);
  }
  co_await client->close();
  co_return code;
}

asio::awaitable<int> cancelled_by(asio::cancellation_slot interrupts, PortForwardOptions o, PreparedForwards prepared,
                                  runtime::Logger log) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::co_spawn(executor, on_own_connection(std::move(o), std::move(prepared), std::move(log)),
                                    asio::bind_cancellation_slot(interrupts, asio::use_awaitable));
}

runtime::Result<PreparedForwards> prepare(const PortForwardOptions& o) {
  if (!o.udp.empty()) {
    return runtime::fail(Errc::invalid_argument, Layer::cli,
                         "--udp: SSH carries TCP only (`coder port-forward` sends UDP over Coder's own tunnel)");
  }
  if (o.tcp.empty()) return runtime::fail(Errc::invalid_argument, Layer::cli, "nothing to forward: give --tcp");
  PreparedForwards prepared;
  for (const auto& list : o.tcp) {
    auto specs = coder::parse_tcp_forwards(list);
    if (!specs) return runtime::fail(std::move(specs.error()));
    prepared.specs.insert(prepared.specs.end(), specs->begin(), specs->end());
  }
  auto workspace = coder::parse_workspace_ref(o.workspace);
  if (!workspace) return runtime::fail(std::move(workspace.error()));
  prepared.workspace = std::move(*workspace);
  return prepared;
}

int port_forward(const PortForwardOptions& o, const GlobalOptions& global) {
  auto log = global.logger();
  auto control = parse_control_options(o.ssh_options);
  if (!control) return fail(control.error(), kExitUsage, log);
  auto prepared = prepare(o);
  if (!prepared) return fail(prepared.error(), kExitUsage, log);
  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli = coder::find_cli(explicit_cli);
  if (!cli) return fail(cli.error(), kExitCoderFailed, log);
  prepared->cli = std::move(*cli);
  return run_with_interrupts([&](asio::cancellation_slot interrupts) {
    if (!control->shared) return cancelled_by(interrupts, o, *prepared, log);
    return through_holder(o, *prepared, *control, global.verbosity, log, interrupts);
  });
}

}  // namespace

void add_port_forward_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<PortForwardOptions>();
  auto* cmd = app.add_subcommand("port-forward", "Forward local ports to ports in a workspace, as coder port-forward");
  cmd->add_option("-p,--tcp", o->tcp,
                  "[BIND:]LOCAL[:REMOTE]: a local port (0: any free one) to the workspace's port REMOTE; "
                  "comma lists and ranges (9000-9002:3000-3002) as coder takes them; may be repeated")
      ->allow_extra_args(false);
  cmd->add_option("--udp", o->udp, "Refused: SSH carries TCP only")->allow_extra_args(false);
  cmd->add_option("--coder", o->coder, "The Coder CLI (default: coder on PATH)");
  cmd->add_option("--suffix", o->suffix, "The host name suffix of the workspaces' ssh config block");
  cmd->add_option("-o", o->ssh_options,
                  "ControlMaster=auto|no (forward through the user's connection holder; default auto), "
                  "ControlPersist=TIME, ControlPath=PATH|none")
      ->allow_extra_args(false);
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->add_option("workspace", o->workspace, "The workspace: name or owner/name")->required();
  cmd->footer(
      "Runs until Ctrl-C or SIGTERM (exit 0). Exit codes: 2 bad arguments; 125 Coder-side failure; 130 interrupted "
      "while starting; 255 a port that cannot be listened on, or the connection failed.");
  cmd->callback([o, &global, &exit_code] { exit_code = port_forward(*o, global); });
}

}  // namespace cr::cli
