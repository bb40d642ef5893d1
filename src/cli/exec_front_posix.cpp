#include "cli/exec_front.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/local_terminal.hpp"
#include "service/frame.hpp"
#include "service/json_rpc.hpp"

namespace cr::cli {
namespace {

using nlohmann::json;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using service::StreamId;

int signal_pipe_input = -1;

extern "C" void note_signal(int number) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(number);
  [[maybe_unused]] const auto written = ::write(signal_pipe_input, &byte, 1);
  errno = saved;
}

// The signals given arrive as bytes on a pipe that poll watches, until this is destroyed and
// their previous handling comes back.
class SignalPipe {
 public:
  static std::unique_ptr<SignalPipe> install(std::initializer_list<int> numbers) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return nullptr;
    return std::unique_ptr<SignalPipe>(new SignalPipe(fds, numbers));
  }
  ~SignalPipe() {
    for (const auto& [number, previous] : saved_) ::sigaction(number, &previous, nullptr);
    signal_pipe_input = -1;
    ::close(output_);
    ::close(input_);
  }
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int output() const { return output_; }
  // The signals noted since the last call, in order.
  std::vector<int> take() const {
    std::vector<int> numbers;
    unsigned char bytes[16];
    for (ssize_t n; (n = ::read(output_, bytes, sizeof bytes)) > 0;) numbers.insert(numbers.end(), bytes, bytes + n);
    return numbers;
  }

 private:
  SignalPipe(const int fds[2], std::initializer_list<int> numbers) : output_(fds[0]), input_(fds[1]) {
    signal_pipe_input = input_;
    for (const int number : numbers) {
      struct sigaction action {};
      action.sa_handler = note_signal;
      sigemptyset(&action.sa_mask);
      // No SA_RESTART: a signal ends a blocking read of stdin (another reader of a shared terminal
      // or pipe may take what poll saw), so that it is acted on at once.
      action.sa_flags = 0;
      struct sigaction previous {};
      ::sigaction(number, &action, &previous);
      saved_.emplace_back(number, previous);
    }
  }

  int output_;
  int input_;
  std::vector<std::pair<int, struct sigaction>> saved_;
};

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A connected socket to the holder, or -1 when none answers there.
int connect_running_holder(const std::string& endpoint) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (endpoint.size() >= sizeof address.sun_path) return -1;
  std::memcpy(address.sun_path, endpoint.data(), endpoint.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

Error stream_error(std::string_view what, int error_number) {
  return Error(Errc::io_error, Layer::runtime, fmt::format("{}: {}", what, std::strerror(error_number)));
}

// One exec on the holder, from its request to its answer.
class HolderExec {
 public:
  HolderExec(int socket, const Reporter& report, const ExecCommandOptions& o)
      : socket_(socket), report_(report), o_(o) {}

  runtime::Result<json> run(const json& params, const SignalPipe& signals) {
    send(service::encode_message(
        json{{"jsonrpc", "2.0"}, {"id", kRequestId}, {"method", "exec"}, {"params", params}}.dump(
            -1, ' ', false, json::error_handler_t::replace)));
    while (!answer_ && !failure_) {
      pollfd watched[3] = {{socket_, POLLIN, 0}, {signals.output(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
      const nfds_t count = stdin_open_ && stdin_credit_ > 0 ? 3 : 2;
      // Whatever is queued goes out before a wait, in one write with what this round adds.
      const int ready = ::poll(watched, count, outbox_.empty() || !sending_ ? -1 : 0);
      if (ready < 0 && errno != EINTR) {
        failure_ = stream_error("waiting for the connection holder", errno);
        break;
      }
      if (ready > 0) {
        if (watched[1].revents != 0) {
          for (const int number : signals.take()) on_signal(number);
        }
        if (count == 3 && watched[2].revents != 0) relay_stdin((watched[2].revents & POLLNVAL) != 0);
        if (watched[0].revents != 0) read_holder();
      }
      if (!failure_) flush();
    }
    if (answer_) return std::move(*answer_);
    return runtime::fail(*failure_);
  }

  const std::optional<Error>& failure() const { return failure_; }

 private:
  static constexpr int kRequestId = 1;

  void send(std::string frame) { outbox_ += frame; }

  void notify(std::string_view method, json params) {
    send(service::encode_message(service::notification(method, std::move(params))));
  }

  // A failed write stops sending, stdin included, but not reading: the answer, or the stream's
  // end that says why, may already be on its way.
  void flush() {
    std::string_view rest = sending_ ? std::string_view(outbox_) : std::string_view();
    while (!rest.empty()) {
      const auto n = ::send(socket_, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        sending_ = false;
        stdin_open_ = false;
        break;
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    outbox_.clear();
  }

  void relay_stdin(bool closed) {
    const auto size = std::min(service::kMaxDataPayload, static_cast<std::size_t>(stdin_credit_));
    if (!stdin_buffer_) stdin_buffer_ = std::make_unique_for_overwrite<char[]>(service::kMaxDataPayload);
    const auto n = closed ? 0 : ::read(STDIN_FILENO, stdin_buffer_.get(), size);
    if (n < 0 && errno == EINTR) return;
    // A read error ends input, as it does for ssh.
    if (n <= 0) {
      send(service::encode_end(kHolderExecHandle, StreamId::stdin_stream));
      stdin_open_ = false;
      return;
    }
    send(service::encode_data(kHolderExecHandle, StreamId::stdin_stream,
                              std::string_view(stdin_buffer_.get(), static_cast<std::size_t>(n))));
    stdin_credit_ -= n;
  }

  void read_holder() {
    const auto room = frames_.room();
    const auto n = ::read(socket_, room.data(), room.size());
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      failure_ =
          frames_.ended(n == 0 ? Error(Errc::end_of_stream, Layer::runtime, "the connection holder closed the stream")
                               : stream_error("reading from the connection holder", errno));
      return;
    }
    frames_.filled(static_cast<std::size_t>(n));
    while (!answer_) {
      auto frame = frames_.next();
      if (!frame) {
        failure_ = std::move(frame.error());
        return;
      }
      if (!*frame) return;
      on_frame(**frame);
    }
  }

  void on_frame(const service::Frame& frame) {
    switch (frame.kind) {
      case service::FrameKind::message:
        on_message(frame.body);
        break;
      case service::FrameKind::data:
        report_.output(service::to_string(frame.stream), frame.body);
        notify("credit", {{"handle", kHolderExecHandle},
                          {"stream", service::to_string(frame.stream)},
                          {"bytes", frame.body.size()}});
        break;
      case service::FrameKind::end:
        break;
    }
  }

  void on_message(const std::string& text) {
    const json message = json::parse(text, nullptr, false);
    if (!message.is_object()) return;
    if (message.contains("method") && message["method"].is_string()) {
      const auto method = message["method"].get<std::string>();
      const auto params = message.value("params", json::object());
      if (method == "credit" && params.is_object() && params.value("stream", "") == "stdin") {
        const auto& bytes = params.contains("bytes") ? params["bytes"] : json();
        if (bytes.is_number_integer()) stdin_credit_ += bytes.get<std::int64_t>();
      } else if (params.is_object()) {
        show_holder_notice(report_, o_.json, method, params);
      }
      return;
    }
    if (!message.contains("id") || message["id"] != kRequestId) return;
    if (message.contains("result")) {
      answer_ = message["result"];
    } else {
      answer_ = runtime::fail(service::error_from_response(message.value("error", json::object())));
    }
  }

  void on_signal(int number) {
    if (number == SIGWINCH) {
      const auto size = terminal_size();
      notify("exec.resize", {{"handle", kHolderExecHandle}, {"columns", size.columns}, {"rows", size.rows}});
    } else if (!cancel_sent_) {
      // Once: a second cancellation on the holder would cut the command's TERM grace short.
      cancel_sent_ = true;
      notify("exec.cancel", {{"handle", kHolderExecHandle}});
    }
  }

  int socket_;
  const Reporter& report_;
  const ExecCommandOptions& o_;
  std::string outbox_;
  service::FrameBuffer frames_;
  std::int64_t stdin_credit_ = static_cast<std::int64_t>(service::kInitialCredit);
  bool stdin_open_ = true;
  bool sending_ = true;
  bool cancel_sent_ = false;
  std::unique_ptr<char[]> stdin_buffer_;
  std::optional<runtime::Result<json>> answer_;
  std::optional<Error> failure_;
};

}  // namespace

std::optional<int> exec_through_running_holder(const ExecCommandOptions& o, const ControlOptions& control) {
  const Reporter report(o.json);
  const runtime::Logger quiet;
  auto prepared = prepare_exec(o);
  if (!prepared) return report.failure(prepared.error(), o.coder_failed_exit, quiet);
  auto paths = service::holder_paths(control.path);
  if (!paths) return report.failure(paths.error(), exit_code_for(paths.error(), kExitConnectionFailed), quiet);
  const auto params = holder_exec_params(o, *prepared);
  const Descriptor socket(connect_running_holder(paths->endpoint));
  if (socket.get() < 0) return std::nullopt;
  // From here Ctrl-C and SIGTERM cancel the command on the holder; its outcome still comes back.
  const auto signals =
      o.tty ? SignalPipe::install({SIGINT, SIGTERM, SIGWINCH}) : SignalPipe::install({SIGINT, SIGTERM});
  if (!signals) return std::nullopt;
  std::optional<RawTerminal> raw;
  if (o.tty) raw.emplace();
  HolderExec exec(socket.get(), report, o);
  const auto answer = exec.run(params, *signals);
  raw.reset();
  return finish_holder_exec(report, o, *paths, answer, exec.failure(), quiet);
}

}  // namespace cr::cli
