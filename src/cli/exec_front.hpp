#pragma once
// `exec` through a connection holder that is already running, for the front (front_main.cpp):
// blocking reads and writes around poll(2), without the io_context, coroutines and service client
// that exec_shared.cpp runs the same protocol on, since a warm exec's process start is most of
// what a script waits for. Same request, same relaying (stdin within the holder's credit, output
// with credit back, Ctrl-C and SIGTERM as exec.cancel, window changes under --tty), same report.

#include <optional>

#include "cli/control_options.hpp"
#include "cli/exec_command.hpp"

namespace cr::cli {

// The exit code; nullopt when no holder answers at the endpoint, before anything was sent or read
// (the full program then starts one and runs the command).
std::optional<int> exec_through_running_holder(const ExecCommandOptions& o, const ControlOptions& control);

}  // namespace cr::cli
