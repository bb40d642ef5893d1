#include <windows.h>

#include <algorithm>
#include <cctype>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "proxy/local_endpoint.hpp"
#include "proxy/process_stream.hpp"
#include "runtime/paths.hpp"
#include "runtime/windows_handle.hpp"
#include "service/detail/holder_serve.hpp"
#include "service/holder.hpp"

namespace cr::service {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::string_view kPipePrefix = R"(\\.\pipe\)";

using runtime::OwnedHandle;

Error start_error(std::string message, std::error_code ec) {
  return std::move(Error(Errc::spawn_failed, Layer::runtime, std::move(message)).with_system(ec));
}

// Starts `command` detached (no console, a process group of its own, out of our job object when
// the job allows it) with stdin and stdout on NUL and stderr appended to the log, and nothing else
// inherited. The holder's process handle.
Result<OwnedHandle> start_detached(const std::vector<std::string>& command, const HolderPaths& paths) {
  SECURITY_ATTRIBUTES inheritable{sizeof inheritable, nullptr, TRUE};
  OwnedHandle null_device(CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                      &inheritable, OPEN_EXISTING, 0, nullptr));
  OwnedHandle log(CreateFileW(paths.log.wstring().c_str(), FILE_APPEND_DATA,
                              FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &inheritable, OPEN_ALWAYS,
                              FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!null_device || !log)
    return runtime::fail(start_error("could not open the holder's log or NUL", runtime::last_windows_error()));
  HANDLE inherited[2] = {null_device.get(), log.get()};
  SIZE_T attributes_size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &attributes_size);
  std::vector<unsigned char> attributes_storage(attributes_size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attributes_storage.data());
  if (!InitializeProcThreadAttributeList(attributes, 1, 0, &attributes_size) ||
      !UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited, sizeof inherited, nullptr,
                                 nullptr)) {
    return runtime::fail(start_error("could not limit the handles the holder inherits", runtime::last_windows_error()));
  }
  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof startup;
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = null_device.get();
  startup.StartupInfo.hStdOutput = null_device.get();
  startup.StartupInfo.hStdError = log.get();
  startup.lpAttributeList = attributes;
  std::wstring command_line = runtime::widen(proxy::windows_command_line(command));
  const DWORD flags = EXTENDED_STARTUPINFO_PRESENT | DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP;
  PROCESS_INFORMATION started{};
  BOOL created = CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, TRUE, flags | CREATE_BREAKAWAY_FROM_JOB,
                                nullptr, nullptr, &startup.StartupInfo, &started);
  // A job that does not allow breaking away: the holder then lives as long as the job does.
  if (!created && GetLastError() == ERROR_ACCESS_DENIED) {
    created = CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, TRUE, flags, nullptr, nullptr,
                             &startup.StartupInfo, &started);
  }
  const auto ec = runtime::last_windows_error();
  DeleteProcThreadAttributeList(attributes);
  if (!created)
    return runtime::fail(
        std::move(start_error("could not start the connection holder", ec).with("program", command.front())));
  CloseHandle(started.hThread);
  return OwnedHandle(started.hProcess);
}

// The exit code of `process` once it has ended.
std::optional<DWORD> ended_with(const OwnedHandle& process) {
  DWORD code = 0;
  if (WaitForSingleObject(process.get(), 0) != WAIT_OBJECT_0 || !GetExitCodeProcess(process.get(), &code))
    return std::nullopt;
  return code;
}

}  // namespace

asio::awaitable<int> detail::hold_endpoint(HolderOptions options) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  const auto log = options.server.log;
  // Open without sharing, it is the holder lock: closed when this process ends, however it ends.
  OwnedHandle lock(CreateFileW(options.paths.lock.wstring().c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                               OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
  const auto lock_error = runtime::last_windows_error();
  if (!lock && lock_error.value() != ERROR_SHARING_VIOLATION) {
    log.error("could not open {}: {}", runtime::path_to_utf8(options.paths.lock), lock_error.message());
    co_return 1;
  }
  // FILE_FLAG_FIRST_PIPE_INSTANCE refuses the name too where it is implemented (Wine does not).
  auto listener =
      lock ? proxy::LocalListener::listen(executor, options.paths.endpoint, log)
           : Result<std::unique_ptr<proxy::LocalListener>>(runtime::fail(Errc::refused, Layer::runtime, "locked"));
  if (!listener && listener.error().code == Errc::refused) {
    log.info("another holder serves {}", options.paths.endpoint);
    co_return 0;
  }
  // Ours under the lock: the log before ours belongs to a holder that has gone.
  if (listener) {
    OwnedHandle previous_log(CreateFileW(options.paths.log.wstring().c_str(), GENERIC_WRITE,
                                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                         0, nullptr));
    if (previous_log) SetEndOfFile(previous_log.get());
  }
  if (!listener) {
    log.error("{}", listener.error().summary());
    co_return 1;
  }
  co_return co_await detail::serve_holder(std::move(*listener), std::move(options), [] {});
}

Result<HolderPaths> holder_paths(const std::optional<std::string>& control_path) {
  HolderPaths paths;
  if (control_path) {
    const bool is_pipe =
        control_path->size() > kPipePrefix.size() &&
        std::equal(kPipePrefix.begin(), kPipePrefix.end(), control_path->begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    if (!is_pipe) {
      return runtime::fail(
          Errc::invalid_argument, Layer::config,
          fmt::format("on Windows ControlPath names a pipe, {}NAME, not '{}'", kPipePrefix, *control_path));
    }
    paths.endpoint = *control_path;
  } else {
    auto sid = proxy::current_user_sid();
    if (!sid) return runtime::fail(std::move(sid.error()));
    paths.endpoint = fmt::format("{}coder-runtime-{}", kPipePrefix, *sid);
  }
  const auto cache = runtime::cache_directory();
  if (!cache)
    return runtime::fail(Errc::invalid_argument, Layer::config,
                         "no folder for the holder's log: %LOCALAPPDATA% is not set");
  const auto folder = *cache / "coder-runtime";
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return runtime::fail(std::move(
        Error(Errc::invalid_argument, Layer::config, fmt::format("could not create {}", runtime::path_to_utf8(folder)))
            .with_system(ec)));
  }
  auto name = paths.endpoint.substr(kPipePrefix.size());
  std::replace_if(
      name.begin(), name.end(), [](char c) { return c == '\\' || c == '/' || c == ':'; }, '_');
  paths.log = folder / runtime::utf8_to_path(name + ".log");
  paths.lock = folder / runtime::utf8_to_path(name + ".lock");
  return paths;
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_holder(HolderConnectOptions options) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto& paths = options.paths;
  auto connected = co_await proxy::connect_local(paths.endpoint, options.deadline);
  if (connected || options.holder_command.empty()) co_return connected;
  // Only a missing pipe means no holder; a pipe that is not ours, or not answering, is the answer.
  if (connected.error().system.value() != ERROR_FILE_NOT_FOUND) co_return connected;
  options.log.debug("no holder answers at {} ({}): starting one", paths.endpoint, connected.error().message);
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer pause(executor);
  OwnedHandle holder;
  for (auto wait = std::chrono::milliseconds(2);; wait = std::min(wait * 2, std::chrono::milliseconds(64))) {
    if (!holder) {
      auto started = start_detached(options.holder_command, paths);
      if (!started) co_return runtime::fail(std::move(started.error()));
      holder = std::move(*started);
    }
    pause.expires_after(wait);
    auto [cancelled] = co_await pause.async_wait(as_tuple);
    if (cancelled) co_return runtime::fail(Errc::cancelled, Layer::runtime, "cancelled");
    connected = co_await proxy::connect_local(paths.endpoint, options.deadline);
    if (connected || connected.error().system.value() != ERROR_FILE_NOT_FOUND) co_return connected;
    if (options.deadline.expired()) {
      co_return runtime::fail(std::move(detail::no_holder(paths, "it did not come up in time")
                                            .with("holder log", detail::file_tail(paths.log, 2048))));
    }
    // Exit 0: another holder had the pipe, and may since have ended; look again, start another.
    if (const auto code = ended_with(holder)) {
      if (*code != 0) {
        co_return runtime::fail(std::move(detail::no_holder(paths, "it failed to start")
                                              .with("exit code", std::to_string(*code))
                                              .with("holder log", detail::file_tail(paths.log, 2048))));
      }
      holder = OwnedHandle();
    }
  }
}

Result<std::filesystem::path> current_executable() {
  std::wstring buffer(MAX_PATH, L'\0');
  for (;;) {
    const DWORD length = GetModuleFileNameW(nullptr, buffer.data(), static_cast<DWORD>(buffer.size()));
    if (length == 0) {
      return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::runtime, "could not find this program's path")
                                         .with_system(runtime::last_windows_error())));
    }
    if (length < buffer.size()) return std::filesystem::path(buffer.substr(0, length));
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace cr::service
