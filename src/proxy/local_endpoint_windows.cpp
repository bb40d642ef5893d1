#include "proxy/local_endpoint.hpp"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <optional>

#include <asio/steady_timer.hpp>
#include <asio/windows/overlapped_ptr.hpp>
#include <asio/windows/stream_handle.hpp>

#include "proxy/socket_stream.hpp"
#include "runtime/paths.hpp"
#include "runtime/windows_handle.hpp"

namespace cr::proxy {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;
using PipeHandle = asio::windows::stream_handle;

template <class T>
struct LocalFreed {
  T pointer = nullptr;
  LocalFreed() = default;
  LocalFreed(const LocalFreed&) = delete;
  LocalFreed& operator=(const LocalFreed&) = delete;
  ~LocalFreed() {
    if (pointer) LocalFree(pointer);
  }
};

// Our user's SID, from the process token.
Result<std::vector<unsigned char>> user_sid_bytes() {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
    return runtime::fail(std::move(Error(Errc::io_error, Layer::network, "could not read this process's user")
                                       .with_system(runtime::last_windows_error())));
  }
  DWORD size = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<unsigned char> buffer(size);
  const BOOL read = size > 0 && GetTokenInformation(token, TokenUser, buffer.data(), size, &size);
  const auto error = runtime::last_windows_error();
  CloseHandle(token);
  if (!read)
    return runtime::fail(
        std::move(Error(Errc::io_error, Layer::network, "could not read this process's user").with_system(error)));
  const auto* user = reinterpret_cast<const TOKEN_USER*>(buffer.data());
  const DWORD length = GetLengthSid(user->User.Sid);
  const auto* first = static_cast<const unsigned char*>(user->User.Sid);
  return std::vector<unsigned char>(first, first + length);
}

std::string sid_text(PSID sid) {
  LocalFreed<wchar_t*> text;
  if (!ConvertSidToStringSidW(sid, &text.pointer)) return "an unknown SID";
  return runtime::narrow(text.pointer);
}

// The pipe's security: our user owns it (an elevated token would otherwise make Administrators the
// owner) and alone has access (a protected DACL, nothing inherited).
Result<std::shared_ptr<void>> owner_only_descriptor() {
  auto sid = user_sid_bytes();
  if (!sid) return runtime::fail(std::move(sid.error()));
  const auto user = sid_text(sid->data());
  const auto sddl = runtime::widen(fmt::format("O:{}D:P(A;;GA;;;{})", user, user));
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &descriptor, nullptr)) {
    return runtime::fail(
        std::move(Error(Errc::io_error, Layer::network, "could not make the pipe's security descriptor")
                      .with_system(runtime::last_windows_error())));
  }
  return std::shared_ptr<void>(descriptor, [](void* d) { LocalFree(d); });
}

Error pipe_error(std::string what, const std::string& name, std::error_code ec) {
  return std::move(
      Error(Errc::connect_failed, Layer::network, fmt::format("{} named pipe {}: {}", what, name, ec.message()))
          .with_system(ec));
}

// Completes when a client has opened `pipe` (ConnectNamedPipe, overlapped).
template <class Token>
auto async_wait_for_client(PipeHandle& pipe, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&pipe](auto handler) {
        asio::windows::overlapped_ptr overlapped(
            pipe.get_executor(),
            [handler = std::move(handler)](std::error_code ec, std::size_t) mutable { std::move(handler)(ec); });
        const BOOL connected = ConnectNamedPipe(pipe.native_handle(), overlapped.get());
        const DWORD error = GetLastError();
        if (!connected && error == ERROR_IO_PENDING) {
          overlapped.release();
        } else if (connected || error == ERROR_PIPE_CONNECTED) {
          overlapped.complete({}, 0);
        } else {
          overlapped.complete({static_cast<int>(error), std::system_category()}, 0);
        }
      },
      token);
}

// One instance always waits for the next client, so that the name lives as long as the listener
// and a client between two accepts finds the pipe busy (and retries), never missing.
class NamedPipeListener final : public LocalListener {
 public:
  NamedPipeListener(asio::any_io_executor executor, std::string name, std::shared_ptr<void> descriptor,
                    runtime::Logger log)
      : executor_(std::move(executor)),
        name_(std::move(name)),
        descriptor_(std::move(descriptor)),
        log_(std::move(log)) {}

  Result<void> add_instance(bool first) {
    SECURITY_ATTRIBUTES attributes{sizeof attributes, descriptor_.get(), FALSE};
    const DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    HANDLE handle = CreateNamedPipeW(runtime::widen(name_).c_str(), open_mode,
                                     PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                                     PIPE_UNLIMITED_INSTANCES, 64 * 1024, 64 * 1024, 0, &attributes);
    if (handle == INVALID_HANDLE_VALUE) {
      const auto ec = runtime::last_windows_error();
      if (first && (ec.value() == ERROR_ACCESS_DENIED || ec.value() == ERROR_PIPE_BUSY)) {
        return runtime::fail(
            std::move(Error(Errc::refused, Layer::network, fmt::format("another process serves named pipe {}", name_))
                          .with_system(ec)));
      }
      return runtime::fail(pipe_error("could not create", name_, ec));
    }
    waiting_.emplace(executor_);
    std::error_code ec;
    waiting_->assign(handle, ec);
    if (ec) {
      CloseHandle(handle);
      waiting_.reset();
      return runtime::fail(pipe_error("could not use", name_, ec));
    }
    return {};
  }

  asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> accept() override {
    if (!waiting_ && !closed_) {
      auto added = add_instance(false);
      if (!added) co_return runtime::fail(std::move(added.error()));
    }
    if (closed_)
      co_return runtime::fail(Errc::stream_closed, Layer::network, fmt::format("named pipe {}: closed", name_));
    auto [ec] = co_await async_wait_for_client(*waiting_, as_tuple);
    if (closed_)
      co_return runtime::fail(Errc::stream_closed, Layer::network, fmt::format("named pipe {}: closed", name_));
    if (ec)
      co_return runtime::fail(runtime::stream_error(ec, Layer::network, fmt::format("named pipe {}", name_), "accept"));
    auto client =
        std::make_unique<SocketStream<PipeHandle>>(std::move(*waiting_), fmt::format("pipe {} (client)", name_));
    waiting_.reset();
    if (auto added = add_instance(false); !added) log_.warning("{}", added.error().summary());
    co_return client;
  }

  void close() override {
    closed_ = true;
    if (waiting_) {
      std::error_code ignored;
      waiting_->close(ignored);
    }
  }

  // Other users never reach accept(): the DACL turns them away when they open the pipe.
  std::size_t refused() const override { return 0; }
  std::string describe() const override { return fmt::format("named pipe {}", name_); }

 private:
  asio::any_io_executor executor_;
  std::string name_;
  std::shared_ptr<void> descriptor_;
  runtime::Logger log_;
  std::optional<PipeHandle> waiting_;
  bool closed_ = false;
};

// Whether the pipe's server runs as our user: a pipe name is global to the machine, so another
// user could have made one by the name we expect.
Result<void> check_owner(HANDLE pipe, const std::string& name) {
  auto ours = user_sid_bytes();
  if (!ours) return runtime::fail(std::move(ours.error()));
  PSID owner = nullptr;
  LocalFreed<PSECURITY_DESCRIPTOR> descriptor;
  const DWORD status = GetSecurityInfo(pipe, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, nullptr, nullptr,
                                       nullptr, &descriptor.pointer);
  if (status != ERROR_SUCCESS) {
    return runtime::fail(
        pipe_error("could not read the owner of", name, {static_cast<int>(status), std::system_category()}));
  }
  if (!owner || !EqualSid(owner, ours->data())) {
    return runtime::fail(Error(Errc::connect_failed, Layer::network,
                               fmt::format("named pipe {} belongs to {}, not to this user ({})", name,
                                           owner ? sid_text(owner) : "nobody", sid_text(ours->data()))));
  }
  return {};
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> open_pipe(std::string name, bool ours_only) {
  auto executor = co_await asio::this_coro::executor;
  const auto wide = runtime::widen(name);
  for (;;) {
    HANDLE pipe = CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
    if (pipe != INVALID_HANDLE_VALUE) {
      if (ours_only) {
        if (auto owned = check_owner(pipe, name); !owned) {
          CloseHandle(pipe);
          co_return runtime::fail(std::move(owned.error()));
        }
      }
      PipeHandle handle(executor);
      std::error_code ec;
      handle.assign(pipe, ec);
      if (ec) {
        CloseHandle(pipe);
        co_return runtime::fail(pipe_error("could not use", name, ec));
      }
      co_return std::make_unique<SocketStream<PipeHandle>>(std::move(handle), fmt::format("pipe {}", name));
    }
    const auto ec = runtime::last_windows_error();
    if (ec.value() != ERROR_PIPE_BUSY) co_return runtime::fail(pipe_error("could not open", name, ec));
    asio::steady_timer pause(executor, std::chrono::milliseconds(10));
    auto [waited] = co_await pause.async_wait(as_tuple);
    if (waited) co_return runtime::fail(Errc::cancelled, Layer::network, fmt::format("opening {} cancelled", name));
  }
}

}  // namespace

Result<std::string> current_user_sid() {
  auto sid = user_sid_bytes();
  if (!sid) return runtime::fail(std::move(sid.error()));
  return sid_text(sid->data());
}

Result<std::unique_ptr<LocalListener>> LocalListener::listen(asio::any_io_executor executor, std::string name,
                                                             runtime::Logger log) {
  auto descriptor = owner_only_descriptor();
  if (!descriptor) return runtime::fail(std::move(descriptor.error()));
  auto listener =
      std::make_unique<NamedPipeListener>(std::move(executor), std::move(name), std::move(*descriptor), std::move(log));
  auto first = listener->add_instance(true);
  if (!first) return runtime::fail(std::move(first.error()));
  return listener;
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_local(std::string name,
                                                                             runtime::Deadline deadline) {
  const std::string what = fmt::format("opening named pipe {}", name);
  co_return co_await runtime::with_deadline(deadline, open_pipe(std::move(name), true), Layer::network, what);
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_named_pipe(std::string name,
                                                                                  runtime::Deadline deadline) {
  const std::string what = fmt::format("opening named pipe {}", name);
  co_return co_await runtime::with_deadline(deadline, open_pipe(std::move(name), false), Layer::network, what);
}

}  // namespace cr::proxy
