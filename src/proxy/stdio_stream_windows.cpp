// This process's stdin and stdout on Windows. A host's pipes reach a child as synchronous handles
// (anonymous pipes, or named pipes opened without overlapped I/O), which Asio's stream_handle
// cannot use, so a thread of its own blocks in ReadFile and another in WriteFile; the executor
// hears from them through posted notifications. The reader stays a chunk or two ahead; a write
// completes once the writer thread has handed all of it to the pipe, so a host that stops reading
// stalls our writes, not our memory. Threads that outlive the stream touch nothing of it.

#include <io.h>
#include <windows.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <asio/post.hpp>
#include <fmt/format.h>

#include "proxy/stdio_stream.hpp"
#include "runtime/event.hpp"

namespace cr::proxy {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kChunksAhead = 2;

Error system_error(std::string_view what, DWORD code) {
  return std::move(Error(Errc::io_error, Layer::runtime, std::string(what))
                       .with_system({static_cast<int>(code), std::system_category()}));
}

// Shared by the stream (on its executor) and its two threads, under `mutex`. `changed` is only
// touched on the executor, and only while `alive`, which close() clears.
struct Shared {
  std::mutex mutex;
  std::condition_variable wake;  // the threads wait on it
  bool alive = true;
  std::deque<std::string> chunks;
  std::optional<Error> read_end;
  std::deque<std::string> outgoing;
  bool close_output = false;
  std::uint64_t bytes_written = 0;
  std::optional<Error> write_failure;
  asio::any_io_executor executor;
  runtime::Event* changed = nullptr;

  void tell_executor(const std::shared_ptr<Shared>& self) {
    asio::post(executor, [self] {
      if (self->alive) self->changed->notify();
    });
  }
};

void read_loop(std::shared_ptr<Shared> shared, HANDLE input) {
  std::string buffer(kChunk, '\0');
  for (;;) {
    DWORD n = 0;
    const BOOL ok = ::ReadFile(input, buffer.data(), static_cast<DWORD>(buffer.size()), &n, nullptr);
    const DWORD code = ok ? 0 : ::GetLastError();
    std::unique_lock lock(shared->mutex);
    if (!shared->alive) break;
    if (ok && n > 0) {
      shared->chunks.emplace_back(buffer.data(), n);
    } else if (ok || code == ERROR_BROKEN_PIPE || code == ERROR_HANDLE_EOF) {
      shared->read_end = Error(Errc::end_of_stream, Layer::runtime, "stdin: peer closed the stream");
    } else {
      shared->read_end = system_error("stdin: read failed", code);
    }
    shared->tell_executor(shared);
    if (shared->read_end) break;
    shared->wake.wait(lock, [&] { return !shared->alive || shared->chunks.size() < kChunksAhead; });
    if (!shared->alive) break;
  }
  ::CloseHandle(input);
}

void write_loop(std::shared_ptr<Shared> shared, HANDLE output) {
  for (;;) {
    std::string data;
    {
      std::unique_lock lock(shared->mutex);
      shared->wake.wait(lock, [&] { return !shared->alive || !shared->outgoing.empty() || shared->close_output; });
      if (!shared->alive || shared->outgoing.empty()) break;
      data = std::move(shared->outgoing.front());
      shared->outgoing.pop_front();
    }
    std::size_t done = 0;
    DWORD code = 0;
    while (done < data.size()) {
      DWORD n = 0;
      if (!::WriteFile(output, data.data() + done, static_cast<DWORD>(data.size() - done), &n, nullptr)) {
        code = ::GetLastError();
        break;
      }
      done += n;
    }
    std::lock_guard lock(shared->mutex);
    if (!shared->alive) break;
    if (code != 0) shared->write_failure = system_error("stdout: write failed", code);
    shared->bytes_written += done;
    shared->tell_executor(shared);
    if (code != 0) break;
  }
  ::CloseHandle(output);
}

class StdioStream final : public runtime::AsyncStream {
 public:
  StdioStream(asio::any_io_executor executor, HANDLE input, HANDLE output)
      : executor_(executor), shared_(std::make_shared<Shared>()), changed_(std::make_unique<runtime::Event>(executor)) {
    shared_->executor = executor;
    shared_->changed = changed_.get();
    std::thread(read_loop, shared_, input).detach();
    std::thread(write_loop, shared_, output).detach();
  }
  ~StdioStream() override { stop_threads(); }

  executor_type get_executor() override { return executor_; }

  asio::awaitable<Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    for (;;) {
      {
        std::lock_guard lock(shared_->mutex);
        if (!shared_->alive) co_return runtime::fail(closed_error());
        if (!shared_->chunks.empty()) {
          auto& chunk = shared_->chunks.front();
          const auto n = std::min(buffer.size(), chunk.size());
          std::copy_n(chunk.data(), n, reinterpret_cast<char*>(buffer.data()));
          chunk.erase(0, n);
          if (chunk.empty()) shared_->chunks.pop_front();
          shared_->wake.notify_all();
          co_return n;
        }
        if (shared_->read_end) co_return runtime::fail(*shared_->read_end);
      }
      if (!co_await changed_->wait()) co_return runtime::fail(Errc::cancelled, Layer::runtime, "stdin: read cancelled");
    }
  }

  asio::awaitable<Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    std::uint64_t target = 0;
    {
      std::lock_guard lock(shared_->mutex);
      if (!shared_->alive || shared_->close_output) co_return runtime::fail(closed_error());
      if (shared_->write_failure) co_return runtime::fail(*shared_->write_failure);
      shared_->outgoing.emplace_back(reinterpret_cast<const char*>(buffer.data()), buffer.size());
      target = queued_ += buffer.size();
      shared_->wake.notify_all();
    }
    for (;;) {
      {
        std::lock_guard lock(shared_->mutex);
        if (shared_->bytes_written >= target) co_return buffer.size();
        if (shared_->write_failure) co_return runtime::fail(*shared_->write_failure);
        if (!shared_->alive) co_return runtime::fail(closed_error());
      }
      if (!co_await changed_->wait())
        co_return runtime::fail(Errc::cancelled, Layer::runtime, "stdout: write cancelled");
    }
  }

  Result<void> shutdown_send() override {
    std::lock_guard lock(shared_->mutex);
    if (!shared_->alive) return runtime::fail(closed_error());
    shared_->close_output = true;
    shared_->wake.notify_all();
    return {};
  }

  asio::awaitable<void> close() override {
    stop_threads();
    co_return;
  }

  std::string describe() const override { return "stdio"; }

 private:
  static Error closed_error() { return Error(Errc::stream_closed, Layer::runtime, "stdio: closed"); }

  void stop_threads() {
    std::lock_guard lock(shared_->mutex);
    shared_->alive = false;
    shared_->wake.notify_all();
  }

  asio::any_io_executor executor_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<runtime::Event> changed_;
  std::uint64_t queued_ = 0;
};

}  // namespace

Result<std::unique_ptr<runtime::AsyncStream>> take_stdio(asio::any_io_executor executor) {
  const HANDLE process = ::GetCurrentProcess();
  HANDLE input = nullptr;
  HANDLE output = nullptr;
  if (!::DuplicateHandle(process, ::GetStdHandle(STD_INPUT_HANDLE), process, &input, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
    return runtime::fail(system_error("could not take stdin", ::GetLastError()));
  }
  if (!::DuplicateHandle(process, ::GetStdHandle(STD_OUTPUT_HANDLE), process, &output, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
    const DWORD code = ::GetLastError();
    ::CloseHandle(input);
    return runtime::fail(system_error("could not take stdout", code));
  }
  // From here what anything prints to stdout goes to stderr, never into the frames.
  ::SetStdHandle(STD_OUTPUT_HANDLE, ::GetStdHandle(STD_ERROR_HANDLE));
  ::_dup2(2, 1);
  return std::make_unique<StdioStream>(std::move(executor), input, output);
}

}  // namespace cr::proxy
