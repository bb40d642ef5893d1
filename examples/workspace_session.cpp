// An agent session in a Coder workspace: reach the workspace through the Coder CLI (starting it
// if it is stopped, with its progress shown), then run each command line in turn on that one
// connection, its output streamed as it comes. Ctrl-C ends the running command (TERM, then the
// channel closed) and the session goes on with the next.
//
//   workspace_session WORKSPACE COMMAND...     (WORKSPACE: [owner/]name; `coder` from PATH)

#include <coder_runtime/coder_runtime.hpp>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

namespace {

using namespace cr;

int failed(const runtime::Error& error) {
  std::fprintf(stderr, "workspace_session: %s\n", error.detailed().c_str());
  return 255;
}

asio::awaitable<int> session(std::string workspace_name, std::vector<std::string> commands) {
  auto executor = co_await asio::this_coro::executor;
  auto program = coder::find_cli();
  if (!program) co_return failed(program.error());
  auto workspace = coder::parse_workspace_ref(workspace_name);
  if (!workspace) co_return failed(workspace.error());

  const coder::CoderCli cli(*program);
  coder::WorkspaceConnectOptions options;
  options.timeout = std::chrono::seconds(120);  // a stopped workspace's start included
  options.on_progress = [](const coder::ReadinessEvent& event) {
    std::fprintf(stderr, "workspace: %s\n", event.text.c_str());
  };
  options.on_warning = [](const std::string& warning) { std::fprintf(stderr, "warning: %s\n", warning.c_str()); };
  auto connection = co_await coder::connect_workspace(cli, *workspace, std::move(options));
  if (!connection) co_return failed(connection.error());

  // Ctrl-C cancels the command in flight, through the slot its exec is bound to.
  asio::signal_set interrupts(executor, SIGINT);
  asio::cancellation_signal cancel_command;
  std::function<void()> wait_for_interrupt = [&] {
    interrupts.async_wait([&](std::error_code error, int) {
      if (error) return;
      cancel_command.emit(asio::cancellation_type::terminal);
      wait_for_interrupt();
    });
  };
  wait_for_interrupt();

  int last_status = 0;
  for (auto& command : commands) {
    coder::ExecRequest request;
    request.command = std::move(command);
    request.on_stdout = [](std::string_view data) {
      std::fwrite(data.data(), 1, data.size(), stdout);
      std::fflush(stdout);
    };
    request.on_stderr = [](std::string_view data) { std::fwrite(data.data(), 1, data.size(), stderr); };
    auto outcome = co_await asio::co_spawn(executor, coder::exec(**connection, std::move(request)),
                                           asio::bind_cancellation_slot(cancel_command.slot(), asio::use_awaitable));
    if (!outcome) {
      last_status = failed(outcome.error());
      break;  // the connection is gone; a host would reconnect here
    }
    last_status = outcome->exit_code.value_or(255);
    std::fprintf(stderr, "[%s, exit %d, %lld ms]\n", std::string(coder::to_string(outcome->end)).c_str(), last_status,
                 static_cast<long long>(outcome->duration.count()));
  }
  interrupts.cancel();
  co_await (*connection)->close();
  co_return last_status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: workspace_session WORKSPACE COMMAND...\n");
    return 2;
  }
  asio::io_context io;
  int status = 255;
  asio::co_spawn(io, session(argv[1], std::vector<std::string>(argv + 2, argv + argc)),
                 [&](std::exception_ptr failure, int code) {
                   status = code;
                   if (!failure) return;
                   try {
                     std::rethrow_exception(failure);
                   } catch (const std::exception& e) {
                     std::fprintf(stderr, "workspace_session: %s\n", e.what());
                   }
                   status = 255;
                 });
  io.run();
  return status;
}
