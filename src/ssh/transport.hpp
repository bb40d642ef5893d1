#pragma once
// The SSH transport (RFC 4253) over any AsyncStream: version exchange, key exchange, NEWKEYS, and
// then a stream of messages for the layers above, with IGNORE/DEBUG/EXT_INFO handled here and
// key re-exchange started by either side at any time.
//
// Speed: our version line, our KEXINIT and (first_kex_packet_follows, RFC 4253 section 7.1) a
// guessed KEX_ECDH_INIT leave before anything of the server's arrives. When the guess is right (our
// first kex and host key algorithms are the server's first too) the first key exchange costs one
// round trip, the server's reply and NEWKEYS arriving together; when it is wrong the server
// discards the guess and we send the right packet on its KEXINIT: one round trip more, as without
// guessing.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/async_mutex.hpp"
#include "runtime/async_stream.hpp"
#include "runtime/logging.hpp"
#include "ssh/algorithms.hpp"
#include "ssh/disconnect_reason.hpp"
#include "ssh/version_exchange.hpp"

namespace cr::ssh {

// The packet layer, the messages' wire form and the key exchange maths stay behind this header.
class PacketStream;
struct KexInit;
namespace crypto {
class KeyExchange;
}

struct HostKey {
  std::string algorithm;           // the negotiated host key algorithm, e.g. "ssh-ed25519"
  std::vector<std::uint8_t> blob;  // the key as the server sent it
  std::string fingerprint;         // "SHA256:..." as OpenSSH prints it
};

// Called once per key exchange with the server's verified host key (its signature over the
// exchange hash already checked). Return an error to refuse the connection (Layer::kex).
//
// The callbacks in these options should not throw. One that throws at the first exchange throws out
// of connect; at a re-exchange, it runs on the connection's reader, and the connection fails with
// Errc::internal_error and the exception's text, which every waiter gets.
using HostKeyVerifier = std::function<runtime::Result<void>(const HostKey&)>;

// Every key whose signature verifies, for a stream whose other end is vouched for otherwise (a
// tunnel the Coder CLI authenticated, a test's own server, a probe that only reports the key).
// There is no default: a transport without a verifier refuses to connect, as Go's x/crypto/ssh
// refuses a config without a HostKeyCallback, so accepting any key is always written down.
HostKeyVerifier accept_any_host_key();

struct TransportOptions {
  // The first kex and host key names are also the guess (see lead_with in algorithms.hpp).
  AlgorithmPreferences algorithms = AlgorithmPreferences::defaults();
  // Send the first key exchange's init packet with our KEXINIT (first_kex_packet_follows).
  bool guess_kex = true;
  // Called once, at the first key exchange, with what the server listed first (to be remembered).
  std::function<void(const ServerFirstChoice&)> on_server_first_choice;
  HostKeyVerifier verify_host_key;                           // required (see accept_any_host_key)
  std::uint64_t rekey_after_bytes = std::uint64_t{1} << 30;  // RFC 4344's advice for AES
  std::chrono::seconds rekey_after_time{3600};
  // The handshake's stall budget (ssh/stall.hpp): from the server's first byte until
  // authenticated(), a read that waits longer fails as a stall. None: reads wait (ConnectTimeout
  // still bounds the whole). It counts a server's own waits too: a password's PAM delay, a second
  // factor approved on a phone. Set it for servers that answer at once (a Coder agent's "none").
  std::optional<std::chrono::milliseconds> stall_budget;
  // False: the budget ends with the first key exchange, for a server whose login may wait on
  // those (any host but one whose "none" is known to succeed).
  bool stall_budget_in_auth = true;
  runtime::Logger log;
};

class Transport {
 public:
  // Runs the version exchange and the first key exchange. The stream must outlive the transport.
  // Pass options as a named variable: GCC 12 mishandles a `{}` temporary in a co_await expression.
  static asio::awaitable<runtime::Result<std::unique_ptr<Transport>>> connect(runtime::AsyncStream& stream,
                                                                              TransportOptions options);

  // The next message for the layers above (message number first). Transport messages are handled
  // here; a DISCONNECT becomes an error carrying the server's reason and text.
  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> read_message();
  // Waits while a key exchange is in progress (only kex messages may be sent then). Messages leave
  // in the order of these calls, or of the places reserved for them.
  asio::awaitable<runtime::Result<void>> write_message(std::span<const std::uint8_t> payload);
  // A message's place in that order, taken now for a write that comes later: code that cannot wait
  // (the connection's reader) queues a message that keeps its place among those written meanwhile.
  runtime::AsyncMutex::Place reserve_message_place() { return message_order_.reserve(); }
  asio::awaitable<runtime::Result<void>> write_message(std::span<const std::uint8_t> payload,
                                                       runtime::AsyncMutex::Place place);
  // Starts a key re-exchange; it completes as read_message() reads the server's reply.
  asio::awaitable<runtime::Result<void>> request_rekey();
  // Authentication has succeeded: from now on a write starts a re-exchange once one is due. Not
  // before, as OpenSSH's client: authentication writes a request and then reads its answer, so
  // nothing would read the server's reply to our KEXINIT while the write waits for the exchange
  // to end (and OpenSSH's sshd refuses a re-exchange before authentication anyway).
  void authenticated();
  // Sends DISCONNECT (best effort) and closes the stream.
  asio::awaitable<void> disconnect(DisconnectReason reason, std::string_view description);
  // Marks the transport unusable (its reader failed or stopped): a write waiting for a key
  // exchange that can no longer complete gets `error` instead of waiting for good.
  void mark_broken(const runtime::Error& error);

  const PeerVersion& server_version() const { return server_version_; }
  const Negotiated& algorithms() const { return negotiated_; }
  const HostKey& host_key() const { return host_key_; }
  const std::vector<std::uint8_t>& session_id() const { return session_id_; }
  // From the server's EXT_INFO (RFC 8308), for choosing RSA signature algorithms in auth.
  const std::vector<std::string>& server_sig_algs() const { return server_sig_algs_; }
  std::size_t completed_key_exchanges() const { return completed_kex_; }
  // The first exchange's guessed packet: not sent, sent and used, or sent and discarded.
  enum class Guess { none, right, wrong };
  Guess first_kex_guess() const { return first_guess_; }

  Transport(runtime::AsyncStream& stream, TransportOptions options);
  ~Transport();

 private:
  KexInit make_kexinit() const;
  asio::awaitable<runtime::Result<void>> send_kexinit();
  asio::awaitable<runtime::Result<void>> send_kex_init_packet(const crypto::KeyExchange& exchange);
  asio::awaitable<runtime::Result<void>> run_kex(std::vector<std::uint8_t> server_kexinit);
  asio::awaitable<runtime::Result<std::unique_ptr<crypto::KeyExchange>>> agree_on_kex(
      const std::vector<std::uint8_t>& server_kexinit);
  runtime::Result<void> accept_host_key(std::span<const std::uint8_t> blob, std::span<const std::uint8_t> signature,
                                        std::span<const std::uint8_t> exchange_hash);
  asio::awaitable<runtime::Result<void>> switch_keys(const std::string& hash_name, std::span<const std::uint8_t> k,
                                                     std::span<const std::uint8_t> exchange_hash);
  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> read_kex_message(std::uint8_t expected);
  asio::awaitable<runtime::Result<void>> write_locked(std::span<const std::uint8_t> payload);
  asio::awaitable<runtime::Result<void>> write_disconnect(std::vector<std::uint8_t> message);
  asio::awaitable<runtime::Result<void>> write_outside_kex(std::span<const std::uint8_t> payload);
  runtime::Result<bool> handle_transport_message(const std::vector<std::uint8_t>& payload);
  bool rekey_due() const;

  runtime::AsyncStream& stream_;
  TransportOptions options_;
  std::unique_ptr<PacketStream> packets_;
  runtime::AsyncMutex send_lock_;      // one packet at a time (kex messages take only this)
  runtime::AsyncMutex message_order_;  // the order of everything else, held through a key exchange
  runtime::Event kex_done_;
  PeerVersion server_version_;
  std::vector<std::uint8_t> client_kexinit_;  // our KEXINIT payload of the exchange in progress
  std::uint32_t client_kexinit_sequence_ = 0;
  std::unique_ptr<crypto::KeyExchange> guessed_exchange_;  // its init packet followed our KEXINIT
  Guess first_guess_ = Guess::none;
  bool kex_in_progress_ = false;
  bool authenticated_ = false;
  // Set once reading has failed or we disconnected: a write waiting for an exchange that can no
  // longer complete gets this error instead of waiting for good.
  std::optional<runtime::Error> broken_;
  bool strict_kex_ = false;
  Negotiated negotiated_;
  HostKey host_key_;
  std::vector<std::uint8_t> session_id_;
  std::vector<std::string> server_sig_algs_;
  std::size_t completed_kex_ = 0;
  runtime::Clock::time_point last_kex_ = runtime::Clock::now();
};

}  // namespace cr::ssh
