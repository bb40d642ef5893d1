#include "coder/operations.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "runtime/deadline.hpp"

namespace cr::coder {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

// What the command's coroutine and its waiter share: the waiter may stop waiting (a timeout, a
// cancellation) while the command still runs.
struct Running {
  explicit Running(asio::any_io_executor executor) : wake(executor) {}
  std::optional<Result<ssh::ExecResult>> result;
  runtime::Event wake;
  bool alarm = false;  // the timeout, or the end of a grace period
};

// Waits until the command finishes or the alarm goes off; false when the caller cancelled.
asio::awaitable<bool> wait_for(Running& running) {
  while (!running.result && !running.alarm) {
    const bool woken = co_await running.wake.wait();
    if (!woken) co_return false;
  }
  co_return true;
}

void set_alarm(std::shared_ptr<Running> running, asio::steady_timer& timer, std::chrono::milliseconds after) {
  running->alarm = false;
  timer.expires_after(after);
  timer.async_wait([running](std::error_code ec) {
    if (ec) return;
    running->alarm = true;
    running->wake.notify();
  });
}

// Shared: the command's coroutine, its waiter and the messages that end it each hold it.
asio::awaitable<Result<std::shared_ptr<ssh::Session>>> open_shared_session(ssh::Connection& connection) {
  auto opened = co_await connection.open_session();
  if (!opened) co_return runtime::fail(std::move(opened.error()));
  co_return std::make_shared<ssh::Session>(std::move(*opened));
}

ExecOutcome outcome_of(ssh::ExecResult result, ExecEnd end, std::chrono::milliseconds duration) {
  ExecOutcome outcome;
  outcome.exit_code = result.exit_code;
  outcome.signal = result.signal;
  outcome.stdout_data = std::move(result.stdout_data);
  outcome.stderr_data = std::move(result.stderr_data);
  outcome.duration = duration;
  outcome.end = end;
  return outcome;
}

// Runs a helper command whose failure is an error: its stdout on exit 0.
asio::awaitable<Result<std::string>> run_checked(ssh::Connection& connection, std::string command, std::string what,
                                                 std::optional<std::string> input = std::nullopt) {
  ExecRequest request;
  request.command = std::move(command);
  request.stdin_data = std::move(input);
  auto ran = co_await exec(connection, std::move(request));
  if (!ran) co_return runtime::fail(std::move(ran.error()).while_(what));
  if (ran->end == ExecEnd::exited && ran->exit_code == 0) co_return std::move(ran->stdout_data);
  Error error(Errc::io_error, Layer::channel, fmt::format("{} failed", what));
  error.with("outcome",
             ran->exit_code ? fmt::format("exit status {}", *ran->exit_code) : std::string(to_string(ran->end)));
  if (!ran->stderr_data.empty()) error.with("stderr", ran->stderr_data);
  co_return runtime::fail(std::move(error));
}

// POSIX's portable user names: what `~name` may be followed by for a shell to expand it. Digits
// alone are out: bash and zsh read ~N as a place on the directory stack, not a user.
bool is_portable_user_name(std::string_view name) {
  if (name.starts_with('-')) return false;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto portable = [&digit](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '.' || c == '_' || c == '-';
  };
  if (!name.empty() && std::all_of(name.begin(), name.end(), digit)) return false;
  return std::all_of(name.begin(), name.end(), portable);
}

}  // namespace

asio::awaitable<Result<ExecOutcome>> exec(ssh::Connection& connection, ExecRequest request) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto line = exec_program(request);
  if (!line) co_return runtime::fail(std::move(line.error()));
  const auto started = runtime::Clock::now();
  // The timeout counts from here: a connection that has stopped answering must not hold the
  // command's channel open past it.
  const auto deadline = request.timeout ? runtime::Deadline::after(*request.timeout) : runtime::Deadline::never();
  auto opening = open_shared_session(connection);
  std::string what = "opening the command's session";
  auto opened = co_await runtime::with_deadline(deadline, std::move(opening), Layer::channel, std::move(what));
  if (!opened) co_return runtime::fail(ssh::never_sent(std::move(opened.error())));
  auto session = std::move(*opened);
  auto executor = co_await asio::this_coro::executor;
  auto running = std::make_shared<Running>(executor);
  if (request.on_session) request.on_session(session);
  ssh::ExecOptions options{{},
                           std::move(request.pty),
                           std::move(request.stdin_data),
                           std::move(request.stdin_source),
                           std::move(request.on_stdout),
                           std::move(request.on_stderr),
                           std::move(request.pace_output)};
  asio::co_spawn(executor, session->exec(std::move(*line), std::move(options)),
                 [running, session](std::exception_ptr failure, Result<ssh::ExecResult> result) {
                   if (failure) {
                     result = runtime::fail(
                         Errc::internal_error, Layer::channel,
                         fmt::format("the command's relay stopped: {}", runtime::exception_text(failure)));
                   }
                   running->result = std::move(result);
                   running->wake.notify();
                 });
  asio::steady_timer alarm(executor);
  if (request.timeout) {
    set_alarm(running, alarm,
              std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at() - runtime::Clock::now()),
                       std::chrono::milliseconds(0)));
  }
  const bool not_cancelled = co_await wait_for(*running);
  const auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Clock::now() - started);
  };
  if (running->result) {
    alarm.cancel();
    if (!*running->result) co_return runtime::fail(std::move(running->result->error()));
    auto& result = **running->result;
    const auto end = result.exit_code ? ExecEnd::exited
                     : result.signal  ? ExecEnd::signalled
                                      : ExecEnd::closed_without_status;
    co_return outcome_of(std::move(result), end, elapsed());
  }
  // Ours to end: TERM, a grace period, then the channel closes and another; either way the output
  // so far and how the command went are kept. The TERM and the close go out on their own: on a
  // connection that has stopped taking our writes they wait behind the full stream until its
  // keepalives end it, and the caller is held no longer than the two grace periods.
  const auto end = not_cancelled ? ExecEnd::timed_out : ExecEnd::cancelled;
  co_await asio::this_coro::reset_cancellation_state();
  asio::co_spawn(executor, session->signal("TERM"), [session](std::exception_ptr, const Result<void>&) {});
  set_alarm(running, alarm, request.kill_grace);
  co_await wait_for(*running);
  if (!running->result) {
    asio::co_spawn(executor, session->close(), [session](std::exception_ptr) {});
    set_alarm(running, alarm, request.kill_grace);
    co_await wait_for(*running);
  }
  alarm.cancel();
  if (running->result && *running->result) co_return outcome_of(std::move(**running->result), end, elapsed());
  ExecOutcome outcome;
  outcome.end = end;
  outcome.duration = elapsed();
  co_return outcome;
}

std::string read_file_command(std::string_view path) { return "cat -- " + shell_quote(path); }

std::string write_file_command(std::string_view path, std::uint64_t size) {
  // readlink -f follows symlinks to the file they name; the temporary file sits beside it so the
  // rename stays on one file system; the mode of an existing file carries over. The size check
  // tells a stdin that ended early (a client gone, a connection dropped) from the whole content.
  return fmt::format(
      "set -e; target=$(readlink -f -- {0} || printf '%s' {0}); temporary=\"$target.coder-runtime.$$\"; "
      "trap 'rm -f -- \"$temporary\"' EXIT; umask 077; cat > \"$temporary\"; "
      "received=$(wc -c < \"$temporary\"); "
      "if [ \"$received\" -ne {1} ]; then echo \"received $received of {1} bytes\" >&2; exit 1; fi; "
      "if [ -e \"$target\" ]; then chmod \"$(stat -c %a -- \"$target\")\" \"$temporary\"; fi; "
      "mv -f -- \"$temporary\" \"$target\"",
      shell_quote(path), size);
}

asio::awaitable<Result<std::string>> read_file(ssh::Connection& connection, std::string path) {
  auto command = read_file_command(path);
  co_return co_await run_checked(connection, std::move(command), fmt::format("reading {}", path));
}

asio::awaitable<Result<void>> write_file(ssh::Connection& connection, std::string path, std::string content) {
  auto command = write_file_command(path, content.size());
  auto written =
      co_await run_checked(connection, std::move(command), fmt::format("writing {}", path), std::move(content));
  if (!written) co_return runtime::fail(std::move(written.error()));
  co_return Result<void>{};
}

asio::awaitable<Result<FileInfo>> stat(ssh::Connection& connection, std::string path) {
  auto command = "stat -L -c '%s %a %Y %F' -- " + shell_quote(path);
  auto shown = co_await run_checked(connection, std::move(command), fmt::format("looking at {}", path));
  if (!shown) co_return runtime::fail(std::move(shown.error()));
  std::istringstream fields(*shown);
  FileInfo info;
  std::string mode_octal, type;
  fields >> info.size >> mode_octal >> info.modified;
  std::getline(fields >> std::ws, type);
  std::uint32_t mode = 0;
  const auto [end, ec] = std::from_chars(mode_octal.data(), mode_octal.data() + mode_octal.size(), mode, 8);
  if (!fields.eof() && fields.fail()) {
    co_return runtime::fail(std::move(
        Error(Errc::protocol_error, Layer::channel, "stat printed what we cannot read").with("stat said", *shown)));
  }
  if (ec != std::errc() || end != mode_octal.data() + mode_octal.size()) {
    co_return runtime::fail(std::move(
        Error(Errc::protocol_error, Layer::channel, "stat printed a mode we cannot read").with("stat said", *shown)));
  }
  info.mode = mode;
  info.is_directory = type == "directory";
  co_return info;
}

asio::awaitable<Result<void>> ensure_dir(ssh::Connection& connection, std::string path) {
  auto command = "mkdir -p -- " + shell_quote(path);
  auto made = co_await run_checked(connection, std::move(command), fmt::format("creating {}", path));
  if (!made) co_return runtime::fail(std::move(made.error()));
  co_return Result<void>{};
}

asio::awaitable<Result<std::string>> resolve_path(ssh::Connection& connection, std::string path) {
  if (path.starts_with('/')) co_return path;
  if (!path.starts_with('~')) {
    auto command = path.empty() ? std::string("printf '%s' \"$(pwd)\"")
                                : fmt::format("printf '%s/%s' \"$(pwd)\" {}", shell_quote(path));
    auto what = fmt::format("resolving {}", path);
    co_return co_await run_checked(connection, std::move(command), std::move(what));
  }
  const auto slash = path.find('/');
  const auto user = path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  const auto rest = slash == std::string::npos ? std::string() : path.substr(slash + 1);
  // ~name is expanded by the shell, so only a name it would take for one is put unquoted; the shell
  // leaves ~name as it is when there is no such user.
  if (!is_portable_user_name(user)) {
    co_return runtime::fail(
        std::move(Error(Errc::invalid_argument, Layer::runtime, fmt::format("{} does not start with a user name", path))
                      .with("path", path)));
  }
  std::string command = user.empty() ? "home=\"$HOME\"; "
                                     : fmt::format(
                                           "home=~{0}; if [ \"$home\" = '~{0}' ]; then "
                                           "echo 'no such user: {0}' >&2; exit 1; fi; ",
                                           user);
  command += rest.empty() ? "printf '%s' \"$home\"" : fmt::format("printf '%s/%s' \"$home\" {}", shell_quote(rest));
  auto what = fmt::format("resolving {}", path);
  co_return co_await run_checked(connection, std::move(command), std::move(what));
}

}  // namespace cr::coder
