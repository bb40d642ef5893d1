#pragma once
// Errors that a person can act on: every failure names the layer it came from, what went wrong,
// and the evidence (what the peer said, what arrived, exit codes, stderr) that shows it.

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

// What every layer shares and depends on nothing of ours: errors with evidence, deadlines,
// cancellation, logging, and the byte stream the SSH client runs over.
namespace cr::runtime {

// Where in the stack a failure was detected. The CLI prints it first, so it says what a person
// would check next: the proxy process, the network, the SSH handshake, auth, a channel, Coder.
enum class Layer {
  runtime,
  proxy,
  network,
  banner,
  transport,
  kex,
  auth,
  channel,
  coder,
  cli,
  config,  // the user's configuration files and options
  sftp,    // the SFTP subsystem: its packets and the server's answers
};

enum class Errc {
  end_of_stream,      // the peer closed its sending side
  timed_out,          // a deadline passed
  cancelled,          // the caller cancelled
  io_error,           // the OS reported an error on an established stream
  spawn_failed,       // a child process could not be started
  resolve_failed,     // a host name did not resolve
  connect_failed,     // no endpoint accepted the connection
  invalid_argument,   // the caller's input was malformed (a config value, a template)
  protocol_error,     // the peer broke the protocol
  stream_closed,      // the operation was attempted on a stream we closed ourselves
  refused,            // the peer declined what it may decline (a channel, a pty, a subsystem)
  not_found,          // the peer has no such file or directory
  permission_denied,  // the peer does not let this user do it
  internal_error,     // an exception escaped: a caller's callback threw, or memory ran out
};

std::string_view to_string(Layer layer);
std::string_view to_string(Errc code);

// One labelled piece of evidence, e.g. {"stderr", "error: workspace not found"}.
struct Evidence {
  std::string label;
  std::string text;
};

struct Error {
  Errc code;
  Layer layer;
  std::string message;
  std::vector<Evidence> evidence;
  std::error_code system;            // the OS error behind it, when there is one
  std::vector<std::string> context;  // what we were doing, innermost first

  Error(Errc c, Layer l, std::string msg) : code(c), layer(l), message(std::move(msg)) {}

  Error& with(std::string label, std::string text) & {
    evidence.push_back({std::move(label), std::move(text)});
    return *this;
  }
  Error&& with(std::string label, std::string text) && {
    evidence.push_back({std::move(label), std::move(text)});
    return std::move(*this);
  }
  Error&& with_system(std::error_code ec) && {
    system = ec;
    return std::move(*this);
  }
  // Adds what the caller was doing ("connecting to ws.coder") when the error passes up a layer.
  Error&& while_(std::string doing) && {
    context.push_back(std::move(doing));
    return std::move(*this);
  }

  const Evidence* find_evidence(std::string_view label) const;

  // "proxy: ProxyCommand exited with status 1 (stderr: workspace not found)": one line.
  std::string summary() const;
  // Every field, one per line, for -v and logs.
  std::string detailed() const;
};

// A value or the Error that stopped it. [[nodiscard]]: an ignored Result is a lost error.
template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result() = default;
  // What tl::expected's own operations (map, and_then) return.
  Result(tl::expected<T, Error> plain) : tl::expected<T, Error>(std::move(plain)) {}
};

inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }
inline tl::unexpected<Error> fail(Errc code, Layer layer, std::string message) {
  return tl::unexpected<Error>(Error(code, layer, std::move(message)));
}

// What an exception that escaped a background task said: what() of a std::exception, otherwise a
// note that it was none. For turning it into an Error whose text keeps the cause.
std::string exception_text(std::exception_ptr thrown);

// Bytes from a peer made safe to print: printable ASCII kept, everything else escaped (\r, \n,
// \xNN), cut at max_bytes with a note of how much was left out.
std::string printable(std::string_view bytes, std::size_t max_bytes = 512);

// Binary values from a peer (a public key, a point) as hex, cut at max_bytes, with the length.
std::string hex_preview(std::span<const std::uint8_t> bytes, std::size_t max_bytes = 48);

}  // namespace cr::runtime
