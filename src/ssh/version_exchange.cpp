#include "ssh/version_exchange.hpp"

#include <array>

#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "ssh/stall.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {
constexpr std::size_t kReceivedKept = 2048;  // quoted in errors; more says nothing new

Error banner_error(std::string message, const std::string& received) {
  return std::move(Error(Errc::protocol_error, Layer::banner, std::move(message))
                       .with("received", received.empty() ? "nothing" : received));
}
}  // namespace

Result<VersionParser::Status> VersionParser::feed(runtime::ConstBytes bytes, std::size_t& consumed) {
  consumed = 0;
  while (consumed < bytes.size()) {
    const char c = static_cast<char>(bytes[consumed++]);
    if (received_.size() < kReceivedKept) received_ += c;
    // As OpenSSH: no line before or in the version has a NUL or a CR that does not end it. Binary
    // data (a TLS or HTTP/2 server on the port) fails here, not after 1024 "lines" or a deadline.
    if (c == '\0' || (line_.ends_with('\r') && c != '\n')) {
      return runtime::fail(banner_error(
          "binary data (a NUL byte or a CR inside a line) arrived instead of an SSH version line", received_));
    }
    if (c != '\n') {
      line_ += c;
      if (line_.size() > kMaxLineBytes) {
        return runtime::fail(banner_error(
            fmt::format("a line of more than {} bytes arrived instead of an SSH version line", kMaxLineBytes),
            received_));
      }
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    auto status = finish_line();
    if (!status || *status == Status::done) return status;
  }
  return Status::need_more;
}

Result<VersionParser::Status> VersionParser::finish_line() {
  std::string line;
  line.swap(line_);
  if (!line.starts_with("SSH-")) {
    if (version_.pre_banner_lines.size() == kMaxLines) {
      return runtime::fail(
          banner_error(fmt::format("more than {} lines arrived before an SSH version line", kMaxLines), received_));
    }
    version_.pre_banner_lines.push_back(std::move(line));
    return Status::need_more;
  }
  // SSH-protoversion-softwareversion SP comments
  const auto dash = line.find('-', 4);
  const std::string proto = line.substr(4, dash == std::string::npos ? std::string::npos : dash - 4);
  if (dash == std::string::npos || (proto != "2.0" && proto != "1.99")) {
    return runtime::fail(
        std::move(banner_error(fmt::format("the server speaks SSH protocol version '{}'; only 2.0 is supported",
                                           runtime::printable(proto)),
                               received_)
                      .with(std::string(kServerProtocolEvidence), runtime::printable(proto))));
  }
  const auto rest = line.substr(dash + 1);
  const auto space = rest.find(' ');
  version_.software = rest.substr(0, space);
  version_.comments = space == std::string::npos ? "" : rest.substr(space + 1);
  version_.line = std::move(line);
  return Status::done;
}

asio::awaitable<Result<VersionExchange>> read_peer_version(runtime::AsyncStream& stream,
                                                           std::optional<std::chrono::milliseconds> stall_budget) {
  VersionParser parser;
  std::array<std::uint8_t, 4096> buffer;
  std::uint64_t bytes_read = 0;
  for (;;) {
    const bool cancelled = co_await runtime::cancellation_requested();
    Result<std::size_t> n = runtime::fail(Errc::cancelled, Layer::transport, "cancelled");
    if (!cancelled && stall_budget && bytes_read > 0) {
      auto so_far = fmt::format("part of the server's version line: \"{}\"", runtime::printable(parser.received()));
      n = co_await read_some_within(stream, buffer, *stall_budget, bytes_read, std::move(so_far));
    } else if (!cancelled) {
      n = co_await stream.read_some(buffer);
    }
    if (!n) {
      Error error = std::move(n.error());
      error.with("received before that", parser.received().empty() ? "nothing" : parser.received());
      error.context.push_back("waiting for the server's SSH version line");
      co_return runtime::fail(std::move(error));
    }
    bytes_read += *n;
    std::size_t consumed = 0;
    auto status = parser.feed(runtime::ConstBytes(buffer.data(), *n), consumed);
    if (!status) co_return runtime::fail(std::move(status.error()).with("stream", stream.describe()));
    if (*status == VersionParser::Status::done) {
      co_return VersionExchange{
          parser.version(),
          {buffer.begin() + static_cast<std::ptrdiff_t>(consumed), buffer.begin() + static_cast<std::ptrdiff_t>(*n)},
          bytes_read};
    }
  }
}

}  // namespace cr::ssh
