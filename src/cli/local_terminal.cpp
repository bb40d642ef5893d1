#include "cli/local_terminal.hpp"

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <asio/post.hpp>

namespace cr::cli {

// The reading thread and the executor share this; `ready` is only touched on the executor, and
// only while `alive`, which the reader's destructor clears (on the executor) under the mutex.
struct StdinReader::Shared {
  std::mutex mutex;
  std::condition_variable taken;
  bool alive = true;
  bool has_chunk = false;
  std::optional<std::string> chunk;  // nullopt: end of input
  asio::any_io_executor executor;
  runtime::Event* ready = nullptr;
};

StdinReader::StdinReader(asio::any_io_executor executor) {
  if (stdin_reads_never_wait()) return;
  shared_ = std::make_shared<Shared>();
  ready_ = std::make_unique<runtime::Event>(executor);
  shared_->executor = executor;
  shared_->ready = ready_.get();
  std::thread([shared = shared_] {
    std::array<char, 32 * 1024> buffer;
    for (;;) {
      const auto n = read_stdin(buffer);
      std::unique_lock lock(shared->mutex);
      if (!shared->alive) return;
      shared->chunk.reset();
      if (n > 0) shared->chunk.emplace(buffer.data(), static_cast<std::size_t>(n));
      shared->has_chunk = true;
      asio::post(shared->executor, [shared] {
        if (shared->alive) shared->ready->notify();
      });
      if (n <= 0) return;
      shared->taken.wait(lock, [&] { return !shared->has_chunk || !shared->alive; });
      if (!shared->alive) return;
    }
  }).detach();
}

StdinReader::~StdinReader() {
  if (!shared_) return;
  std::lock_guard lock(shared_->mutex);
  shared_->alive = false;
  shared_->taken.notify_all();
}

asio::awaitable<std::optional<std::string>> StdinReader::next() {
  if (!shared_) {
    // Not zeroed: an empty stdin then touches none of its pages.
    constexpr std::size_t size = 32 * 1024;
    const auto buffer = std::make_unique_for_overwrite<char[]>(size);
    const auto n = read_stdin(std::span(buffer.get(), size));
    if (n <= 0) co_return std::nullopt;
    co_return std::string(buffer.get(), static_cast<std::size_t>(n));
  }
  for (;;) {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->has_chunk) {
        auto chunk = std::move(shared_->chunk);
        shared_->has_chunk = false;
        shared_->taken.notify_one();
        co_return chunk;
      }
    }
    const bool woken = co_await ready_->wait();
    if (!woken) co_return std::nullopt;
  }
}

}  // namespace cr::cli
