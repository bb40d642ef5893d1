#include <algorithm>
#include <csignal>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

#include "proxy/process_common.hpp"
#include "proxy/process_stream.hpp"
#include "runtime/asio_error.hpp"

extern char** environ;  // POSIX; not every system declares it in <unistd.h>

namespace cr::proxy {

using runtime::Deadline;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;
namespace this_coro = asio::this_coro;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

std::string ExitStatus::describe() const {
  if (kind == Kind::exited) return fmt::format("exited with status {}", value);
#ifdef __GLIBC__
  if (const char* name = sigabbrev_np(value)) return fmt::format("was killed by signal {} (SIG{})", value, name);
#endif
  return fmt::format("was killed by signal {}", value);
}

namespace {

void ignore_sigpipe_unless_handled() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      std::signal(SIGPIPE, SIG_IGN);
    }
  });
}

struct Pipe {
  int read_end = -1;
  int write_end = -1;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return runtime::fail(std::move(Error(Errc::spawn_failed, Layer::proxy, "could not create a pipe")
                                       .with_system({errno, std::system_category()})));
  }
  // A host that closed its own stdio gets descriptors 0-2 back from pipe2; the child's dup2 onto
  // 0-2 would then clobber them, so ours always sit above.
  for (int& fd : fds) {
    if (fd <= STDERR_FILENO) {
      const int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
      ::close(fd);
      fd = moved;
    }
  }
  if (fds[0] < 0 || fds[1] < 0) {
    const int code = errno;
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    return runtime::fail(std::move(Error(Errc::spawn_failed, Layer::proxy, "could not create a pipe")
                                       .with_system({code, std::system_category()})));
  }
  return Pipe{fds[0], fds[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Async-signal-safe, for the forked child.
void close_descriptors_from(int first) {
#ifdef __linux__
  if (close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
#endif
  const long max_fd = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < max_fd; ++fd) ::close(static_cast<int>(fd));
}

// Our environment with `changes` applied, as NAME=VALUE strings.
std::vector<std::string> changed_environment(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
  std::vector<std::string> variables;
  for (char** entry = environ; *entry; ++entry) {
    const std::string_view variable(*entry);
    const auto name = variable.substr(0, variable.find('='));
    const bool changed =
        std::any_of(changes.begin(), changes.end(), [&](const auto& change) { return change.first == name; });
    if (!changed) variables.emplace_back(variable);
  }
  for (const auto& [name, value] : changes) {
    if (value) variables.push_back(name + "=" + *value);
  }
  return variables;
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(int in, int out, int err, int report, char* const* argv, char** environment) {
  dup2(in, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  // The error-report pipe is close-on-exec; every other descriptor the host may have left
  // inheritable is closed so the proxy holds nothing of ours open.
  for (int fd = STDERR_FILENO + 1; fd < report; ++fd) ::close(fd);
  close_descriptors_from(report + 1);
  // Our own process group, so ending the proxy also ends whatever it started.
  setpgid(0, 0);
  // Ignored signals survive exec: give the child the defaults it expects.
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // execvp searches PATH and passes environ on; pointing environ at the block built before fork
  // is a plain store, safe here.
  if (environment) environ = environment;
  execvp(argv[0], argv);
  const int code = errno;
  [[maybe_unused]] auto ignored = write(report, &code, sizeof code);
  _exit(127);
}

ExitStatus decode_wait_status(int status) {
  if (WIFSIGNALED(status)) return {ExitStatus::Kind::signalled, WTERMSIG(status)};
  return {ExitStatus::Kind::exited, WEXITSTATUS(status)};
}

// State that outlives the stream object while its background stderr reader finishes.
struct Child {
  Child(asio::any_io_executor ex, ProcessOptions opts)
      : options(std::move(opts)),
        stdin_pipe(ex),
        stdout_pipe(ex),
        stderr_pipe(ex),
        exit_watch(ex),
        err_tail(ex, options) {}

  ProcessOptions options;
  pid_t pid = -1;
  asio::posix::stream_descriptor stdin_pipe;
  asio::posix::stream_descriptor stdout_pipe;
  asio::posix::stream_descriptor stderr_pipe;
  asio::posix::stream_descriptor exit_watch;  // a pidfd: readable once the child has exited
  std::optional<ExitStatus> exit;
  detail::StderrTail err_tail;

  bool reap(int flags) {
    if (exit) return true;
    int status = 0;
    const pid_t r = waitpid(pid, &status, flags);
    if (r == pid) {
      exit = decode_wait_status(status);
      options.log.debug("{} (pid {}) {}", options.name, pid, exit->describe());
      return true;
    }
    if (r < 0 && errno == ECHILD) {
      // Someone else reaped it (a host with its own SIGCHLD handler): the status is lost.
      exit = ExitStatus{ExitStatus::Kind::exited, -1};
      return true;
    }
    return false;
  }

  void signal_group(int sig) const {
    if (!exit) kill(-pid, sig);
  }

  void close_handles() {
    std::error_code ignored;
    stdin_pipe.close(ignored);
    stdout_pipe.close(ignored);
    stderr_pipe.close(ignored);
    exit_watch.close(ignored);
  }

  // Until the child has exited (reaped), or cancelled.
  static asio::awaitable<Result<ExitStatus>> wait(std::shared_ptr<Child> child);
};

asio::awaitable<Result<ExitStatus>> Child::wait(std::shared_ptr<Child> child) {
  while (!child->reap(WNOHANG)) {
    std::error_code ec;
    if (child->exit_watch.is_open()) {
      auto [woken] = co_await child->exit_watch.async_wait(asio::posix::descriptor_base::wait_read, as_tuple);
      ec = woken;
    } else {
      // No pidfd (not Linux, or a kernel before 5.3): poll.
      asio::steady_timer poll(child->exit_watch.get_executor(), std::chrono::milliseconds(10));
      auto [waited] = co_await poll.async_wait(as_tuple);
      ec = waited;
    }
    if (ec == asio::error::operation_aborted) {
      co_return runtime::fail(Errc::cancelled, Layer::proxy,
                              fmt::format("waiting for {} cancelled", child->options.name));
    }
    if (ec) child->exit_watch.close(ec);  // the pidfd failed: poll from now on
  }
  co_return *child->exit;
}

class PosixProcessStream final : public detail::PipeProcessStream<Child> {
 public:
  using PipeProcessStream::PipeProcessStream;

  ~PosixProcessStream() override {
    if (!child_->exit) {
      child_->signal_group(SIGKILL);
      child_->reap(0);
    }
    child_->close_handles();
  }

 private:
  asio::awaitable<void> end_after_grace() override {
    child_->options.log.debug("{}: SIGTERM", describe());
    child_->signal_group(SIGTERM);
    auto terminated = co_await wait_exit(Deadline::after(child_->options.close_grace));
    if (!terminated) {
      child_->options.log.debug("{} ignored SIGTERM: SIGKILL", describe());
      child_->signal_group(SIGKILL);
      child_->reap(0);
    }
  }
};

}  // namespace

Result<std::unique_ptr<ProcessStream>> spawn_process(asio::any_io_executor executor, ProcessOptions options) {
  if (options.argv.empty()) return runtime::fail(Errc::invalid_argument, Layer::proxy, "empty command line");
  if (options.name.empty()) options.name = fmt::format("process `{}`", options.argv.front());
  ignore_sigpipe_unless_handled();

  Pipe in, out, err, report;
  for (Pipe* p : {&in, &out, &err, &report}) {
    auto made = make_pipe();
    if (!made) {
      for (Pipe* q : {&in, &out, &err, &report}) close_fd(q->read_end), close_fd(q->write_end);
      return runtime::fail(std::move(made.error()));
    }
    *p = *made;
  }
  std::vector<char*> argv;
  for (auto& arg : options.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> variables;
  std::vector<char*> environment;
  if (!options.environment.empty()) {
    variables = changed_environment(options.environment);
    for (auto& variable : variables) environment.push_back(variable.data());
    environment.push_back(nullptr);
  }

  const pid_t pid = fork();
  if (pid == 0) {
    exec_child(in.read_end, out.write_end, err.write_end, report.write_end, argv.data(),
               environment.empty() ? nullptr : environment.data());
  }

  const int fork_errno = errno;
  close_fd(in.read_end);
  close_fd(out.write_end);
  close_fd(err.write_end);
  close_fd(report.write_end);
  auto child = std::make_shared<Child>(executor, std::move(options));
  if (pid < 0) {
    for (int* fd : {&in.write_end, &out.read_end, &err.read_end, &report.read_end}) close_fd(*fd);
    return runtime::fail(
        std::move(Error(Errc::spawn_failed, Layer::proxy, fmt::format("could not start {}", child->options.name))
                      .with_system({fork_errno, std::system_category()})));
  }
  child->pid = pid;
  setpgid(pid, pid);  // also here, so the group exists before any signal we send

  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(report.read_end, &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close_fd(report.read_end);
  std::error_code ignored;
  child->stdin_pipe.assign(in.write_end, ignored);
  child->stdout_pipe.assign(out.read_end, ignored);
  child->stderr_pipe.assign(err.read_end, ignored);
  if (got == sizeof exec_errno) {
    child->reap(0);
    return runtime::fail(
        std::move(Error(Errc::spawn_failed, Layer::proxy, fmt::format("could not run {}", child->options.name))
                      .with("program", child->options.argv.front())
                      .with_system({exec_errno, std::system_category()})));
  }
#ifdef SYS_pidfd_open
  const long pidfd = syscall(SYS_pidfd_open, pid, 0);
  if (pidfd >= 0) child->exit_watch.assign(static_cast<int>(pidfd), ignored);  // close-on-exec already
#endif
  child->options.log.debug("started {} as pid {}", child->options.name, pid);
  auto& stderr_pipe = child->stderr_pipe;
  auto& stderr_tail = child->err_tail;
  asio::co_spawn(executor, detail::pump_stderr(child, stderr_pipe, stderr_tail), asio::detached);
  return std::make_unique<PosixProcessStream>(std::move(child));
}

}  // namespace cr::proxy
