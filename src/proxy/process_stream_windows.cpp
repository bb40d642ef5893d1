// The child-process stream on Windows. Asio's windows::stream_handle needs overlapped handles, and
// CreatePipe's anonymous pipes are not (Asio refuses them), so each of the child's stdio is a
// named pipe of our own: our end overlapped, the child's end inheritable and synchronous. The child
// inherits those three handles and nothing else (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), runs in a job
// object that kills it, and whatever it started, when the job's last handle closes (our process
// included, however it ends), and its exit code comes from its process handle.

#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cwchar>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/windows/object_handle.hpp>
#include <asio/windows/stream_handle.hpp>
#include <fmt/format.h>

#include "proxy/process_common.hpp"
#include "proxy/process_stream.hpp"
#include "runtime/event.hpp"
#include "runtime/paths.hpp"
#include "runtime/windows_handle.hpp"

namespace cr::proxy {

using runtime::Deadline;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// What a child ended by close() (or the destructor) exits with: the job is terminated with it.
constexpr int kTerminatedExitCode = 137;

std::string ExitStatus::describe() const {
  // NTSTATUS codes (0xC0000005 access violation, 0xC000013A Ctrl+C) read better in hex.
  if (static_cast<unsigned>(value) >= 0xC0000000u)
    return fmt::format("exited with status 0x{:08X}", static_cast<unsigned>(value));
  return fmt::format("exited with status {}", value);
}

namespace {

using runtime::OwnedHandle;

Error spawn_error(std::string message, std::error_code ec) {
  return std::move(Error(Errc::spawn_failed, Layer::proxy, std::move(message)).with_system(ec));
}

struct Pipe {
  OwnedHandle ours;    // overlapped, for stream_handle
  OwnedHandle childs;  // synchronous and inheritable, for the child's stdio
};

// `inbound`: we read and the child writes (its stdout, stderr); otherwise the child reads (stdin).
Result<Pipe> make_pipe(bool inbound) {
  static std::atomic<unsigned> counter{0};
  const auto name = runtime::widen(
      fmt::format(R"(\\.\pipe\coder-runtime-{}-{}-{})", GetCurrentProcessId(), counter.fetch_add(1), GetTickCount64()));
  Pipe pipe;
  // One instance, refused to remote clients, created by us first: nobody else can slip in.
  pipe.ours = OwnedHandle(CreateNamedPipeW(
      name.c_str(),
      (inbound ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 65536, 65536, 0, nullptr));
  if (!pipe.ours) return runtime::fail(spawn_error("could not create a named pipe", runtime::last_windows_error()));
  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  // FILE_WRITE_ATTRIBUTES on the reading end lets the child change the pipe's mode, as some do.
  pipe.childs = OwnedHandle(CreateFileW(name.c_str(), inbound ? GENERIC_WRITE : GENERIC_READ | FILE_WRITE_ATTRIBUTES, 0,
                                        &inheritable, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!pipe.childs)
    return runtime::fail(spawn_error("could not open the child's end of a named pipe", runtime::last_windows_error()));
  return pipe;
}

// CommandLineToArgvW's rules: quotes around an argument with spaces, tabs or quotes; backslashes
// doubled only before a quote.
std::string quote_argument(const std::string& argument) {
  if (!argument.empty() && argument.find_first_of(" \t\n\v\"") == std::string::npos) return argument;
  std::string out = "\"";
  std::size_t backslashes = 0;
  for (const char c : argument) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    out.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, '\\');
  out += '"';
  return out;
}

std::string command_line_of(const ProcessOptions& options) {
  return options.command_line.empty() ? windows_command_line(options.argv) : options.command_line;
}

// State that outlives the stream object while its background readers finish.
struct Child {
  Child(asio::any_io_executor ex, ProcessOptions opts)
      : options(std::move(opts)),
        stdin_pipe(ex),
        stdout_pipe(ex),
        stderr_pipe(ex),
        process(ex),
        err_tail(ex, options),
        exit_changed(ex) {}

  ProcessOptions options;
  int pid = -1;
  OwnedHandle job;
  asio::windows::stream_handle stdin_pipe;
  asio::windows::stream_handle stdout_pipe;
  asio::windows::stream_handle stderr_pipe;
  asio::windows::object_handle process;  // signalled once the child has exited
  std::optional<ExitStatus> exit;
  detail::StderrTail err_tail;
  runtime::Event exit_changed;

  // Reads the exit code once the process handle is signalled.
  bool collect() {
    if (exit) return true;
    if (!process.is_open() || WaitForSingleObject(process.native_handle(), 0) != WAIT_OBJECT_0) return false;
    DWORD code = 0;
    if (!GetExitCodeProcess(process.native_handle(), &code)) code = static_cast<DWORD>(-1);
    exit = ExitStatus{ExitStatus::Kind::exited, static_cast<int>(code)};
    options.log.debug("{} (pid {}) {}", options.name, pid, exit->describe());
    exit_changed.notify();
    return true;
  }

  void close_handles() {
    std::error_code ignored;
    stdin_pipe.close(ignored);
    stdout_pipe.close(ignored);
    stderr_pipe.close(ignored);
    process.close(ignored);
    job.reset();
  }

  // Until the child has exited, or cancelled.
  static asio::awaitable<Result<ExitStatus>> wait(std::shared_ptr<Child> child);

  // The child and everything it started (cmd.exe's own children: the real proxy).
  void terminate() {
    if (exit) return;
    if (job) TerminateJobObject(job.get(), kTerminatedExitCode);
    if (process.is_open()) TerminateProcess(process.native_handle(), kTerminatedExitCode);
  }
};

// object_handle waits cannot be cancelled one by one, so one waiter per child runs in the
// background and wakes the (cancellable) Event that Child::wait sleeps on.
asio::awaitable<void> watch_exit(std::shared_ptr<Child> child) {
  auto [ec] = co_await child->process.async_wait(as_tuple);
  if (!ec) child->collect();
}

asio::awaitable<Result<ExitStatus>> Child::wait(std::shared_ptr<Child> child) {
  while (!child->collect()) {
    const bool notified = co_await child->exit_changed.wait();
    if (!notified) {
      co_return runtime::fail(Errc::cancelled, Layer::proxy,
                              fmt::format("waiting for {} cancelled", child->options.name));
    }
  }
  co_return *child->exit;
}

class WindowsProcessStream final : public detail::PipeProcessStream<Child> {
 public:
  using PipeProcessStream::PipeProcessStream;

  ~WindowsProcessStream() override {
    child_->terminate();
    child_->close_handles();
  }

 private:
  asio::awaitable<void> end_after_grace() override {
    child_->options.log.debug("{}: terminating its job", describe());
    child_->terminate();
    auto terminated = co_await wait_exit(Deadline::after(child_->options.close_grace));
    if (!terminated) child_->options.log.warning("{} did not end after TerminateJobObject", describe());
  }
};

// A job that kills its processes when its last handle closes. Null if the system refuses one
// (a host already in a job that forbids nesting): the child then runs without.
OwnedHandle make_kill_on_close_job(const runtime::Logger& log) {
  OwnedHandle job(CreateJobObjectW(nullptr, nullptr));
  if (!job) {
    log.debug("could not create a job object: {}", runtime::last_windows_error().message());
    return job;
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
    log.debug("could not set the job object's limits: {}", runtime::last_windows_error().message());
    job.reset();
  }
  return job;
}

// Our environment block with `changes` applied (names compare case-insensitively on Windows), as
// CreateProcessW takes it: NAME=VALUE strings, each NUL-terminated, then one more NUL.
std::wstring changed_environment(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
  std::wstring block;
  const auto same_name = [](std::wstring_view a, std::wstring_view b) {
    return CompareStringOrdinal(a.data(), static_cast<int>(a.size()), b.data(), static_cast<int>(b.size()), TRUE) ==
           CSTR_EQUAL;
  };
  wchar_t* inherited = GetEnvironmentStringsW();
  for (const wchar_t* entry = inherited; entry && *entry; entry += std::wcslen(entry) + 1) {
    const std::wstring_view variable(entry);
    // "=C:=C:\\dir" entries keep cmd.exe's per-drive folders: their name starts after the first '='.
    const auto name = variable.substr(0, variable.find(L'=', 1));
    const bool changed = std::any_of(changes.begin(), changes.end(),
                                     [&](const auto& change) { return same_name(runtime::widen(change.first), name); });
    if (!changed) block.append(variable).push_back(L'\0');
  }
  if (inherited) FreeEnvironmentStringsW(inherited);
  for (const auto& [name, value] : changes) {
    if (value) block.append(runtime::widen(name + "=" + *value)).push_back(L'\0');
  }
  block.push_back(L'\0');
  return block;
}

}  // namespace

std::string windows_command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& argument : argv) {
    if (!line.empty()) line += ' ';
    line += quote_argument(argument);
  }
  return line;
}

Result<std::unique_ptr<ProcessStream>> spawn_process(asio::any_io_executor executor, ProcessOptions options) {
  if (options.argv.empty()) return runtime::fail(Errc::invalid_argument, Layer::proxy, "empty command line");
  if (options.name.empty()) options.name = fmt::format("process `{}`", options.argv.front());

  auto in = make_pipe(false);
  if (!in) return runtime::fail(std::move(in.error()));
  auto out = make_pipe(true);
  if (!out) return runtime::fail(std::move(out.error()));
  auto err = make_pipe(true);
  if (!err) return runtime::fail(std::move(err.error()));

  // Exactly the three stdio handles are inherited, whatever else the host left inheritable.
  HANDLE inherited[3] = {in->childs.get(), out->childs.get(), err->childs.get()};
  SIZE_T attributes_size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &attributes_size);
  std::vector<unsigned char> attributes_storage(attributes_size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attributes_storage.data());
  if (!InitializeProcThreadAttributeList(attributes, 1, 0, &attributes_size)) {
    return runtime::fail(spawn_error("could not set up the child's attributes", runtime::last_windows_error()));
  }
  if (!UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited, sizeof inherited, nullptr,
                                 nullptr)) {
    const auto ec = runtime::last_windows_error();
    DeleteProcThreadAttributeList(attributes);
    return runtime::fail(spawn_error("could not limit the handles the child inherits", ec));
  }
  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof startup;
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = in->childs.get();
  startup.StartupInfo.hStdOutput = out->childs.get();
  startup.StartupInfo.hStdError = err->childs.get();
  startup.lpAttributeList = attributes;

  // The command line goes to CreateProcessW exactly as given (argv is quoted only when no
  // command_line is given). Suspended until it is in the job, so nothing it starts escapes.
  std::wstring command_line = runtime::widen(command_line_of(options));
  const std::wstring application = options.application.empty() ? std::wstring() : runtime::widen(options.application);
  std::wstring environment = options.environment.empty() ? std::wstring() : changed_environment(options.environment);
  PROCESS_INFORMATION started{};
  const BOOL created =
      CreateProcessW(application.empty() ? nullptr : application.c_str(), command_line.data(), nullptr, nullptr, TRUE,
                     EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT,
                     environment.empty() ? nullptr : environment.data(), nullptr, &startup.StartupInfo, &started);
  const auto create_error = runtime::last_windows_error();
  DeleteProcThreadAttributeList(attributes);
  in->childs.reset();
  out->childs.reset();
  err->childs.reset();
  if (!created) {
    return runtime::fail(
        std::move(spawn_error(fmt::format("could not run {}", options.name), create_error)
                      .with("program", options.application.empty() ? options.argv.front() : options.application)));
  }
  OwnedHandle thread(started.hThread);
  std::error_code ec_process;
  auto child = std::make_shared<Child>(executor, std::move(options));
  child->pid = static_cast<int>(started.dwProcessId);
  child->process.assign(started.hProcess, ec_process);
  if (ec_process) {
    TerminateProcess(started.hProcess, kTerminatedExitCode);
    CloseHandle(started.hProcess);
    return runtime::fail(spawn_error(fmt::format("could not wait for {}", child->options.name), ec_process));
  }
  child->job = make_kill_on_close_job(child->options.log);
  if (child->job && !AssignProcessToJobObject(child->job.get(), started.hProcess)) {
    child->options.log.debug("{} runs outside a job object: {}", child->options.name,
                             runtime::last_windows_error().message());
    child->job.reset();
  }
  ResumeThread(thread.get());

  // Registering a pipe with the io_context's completion port can fail (a handle of the wrong
  // kind): then the child is ended (the stream's destructor) and the error says so.
  auto stream = std::make_unique<WindowsProcessStream>(child);
  std::error_code ec;
  for (auto [pipe, handle] : {std::pair{&child->stdin_pipe, &in->ours}, std::pair{&child->stdout_pipe, &out->ours},
                              std::pair{&child->stderr_pipe, &err->ours}}) {
    pipe->assign(handle->get(), ec);
    if (ec)
      return runtime::fail(spawn_error(fmt::format("could not wait on the pipes of {}", child->options.name), ec));
    handle->release();
  }
  child->options.log.debug("started {} as pid {}", child->options.name, child->pid);
  auto& stderr_pipe = child->stderr_pipe;
  auto& stderr_tail = child->err_tail;
  asio::co_spawn(executor, detail::pump_stderr(child, stderr_pipe, stderr_tail), asio::detached);
  asio::co_spawn(executor, watch_exit(child), asio::detached);
  return std::unique_ptr<ProcessStream>(std::move(stream));
}

}  // namespace cr::proxy
