#include "ssh/stall.hpp"

#include <fmt/format.h>

#include "runtime/deadline.hpp"
#include "ssh/messages.hpp"

namespace cr::ssh {
namespace {
constexpr const char* kStalled = "stalled";
}  // namespace

asio::awaitable<runtime::Result<std::size_t>> read_some_within(runtime::AsyncStream& stream, runtime::Bytes buffer,
                                                               std::chrono::milliseconds budget, std::uint64_t received,
                                                               std::string last_arrived) {
  auto reading = stream.read_some(buffer);
  std::string what = "a read";
  auto read = co_await runtime::with_deadline(runtime::Deadline::after(budget), std::move(reading),
                                              runtime::Layer::transport, std::move(what));
  if (read || read.error().code != runtime::Errc::timed_out) co_return read;
  const auto quiet = runtime::describe_budget(budget);
  runtime::Error error(runtime::Errc::timed_out, runtime::Layer::transport,
                       fmt::format("the server stopped sending: nothing for {} after {} bytes", quiet, received));
  error.with(kStalled, fmt::format("no data for {} after {} bytes", quiet, received));
  error.with("last arrived", std::move(last_arrived));
  co_return runtime::fail(std::move(error));
}

bool stalled(const runtime::Error& error) { return error.find_evidence(kStalled) != nullptr; }

std::string describe_message(std::uint8_t type) {
  const char* name = "a message";
  switch (type) {
    case msg::disconnect:
      name = "SSH_MSG_DISCONNECT";
      break;
    case msg::ignore:
      name = "SSH_MSG_IGNORE";
      break;
    case msg::unimplemented:
      name = "SSH_MSG_UNIMPLEMENTED";
      break;
    case msg::debug:
      name = "SSH_MSG_DEBUG";
      break;
    case msg::service_accept:
      name = "SSH_MSG_SERVICE_ACCEPT";
      break;
    case msg::ext_info:
      name = "SSH_MSG_EXT_INFO";
      break;
    case msg::kexinit:
      name = "SSH_MSG_KEXINIT";
      break;
    case msg::newkeys:
      name = "SSH_MSG_NEWKEYS";
      break;
    case msg::kex_ecdh_reply:
      name = "the key exchange reply (SSH_MSG_KEX_ECDH_REPLY)";
      break;
    case msg::userauth_failure:
      name = "SSH_MSG_USERAUTH_FAILURE";
      break;
    case msg::userauth_success:
      name = "SSH_MSG_USERAUTH_SUCCESS";
      break;
    case msg::userauth_banner:
      name = "SSH_MSG_USERAUTH_BANNER";
      break;
    case msg::userauth_info_request:
      name = "SSH_MSG_USERAUTH_INFO_REQUEST";
      break;
    case msg::global_request:
      name = "SSH_MSG_GLOBAL_REQUEST";
      break;
    case msg::request_success:
      name = "SSH_MSG_REQUEST_SUCCESS";
      break;
    case msg::request_failure:
      name = "SSH_MSG_REQUEST_FAILURE";
      break;
    case msg::channel_open_confirmation:
      name = "SSH_MSG_CHANNEL_OPEN_CONFIRMATION";
      break;
    case msg::channel_open_failure:
      name = "SSH_MSG_CHANNEL_OPEN_FAILURE";
      break;
    case msg::channel_window_adjust:
      name = "SSH_MSG_CHANNEL_WINDOW_ADJUST";
      break;
    case msg::channel_data:
      name = "SSH_MSG_CHANNEL_DATA";
      break;
    case msg::channel_extended_data:
      name = "SSH_MSG_CHANNEL_EXTENDED_DATA";
      break;
    case msg::channel_eof:
      name = "SSH_MSG_CHANNEL_EOF";
      break;
    case msg::channel_close:
      name = "SSH_MSG_CHANNEL_CLOSE";
      break;
    case msg::channel_request:
      name = "SSH_MSG_CHANNEL_REQUEST";
      break;
    case msg::channel_success:
      name = "SSH_MSG_CHANNEL_SUCCESS";
      break;
    case msg::channel_failure:
      name = "SSH_MSG_CHANNEL_FAILURE";
      break;
    default:
      break;
  }
  return fmt::format("{} ({})", name, type);
}

}  // namespace cr::ssh
