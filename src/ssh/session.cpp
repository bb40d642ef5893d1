#include "ssh/session.hpp"

#include <array>

#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "runtime/event.hpp"
#include "ssh/connection_messages.hpp"
#include "ssh/packet_stream.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {
constexpr std::uint8_t kTtyOpEnd = 0;
constexpr std::uint8_t kLastModeWithArgument = 159;  // 160..255 are undefined and stop the parsing
}  // namespace

Result<std::vector<std::uint8_t>> encode_terminal_modes(const std::vector<TerminalMode>& modes) {
  Writer out;
  for (const auto& mode : modes) {
    if (mode.opcode == kTtyOpEnd || mode.opcode > kLastModeWithArgument) {
      return runtime::fail(
          std::move(Error(Errc::invalid_argument, Layer::channel, "a terminal mode opcode must be 1..159")
                        .with("opcode", std::to_string(mode.opcode))));
    }
    out.byte(mode.opcode);
    out.uint32(mode.value);
  }
  out.byte(kTtyOpEnd);
  return out.take();
}

namespace {
constexpr const char* kNotRun = "not run";
}  // namespace

bool command_never_sent(const Error& error) { return error.find_evidence(kNotRun) != nullptr; }

Error never_sent(Error error) {
  if (!command_never_sent(error)) error.with(kNotRun, "the request to run the command never left");
  return error;
}

Result<void> Session::started(Result<bool> agreed, std::string_view type, const std::string& what) {
  if (!agreed) return runtime::fail(std::move(agreed.error()).while_(fmt::format("requesting {}", what)));
  if (!*agreed) {
    return runtime::fail(std::move(Error(Errc::refused, Layer::channel, fmt::format("the server refused {}", what))
                                       .with("request", std::string(type))));
  }
  return {};
}

asio::awaitable<Result<void>> Session::start(std::string_view type, runtime::ConstBytes fields, std::string what) {
  auto agreed = co_await channel_->request(type, true, fields);
  co_return started(std::move(agreed), type, what);
}

asio::awaitable<Result<void>> Session::notify(std::string_view type, runtime::ConstBytes fields) {
  auto sent = co_await channel_->request(type, false, fields);
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Session::request_pty(PtyRequest pty) {
  auto modes = encode_terminal_modes(pty.modes);
  if (!modes) co_return runtime::fail(std::move(modes.error()));
  const auto fields = PtyReqData{pty.term, pty.columns, pty.rows, pty.width_pixels, pty.height_pixels, *modes}.encode();
  co_return co_await start("pty-req", fields, "a pseudo-terminal");
}

asio::awaitable<Result<void>> Session::set_env(std::string name, std::string value) {
  const auto fields = EnvData{name, value}.encode();
  co_return co_await notify("env", fields);
}

asio::awaitable<Result<void>> Session::request_agent_forwarding() {
  constexpr std::string_view request = "auth-agent-req@openssh.com";
  const runtime::ConstBytes no_fields;
  co_return co_await notify(request, no_fields);
}

asio::awaitable<Result<void>> Session::request_exec(std::string command) {
  auto ticket = co_await send_exec(command);
  if (!ticket) co_return runtime::fail(std::move(ticket.error()).with("command", command));
  co_return co_await exec_answer(*ticket, std::move(command));
}

asio::awaitable<Result<std::uint64_t>> Session::send_exec(std::string command) {
  auto fits = check_exec_command(command);
  if (!fits) co_return runtime::fail(std::move(fits.error()));
  const auto fields = ExecData{command}.encode();
  co_return co_await channel_->send_request("exec", true, fields);
}

asio::awaitable<Result<void>> Session::exec_answer(std::uint64_t ticket, std::string command) {
  auto agreed = co_await channel_->reply(ticket);
  auto answer = started(std::move(agreed), "exec", "to run the command");
  if (!answer) co_return runtime::fail(std::move(answer.error()).with("command", command));
  co_return answer;
}

asio::awaitable<Result<void>> Session::request_shell() { co_return co_await start("shell", {}, "a shell"); }

asio::awaitable<Result<std::uint64_t>> Session::send_shell() {
  co_return co_await channel_->send_request("shell", true, {});
}

asio::awaitable<Result<void>> Session::shell_answer(std::uint64_t ticket) {
  auto agreed = co_await channel_->reply(ticket);
  co_return started(std::move(agreed), "shell", "a shell");
}

asio::awaitable<Result<void>> Session::request_subsystem(std::string name) {
  auto ticket = co_await send_subsystem(name);
  if (!ticket) co_return runtime::fail(std::move(ticket.error()));
  co_return co_await subsystem_answer(*ticket, std::move(name));
}

asio::awaitable<Result<std::uint64_t>> Session::send_subsystem(std::string name) {
  const auto fields = SubsystemData{name}.encode();
  co_return co_await channel_->send_request("subsystem", true, fields);
}

asio::awaitable<Result<void>> Session::subsystem_answer(std::uint64_t ticket, std::string name) {
  auto agreed = co_await channel_->reply(ticket);
  co_return started(std::move(agreed), "subsystem", fmt::format("the subsystem \"{}\"", name));
}

asio::awaitable<Result<void>> Session::window_change(std::uint32_t columns, std::uint32_t rows,
                                                     std::uint32_t width_pixels, std::uint32_t height_pixels) {
  const auto fields = WindowChangeData{columns, rows, width_pixels, height_pixels}.encode();
  co_return co_await notify("window-change", fields);
}

asio::awaitable<Result<void>> Session::signal(std::string name) {
  if (name.starts_with("SIG")) name.erase(0, 3);
  const auto fields = SignalData{name}.encode();
  co_return co_await notify("signal", fields);
}

asio::awaitable<Result<SessionExit>> Session::wait() {
  auto closed = co_await channel_->wait_closed();
  if (!closed) co_return runtime::fail(std::move(closed.error()));
  SessionExit exit;
  if (channel_->exit_status()) exit.exit_code = static_cast<int>(*channel_->exit_status());
  exit.signal = channel_->exit_signal();
  co_return exit;
}

asio::awaitable<Result<ExecResult>> Session::exec(std::optional<std::string> command, ExecOptions options) {
  for (auto& [name, value] : options.env) {
    auto sent = co_await set_env(std::move(name), std::move(value));
    if (!sent) co_return runtime::fail(never_sent(std::move(sent.error())));
  }
  if (options.pty) {
    auto pty = co_await request_pty(std::move(*options.pty));
    if (!pty) co_return runtime::fail(never_sent(std::move(pty.error())));
  }
  // (Not a ?: around co_await: GCC 12 destroys such an operand's temporaries twice.)
  Result<std::uint64_t> ticket;
  if (command) {
    ticket = co_await send_exec(*command);
  } else {
    ticket = co_await send_shell();
  }
  if (!ticket) {
    // A request cancelled as it left is on its way: the command may run.
    auto error = std::move(ticket.error());
    if (!sent_despite_cancellation(error)) error = never_sent(std::move(error));
    if (command) error.with("command", *command);
    co_return runtime::fail(std::move(error));
  }
  ExecResult result;
  auto answered = [&]() -> asio::awaitable<Result<void>> {
    Result<void> answer;
    if (command) {
      answer = co_await exec_answer(*ticket, *command);
    } else {
      answer = co_await shell_answer(*ticket);
    }
    if (!answer) co_await close();  // the server's CLOSE then ends stdin and the drains
    co_return answer;
  };
  // stdin, stdout and stderr move at once: they share one window, and a command may not read its
  // input before its output has somewhere to go.
  auto feed_stdin = [&]() -> asio::awaitable<Result<void>> {
    if (options.stdin_data) {
      auto written = co_await write_stdin(runtime::as_bytes(*options.stdin_data));
      if (!written) co_return written;
    }
    while (options.stdin_source) {
      auto chunk = co_await options.stdin_source();
      if (!chunk) break;
      auto written = co_await write_stdin(runtime::as_bytes(*chunk));
      if (!written) co_return written;
    }
    co_return co_await close_stdin();
  };
  // Fed (or refused: a command that exits without reading its stdin closes the channel for
  // writing, which is no error), stdin waits for the session's end to cancel it. That cancellation
  // often finds the EOF still in line behind other channels' messages (Event::wait reports it then);
  // one that comes while nothing waits is ended by Asio's default throw_if_cancelled, which this
  // operand keeps, at the idle wait.
  auto feed_then_idle = [&]() -> asio::awaitable<Result<void>> {
    auto fed = co_await feed_stdin();
    if (!fed && fed.error().code != Errc::stream_closed) co_return fed;
    auto executor = co_await asio::this_coro::executor;
    runtime::Event idle(executor);
    co_await idle.wait();
    co_return Result<void>{};
  };
  // A command cut short says how much of its output had come (a caller's callbacks may have
  // consumed it already).
  std::uint64_t received_out = 0;
  std::uint64_t received_err = 0;
  auto drain = [&](Channel::Stream stream) -> asio::awaitable<Result<void>> {
    auto& sink = stream == Channel::Stream::out ? options.on_stdout : options.on_stderr;
    auto& collected = stream == Channel::Stream::out ? result.stdout_data : result.stderr_data;
    std::array<std::uint8_t, 32 * 1024> buffer;
    for (;;) {
      if (options.pace_output) co_await options.pace_output(stream);
      auto n = co_await channel_->read(stream, buffer);
      if (!n) {
        if (n.error().code == Errc::end_of_stream) co_return Result<void>{};
        co_return runtime::fail(std::move(n.error()));
      }
      const auto chunk = runtime::as_text(runtime::ConstBytes(buffer.data(), *n));
      (stream == Channel::Stream::out ? received_out : received_err) += chunk.size();
      if (!sink) {
        collected.append(chunk);
        continue;
      }
      // The caller's callback may not throw; one that does ends this command (the channel closed,
      // as for a refused exec) with the exception's text, and no other channel.
      std::exception_ptr thrown;
      try {
        sink(chunk);
      } catch (...) {
        thrown = std::current_exception();
      }
      if (thrown) {
        co_await close();
        co_return runtime::fail(
            Errc::internal_error, Layer::channel,
            fmt::format("the {} callback threw: {}", stream == Channel::Stream::out ? "stdout" : "stderr",
                        runtime::exception_text(thrown)));
      }
    }
  };
  auto drain_and_wait = [&]() -> asio::awaitable<Result<SessionExit>> {
    using namespace asio::experimental::awaitable_operators;
    auto [out, err] = co_await (drain(Channel::Stream::out) && drain(Channel::Stream::err));
    for (auto* drained : {&out, &err}) {
      if (!*drained && drained->error().code != Errc::stream_closed)
        co_return runtime::fail(std::move(drained->error()));
    }
    co_return co_await wait();
  };
  using namespace asio::experimental::awaitable_operators;
  // Stdin does not wait for the request's answer; the answer, the output and the exit come together.
  auto ended = co_await ((answered() && drain_and_wait()) || feed_then_idle());
  if (ended.index() == 1) {
    // Stdin's side ends first only with an error, or when a cancellation ends its idle wait
    // (a value, which has no error() to read).
    auto& fed = std::get<1>(ended);
    if (!fed) co_return runtime::fail(std::move(fed.error()));
    co_return runtime::fail(std::move(
        runtime::Error(Errc::cancelled, Layer::channel, "the command was cancelled")
            .with("output received", fmt::format("{} bytes of stdout, {} of stderr", received_out, received_err))));
  }
  auto [began, exit] = std::get<0>(std::move(ended));
  if (!began) co_return runtime::fail(std::move(began.error()));
  if (!exit) {
    co_return runtime::fail(std::move(exit.error().with(
        "output received", fmt::format("{} bytes of stdout, {} of stderr", received_out, received_err))));
  }
  static_cast<SessionExit&>(result) = *exit;
  co_return result;
}

}  // namespace cr::ssh
