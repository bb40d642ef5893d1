// The holder's own side on POSIX: its lock, its socket, and "ready" to the client that started it.

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "proxy/local_endpoint.hpp"
#include "service/detail/file_lock.hpp"
#include "service/detail/holder_serve.hpp"
#include "service/holder.hpp"

namespace cr::service {
namespace {

void say(int fd, std::string_view line) {
  if (fd < 0) return;
  [[maybe_unused]] auto ignored = ::write(fd, line.data(), line.size());
  ::close(fd);
}

// Empties the log file when it is our stderr (as a client starts us), and nothing else.
void restart_log(const std::filesystem::path& log) {
  struct stat ours {
  }, file{};
  if (::fstat(STDERR_FILENO, &ours) == 0 && ::stat(log.c_str(), &file) == 0 && ours.st_dev == file.st_dev &&
      ours.st_ino == file.st_ino) {
    [[maybe_unused]] auto ignored = ::ftruncate(STDERR_FILENO, 0);
  }
}

}  // namespace

asio::awaitable<int> detail::hold_endpoint(HolderOptions options) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  const auto log = options.server.log;
  auto lock = detail::FileLock::open(options.paths.lock);
  if (!lock) {
    log.error("{}", lock.error().summary());
    say(options.ready_fd, "failed\n");
    co_return 1;
  }
  if (!lock->try_lock()) {
    log.info("another holder serves {}", options.paths.endpoint);
    say(options.ready_fd, "busy\n");
    co_return 0;
  }
  // Ours alone under the lock: whatever socket is there belongs to a holder that has gone, and so
  // does the log before ours.
  ::unlink(options.paths.endpoint.c_str());
  restart_log(options.paths.log);
  auto listener = proxy::LocalListener::listen(executor, options.paths.endpoint, options.server.log);
  if (!listener) {
    log.error("{}", listener.error().summary());
    say(options.ready_fd, "failed\n");
    co_return 1;
  }
  const int ready_fd = options.ready_fd;
  co_return co_await detail::serve_holder(std::move(*listener), std::move(options),
                                          [ready_fd] { say(ready_fd, "ready\n"); });
}

}  // namespace cr::service
