// The transport against a real OpenSSH sshd (inetd mode, through a ProxyCommand): every key
// exchange, host key type and cipher/MAC forced one at a time by sshd's own configuration, then a
// service request both ways under the new keys, a re-exchange, and the failures a user must be
// able to read.

#include <array>
#include <cstdio>
#include <optional>

#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "proxy/proxy_command.hpp"
#include "runtime/memory_stream.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/packet_cipher.hpp"
#include "ssh/messages.hpp"
#include "ssh/packet_stream.hpp"
#include "ssh/transport.hpp"
#include "ssh/transport_messages.hpp"
#include "ssh/wire.hpp"
#include "support/run.hpp"
#include "support/sshd.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

struct Outcome {
  runtime::Result<void> result;
  ssh::Negotiated algorithms;
  ssh::HostKey host_key;
  bool strict_kex = false;
  std::vector<std::string> server_sig_algs;
  std::size_t key_exchanges = 0;
};

asio::awaitable<runtime::Result<void>> send_service_request(ssh::Transport& transport) {
  ssh::Writer request;
  request.byte(ssh::msg::service_request);
  request.string("ssh-userauth");
  co_return co_await transport.write_message(request.bytes());
}

runtime::Result<void> expect_service_accept(const runtime::Result<std::vector<std::uint8_t>>& reply) {
  if (!reply) return runtime::fail(reply.error());
  ssh::Reader r(*reply, "SERVICE_ACCEPT");
  const auto type = r.byte();
  const auto service = r.text();
  CHECK(r.finish(true));
  CHECK(type == ssh::msg::service_accept);
  CHECK(service == "ssh-userauth");
  return {};
}

// USERAUTH_REQUEST "none": every server must answer it, with SUCCESS (the Go server, like the
// Coder agent) or FAILURE and the methods it accepts (sshd).
asio::awaitable<runtime::Result<void>> send_none_auth(ssh::Transport& transport) {
  ssh::Writer request;
  request.byte(50);
  request.string("coder");
  request.string("ssh-connection");
  request.string("none");
  co_return co_await transport.write_message(request.bytes());
}

runtime::Result<void> expect_auth_answer(const runtime::Result<std::vector<std::uint8_t>>& reply) {
  if (!reply) return runtime::fail(reply.error());
  REQUIRE_FALSE(reply->empty());
  CHECK(((*reply)[0] == 51 || (*reply)[0] == 52));
  return {};
}

// Connects to sshd and asks for the userauth service: one message each way under the new keys.
// With rekey, starts a re-exchange and sends a request while a reader drives the exchange.
Outcome handshake(const std::string& proxy_command, ssh::TransportOptions options, bool rekey = false) {
  return test::run([&]() -> asio::awaitable<Outcome> {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    auto proxy = proxy::start_proxy_command(ex, proxy_command, {});
    REQUIRE(proxy);
    Outcome out;
    auto connected = co_await runtime::with_deadline(runtime::Deadline::after(15s),
                                                     ssh::Transport::connect(**proxy, std::move(options)),
                                                     runtime::Layer::kex, "SSH handshake");
    if (!connected) {
      out.result = runtime::fail(std::move(connected.error()));
      co_await (*proxy)->close();
      co_return out;
    }
    auto& transport = **connected;
    auto sent = co_await send_service_request(transport);
    REQUIRE(sent);
    auto reply = co_await transport.read_message();
    out.result = expect_service_accept(reply);
    if (out.result && rekey) {
      auto started = co_await transport.request_rekey();
      REQUIRE(started);
      auto [written, auth_reply] = co_await (send_none_auth(transport) && transport.read_message());
      REQUIRE(written);
      out.result = expect_auth_answer(auth_reply);
    }
    out.algorithms = transport.algorithms();
    out.host_key = transport.host_key();
    out.server_sig_algs = transport.server_sig_algs();
    out.key_exchanges = transport.completed_key_exchanges();
    co_await transport.disconnect(ssh::DisconnectReason::by_application, "test done");
    co_await (*proxy)->close();
    co_return out;
  }());
}

// The tests' own servers: any key whose signature verifies.
ssh::TransportOptions any_key() {
  ssh::TransportOptions options;
  options.verify_host_key = ssh::accept_any_host_key();
  return options;
}

ssh::TransportOptions only(ssh::AlgorithmCategory category, const std::string& name) {
  auto options = any_key();
  auto& list = category == ssh::AlgorithmCategory::kex        ? options.algorithms.kex
               : category == ssh::AlgorithmCategory::host_key ? options.algorithms.host_key
               : category == ssh::AlgorithmCategory::ciphers  ? options.algorithms.ciphers
                                                              : options.algorithms.macs;
  list = {name};
  return options;
}

std::string ssh_keygen_fingerprint(const std::filesystem::path& key) {
  std::string out(256, '\0');
  FILE* pipe = popen(fmt::format("ssh-keygen -lf {}.pub", key.string()).c_str(), "r");
  REQUIRE(pipe);
  const auto n = fread(out.data(), 1, out.size(), pipe);
  pclose(pipe);
  out.resize(n);
  const auto start = out.find(' ') + 1;
  return out.substr(start, out.find(' ', start) - start);
}

}  // namespace

TEST_CASE("default algorithms against OpenSSH: strict kex, EXT_INFO, the host key handed over", "[transport][sshd]") {
  test::Sshd sshd;
  ssh::TransportOptions options;
  std::vector<ssh::HostKey> seen;
  options.verify_host_key = [&](const ssh::HostKey& key) -> runtime::Result<void> {
    seen.push_back(key);
    return {};
  };
  const auto out = handshake(sshd.proxy_command(), std::move(options));
  REQUIRE(out.result);
  CHECK(out.algorithms.strict_kex);  // Debian's 9.2p1 carries the Terrapin fix
  // Debian's 9.2p1 also knows the name without @openssh.com.
  CHECK(out.algorithms.kex == "sntrup761x25519-sha512");
  CHECK(out.algorithms.host_key == "ssh-ed25519");
  CHECK(out.algorithms.cipher_client_to_server == "chacha20-poly1305@openssh.com");
  CHECK_FALSE(out.server_sig_algs.empty());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].fingerprint == ssh_keygen_fingerprint(sshd.host_key_files()[0]));
}

TEST_CASE("every key exchange we implement, forced on the server", "[transport][sshd]") {
  const std::string program = GENERATE(test::kOpenssh10Sshd, test::kDebianSshd);
  const std::string kex = GENERATE(from_range(ssh::crypto::supported_kex()));
  // OpenSSH 9.2 predates ML-KEM.
  if (program == test::kDebianSshd && kex.starts_with("mlkem")) return;
  test::Sshd sshd("KexAlgorithms " + kex, {"ed25519"}, program);
  const auto out = handshake(sshd.proxy_command(), only(ssh::AlgorithmCategory::kex, kex));
  INFO(program << ", " << kex << ": " << (out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.algorithms.kex == kex);
  CHECK(out.algorithms.strict_kex);
}

TEST_CASE("every host key type and algorithm, forced on the server", "[transport][sshd]") {
  const auto [key_spec, algorithm] = GENERATE(table<std::string, std::string>({
      {"ed25519", "ssh-ed25519"},
      {"ecdsa:256", "ecdsa-sha2-nistp256"},
      {"ecdsa:384", "ecdsa-sha2-nistp384"},
      {"ecdsa:521", "ecdsa-sha2-nistp521"},
      {"rsa:2048", "rsa-sha2-256"},
      {"rsa:2048", "rsa-sha2-512"},
  }));
  test::Sshd sshd("HostKeyAlgorithms " + algorithm, {key_spec});
  const auto out = handshake(sshd.proxy_command(), only(ssh::AlgorithmCategory::host_key, algorithm));
  INFO(algorithm << ": " << (out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.host_key.algorithm == algorithm);
  CHECK(out.host_key.fingerprint == ssh_keygen_fingerprint(sshd.host_key_files()[0]));
}

TEST_CASE("every cipher, and every MAC with the CTR ciphers, forced on the server", "[transport][sshd]") {
  const std::string cipher = GENERATE(from_range(ssh::crypto::supported_ciphers()));
  const bool aead = ssh::crypto::requirements(cipher, "").aead;
  // An AEAD cipher ignores the MAC lists; the others are tried with each MAC.
  const std::vector<std::string> macs =
      aead ? std::vector<std::string>{"hmac-sha2-256"} : ssh::crypto::supported_macs();
  for (const auto& mac : macs) {
    test::Sshd sshd(fmt::format("Ciphers {}\nMACs {}", cipher, mac));
    auto options = only(ssh::AlgorithmCategory::ciphers, cipher);
    options.algorithms.macs = {mac};
    const auto out = handshake(sshd.proxy_command(), std::move(options));
    INFO(cipher << " " << mac << ": " << (out.result ? "ok" : out.result.error().summary()));
    REQUIRE(out.result);
    CHECK(out.algorithms.cipher_client_to_server == cipher);
    CHECK(out.algorithms.cipher_server_to_client == cipher);
    CHECK(out.algorithms.mac_server_to_client == (aead ? "" : mac));
  }
}

TEST_CASE("a re-exchange sshd refuses before auth does not hold writes back", "[transport][sshd]") {
  // sshd answers a KEXINIT during authentication with UNIMPLEMENTED: the request that waited for
  // the exchange goes out under the current keys and is answered.
  test::Sshd sshd;
  const auto out = handshake(sshd.proxy_command(), any_key(), /*rekey=*/true);
  INFO((out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.key_exchanges == 1);
}

TEST_CASE("no common cipher: the error lists both sides' offers", "[transport][sshd]") {
  test::Sshd sshd("Ciphers aes256-gcm@openssh.com");
  const auto out = handshake(sshd.proxy_command(), only(ssh::AlgorithmCategory::ciphers, "aes128-ctr"));
  REQUIRE_FALSE(out.result);
  const auto& error = out.result.error();
  CHECK(error.layer == runtime::Layer::kex);
  CHECK_THAT(error.message, Catch::Contains("no cipher (client to server) algorithm in common"));
  CHECK(error.find_evidence("we offered")->text == "aes128-ctr");
  CHECK(error.find_evidence("server offered")->text == "aes256-gcm@openssh.com");
}

TEST_CASE("a transport without a host key verifier refuses to connect, and sends nothing", "[transport]") {
  std::string arrived;
  auto connected = test::run([&]() -> asio::awaitable<runtime::Result<void>> {
    auto ex = co_await asio::this_coro::executor;
    auto [client, server] = runtime::make_memory_stream_pair(ex);
    ssh::TransportOptions options;  // no verify_host_key
    auto transport = co_await ssh::Transport::connect(*client, std::move(options));
    co_await client->close();
    auto rest = co_await test::read_to_end(*server);
    if (rest) arrived = *rest;
    if (transport) co_return runtime::Result<void>{};
    co_return runtime::fail(std::move(transport.error()));
  }());
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == runtime::Errc::invalid_argument);
  CHECK(connected.error().layer == runtime::Layer::kex);
  CHECK_THAT(connected.error().message, Catch::StartsWith("no host key check"));
  CHECK(arrived.empty());
}

namespace {

// As with_deadline runs an operation: a cancellation is a Result, not an exception.
asio::awaitable<runtime::Result<std::unique_ptr<ssh::Transport>>> connect_cancellable(runtime::AsyncStream& stream) {
  co_await asio::this_coro::throw_if_cancelled(false);
  ssh::TransportOptions options;
  options.verify_host_key = ssh::accept_any_host_key();
  co_return co_await ssh::Transport::connect(stream, std::move(options));
}

// Reads the client's version line and the first bytes of the packet behind it, then cancels the
// client, then reads everything and answers nothing.
asio::awaitable<void> cancel_mid_packet(runtime::AsyncStream& stream, asio::cancellation_signal& cancel) {
  std::string seen;
  std::array<std::uint8_t, 16> buffer{};
  for (;;) {
    const auto line_end = seen.find("\r\n");
    if (line_end != std::string::npos && seen.size() > line_end + 2) break;
    auto n = co_await stream.read_some(buffer);
    if (!n) co_return;
    seen.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
  }
  cancel.emit(asio::cancellation_type::terminal);
  for (;;) {
    auto n = co_await stream.read_some(buffer);
    if (!n) co_return;
  }
}

}  // namespace

// Asio gives a cancellation that comes while a packet is leaving (a step no cancellation may cut)
// to no operation: the handshake went on to wait for a server that never answers.
TEST_CASE("a cancellation that lands while our KEXINIT is leaving ends the handshake once it has left", "[transport]") {
  asio::io_context io;
  // Smaller than our KEXINIT: the packet is still leaving when the server has read its start.
  auto [client, server] = runtime::make_memory_stream_pair(io.get_executor(), {.capacity = 64});
  asio::cancellation_signal cancel;
  std::optional<runtime::Result<std::unique_ptr<ssh::Transport>>> connected;
  asio::co_spawn(io, connect_cancellable(*client),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, auto result) {
                   connected = std::move(result);
                   io.stop();
                 }));
  asio::co_spawn(io, cancel_mid_packet(*server, cancel), asio::detached);
  io.run_for(5s);
  REQUIRE(connected);
  REQUIRE_FALSE(*connected);
  CHECK(connected->error().code == runtime::Errc::cancelled);
  CHECK(ssh::sent_despite_cancellation(connected->error()));
}

TEST_CASE("a server gone before our first writes: its KEXINIT, not our failed write, says what is wrong",
          "[transport]") {
  // A server that finds nothing in common with our KEXINIT may exit before our writes (the version
  // line, the KEXINIT, the guessed packet) reach it; what it sent before it went still arrives.
  const auto connected = test::run([]() -> asio::awaitable<runtime::Result<void>> {
    auto ex = co_await asio::this_coro::executor;
    auto [client, server] = runtime::make_memory_stream_pair(ex);
    const std::string version = "SSH-2.0-gone_1.0\r\n";
    auto version_sent = co_await runtime::write_all(*server, runtime::as_bytes(version));
    REQUIRE(version_sent);
    ssh::KexInit offer;
    offer.kex = {"curve25519-sha256"};
    offer.host_key = {"ssh-ed25519"};
    offer.ciphers_client_to_server = offer.ciphers_server_to_client = {"3des-cbc"};
    offer.macs_client_to_server = offer.macs_server_to_client = {"hmac-sha2-256"};
    offer.compression_client_to_server = offer.compression_server_to_client = {"none"};
    ssh::PacketStream packets(*server);
    auto offer_sent = co_await packets.write_packet(offer.encode());
    REQUIRE(offer_sent);
    co_await server->close();
    ssh::TransportOptions options;
    options.verify_host_key = ssh::accept_any_host_key();  // the test's own server
    auto transport = co_await ssh::Transport::connect(*client, std::move(options));
    if (transport) co_return runtime::Result<void>{};
    co_return runtime::fail(std::move(transport.error()));
  }());
  REQUIRE_FALSE(connected);
  const auto& error = connected.error();
  INFO(error.summary());
  CHECK(error.layer == runtime::Layer::kex);
  CHECK_THAT(error.message, Catch::Contains("no cipher (client to server) algorithm in common"));
  REQUIRE(error.find_evidence("server offered"));
  CHECK(error.find_evidence("server offered")->text == "3des-cbc");
}

TEST_CASE("a host key the verifier refuses ends the connection with its reason", "[transport][sshd]") {
  test::Sshd sshd;
  ssh::TransportOptions options;
  options.verify_host_key = [](const ssh::HostKey& key) -> runtime::Result<void> {
    return runtime::fail(
        std::move(runtime::Error(runtime::Errc::protocol_error, runtime::Layer::kex, "host key not in known_hosts")
                      .with("fingerprint", key.fingerprint)));
  };
  const auto out = handshake(sshd.proxy_command(), std::move(options));
  REQUIRE_FALSE(out.result);
  CHECK(out.result.error().message == "host key not in known_hosts");
  CHECK_THAT(out.result.error().find_evidence("fingerprint")->text, Catch::StartsWith("SHA256:"));
}

TEST_CASE("the Go x/crypto/ssh server (the Coder agent's library) through a ProxyCommand", "[transport][go]") {
  const auto out = handshake(CODER_RUNTIME_GO_SSHD, any_key());
  INFO((out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.host_key.algorithm.starts_with("rsa-sha2-"));
  CHECK(out.algorithms.kex == "curve25519-sha256");
}

TEST_CASE("a key re-exchange we start completes while a write waits for it (Go server)", "[transport][go]") {
  const auto out = handshake(CODER_RUNTIME_GO_SSHD, any_key(), /*rekey=*/true);
  INFO((out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.key_exchanges == 2);
}

TEST_CASE("strict kex: an IGNORE slipped in before NEWKEYS (Terrapin) is refused", "[transport][sshd]") {
  test::Sshd sshd;
  const std::string relay = std::string(CODER_RUNTIME_TEST_SERVERS) + "/inject_ignore.py " + sshd.proxy_command();
  const auto out = handshake(relay, any_key());
  REQUIRE_FALSE(out.result);
  CHECK(out.result.error().layer == runtime::Layer::kex);
  CHECK_THAT(out.result.error().message, Catch::Contains("got 2"));
  CHECK(out.result.error().find_evidence("strict kex")->text == "yes");
}

TEST_CASE("the same relay without the injection connects: the IGNORE alone was refused", "[transport][sshd]") {
  test::Sshd sshd;
  const std::string relay =
      std::string(CODER_RUNTIME_TEST_SERVERS) + "/inject_ignore.py --pass " + sshd.proxy_command();
  const auto out = handshake(relay, any_key());
  INFO((out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.algorithms.strict_kex);
}

namespace {
ssh::Writer global_request(bool want_reply) {
  ssh::Writer request;
  request.byte(80);  // SSH_MSG_GLOBAL_REQUEST
  request.string("volume@coder-runtime.test");
  request.boolean(want_reply);
  request.string(std::string(1024, 'x'));
  return request;
}

// Authenticates with "none" (the Go server allows it, like the Coder agent), then pushes volume in
// rounds: `per_round` global requests of 1 KiB that want no reply and one that does, while reading
// (the reader drives whatever key exchanges the volume sets off and returns the server's
// REQUEST_FAILURE). How many re-exchanges one round sets off depends on where the peers' counters
// stand when their KEXINITs cross, so rounds go on until `wanted` exchanges have completed, or
// `max_rounds` have passed: the volume bound is what the test asserts, not a timing. The watchdog
// of test::run bounds the waits.
Outcome push_volume(const std::string& proxy_command, ssh::TransportOptions options, std::size_t wanted, int per_round,
                    int max_rounds) {
  return test::run([&]() -> asio::awaitable<Outcome> {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    auto proxy = proxy::start_proxy_command(ex, proxy_command, {});
    REQUIRE(proxy);
    auto connected = co_await runtime::with_deadline(runtime::Deadline::after(15s),
                                                     ssh::Transport::connect(**proxy, std::move(options)),
                                                     runtime::Layer::kex, "SSH handshake");
    REQUIRE(connected);
    auto& transport = **connected;
    auto sent = co_await send_service_request(transport);
    REQUIRE(sent);
    auto accepted = co_await transport.read_message();
    REQUIRE(expect_service_accept(accepted));
    auto auth_sent = co_await send_none_auth(transport);
    REQUIRE(auth_sent);
    auto auth = co_await transport.read_message();
    REQUIRE(auth);
    REQUIRE((*auth)[0] == 52);  // USERAUTH_SUCCESS
    transport.authenticated();  // as authenticate() says on success: our re-exchanges may start
    auto writer = [&]() -> asio::awaitable<runtime::Result<void>> {
      const auto quiet = global_request(false);
      for (int i = 0; i < per_round; ++i) {
        auto written = co_await transport.write_message(quiet.bytes());
        if (!written) co_return written;
      }
      co_return co_await transport.write_message(global_request(true).bytes());
    };
    Outcome out;
    for (int round = 0; round < max_rounds && out.result && transport.completed_key_exchanges() < wanted; ++round) {
      auto [written, answer] = co_await (writer() && transport.read_message());
      out.result = written;
      if (written && !answer) out.result = runtime::fail(answer.error());
      if (answer) CHECK((*answer)[0] == 82);  // REQUEST_FAILURE
    }
    out.key_exchanges = transport.completed_key_exchanges();
    co_await transport.disconnect(ssh::DisconnectReason::by_application, "test done");
    co_await (*proxy)->close();
    co_return out;
  }());
}
}  // namespace

// 40 rounds of 33 KiB each through a 16 KiB threshold: at most every other round can end without
// a re-exchange (when the server's KEXINIT crosses the round's reply), so three are due well before.
TEST_CASE("re-exchanges the server starts under load are answered (Go server, 16 KiB threshold)", "[transport][go]") {
  const auto out = push_volume(std::string(CODER_RUNTIME_GO_SSHD) + " -rekey-bytes 16384", any_key(), 4, 32, 40);
  INFO((out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.key_exchanges >= 4);  // the first exchange and three the server started
}

TEST_CASE("we re-exchange keys by ourselves after rekey_after_bytes", "[transport][go]") {
  ssh::TransportOptions options;
  options.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.rekey_after_bytes = 32 * 1024;
  const auto out = push_volume(CODER_RUNTIME_GO_SSHD, std::move(options), 4, 32, 40);
  INFO((out.result ? "ok" : out.result.error().summary()));
  REQUIRE(out.result);
  CHECK(out.key_exchanges >= 4);
}

TEST_CASE("the server's DISCONNECT reaches the error with its reason and its own words", "[transport][sshd]") {
  test::Sshd sshd;
  auto reply = test::run([&]() -> asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> {
    auto ex = co_await asio::this_coro::executor;
    auto proxy = proxy::start_proxy_command(ex, sshd.proxy_command(), {});
    REQUIRE(proxy);
    ssh::TransportOptions defaults;
    defaults.verify_host_key = ssh::accept_any_host_key();  // the test's own server
    auto connected = co_await runtime::with_deadline(runtime::Deadline::after(15s),
                                                     ssh::Transport::connect(**proxy, std::move(defaults)),
                                                     runtime::Layer::kex, "SSH handshake");
    REQUIRE(connected);
    ssh::Writer request;
    request.byte(ssh::msg::service_request);
    request.string("ssh-nonexistent");
    auto sent = co_await (*connected)->write_message(request.bytes());
    REQUIRE(sent);
    auto answer = co_await (*connected)->read_message();
    co_await (*proxy)->close();
    co_return answer;
  }());
  REQUIRE_FALSE(reply);
  const auto& error = reply.error();
  INFO(error.summary());
  CHECK(error.layer == runtime::Layer::transport);
  CHECK(error.message == "the server disconnected: protocol error");
  REQUIRE(error.find_evidence("reason code"));
  CHECK(error.find_evidence("reason code")->text == "2");
  REQUIRE(error.find_evidence("server said"));
  CHECK(error.find_evidence("server said")->text == "bad service request ssh-nonexistent");
}
