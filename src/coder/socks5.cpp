#include "coder/socks5.hpp"

#include <array>
#include <vector>

#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>
#include <fmt/format.h>

namespace cr::coder {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

constexpr std::uint8_t kVersion = 5;
constexpr std::uint8_t kNoAuthentication = 0x00;
constexpr std::uint8_t kNoAcceptableMethods = 0xff;
constexpr std::uint8_t kConnect = 1;
constexpr std::uint8_t kIpv4 = 1;
constexpr std::uint8_t kDomainName = 3;
constexpr std::uint8_t kIpv6 = 4;

Error not_socks5(std::string why, const std::vector<std::uint8_t>& arrived) {
  return std::move(Error(Errc::protocol_error, Layer::coder, fmt::format("not a SOCKS5 request: {}", why))
                       .with("arrived", runtime::printable(runtime::as_text(arrived))));
}

// The client's opening, read exactly as far as its lengths say (a client may send its request
// before our answer to its greeting), kept for the evidence.
class Opening {
 public:
  explicit Opening(runtime::AsyncStream& client) : client_(client) {}
  asio::awaitable<Result<runtime::ConstBytes>> take(std::size_t count) {
    const auto start = arrived_.size();
    arrived_.resize(start + count);
    for (std::size_t filled = 0; filled < count;) {
      auto read = co_await client_.read_some(runtime::Bytes(arrived_.data() + start + filled, count - filled));
      if (!read) {
        arrived_.resize(start + filled);
        co_return runtime::fail(
            std::move(read.error()).with("arrived", runtime::printable(runtime::as_text(arrived_))));
      }
      filled += *read;
    }
    co_return runtime::ConstBytes(arrived_.data() + start, count);
  }
  const std::vector<std::uint8_t>& arrived() const { return arrived_; }

 private:
  runtime::AsyncStream& client_;
  std::vector<std::uint8_t> arrived_;
};

asio::awaitable<Result<void>> answer(runtime::AsyncStream& client, std::uint8_t version, std::uint8_t code) {
  const std::array<std::uint8_t, 2> answer{version, code};
  co_return co_await runtime::write_all(client, answer);
}

asio::awaitable<Result<ssh::DirectTcpip>> read_request(runtime::AsyncStream& client) {
  Opening opening(client);
  auto greeting = co_await opening.take(2);
  if (!greeting) co_return runtime::fail(std::move(greeting.error()));
  if ((*greeting)[0] != kVersion) {
    co_return runtime::fail(not_socks5(fmt::format("version {}, not 5", (*greeting)[0]), opening.arrived()));
  }
  auto methods = co_await opening.take((*greeting)[1]);
  if (!methods) co_return runtime::fail(std::move(methods.error()));
  bool without_authentication = false;
  for (const auto method : *methods) without_authentication = without_authentication || method == kNoAuthentication;
  if (!without_authentication) {
    // The answers to what is refused are a courtesy: the client is closed whether they go or not.
    [[maybe_unused]] auto answered_refusal = co_await answer(client, kVersion, kNoAcceptableMethods);
    co_return runtime::fail(not_socks5("the client offers no method without authentication", opening.arrived()));
  }
  auto answered = co_await answer(client, kVersion, kNoAuthentication);
  if (!answered) co_return runtime::fail(std::move(answered.error()));

  auto head = co_await opening.take(4);  // VER CMD RSV ATYP
  if (!head) co_return runtime::fail(std::move(head.error()));
  const auto version = (*head)[0];
  const auto command = (*head)[1];
  const auto address_type = (*head)[3];
  if (version != kVersion) {
    co_return runtime::fail(not_socks5(fmt::format("a request of version {}", version), opening.arrived()));
  }
  if (command != kConnect) {
    [[maybe_unused]] auto replied = co_await socks5_reply(client, Socks5Reply::command_not_supported);
    co_return runtime::fail(
        not_socks5(fmt::format("command {}: only CONNECT (1) is served", command), opening.arrived()));
  }
  ssh::DirectTcpip target;
  if (address_type == kIpv4) {
    auto address = co_await opening.take(4);
    if (!address) co_return runtime::fail(std::move(address.error()));
    asio::ip::address_v4::bytes_type bytes;
    std::copy(address->begin(), address->end(), bytes.begin());
    target.host = asio::ip::address_v4(bytes).to_string();
  } else if (address_type == kIpv6) {
    auto address = co_await opening.take(16);
    if (!address) co_return runtime::fail(std::move(address.error()));
    asio::ip::address_v6::bytes_type bytes;
    std::copy(address->begin(), address->end(), bytes.begin());
    target.host = asio::ip::address_v6(bytes).to_string();
  } else if (address_type == kDomainName) {
    auto length = co_await opening.take(1);
    if (!length) co_return runtime::fail(std::move(length.error()));
    auto name = co_await opening.take((*length)[0]);
    if (!name) co_return runtime::fail(std::move(name.error()));
    target.host = std::string(runtime::as_text(*name));
    if (target.host.empty()) co_return runtime::fail(not_socks5("an empty domain name", opening.arrived()));
  } else {
    [[maybe_unused]] auto replied = co_await socks5_reply(client, Socks5Reply::address_type_not_supported);
    co_return runtime::fail(not_socks5(fmt::format("address type {}", address_type), opening.arrived()));
  }
  auto port = co_await opening.take(2);
  if (!port) co_return runtime::fail(std::move(port.error()));
  target.port = static_cast<std::uint16_t>(((*port)[0] << 8) | (*port)[1]);
  co_return target;
}

}  // namespace

asio::awaitable<Result<ssh::DirectTcpip>> socks5_read_request(runtime::AsyncStream& client,
                                                              runtime::Deadline deadline) {
  auto reading = read_request(client);
  std::string what = "the SOCKS5 request";
  co_return co_await runtime::with_deadline(deadline, std::move(reading), Layer::coder, std::move(what));
}

asio::awaitable<Result<void>> socks5_reply(runtime::AsyncStream& client, Socks5Reply reply) {
  // BND.ADDR and BND.PORT: the server's side of the connection is not known here; zeros, as ssh.
  const std::array<std::uint8_t, 10> message{kVersion, static_cast<std::uint8_t>(reply), 0, kIpv4, 0, 0, 0, 0, 0, 0};
  co_return co_await runtime::write_all(client, message);
}

}  // namespace cr::coder
