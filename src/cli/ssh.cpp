// `coder-runtime ssh`: OpenSSH's client for the subset that scripts and agents use, with the same
// option names and meanings: it reads ~/.ssh/config (or -F), connects (ProxyCommand or TCP),
// authenticates, runs the command (or a shell), relays stdin, stdout and stderr, and exits with
// the remote command's status; 255 and one line on stderr when the connection or auth fails.
// A Coder workspace's host runs its command (or shell) through the user's connection holder.

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/local_terminal.hpp"
#include "cli/ssh_connect.hpp"
#include "cli/ssh_forwards.hpp"
#include "coder/forward.hpp"
#include "coder/proxy_command_line.hpp"
#include "runtime/local_user.hpp"
#include "runtime/paths.hpp"
#include "ssh/pattern.hpp"
#include "ssh/session.hpp"

namespace cr::cli {
namespace {

struct SshCommandOptions {
  SshCommandLine line;
  bool force_tty = false;
  bool no_tty = false;
  ForwardOptions forward;
  bool forward_agent = false;  // -A
  bool no_command = false;     // -N
  std::string destination;
  std::vector<std::string> command;
};

// SendEnv patterns pick local variables; SetEnv adds its own after them.
std::vector<std::pair<std::string, std::string>> session_environment(const ssh::ClientPlan& plan) {
  std::vector<std::pair<std::string, std::string>> env;
  for (auto& [name, value] : runtime::environment_variables()) {
    const bool wanted = std::any_of(plan.send_env.begin(), plan.send_env.end(),
                                    [&](const std::string& pattern) { return ssh::match_pattern(name, pattern); });
    if (wanted) env.emplace_back(std::move(name), std::move(value));
  }
  env.insert(env.end(), plan.set_env.begin(), plan.set_env.end());
  return env;
}

// ssh's rule: -T never, -t always, RequestTTY likewise, and by default only for an interactive
// shell on a terminal.
bool wants_tty(const SshCommandOptions& o, const ssh::ClientPlan& plan) {
  if (o.no_tty) return false;
  if (o.force_tty) return true;
  const auto request = plan.request_tty.value_or("auto");
  if (request == "no") return false;
  if (request == "yes" || request == "force") return true;
  return o.command.empty() && stdin_is_terminal();
}

asio::awaitable<void> relay_output(ssh::Session& session, bool standard_error) {
  std::array<std::uint8_t, 32 * 1024> buffer;
  for (;;) {
    auto reading = standard_error ? session.read_stderr(buffer) : session.read_stdout(buffer);
    auto n = co_await std::move(reading);
    if (!n) co_return;
    const std::string_view chunk(reinterpret_cast<const char*>(buffer.data()), *n);
    if (!(standard_error ? write_stderr(chunk) : write_stdout(chunk))) co_return;
  }
}

// Relays stdin until it ends, then sends EOF and idles until cancelled: input that ends does not
// end the session, whose output and exit status still come.
asio::awaitable<void> relay_stdin(ssh::Session& session) {
  auto executor = co_await asio::this_coro::executor;
  {
    StdinReader stdin_reader(executor);
    for (;;) {
      auto chunk = co_await stdin_reader.next();
      if (!chunk) break;
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(chunk->data());
      auto written = co_await session.write_stdin(runtime::ConstBytes(bytes, chunk->size()));
      if (!written) co_return;  // the session failed: its wait() says why
    }
  }
  const bool cancelled = co_await runtime::cancellation_requested();
  if (cancelled) co_return;
  auto eof = co_await session.close_stdin();
  if (!eof) co_return;
  runtime::Event idle(executor);
  co_await idle.wait();
}

// A local terminal's size changes go to the remote pseudo-terminal.
asio::awaitable<void> relay_window_changes(ssh::Session& session) {
  WindowSizeWatch window(co_await asio::this_coro::executor);
  for (;;) {
    const auto size = co_await window.next();
    if (!size) co_return;
    auto sent = co_await session.window_change(size->columns, size->rows);
    if (!sent) co_return;
  }
}

asio::awaitable<runtime::Result<ssh::SessionExit>> drain_and_wait(ssh::Session& session) {
  using namespace asio::experimental::awaitable_operators;
  co_await (relay_output(session, false) && relay_output(session, true));
  co_return co_await session.wait();
}

asio::awaitable<runtime::Result<ssh::SessionExit>> relay_session(ssh::Session& session, bool tty) {
  using namespace asio::experimental::awaitable_operators;
  std::size_t winner = 0;
  std::optional<runtime::Result<ssh::SessionExit>> exit;
  if (tty) {
    auto ended = co_await (drain_and_wait(session) || relay_stdin(session) || relay_window_changes(session));
    winner = ended.index();
    if (winner == 0) exit = std::get<0>(std::move(ended));
  } else {
    auto ended = co_await (drain_and_wait(session) || relay_stdin(session));
    winner = ended.index();
    if (winner == 0) exit = std::get<0>(std::move(ended));
  }
  if (exit) co_return std::move(*exit);
  co_return co_await session.wait();  // stdin's relay stopped first: the session failed
}

// The environment and pseudo-terminal, then the command or a shell. The local terminal goes raw
// once the remote one exists, so that keys reach it as typed.
asio::awaitable<runtime::Result<void>> start_program(ssh::Session& session,
                                                     const std::vector<std::pair<std::string, std::string>>& env,
                                                     bool tty, const std::vector<std::string>& command,
                                                     std::optional<RawTerminal>& raw) {
  for (const auto& [name, value] : env) {
    auto sent = co_await session.set_env(name, value);
    if (!sent) co_return sent;
  }
  if (tty) {
    ssh::PtyRequest pty;
    if (const char* term = std::getenv("TERM"); term && *term) pty.term = term;
    const auto size = terminal_size();
    pty.columns = size.columns;
    pty.rows = size.rows;
    auto granted = co_await session.request_pty(std::move(pty));
    if (!granted) co_return granted;
    raw.emplace();
  }
  if (command.empty()) co_return co_await session.request_shell();
  // As ssh: the words joined by spaces, for the remote shell to split again.
  std::string line = command.front();
  for (auto word = std::next(command.begin()); word != command.end(); ++word) line += " " + *word;
  co_return co_await session.request_exec(std::move(line));
}

struct WorkspaceRoute {
  ExecCommandOptions exec;
  ControlOptions control;
};

// A host whose ProxyCommand is the Coder CLI's `ssh --stdio`, exactly as `coder config-ssh` and
// the desktop app write it: a workspace, which the holder dials with the same CLI and suffix in
// the workspace profile (the agent's auth; its host key unchecked, as that block's
// StrictHostKeyChecking no asks). ControlMaster no (or ControlPath none) keeps a connection of
// this process's own. Any other ControlPath names OpenSSH's master sockets, not the holder's.
runtime::Result<std::optional<WorkspaceRoute>> workspace_route(const SshCommandOptions& o, const ssh::SshConfig& config,
                                                               const ssh::ClientPlan& plan, bool tty, int verbosity) {
  if (!plan.proxy_command) return std::nullopt;
  const auto proxy = coder::read_coder_proxy_command(*plan.proxy_command, plan.hostname);
  if (!proxy) return std::nullopt;
  const auto suffix = "." + proxy->suffix;
  if (plan.hostname.size() <= suffix.size() || !plan.hostname.ends_with(suffix)) return std::nullopt;
  std::vector<std::string> options;
  if (const auto master = config.text("ControlMaster")) options.push_back("ControlMaster=" + *master);
  if (const auto persist = config.text("ControlPersist")) options.push_back("ControlPersist=" + *persist);
  const auto path = config.text("ControlPath");
  const auto none = [](unsigned char a, char b) { return std::tolower(a) == b; };
  if (path && std::ranges::equal(*path, std::string_view("none"), none)) options.push_back("ControlPath=none");
  auto control = parse_control_options(options);
  if (!control) return runtime::fail(std::move(control.error()));
  if (!control->shared) return std::nullopt;
  WorkspaceRoute route;
  route.control = std::move(*control);
  auto& exec = route.exec;
  exec.workspace = plan.hostname.substr(0, plan.hostname.size() - suffix.size());
  exec.coder = runtime::path_to_utf8(proxy->coder);
  exec.suffix = proxy->suffix;
  exec.command = o.command;
  exec.shell = true;  // as ssh: the words joined by spaces, for the remote shell to split again
  exec.login_shell = o.command.empty();
  exec.tty = tty;
  exec.verbosity = verbosity;
  exec.coder_failed_exit = kExitConnectionFailed;
  return route;
}

// As ssh: once the command has ended, the connections forwarded still open keep the connection
// until they close (`ssh -L ... host sleep 10` keeps a tunnel while it is used), or until SIGINT or
// SIGTERM. No new ones are taken meanwhile.
asio::awaitable<void> forwarded_connections_closed(ssh::Session& session, ssh::Connection& connection,
                                                   const runtime::Logger& log) {
  co_await session.close();
  if (connection.open_channels() == 0) co_return;
  log.debug("the command has ended; waiting for {} forwarded connection(s) to close", connection.open_channels());
  asio::cancellation_signal cancel;
  asio::signal_set interrupts(co_await asio::this_coro::executor, SIGINT, SIGTERM);
  interrupts.async_wait([&cancel](std::error_code ec, int) {
    if (!ec) cancel.emit(asio::cancellation_type::terminal);
  });
  auto executor = co_await asio::this_coro::executor;
  [[maybe_unused]] const bool idle = co_await asio::co_spawn(
      executor, connection.wait_idle(), asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
  interrupts.cancel();
}

asio::awaitable<int> run_ssh(SshCommandOptions o, int verbosity) {
  auto destination = ssh::parse_destination(o.destination);
  if (!destination) co_return report_failure(destination.error(), {});
  auto planned = plan_like_ssh(o.line, std::move(*destination), verbosity);
  if (!planned) co_return report_failure(planned.error(), {});
  const auto& log = planned->log;
  auto& plan = planned->plan;
  const bool tty = wants_tty(o, plan) && !o.no_command;
  auto forwards = forwards_of(o.forward, planned->config);
  if (!forwards) co_return report_failure(forwards.error(), log);
  if (o.forward_agent) plan.forward_agent = "";
  const auto agent = agent_to_forward(plan);
  // Forwards need a connection of this process's own: the holder runs commands only.
  auto shared = workspace_route(o, planned->config, plan, tty, verbosity);
  if (!shared) co_return report_failure(shared.error(), log);
  if (*shared && !forwards->any() && !agent && !o.no_command) {
    // Ctrl-C (without a terminal of the remote's) and SIGTERM end the command on the holder and
    // leave the local terminal as it was.
    asio::cancellation_signal cancel;
    asio::signal_set interrupts(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    interrupts.async_wait([&cancel](std::error_code ec, int) {
      if (!ec) cancel.emit(asio::cancellation_type::terminal);
    });
    const int code =
        co_await exec_through_holder(std::move((*shared)->exec), std::move((*shared)->control), log, cancel.slot());
    interrupts.cancel();
    co_return code;
  }
  const auto env = session_environment(plan);
  auto connected = co_await dial_like_ssh(std::move(plan), o.line, log);
  if (!connected) co_return report_failure(connected.error(), log);
  auto connection = std::move(*connected);
  if (forwards->stdio) co_return co_await forward_stdio(connection, *forwards->stdio, log);
  auto executor = co_await asio::this_coro::executor;
  auto active = co_await start_forwards(connection, *forwards, log);
  if (!active) {
    co_await connection->close();
    co_return report_failure(active.error(), log);
  }
  if (o.no_command) {
    // ssh -N: forwards only, until the connection ends or a signal ends us.
    asio::cancellation_signal cancel;
    asio::signal_set interrupts(executor, SIGINT, SIGTERM);
    interrupts.async_wait([&cancel](std::error_code ec, int) {
      if (!ec) cancel.emit(asio::cancellation_type::terminal);
    });
    co_await asio::co_spawn(executor, serve_forwards(connection, *active, log),
                            asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
    interrupts.cancel();
    const auto ended = connection->failure();
    co_await connection->close();
    if (ended) co_return report_failure(*ended, log);
    co_return kExitConnectionFailed;  // as ssh when a signal ends it
  }

  auto opened = co_await connection->open_session();
  if (!opened) {
    co_await connection->close();
    co_return report_failure(opened.error(), log);
  }
  ssh::Session session = std::move(*opened);
  if (agent) {
    coder::take_agent_channels(*connection);
    auto asked = co_await session.request_agent_forwarding();
    if (!asked) {
      co_await connection->close();
      co_return report_failure(asked.error(), log);
    }
    active->agent = agent;
  }
  std::optional<RawTerminal> raw;
  auto started = co_await start_program(session, env, tty, o.command, raw);
  if (!started) {
    raw.reset();
    co_await connection->close();
    co_return report_failure(started.error(), log);
  }
  runtime::Result<ssh::SessionExit> exit = runtime::fail(runtime::Errc::cancelled, runtime::Layer::channel, "");
  if (!active->any()) {
    exit = co_await relay_session(session, tty);
  } else {
    using namespace asio::experimental::awaitable_operators;
    auto ended = co_await (relay_session(session, tty) || serve_forwards(connection, *active, log));
    if (ended.index() == 0) {
      exit = std::get<0>(std::move(ended));
      co_await forwarded_connections_closed(session, *connection, log);
    } else {
      exit = co_await session.wait();  // the connection ended: the session's wait says how
    }
  }
  raw.reset();
  co_await connection->close();
  if (!exit) co_return report_failure(exit.error(), log);
  if (exit->exit_code) co_return *exit->exit_code;
  if (exit->signal) log.info("the remote command was killed by signal {}", exit->signal->name);
  else log.info("the session closed without an exit status");
  co_return kExitConnectionFailed;
}

}  // namespace

void add_ssh_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<SshCommandOptions>();
  auto* cmd = app.add_subcommand("ssh", "Run a command (or a shell) on an SSH server, as OpenSSH's ssh does");
  add_connection_options(*cmd, o->line, "-p");
  cmd->add_option("-l", o->line.login, "The user to log in as");
  cmd->add_flag("-t", o->force_tty, "Ask for a pseudo-terminal");
  cmd->add_flag("-T", o->no_tty, "Never ask for a pseudo-terminal");
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->add_option("-L", o->forward.local,
                  "[bind_address:]port:host:hostport: connections to the local port go to host:hostport from the "
                  "server; may be repeated")
      ->allow_extra_args(false);
  cmd->add_option("-R", o->forward.remote,
                  "[bind_address:]port:host:hostport: the server listens on the port, and its connections go to "
                  "host:hostport from here; port 0: the server chooses; may be repeated")
      ->allow_extra_args(false);
  cmd->add_option("-D", o->forward.dynamic,
                  "[bind_address:]port: a local SOCKS5 proxy whose connections the server makes; may be repeated")
      ->allow_extra_args(false);
  cmd->add_option("-W", o->forward.stdio, "host:port: stdin and stdout become a connection to it from the server");
  cmd->add_flag("-A", o->forward_agent,
                "Forward the agent: the server's programs may use the local ssh-agent's keys (ForwardAgent yes)");
  cmd->add_flag("-N", o->no_command, "Run no command: forward ports only");
  cmd->add_option("destination", o->destination, "[user@]host or ssh://[user@]host[:port]")->required();
  // Everything after the destination is the remote command, options included (ssh host ls -l).
  cmd->prefix_command();
  cmd->footer("Everything after the destination is the command to run; without one, a shell.");
  cmd->callback([cmd, o, &global, &exit_code] {
    o->command = cmd->remaining();
    if (!o->command.empty() && o->command.front() == "--") o->command.erase(o->command.begin());
    exit_code = run_to_exit_code(run_ssh(*o, global.verbosity));
  });
}

}  // namespace cr::cli
