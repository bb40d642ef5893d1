// `coder-runtime exec` through the user's connection holder: the command runs on the holder's
// warm connection to the workspace (dialed by the holder on first use), and this process relays
// stdin, stdout and stderr over the holder's socket. A warm exec so costs no `coder` process, no
// tunnel and no handshake: one round trip to the workspace.

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/cancellation.hpp"
#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/exec_report.hpp"
#include "cli/local_terminal.hpp"
#include "coder/cli_driver.hpp"
#include "coder/workspace.hpp"
#include "runtime/paths.hpp"
#include "service/client.hpp"
#include "service/holder.hpp"
#include "service/json_rpc.hpp"
#include "service/workspace_connections.hpp"

namespace cr::cli {
namespace {

using nlohmann::json;
using service::StreamId;

constexpr std::uint32_t kHandle = kHolderExecHandle;

// What stdin may still send: the holder's credit.
struct StdinCredit {
  explicit StdinCredit(asio::any_io_executor executor) : granted(std::move(executor)) {}
  std::int64_t available = static_cast<std::int64_t>(service::kInitialCredit);
  runtime::Event granted;
};

// Stdin as it arrives, within the holder's credit, then its end.
asio::awaitable<void> relay_stdin(std::shared_ptr<service::ServiceClient> client, std::shared_ptr<StdinCredit> credit) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  auto reader = std::make_shared<StdinReader>(executor);
  for (bool ended = false; !ended;) {
    auto chunk = co_await reader->next();
    const bool stop = co_await runtime::cancellation_requested();
    if (stop) co_return;
    ended = !chunk;
    std::string_view rest = chunk ? std::string_view(*chunk) : std::string_view();
    while (!rest.empty()) {
      while (credit->available <= 0) {
        const bool granted = co_await credit->granted.wait();
        if (!granted) co_return;
      }
      const auto size = std::min({rest.size(), static_cast<std::size_t>(credit->available), service::kMaxDataPayload});
      client->send_data(kHandle, StreamId::stdin_stream, rest.substr(0, size));
      credit->available -= static_cast<std::int64_t>(size);
      rest.remove_prefix(size);
    }
  }
  client->send_end(kHandle, StreamId::stdin_stream);
}

// The local window's size each time it changes, as ssh sends it for a remote terminal, while stdin
// is relayed and after; or nothing without one. Until the command ends and cancels this.
asio::awaitable<void> follow_window(std::shared_ptr<service::ServiceClient> client, bool remote_terminal) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  if (!remote_terminal) {
    runtime::Event never(executor);
    co_await never.wait();
    co_return;
  }
  WindowSizeWatch window(executor);
  while (const auto size = co_await window.next()) {
    client->notify("exec.resize", {{"handle", kHandle}, {"columns", size->columns}, {"rows", size->rows}});
  }
}

}  // namespace

asio::awaitable<runtime::Result<ReachedHolder>> reach_holder(const ControlOptions& control, int verbosity,
                                                             runtime::Logger log) {
  auto paths = service::holder_paths(control.path);
  if (!paths) co_return runtime::fail(std::move(paths.error()));
  auto executable = service::current_executable();
  if (!executable) co_return runtime::fail(std::move(executable.error()));
  service::HolderConnectOptions connect;
  connect.paths = *paths;
  connect.holder_command = {runtime::path_to_utf8(*executable),
                            "connections",
                            "holder",
                            "-o",
                            "ControlPath=" + paths->endpoint,
                            "-o",
                            "ControlPersist=" + persist_argument(control.persist)};
  for (int i = 0; i < verbosity; ++i) connect.holder_command.push_back("-v");
  connect.log = std::move(log);
  auto stream = co_await service::connect_holder(std::move(connect));
  if (!stream) co_return runtime::fail(std::move(stream.error()));
  co_return ReachedHolder{std::move(*paths), std::move(*stream)};
}

asio::awaitable<int> exec_through_holder(ExecCommandOptions o, ControlOptions control, runtime::Logger log,
                                         asio::cancellation_slot interrupts) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  const Reporter report(o.json);
  auto prepared = prepare_exec(o);
  if (!prepared) co_return report.failure(prepared.error(), o.coder_failed_exit, log);
  // Interrupted on the way to the holder: nothing has started yet, so stop there.
  asio::cancellation_signal connecting;
  interrupts.assign([&connecting](asio::cancellation_type type) { connecting.emit(type); });
  auto holder = co_await asio::co_spawn(executor, reach_holder(control, o.verbosity, log),
                                        asio::bind_cancellation_slot(connecting.slot(), asio::use_awaitable));
  interrupts.clear();
  if (!holder) co_return report.failure(holder.error(), exit_code_for(holder.error(), kExitConnectionFailed), log);
  const auto& paths = holder->paths;

  auto credit = std::make_shared<StdinCredit>(executor);
  std::shared_ptr<service::ServiceClient> client;
  service::ClientHandlers handlers;
  handlers.on_data = [&](std::uint32_t, StreamId stream, std::string_view data) {
    report.output(stream == StreamId::stdout_stream ? "stdout" : "stderr", data);
    client->notify("credit", {{"handle", kHandle}, {"stream", service::to_string(stream)}, {"bytes", data.size()}});
  };
  handlers.on_notification = [&](std::string_view method, const json& params) {
    if (method == "credit" && params.value("stream", "") == "stdin") {
      credit->available += params.value("bytes", std::int64_t{0});
      credit->granted.notify();
    } else {
      show_holder_notice(report, o.json, method, params);
    }
  };
  client = service::ServiceClient::start(std::move(holder->stream), std::move(handlers));

  // From here Ctrl-C and SIGTERM cancel the command on the holder; its outcome still comes back.
  interrupts.assign([client](asio::cancellation_type) { client->notify("exec.cancel", {{"handle", kHandle}}); });
  std::optional<RawTerminal> raw;
  if (o.tty) raw.emplace();
  auto params = holder_exec_params(o, *prepared);
  using namespace asio::experimental::awaitable_operators;
  auto ended = co_await (client->call("exec", std::move(params)) ||
                         (relay_stdin(client, credit) && follow_window(client, o.tty)));
  interrupts.clear();
  raw.reset();
  auto result = std::get<0>(std::move(ended));
  co_await client->close();
  co_return finish_holder_exec(report, o, paths, result, client->failure(), log);
}

}  // namespace cr::cli
