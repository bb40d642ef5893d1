#pragma once
// The diagnosis a person does by hand when a connection to a workspace fails, step by step, each
// with its time and, when it fails, the evidence, the fault it shows (coder/fault_class.hpp) and
// what to do about that fault, or about the step when no class fits: the CLI, its version against
// the server's and the login, the workspace and its agent, the ProxyCommand exactly as it will run,
// what the proxy sends first (an SSH banner, or not), the key exchange, authentication, a test
// command and the round-trip time. `coder-runtime doctor` prints it; serve's `doctor` method sends it.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "coder/cli_driver.hpp"
#include "coder/fault_class.hpp"
#include "coder/proxy_command_line.hpp"
#include "coder/workspace.hpp"
#include "coder/workspace_plan.hpp"
#include "runtime/deadline.hpp"
#include "runtime/error.hpp"
#include "runtime/logging.hpp"

namespace cr::coder {

struct DiagnosisStep {
  std::string name;
  bool passed = false;
  std::string detail;  // what was found
  FaultClass fault = FaultClass::none;
  std::string remedy;  // for a failure: by its class when the evidence shows one, else by the step
  std::vector<runtime::Evidence> evidence;
  std::chrono::milliseconds took{0};
};

// Steps in order, each timed from the end of the one before; `on_step` sees each as it ends.
class Diagnosis {
 public:
  explicit Diagnosis(std::function<void(const DiagnosisStep&)> on_step = {}) : on_step_(std::move(on_step)) {}
  void pass(std::string name, std::string detail);
  // A step of the connection itself (the banner, the key exchange, auth, the test command, the
  // keepalive's round trip): the remedy is its class's (classify_fault), or `step_remedy` when
  // that class has no advice.
  void fail_connection(std::string name, const runtime::Error& error, std::string step_remedy);
  // Any other step (the CLI, the workspace, the holder): class "other", and the step's own remedy,
  // since the connection's classes would misread its errors (a failed `coder whoami` is no refusal
  // by an agent).
  void fail(std::string name, const runtime::Error& error, std::string remedy);
  void fail(std::string name, std::string detail, std::string remedy);
  const std::vector<DiagnosisStep>& steps() const { return steps_; }
  bool passed() const;

 private:
  void add(DiagnosisStep step);
  std::function<void(const DiagnosisStep&)> on_step_;
  std::vector<DiagnosisStep> steps_;
  runtime::Clock::time_point last_ = runtime::Clock::now();
};

struct DiagnoseOptions {
  std::string suffix{kDefaultHostSuffix};
  runtime::Deadline deadline = runtime::Deadline::after(std::chrono::seconds(30));
  // The handshake's (ssh/stall.hpp): a stalled tunnel is named within it, not at the deadline.
  std::chrono::milliseconds stall_budget = kDefaultStallBudget;
  runtime::Logger log;
};

// Runs the steps into `diagnosis`, stopping at the first that leaves nothing after it to check;
// true when every step passed. `workspace` is checked as a name first, then the CLI as found (or
// why it was not).
asio::awaitable<bool> diagnose(Diagnosis& diagnosis, runtime::Result<CoderCli> cli, std::string workspace,
                               DiagnoseOptions options);

}  // namespace cr::coder
