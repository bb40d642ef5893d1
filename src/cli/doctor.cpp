// `coder-runtime doctor WORKSPACE`: coder::diagnose's steps as they end, each with a mark, its time
// and, when it fails, the evidence and what to do; then the same test command through the user's
// connection holder (started if need be), as exec and ssh run it. Exit 0 only if all pass.

#include <chrono>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/local_terminal.hpp"
#include "coder/cli_driver.hpp"
#include "coder/doctor.hpp"
#include "runtime/deadline.hpp"
#include "service/client.hpp"
#include "service/diagnosis_json.hpp"

namespace cr::cli {
namespace {

struct DoctorOptions {
  std::vector<std::string> ssh_options;  // -o ControlMaster, ControlPersist, ControlPath
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  std::string workspace;
  double timeout_seconds = 30;
  double stall_budget_seconds = std::chrono::duration<double>(coder::kDefaultStallBudget).count();
  bool json = false;
};

void print_step(const coder::DiagnosisStep& step) {
  write_stdout(fmt::format("{} {:<16} {:>6} ms  {}\n", step.passed ? "[ok]  " : "[FAIL]", step.name, step.took.count(),
                           step.detail));
  for (const auto& e : step.evidence)
    write_stdout(fmt::format("         {}: {}\n", e.label, runtime::printable(e.text, 600)));
  if (step.fault != coder::FaultClass::none && step.fault != coder::FaultClass::other)
    write_stdout(fmt::format("         fault: {}\n", coder::to_string(step.fault)));
  if (!step.remedy.empty()) write_stdout(fmt::format("         what to do: {}\n", step.remedy));
}

// The way exec and ssh reach the workspace: `true` on the holder's connection to it, then that
// connection's age and last round trip as the holder lists them.
asio::awaitable<bool> check_shared(coder::Diagnosis& list, const DoctorOptions& o, const ControlOptions& control,
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
      list.fail("shared", fmt::format("`true` through the holder ended {}", ran->dump()),
                "check the workspace's shell");
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
      if (entry.contains("round_trip_ms"))
        connection += fmt::format(", {:.1f} ms round trip", entry["round_trip_ms"].get<double>());
    }
  }
  list.pass("shared",
            fmt::format("`true` exited 0 in {:.1f} ms through the holder ({}){}", took, endpoint, connection));
  co_return true;
}

asio::awaitable<int> doctor(DoctorOptions o, runtime::Logger log) {
  coder::Diagnosis list(o.json ? std::function<void(const coder::DiagnosisStep&)>() : print_step);
  const auto deadline =
      runtime::Deadline::after(std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000)));
  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli_path = coder::find_cli(explicit_cli);
  runtime::Result<coder::CoderCli> cli =
      cli_path ? runtime::Result<coder::CoderCli>(coder::CoderCli(*cli_path, log.child("coder")))
               : runtime::fail(std::move(cli_path.error()));
  coder::DiagnoseOptions options;
  options.suffix = o.suffix;
  options.deadline = deadline;
  options.stall_budget = std::chrono::milliseconds(static_cast<long>(o.stall_budget_seconds * 1000));
  options.log = log;
  const bool connected = co_await coder::diagnose(list, std::move(cli), o.workspace, std::move(options));
  auto control = parse_control_options(o.ssh_options);
  if (!control) {
    list.fail("shared", control.error(),
              "-o takes ControlMaster=auto|no, ControlPersist=TIME or ControlPath=PATH|none");
  } else if (connected && control->shared) {
    co_await check_shared(list, o, *control, deadline, log);
  }
  if (o.json)
    write_stdout(service::diagnosis_json(list).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  co_return list.passed() ? 0 : 1;
}

}  // namespace

void add_doctor_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<DoctorOptions>();
  auto* cmd =
      app.add_subcommand("doctor", "Check every step between here and a workspace, and say what to do about a failure");
  cmd->add_option("--coder", o->coder, "The Coder CLI (default: coder on PATH)");
  cmd->add_option("--suffix", o->suffix, "The host name suffix of the workspaces' ssh config block");
  cmd->add_option("--timeout", o->timeout_seconds, "Seconds for the whole check");
  cmd->add_option("--stall-budget", o->stall_budget_seconds,
                  "Seconds the server may go quiet mid-handshake before the check names a stall (0.1 to 3600)")
      ->check(CLI::Range(std::chrono::duration<double>(coder::kLeastStallBudget).count(),
                         std::chrono::duration<double>(coder::kMostStallBudget).count()));
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
