// Records what a real server sends, as seeds for the fuzz targets (tests/fuzz/capture-seeds runs
// it against sshd and the Go server; it is not part of the fuzz run):
//   transport_handshake/NAME  the server's bytes from its version line through its NEWKEYS
//   kex_reply/NAME            the kex and host key algorithm indexes, then its KEX reply payload
//   transport_messages/NAME   with --messages: every message it sends after the key exchange,
//                             re-framed as null-cipher packets, for a client that authenticates
//                             (none, then the password; a refusal ends the seed), opens a session and runs a command
//                             with a variable and stdin, in the order the fuzz target does.
// Usage: fuzz_capture_seeds CORPUS NAME "SERVER COMMAND" KEX HOST_KEY [--messages [PASSWORD]]

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "proxy/proxy_command.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/messages.hpp"
#include "ssh/transport.hpp"
#include "ssh/wire.hpp"

using namespace cr;
using Bytes = std::vector<std::uint8_t>;

namespace {

// Keeps a copy of every byte read.
class RecordingStream final : public runtime::AsyncStream {
 public:
  explicit RecordingStream(runtime::AsyncStream& inner) : inner_(inner) {}
  executor_type get_executor() override { return inner_.get_executor(); }
  asio::awaitable<runtime::Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    auto n = co_await inner_.read_some(buffer);
    if (n) recorded.insert(recorded.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    co_return n;
  }
  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    co_return co_await inner_.write_some(buffer);
  }
  runtime::Result<void> shutdown_send() override { return inner_.shutdown_send(); }
  asio::awaitable<void> close() override { co_await inner_.close(); }
  std::string describe() const override { return inner_.describe(); }

  Bytes recorded;

 private:
  runtime::AsyncStream& inner_;
};

void write_seed(const std::string& corpus, const std::string& target, const std::string& name, const Bytes& bytes) {
  std::ofstream(corpus + "/" + target + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The unencrypted start of the recording: through the version line, then packets up to NEWKEYS.
// Also returns the KEX reply's payload.
std::pair<Bytes, Bytes> handshake_part(const Bytes& recorded) {
  const std::string_view text(reinterpret_cast<const char*>(recorded.data()), recorded.size());
  std::size_t at = 0;
  while (!text.substr(at).starts_with("SSH-")) at = text.find('\n', at) + 1;
  at = text.find('\n', at) + 1;
  Bytes reply;
  for (;;) {
    const std::uint32_t length = static_cast<std::uint32_t>(recorded[at] << 24 | recorded[at + 1] << 16 |
                                                            recorded[at + 2] << 8 | recorded[at + 3]);
    const std::uint8_t padding = recorded[at + 4];
    const Bytes payload(recorded.begin() + static_cast<std::ptrdiff_t>(at + 5),
                        recorded.begin() + static_cast<std::ptrdiff_t>(at + 4 + length - padding));
    at += 4 + length;
    if (payload[0] == ssh::msg::kex_ecdh_reply) reply = payload;
    if (payload[0] == ssh::msg::newkeys) break;
  }
  return {Bytes(recorded.begin(), recorded.begin() + static_cast<std::ptrdiff_t>(at)), reply};
}

// A packet as the null cipher frames it: length, padding length, payload, zero padding to 8.
void append_null_packet(Bytes& out, const Bytes& payload) {
  std::size_t padding = 8 - (5 + payload.size()) % 8;
  if (padding < 4) padding += 8;
  ssh::Writer w;
  w.uint32(static_cast<std::uint32_t>(1 + payload.size() + padding));
  w.byte(static_cast<std::uint8_t>(padding));
  w.raw(payload);
  w.raw(Bytes(padding, 0));
  out.insert(out.end(), w.bytes().begin(), w.bytes().end());
}

struct Capture {
  std::string corpus, name, command, kex, host_key;
  bool messages = false;
  std::string password;
};

asio::awaitable<int> capture(Capture c) {
  auto executor = co_await asio::this_coro::executor;
  auto process = proxy::start_proxy_command(executor, c.command, {});
  if (!process) co_return (std::fprintf(stderr, "%s\n", process.error().detailed().c_str()), 1);
  RecordingStream stream(**process);
  ssh::TransportOptions options;
  options.verify_host_key = ssh::accept_any_host_key();  // the servers whose bytes become seeds
  if (c.kex != "default") options.algorithms.kex = {c.kex};
  if (c.host_key != "default") options.algorithms.host_key = {c.host_key};
  auto transport = co_await ssh::Transport::connect(stream, std::move(options));
  if (!transport) co_return (std::fprintf(stderr, "%s\n", transport.error().detailed().c_str()), 1);
  auto [handshake, reply] = handshake_part(stream.recorded);
  write_seed(c.corpus, "transport_handshake", c.name, handshake);
  const auto& kexes = ssh::crypto::supported_kex();
  const auto& host_keys = ssh::crypto::supported_host_key_algorithms();
  Bytes indexed{
      static_cast<std::uint8_t>(std::find(kexes.begin(), kexes.end(), (*transport)->algorithms().kex) - kexes.begin()),
      static_cast<std::uint8_t>(std::find(host_keys.begin(), host_keys.end(), (*transport)->algorithms().host_key) -
                                host_keys.begin())};
  indexed.insert(indexed.end(), reply.begin(), reply.end());
  write_seed(c.corpus, "kex_reply", c.name, indexed);
  if (!c.messages) co_return 0;

  auto& t = **transport;
  Bytes received;
  bool channel_closed = false;
  auto send = [&](const ssh::Writer& w) { return t.write_message(w.bytes()); };
  auto next = [&]() -> asio::awaitable<std::uint8_t> {
    auto message = co_await t.read_message();
    if (!message) throw std::runtime_error(message.error().detailed());
    append_null_packet(received, *message);
    if ((*message)[0] == ssh::msg::channel_close) channel_closed = true;
    co_return (*message)[0];
  };
  ssh::Writer service;
  service.byte(ssh::msg::service_request);
  service.string("ssh-userauth");
  co_await send(service);
  co_await next();
  for (const std::string method : {"none", "password"}) {
    ssh::Writer auth;
    auth.byte(ssh::msg::userauth_request);
    auth.string("fuzz");
    auth.string("ssh-connection");
    auth.string(method);
    if (method == "password") {
      auth.boolean(false);
      auth.string(c.password);
    }
    co_await send(auth);
    std::uint8_t answer = co_await next();
    while (answer == ssh::msg::userauth_banner) answer = co_await next();
    if (answer == ssh::msg::userauth_success) break;
    if (method == "password" || c.password.empty()) {  // refused (sshd): the seed ends there
      write_seed(c.corpus, "transport_messages", c.name, received);
      co_return 0;
    }
  }
  ssh::Writer open;
  open.byte(ssh::msg::channel_open);
  open.string("session");
  open.uint32(0);
  open.uint32(4 * 1024 * 1024);
  open.uint32(32 * 1024);
  co_await send(open);
  co_await next();
  const auto request = [&](std::string_view type, bool want_reply) {
    ssh::Writer w;
    w.byte(ssh::msg::channel_request);
    w.uint32(0);
    w.string(type);
    w.boolean(want_reply);
    return w;
  };
  auto env = request("env", false);
  env.string("LANG");
  env.string("C");
  co_await send(env);
  auto exec = request("exec", true);
  exec.string("cat; echo done");
  co_await send(exec);
  ssh::Writer data;
  data.byte(ssh::msg::channel_data);
  data.uint32(0);
  data.string("input");
  co_await send(data);
  ssh::Writer eof;
  eof.byte(ssh::msg::channel_eof);
  eof.uint32(0);
  co_await send(eof);
  while (!channel_closed) co_await next();
  ssh::Writer close;
  close.byte(ssh::msg::channel_close);
  close.uint32(0);
  co_await send(close);
  write_seed(c.corpus, "transport_messages", c.name, received);
  co_await t.disconnect(ssh::DisconnectReason::by_application, "done");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s CORPUS NAME \"SERVER COMMAND\" KEX HOST_KEY [--messages [PASSWORD]]\n", argv[0]);
    return 2;
  }
  Capture c{argv[1], argv[2], argv[3], argv[4], argv[5], false, ""};
  c.messages = argc > 6 && std::string(argv[6]) == "--messages";
  if (argc > 7) c.password = argv[7];
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, capture(std::move(c)), [&](std::exception_ptr e, int s) {
    status = s;
    if (e) std::rethrow_exception(e);
  });
  io.run();
  return status;
}
