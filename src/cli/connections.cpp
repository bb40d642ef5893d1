// `coder-runtime connections [list|stop [DESTINATION]]`: the user's shared connections, as OpenSSH's
// `ssh -O check|exit` shows and ends a ControlMaster; and the holder itself, which `exec` starts as
// `coder-runtime connections holder` (not for people to run).

#include <cstdlib>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/control_options.hpp"
#include "cli/local_terminal.hpp"
#include "service/client.hpp"
#include "service/holder.hpp"

namespace cr::cli {
namespace {

struct ConnectionsOptions {
  std::vector<std::string> ssh_options;
  std::string destination;
  bool json = false;
  int ready_fd = -1;
};

int fail(const runtime::Error& error, const runtime::Logger& log) {
  write_stderr(fmt::format("coder-runtime: {}\n", error.summary()));
  if (log.enabled(runtime::LogLevel::debug)) write_stderr(error.detailed());
  return kExitConnectionFailed;
}

std::string describe_age(std::int64_t milliseconds) {
  const auto seconds = milliseconds / 1000;
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  return fmt::format("{}h{:02}m", seconds / 3600, seconds / 60 % 60);
}

// The holder's socket and ControlPersist, from -o.
runtime::Result<std::pair<service::HolderPaths, ControlOptions>> holder_of(const ConnectionsOptions& o) {
  auto control = parse_control_options(o.ssh_options);
  if (!control) return runtime::fail(std::move(control.error()));
  auto paths = service::holder_paths(control->path);
  if (!paths) return runtime::fail(std::move(paths.error()));
  return std::pair{std::move(*paths), std::move(*control)};
}

// One request to a running holder; a missing holder is not an error here: nothing is shared.
asio::awaitable<int> ask_holder(ConnectionsOptions o, runtime::Logger log, std::string method, nlohmann::json params) {
  auto holder = holder_of(o);
  if (!holder) co_return fail(holder.error(), log);
  service::HolderConnectOptions connect;
  connect.paths = holder->first;
  connect.deadline = runtime::Deadline::after(std::chrono::seconds(5));
  connect.log = log;
  auto stream = co_await service::connect_holder(std::move(connect));
  if (!stream) {
    log.debug("{}", stream.error().summary());
    if (o.json) {
      write_stdout(method == "connections.list" ? "{\"connections\":[],\"forwards\":[]}\n" : "{\"stopped\":0}\n");
    } else if (method == "connections.list") {
      write_stderr("coder-runtime: no shared connections (no connection holder is running)\n");
    }
    co_return 0;
  }
  auto client = service::ServiceClient::start(std::move(*stream), {});
  auto answer = co_await runtime::with_deadline(runtime::Deadline::after(std::chrono::seconds(30)),
                                                client->call(method, std::move(params)), runtime::Layer::runtime,
                                                fmt::format("the holder's answer to {}", method));
  co_await client->close();
  if (!answer) co_return fail(answer.error(), log);
  if (o.json) {
    write_stdout(answer->dump() + "\n");
    co_return 0;
  }
  if (method == "connections.stop") {
    write_stderr(fmt::format("coder-runtime: stopped {} connection{}\n", answer->value("stopped", 0),
                             answer->value("stopped", 0) == 1 ? "" : "s"));
    co_return 0;
  }
  const auto& list = (*answer)["connections"];
  const auto forwards = answer->value("forwards", nlohmann::json::array());
  if (list.empty() && forwards.empty()) {
    write_stderr("coder-runtime: no shared connections\n");
    co_return 0;
  }
  std::string table = fmt::format("{:<40} {:>8} {:>8} {:>10}\n", "DESTINATION", "AGE", "CHANNELS", "RTT");
  for (const auto& entry : list) {
    const auto rtt =
        entry.contains("round_trip_ms") ? fmt::format("{:.1f} ms", entry["round_trip_ms"].get<double>()) : "-";
    table += fmt::format("{:<40} {:>8} {:>8} {:>10}\n", entry.value("destination", ""),
                         describe_age(entry.value("age_ms", std::int64_t{0})), entry.value("channels", 0), rtt);
  }
  if (!forwards.empty()) {
    table += fmt::format("\n{:<40} {:>22} {:>22} {:>11}\n", "FORWARD ON", "LISTENING", "TO", "CONNECTIONS");
    for (const auto& forward : forwards) {
      table += fmt::format("{:<40} {:>22} {:>22} {:>11}\n", forward.value("destination", ""),
                           forward.value("listen", ""), forward.value("target", ""), forward.value("connections", 0));
    }
  }
  write_stdout(table);
  co_return 0;
}

int hold(const ConnectionsOptions& o, const GlobalOptions& global) {
  auto log = global.logger();
  auto holder = holder_of(o);
  if (!holder) return fail(holder.error(), log);
  service::HolderOptions options;
  options.paths = holder->first;
  options.ready_fd = o.ready_fd;
  options.server.persist = holder->second.persist;
  options.server.remembered_choices = remembered_choices_file();
  // Its log (stderr, the holder's log file) says what it did at -v, and warnings always.
  options.server.log = runtime::Logger(runtime::stderr_sink(),
                                       global.verbosity > 0 ? runtime::LogLevel::info : runtime::LogLevel::warning);
  return service::run_holder(std::move(options));
}

}  // namespace

void add_connections_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ConnectionsOptions>();
  auto* cmd = app.add_subcommand("connections", "List or stop the shared connections to workspaces");
  cmd->add_option("-o", o->ssh_options, "ControlPath=PATH: the holder's socket")->allow_extra_args(false);
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->require_subcommand(0, 1);
  cmd->fallthrough();  // -o and -v after list or stop too

  auto* list = cmd->add_subcommand(
      "list", "The live connections (the default): destination, age, open channels, last round trip");
  list->add_flag("--json", o->json, "Print the list as JSON");
  auto* stop = cmd->add_subcommand("stop", "Close one destination's connection, or every one and the holder");
  stop->add_option("destination", o->destination, "e.g. ws.mux--coder (default: all)");
  stop->add_flag("--json", o->json, "Print the outcome as JSON");
  auto* holder = cmd->add_subcommand("holder", "");  // started by exec; an empty description hides it
  holder->add_option("--ready-fd", o->ready_fd, "Where to say ready");
  holder->add_option("-o", o->ssh_options, "ControlPath, ControlPersist")->allow_extra_args(false);
  holder->add_flag("-v", global.verbosity, "More detail in the holder's log");

  cmd->callback([stop, holder, o, &global, &exit_code] {
    if (holder->parsed()) {
      exit_code = hold(*o, global);
      return;
    }
    if (stop->parsed()) {
      nlohmann::json params = nlohmann::json::object();
      if (!o->destination.empty()) params["destination"] = o->destination;
      exit_code = run_to_exit_code(ask_holder(*o, global.logger(), "connections.stop", std::move(params)));
      return;
    }
    exit_code = run_to_exit_code(ask_holder(*o, global.logger(), "connections.list", nlohmann::json::object()));
  });
}

}  // namespace cr::cli
