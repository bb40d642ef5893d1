#pragma once
// Internal to src/proxy/: what the POSIX and Windows process streams share: the stderr tail and
// its reader, and the wording of the error a reader or writer sees when the child has gone.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "proxy/process_stream.hpp"
#include "runtime/asio_error.hpp"
#include "runtime/event.hpp"

namespace cr::proxy::detail {

// The last options.stderr_tail_bytes of the child's stderr, and whether its pipe has ended.
class StderrTail {
 public:
  StderrTail(asio::any_io_executor executor, const ProcessOptions& options) : options_(options), changed_(executor) {}

  const std::string& text() const { return tail_; }

  void append(std::string_view chunk) {
    tail_.append(chunk);
    if (tail_.size() > options_.stderr_tail_bytes) tail_.erase(0, tail_.size() - options_.stderr_tail_bytes);
    if (options_.on_stderr) options_.on_stderr(chunk);
    options_.log.debug("{} stderr: {}", options_.name, runtime::printable(chunk));
  }

  void finish() {
    done_ = true;
    changed_.notify();
  }

  // Until the pipe has ended (the child and everything holding its stderr gone), or cancelled.
  asio::awaitable<runtime::Result<void>> drained() {
    while (!done_) {
      const bool notified = co_await changed_.wait();
      if (!notified) co_return runtime::fail(runtime::Errc::cancelled, runtime::Layer::proxy, "cancelled");
    }
    co_return runtime::Result<void>{};
  }

 private:
  const ProcessOptions& options_;
  std::string tail_;
  bool done_ = false;
  runtime::Event changed_;
};

// Reads the child's stderr pipe into the tail until it ends. `Owner` keeps pipe and tail alive.
template <class Owner, class Pipe>
asio::awaitable<void> pump_stderr([[maybe_unused]] std::shared_ptr<Owner> owner, Pipe& pipe, StderrTail& tail) {
  std::array<char, 4096> buffer;
  for (;;) {
    auto [ec, n] =
        co_await pipe.async_read_some(asio::buffer(buffer), asio::experimental::as_tuple(asio::use_awaitable));
    if (n > 0) tail.append({buffer.data(), n});
    if (ec) break;
  }
  tail.finish();
}

// "ProxyCommand `x` exited with status 1" with its stderr tail, or that it closed its output
// (end_of_stream) or input (io_error) while still running.
inline runtime::Error ended_error(runtime::Errc code, const ProcessOptions& options,
                                  const runtime::Result<ExitStatus>& exited, const std::string& tail) {
  runtime::Error error(code, runtime::Layer::proxy,
                       exited ? fmt::format("{} {}", options.name, exited->describe())
                              : fmt::format("{} closed its {} but is still running", options.name,
                                            code == runtime::Errc::end_of_stream ? "output" : "input"));
  if (exited) error.with(kExitEvidence, exited->describe());
  if (!tail.empty()) error.with("stderr", tail);
  return error;
}

// The stream over a child's pipes, for either platform's Child, which provides: options, pid,
// exit, err_tail, stdin_pipe, stdout_pipe (Asio stream objects), close_handles(), and
// `static awaitable<Result<ExitStatus>> wait(shared_ptr<Child>)` (cancellable). The platform's
// stream adds end_after_grace() (what close() does once the grace period is over) and its
// destructor (end the child at once, close_handles()).
template <class Child>
class PipeProcessStream : public ProcessStream {
 public:
  explicit PipeProcessStream(std::shared_ptr<Child> child) : child_(std::move(child)) {}

  executor_type get_executor() override { return child_->stdout_pipe.get_executor(); }
  int pid() const override { return child_->pid; }
  std::optional<ExitStatus> exit_status() const override { return child_->exit; }
  std::string stderr_tail() const override { return child_->err_tail.text(); }
  std::string describe() const override { return fmt::format("{} (pid {})", child_->options.name, child_->pid); }

  asio::awaitable<runtime::Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    if (closed_) co_return runtime::fail(closed_error());
    if (read_end_) co_return runtime::fail(*read_end_);
    auto [ec, n] = co_await child_->stdout_pipe.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                                asio::experimental::as_tuple(asio::use_awaitable));
    if (!ec) co_return n;
    if (closed_) co_return runtime::fail(closed_error());
    // Windows (Asio 1.22) reports the end of a pipe whose writer exited as broken_pipe.
    if (ec == asio::error::eof || ec == asio::error::broken_pipe) {
      runtime::Error ended = co_await ended_error(runtime::Errc::end_of_stream);
      read_end_ = ended;
      co_return runtime::fail(std::move(ended));
    }
    co_return runtime::fail(runtime::stream_error(ec, runtime::Layer::proxy, describe(), "read"));
  }

  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    if (closed_ || !child_->stdin_pipe.is_open()) co_return runtime::fail(closed_error());
    auto [ec, n] = co_await child_->stdin_pipe.async_write_some(asio::buffer(buffer.data(), buffer.size()),
                                                                asio::experimental::as_tuple(asio::use_awaitable));
    if (!ec) co_return n;
    if (closed_) co_return runtime::fail(closed_error());
    // 232 is Windows' ERROR_NO_DATA: the reading end is being closed.
    if (ec == asio::error::broken_pipe || (ec.category() == std::system_category() && ec.value() == 232 && kWindows)) {
      runtime::Error ended = co_await ended_error(runtime::Errc::io_error);
      co_return runtime::fail(std::move(ended));
    }
    co_return runtime::fail(runtime::stream_error(ec, runtime::Layer::proxy, describe(), "write"));
  }

  runtime::Result<void> shutdown_send() override {
    if (closed_) return runtime::fail(closed_error());
    std::error_code ignored;
    child_->stdin_pipe.close(ignored);
    return {};
  }

  asio::awaitable<runtime::Result<ExitStatus>> wait_exit(runtime::Deadline deadline) override {
    co_return co_await runtime::with_deadline(deadline, Child::wait(child_), runtime::Layer::proxy,
                                              fmt::format("waiting for {} to exit", describe()));
  }

  asio::awaitable<void> close() override {
    if (closed_) co_return;
    std::error_code ignored;
    child_->stdin_pipe.close(ignored);
    // We read nothing more: a child blocked writing to us (a peer sending endless lines) gets
    // EPIPE now rather than sitting out the grace period without seeing its stdin end.
    child_->stdout_pipe.close(ignored);
    const auto grace = child_->options.close_grace;
    auto exited = co_await wait_exit(runtime::Deadline::after(grace));
    if (!exited) {
      child_->options.log.debug("{} still running {} after stdin closed", describe(), runtime::describe_budget(grace));
      co_await end_after_grace();
    }
    closed_ = true;
    child_->close_handles();
  }

 protected:
  virtual asio::awaitable<void> end_after_grace() = 0;

  std::shared_ptr<Child> child_;

 private:
#ifdef _WIN32
  static constexpr bool kWindows = true;
#else
  static constexpr bool kWindows = false;
#endif

  runtime::Error closed_error() const {
    return runtime::Error(runtime::Errc::stream_closed, runtime::Layer::proxy, fmt::format("{}: closed", describe()));
  }

  // The child closed its stdout or stdin: say how it ended, in its own words.
  asio::awaitable<runtime::Error> ended_error(runtime::Errc code) {
    const auto deadline = runtime::Deadline::after(child_->options.exit_wait_after_eof);
    auto exited = co_await wait_exit(deadline);
    // Its last words may still be in the stderr pipe (or held open by a grandchild: not for long);
    // the error quotes whatever arrived by the deadline.
    [[maybe_unused]] auto drained =
        co_await runtime::with_deadline(deadline, child_->err_tail.drained(), runtime::Layer::proxy, "reading stderr");
    co_return detail::ended_error(code, child_->options, exited, child_->err_tail.text());
  }

  std::optional<runtime::Error> read_end_;  // how the child's output ended, for every later read
  bool closed_ = false;
};

}  // namespace cr::proxy::detail
