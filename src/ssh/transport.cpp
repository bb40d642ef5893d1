#include "ssh/transport.hpp"

#include <fmt/format.h>

#include "runtime/deadline.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/random.hpp"
#include "ssh/messages.hpp"
#include "ssh/packet_stream.hpp"
#include "ssh/transport_messages.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

// How long a closing connection's DISCONNECT may take to leave.
constexpr auto kDisconnectBudget = std::chrono::seconds(1);

Error kex_error(std::string message) { return Error(Errc::protocol_error, Layer::kex, std::move(message)); }

// HASH(input) where the input holds K: the input and the digest are wiped once used.
crypto::SecretBytes hash_secret(const std::string& hash_name, Writer input) {
  auto bytes = input.take();
  auto digest = crypto::hash(hash_name, bytes);
  crypto::wipe(bytes);
  return crypto::take_secret(digest);
}

// RFC 4253 section 7.2: HASH(K || H || letter || session_id), extended with HASH(K || H || K1 ...)
// until `size` bytes.
crypto::SecretBytes derive_key(const std::string& hash_name, ConstBytes shared_secret_encoded, ConstBytes exchange_hash,
                               char letter, ConstBytes session_id, std::size_t size) {
  Writer first;
  first.raw(shared_secret_encoded);
  first.raw(exchange_hash);
  first.byte(static_cast<std::uint8_t>(letter));
  first.raw(session_id);
  crypto::SecretBytes key = hash_secret(hash_name, std::move(first));
  while (key.size() < size) {
    Writer more;
    more.raw(shared_secret_encoded);
    more.raw(exchange_hash);
    more.raw(key);
    const auto next = hash_secret(hash_name, std::move(more));
    key.insert(key.end(), next.begin(), next.end());
  }
  key.resize(size);
  return key;
}

crypto::DirectionKeys derive_direction(const std::string& hash_name, ConstBytes k, ConstBytes h, ConstBytes session_id,
                                       const crypto::CipherRequirements& needs, char iv_letter) {
  // Letters: IV 'A'/'B', key 'C'/'D', MAC key 'E'/'F' for client-to-server / server-to-client.
  return {derive_key(hash_name, k, h, iv_letter, session_id, needs.iv_size),
          derive_key(hash_name, k, h, static_cast<char>(iv_letter + 2), session_id, needs.key_size),
          derive_key(hash_name, k, h, static_cast<char>(iv_letter + 4), session_id, needs.mac_key_size)};
}

}  // namespace

Transport::Transport(runtime::AsyncStream& stream, TransportOptions options)
    : stream_(stream),
      options_(std::move(options)),
      packets_(std::make_unique<PacketStream>(stream)),
      send_lock_(stream.get_executor()),
      message_order_(stream.get_executor()),
      kex_done_(stream.get_executor()) {}

Transport::~Transport() = default;

KexInit Transport::make_kexinit() const {
  KexInit k;
  crypto::random_bytes(k.cookie);
  k.kex = options_.algorithms.kex;
  // The extension signals belong in the first KEXINIT only (RFC 8308 section 2.1, OpenSSH PROTOCOL).
  if (completed_kex_ == 0) {
    k.kex.emplace_back(kExtInfoClient);
    k.kex.emplace_back(kStrictKexClient);
  }
  k.host_key = options_.algorithms.host_key;
  k.ciphers_client_to_server = k.ciphers_server_to_client = options_.algorithms.ciphers;
  k.macs_client_to_server = k.macs_server_to_client = options_.algorithms.macs;
  k.compression_client_to_server = k.compression_server_to_client = {"none"};
  k.first_kex_packet_follows = completed_kex_ == 0 && options_.guess_kex;
  return k;
}

HostKeyVerifier accept_any_host_key() {
  return [](const HostKey&) -> Result<void> { return {}; };
}

asio::awaitable<Result<std::unique_ptr<Transport>>> Transport::connect(runtime::AsyncStream& stream,
                                                                       TransportOptions options) {
  if (!options.verify_host_key) {
    co_return runtime::fail(
        Errc::invalid_argument, Layer::kex,
        "no host key check: TransportOptions::verify_host_key is empty (a plan from plan_connection "
        "has one; accept_any_host_key() is the explicit choice for a stream vouched for otherwise)");
  }
  // Our version line first, and our KEXINIT right behind it: neither waits for the server.
  const std::string hello = fmt::format("{}\r\n", kClientVersion);
  auto transport = std::make_unique<Transport>(stream, std::move(options));
  auto version_sent = co_await runtime::write_all(stream, runtime::as_bytes(hello));
  // Made (and tried) even when the version line failed: negotiating with what the server sent
  // needs it.
  auto kexinit_sent = co_await transport->send_kexinit();
  Result<void> sent = version_sent
                          ? std::move(kexinit_sent)
                          : runtime::fail(std::move(version_sent.error()).while_("sending our SSH version line"));
  // Cancelled, we stop here: waiting for what the server sent would outlast the cancellation.
  if (!sent && sent.error().code == Errc::cancelled) co_return runtime::fail(std::move(sent.error()));
  // A server that finds nothing in common with what we offer may be gone before our writes are:
  // what it sent first says why. A failed write is the error only when what arrived says less.
  const auto or_write_failure = [&sent](Error error) { return sent ? std::move(error) : sent.error(); };

  const auto stall_budget = transport->options_.stall_budget;
  auto version = co_await read_peer_version(stream, stall_budget);
  if (!version) co_return runtime::fail(or_write_failure(std::move(version.error())));
  transport->options_.log.debug("server version: {}", version->peer.line);
  transport->server_version_ = std::move(version->peer);
  transport->packets_->push_received(version->leftover, version->bytes_read);
  transport->packets_->set_stall_budget(stall_budget);
  // From here a failure says who answered: a relay or proxy that prints a version line and ends
  // is told apart from a server that ended mid-exchange.
  const auto with_server_version = [&transport](Error error) {
    return std::move(error.with("server version", transport->server_version_.line));
  };

  // The server's KEXINIT must come first (strict kex requires it; others may precede it otherwise).
  for (;;) {
    auto packet = co_await transport->packets_->read_packet();
    if (!packet) {
      auto error =
          with_server_version(or_write_failure(std::move(packet.error()).while_("waiting for the server's KEXINIT")));
      if (error.code == Errc::end_of_stream)
        error.with("handshake", "the stream ended after the version line, before the server's KEXINIT");
      co_return runtime::fail(std::move(error));
    }
    if (!packet->empty() && (*packet)[0] == msg::kexinit) {
      auto done = co_await transport->run_kex(std::move(*packet));
      if (!done && done.error().layer == Layer::kex)
        co_return runtime::fail(with_server_version(std::move(done.error())));
      if (!done || !sent) {
        co_return runtime::fail(
            with_server_version(or_write_failure(done ? Error(sent.error()) : std::move(done.error()))));
      }
      if (!transport->options_.stall_budget_in_auth) transport->packets_->set_stall_budget(std::nullopt);
      co_return transport;
    }
    auto handled = transport->handle_transport_message(*packet);
    if (!handled) co_return runtime::fail(with_server_version(std::move(handled.error())));
    if (!*handled) {
      co_return runtime::fail(with_server_version(kex_error("the server sent another message before its KEXINIT")
                                                      .with("message number", std::to_string((*packet)[0]))));
    }
  }
}

asio::awaitable<Result<void>> Transport::send_kexinit() {
  const KexInit kexinit = make_kexinit();
  client_kexinit_ = kexinit.encode();
  kex_in_progress_ = true;
  const bool locked = co_await send_lock_.lock();
  if (!locked) {
    // No KEXINIT left: the writes held back for this exchange go on.
    kex_in_progress_ = false;
    kex_done_.notify();
    co_return runtime::fail(Errc::cancelled, Layer::kex, "key exchange cancelled");
  }
  runtime::AsyncMutex::Unlocker unlock(send_lock_);
  client_kexinit_sequence_ = packets_->send_sequence();
  auto written = co_await packets_->write_packet(client_kexinit_);
  unlock.unlock_now();
  if (!written || !kexinit.first_kex_packet_follows) co_return written;
  // The guess: our first key exchange, as if the server had agreed to it.
  guessed_exchange_ = crypto::make_key_exchange(kexinit.kex.front());
  if (!guessed_exchange_)
    co_return runtime::fail(kex_error(fmt::format("key exchange {} is not implemented", kexinit.kex.front())));
  co_return co_await send_kex_init_packet(*guessed_exchange_);
}

asio::awaitable<Result<void>> Transport::send_kex_init_packet(const crypto::KeyExchange& exchange) {
  const auto client_public = exchange.client_public();
  const auto init = KexEcdhInit{exchange.family(), client_public}.encode();
  co_return co_await write_locked(init);
}

asio::awaitable<Result<void>> Transport::write_locked(std::span<const std::uint8_t> payload) {
  const bool locked = co_await send_lock_.lock();
  if (!locked) co_return runtime::fail(Errc::cancelled, Layer::transport, "write cancelled");
  const runtime::AsyncMutex::Unlocker unlock(send_lock_);
  co_return co_await packets_->write_packet(payload);
}

asio::awaitable<Result<std::vector<std::uint8_t>>> Transport::read_kex_message(std::uint8_t expected) {
  for (;;) {
    auto packet = co_await packets_->read_packet();
    if (!packet) co_return packet;
    const std::uint8_t type = packet->empty() ? 0 : (*packet)[0];
    if (type == expected) co_return packet;
    // Strict kex (the Terrapin fix) allows nothing else during the first exchange.
    if (!strict_kex_ || completed_kex_ > 0) {
      auto handled = handle_transport_message(*packet);
      if (!handled) co_return runtime::fail(std::move(handled.error()));
      if (*handled) continue;
    }
    co_return runtime::fail(
        std::move(kex_error(fmt::format("expected message {} during key exchange, got {}", expected, type))
                      .with("strict kex", strict_kex_ ? "yes" : "no")));
  }
}

// The key exchange, RFC 4253 sections 7 and 8: agree on the algorithms, exchange the ephemeral
// keys, check the server's host key against the exchange hash, then switch to the derived keys.
asio::awaitable<Result<void>> Transport::run_kex(std::vector<std::uint8_t> server_kexinit) {
  auto agreed = co_await agree_on_kex(server_kexinit);
  if (!agreed) co_return runtime::fail(std::move(agreed.error()));
  const auto exchange = std::move(*agreed);
  const auto client_public = exchange->client_public();

  auto reply = co_await read_kex_message(msg::kex_ecdh_reply);
  if (!reply) co_return runtime::fail(std::move(reply.error()).while_("waiting for the server's key exchange reply"));
  auto parsed_reply = parse_kex_reply(*reply, exchange->family());
  if (!parsed_reply) co_return runtime::fail(std::move(parsed_reply.error()));
  const auto [host_key_blob, server_public, signature] = *parsed_reply;

  auto shared = exchange->shared_secret(server_public);
  if (!shared) co_return runtime::fail(std::move(shared.error()));
  Writer k_encoded;
  if (exchange->secret_encoding() == crypto::SecretEncoding::string) {
    k_encoded.string(*shared);
  } else {
    k_encoded.mpint(*shared);
  }
  auto k_plain = k_encoded.take();
  const crypto::SecretBytes k = crypto::take_secret(k_plain);

  // H = HASH(V_C || V_S || I_C || I_S || K_S || Q_C/e || Q_S/f || K)
  Writer h;
  h.string(kClientVersion);
  h.string(server_version_.line);
  h.string(client_kexinit_);
  h.string(server_kexinit);
  h.string(host_key_blob);
  if (exchange->family() == crypto::KexFamily::ecdh) {
    h.string(client_public);
    h.string(server_public);
  } else {
    h.mpint(client_public);
    h.mpint(server_public);
  }
  h.raw(k);
  auto h_input = h.take();
  const auto exchange_hash = crypto::hash(exchange->hash_name(), h_input);
  crypto::wipe(h_input);  // it holds K

  auto accepted = accept_host_key(host_key_blob, signature, exchange_hash);
  if (!accepted) co_return accepted;
  if (session_id_.empty()) session_id_ = exchange_hash;
  const auto hash_name = exchange->hash_name();
  co_return co_await switch_keys(hash_name, k, exchange_hash);
}

// Both KEXINITs: the algorithms agreed, strict kex, and the exchange to run (the one guessed, when
// the guess was right; RFC 4253 section 7.1: a wrong guess is discarded unread by both sides).
asio::awaitable<Result<std::unique_ptr<crypto::KeyExchange>>> Transport::agree_on_kex(
    const std::vector<std::uint8_t>& server_kexinit) {
  if (!kex_in_progress_) {  // the server started this exchange: answer with ours
    auto sent = co_await send_kexinit();
    if (!sent) co_return runtime::fail(std::move(sent.error()));
  }
  auto server = KexInit::parse(server_kexinit);
  if (!server) co_return runtime::fail(std::move(server.error()));
  auto client = KexInit::parse(client_kexinit_);
  auto chosen = negotiate(*client, *server);
  if (!chosen) co_return runtime::fail(std::move(chosen.error()));
  if (completed_kex_ == 0) {
    strict_kex_ = chosen->strict_kex;
    // Strict kex: the KEXINIT had to be the first packet, so its sequence number is 0.
    if (strict_kex_ && packets_->receive_sequence() != 1) {
      co_return runtime::fail(kex_error("strict key exchange: the server's KEXINIT was not its first packet"));
    }
  }
  negotiated_ = *chosen;
  options_.log.debug("kex: {}, host key: {}, ciphers: {} / {}, MACs: {} / {}{}", negotiated_.kex, negotiated_.host_key,
                     negotiated_.cipher_client_to_server, negotiated_.cipher_server_to_client,
                     negotiated_.mac_client_to_server, negotiated_.mac_server_to_client,
                     strict_kex_ ? ", strict kex" : "");
  if (completed_kex_ == 0 && options_.on_server_first_choice && !server->kex.empty() && !server->host_key.empty()) {
    options_.on_server_first_choice(ServerFirstChoice{server->kex.front(), server->host_key.front()});
  }
  // A guess is right when both sides list the same kex and host key algorithms first (everything
  // else was agreed above).
  const auto guessed_right = [&](const KexInit& guesser, const KexInit& other) {
    return !guesser.kex.empty() && !other.kex.empty() && guesser.kex[0] == other.kex[0] && !guesser.host_key.empty() &&
           !other.host_key.empty() && guesser.host_key[0] == other.host_key[0];
  };
  if (server->first_kex_packet_follows && !guessed_right(*server, *client)) {
    auto guess = co_await packets_->read_packet();
    if (!guess) co_return runtime::fail(std::move(guess.error()));
  }
  std::unique_ptr<crypto::KeyExchange> exchange = std::move(guessed_exchange_);
  if (exchange) {
    const bool right = guessed_right(*client, *server);
    if (completed_kex_ == 0) first_guess_ = right ? Guess::right : Guess::wrong;
    if (right) options_.log.debug("kex guess {} / {} was right", client->kex[0], client->host_key[0]);
    if (!right) {
      options_.log.debug("kex guess {} / {} was wrong: the server prefers {} / {}", client->kex[0], client->host_key[0],
                         server->kex.empty() ? "" : server->kex[0],
                         server->host_key.empty() ? "" : server->host_key[0]);
      exchange.reset();
    }
  }
  if (!exchange) {
    exchange = crypto::make_key_exchange(negotiated_.kex);
    if (!exchange)
      co_return runtime::fail(kex_error(fmt::format("key exchange {} is not implemented", negotiated_.kex)));
    auto init_sent = co_await send_kex_init_packet(*exchange);
    if (!init_sent) co_return runtime::fail(std::move(init_sent.error()));
  }
  co_return exchange;
}

// The server proves it holds the host key by signing the exchange hash; the key must then pass the
// caller's verifier, and a re-exchange must not bring a different one.
Result<void> Transport::accept_host_key(ConstBytes blob, ConstBytes signature, ConstBytes exchange_hash) {
  auto verified = crypto::verify_host_signature(negotiated_.host_key, blob, signature, exchange_hash);
  if (!verified) return runtime::fail(std::move(verified.error()).with("server", server_version_.line));
  HostKey key{negotiated_.host_key, {blob.begin(), blob.end()}, crypto::fingerprint_sha256(blob)};
  if (completed_kex_ > 0 && key.blob != host_key_.blob) {
    return runtime::fail(std::move(kex_error("the server's host key changed during key re-exchange")
                                       .with("before", host_key_.fingerprint)
                                       .with("now", key.fingerprint)));
  }
  auto accepted = options_.verify_host_key(key);
  if (!accepted) return runtime::fail(std::move(accepted.error()));
  host_key_ = std::move(key);
  return {};
}

// RFC 4253 section 7.2's keys for each direction, then NEWKEYS both ways: from there each
// direction uses its new keys, and strict kex restarts its sequence numbers.
asio::awaitable<Result<void>> Transport::switch_keys(const std::string& hash_name, ConstBytes k,
                                                     ConstBytes exchange_hash) {
  const auto c2s = crypto::requirements(negotiated_.cipher_client_to_server, negotiated_.mac_client_to_server);
  const auto s2c = crypto::requirements(negotiated_.cipher_server_to_client, negotiated_.mac_server_to_client);
  auto c2s_keys = derive_direction(hash_name, k, exchange_hash, session_id_, c2s, 'A');
  auto s2c_keys = derive_direction(hash_name, k, exchange_hash, session_id_, s2c, 'B');
  // Built before NEWKEYS goes out: a failure here still leaves the old keys in force both ways.
  auto sealer = crypto::make_sealer(negotiated_.cipher_client_to_server, negotiated_.mac_client_to_server, c2s_keys);
  if (!sealer) co_return runtime::fail(std::move(sealer.error()));
  auto opener = crypto::make_opener(negotiated_.cipher_server_to_client, negotiated_.mac_server_to_client, s2c_keys);
  if (!opener) co_return runtime::fail(std::move(opener.error()));

  const auto newkeys = NewKeys{}.encode();
  const bool locked = co_await send_lock_.lock();
  if (!locked) co_return runtime::fail(Errc::cancelled, Layer::kex, "key exchange cancelled");
  runtime::AsyncMutex::Unlocker unlock(send_lock_);
  auto newkeys_sent = co_await packets_->write_packet(newkeys);
  // Once NEWKEYS has left, our next packet is the server's to open with the new keys.
  if (newkeys_sent || sent_despite_cancellation(newkeys_sent.error())) {
    packets_->set_sealer(std::move(*sealer));
    if (strict_kex_) packets_->reset_send_sequence();
  }
  unlock.unlock_now();
  if (!newkeys_sent) co_return newkeys_sent;

  auto server_newkeys = co_await read_kex_message(msg::newkeys);
  if (!server_newkeys)
    co_return runtime::fail(std::move(server_newkeys.error()).while_("waiting for the server's NEWKEYS"));
  packets_->set_opener(std::move(*opener));
  if (strict_kex_) packets_->reset_receive_sequence();

  ++completed_kex_;
  last_kex_ = runtime::Clock::now();
  packets_->reset_byte_counts();
  kex_in_progress_ = false;
  kex_done_.notify();
  co_return Result<void>{};
}

Result<bool> Transport::handle_transport_message(const std::vector<std::uint8_t>& payload) {
  const std::uint8_t type = payload.empty() ? 0 : payload[0];
  switch (type) {
    case msg::ignore:
      return true;
    case msg::debug: {
      // Only ever logged: a malformed one is dropped like an IGNORE.
      const auto debug = Debug::parse(payload);
      if (debug) options_.log.debug("server debug message: {}", runtime::printable(debug->message));
      return true;
    }
    case msg::unimplemented: {
      const auto unimplemented = Unimplemented::parse(payload);
      if (!unimplemented) return true;  // it names no packet of ours, so nothing waits on it
      const std::uint32_t sequence = unimplemented->packet_sequence_number;
      // OpenSSH's sshd refuses a re-exchange while it authenticates: carry on with the current
      // keys rather than hold every write back for an exchange that will not come.
      if (kex_in_progress_ && completed_kex_ > 0 && sequence == client_kexinit_sequence_) {
        options_.log.info("the server refused our key re-exchange; keeping the current keys");
        kex_in_progress_ = false;
        kex_done_.notify();
        return true;
      }
      options_.log.debug("server did not implement our packet {}", sequence);
      return true;
    }
    case msg::ext_info: {
      auto info = ExtInfo::parse(payload);
      if (!info) return runtime::fail(std::move(info.error()));
      for (const auto& [name, value] : info->extensions) {
        // The value's bytes are the comma-separated list itself (RFC 8308 section 3.1).
        if (name == "server-sig-algs") server_sig_algs_ = split_names(value);
      }
      return true;
    }
    case msg::disconnect: {
      // The server is gone whatever its message says: a malformed one ends the connection too.
      auto parsed = Disconnect::parse(payload);
      const Disconnect disconnect = parsed ? std::move(*parsed) : Disconnect{};
      return runtime::fail(
          std::move(Error(Errc::end_of_stream, Layer::transport,
                          fmt::format("the server disconnected: {}", disconnect_reason_name(disconnect.reason_code)))
                        .with("reason code", std::to_string(disconnect.reason_code))
                        .with("server said", disconnect.description)));
    }
  }
  return false;
}

bool Transport::rekey_due() const {
  if (!authenticated_) return false;
  return packets_->bytes_sent() >= options_.rekey_after_bytes ||
         packets_->bytes_received() >= options_.rekey_after_bytes ||
         runtime::Clock::now() - last_kex_ >= options_.rekey_after_time;
}

void Transport::authenticated() {
  authenticated_ = true;
  packets_->set_stall_budget(std::nullopt);  // an idle connection is not a stalled one
}

void Transport::mark_broken(const Error& error) {
  if (!broken_) broken_ = error;
  kex_done_.notify();
}

asio::awaitable<Result<std::vector<std::uint8_t>>> Transport::read_message() {
  for (;;) {
    auto packet = co_await packets_->read_packet();
    if (!packet) {
      mark_broken(packet.error());
      co_return packet;
    }
    if (!packet->empty() && (*packet)[0] == msg::kexinit) {
      auto done = co_await run_kex(std::move(*packet));
      if (!done) {
        mark_broken(done.error());
        co_return runtime::fail(std::move(done.error()));
      }
      continue;
    }
    auto handled = handle_transport_message(*packet);
    if (!handled) {
      mark_broken(handled.error());
      co_return runtime::fail(std::move(handled.error()));
    }
    if (!*handled) co_return packet;
  }
}

asio::awaitable<Result<void>> Transport::request_rekey() {
  if (kex_in_progress_) co_return Result<void>{};
  co_return co_await send_kexinit();
}

asio::awaitable<Result<void>> Transport::write_message(std::span<const std::uint8_t> payload) {
  // Messages leave in the order they were sent: a CLOSE must not overtake the same channel's EOF.
  // So the place in line is taken first, before the KEXINIT of a re-exchange that is due, whose
  // sending suspends: a CLOSE the reader queued meanwhile would otherwise get ahead, and the EOF
  // would reach a server that has freed the channel (sshd then ends the connection).
  auto place = message_order_.reserve();
  co_return co_await write_message(payload, std::move(place));
}

asio::awaitable<Result<void>> Transport::write_message(std::span<const std::uint8_t> payload,
                                                       runtime::AsyncMutex::Place place) {
  const bool in_line = co_await message_order_.lock(std::move(place));
  if (!in_line) co_return runtime::fail(Errc::cancelled, Layer::transport, "write cancelled");
  const runtime::AsyncMutex::Unlocker unlock(message_order_);
  if (!kex_in_progress_ && rekey_due()) {
    auto started = co_await request_rekey();
    if (!started) co_return started;
  }
  co_return co_await write_outside_kex(payload);
}

asio::awaitable<Result<void>> Transport::write_outside_kex(std::span<const std::uint8_t> payload) {
  // Only key exchange messages may follow our KEXINIT until NEWKEYS (RFC 4253 section 7.1). An
  // exchange can start while we wait for the packet lock, so the check is repeated holding it.
  for (;;) {
    while (kex_in_progress_ && !broken_) {
      const bool woken = co_await kex_done_.wait();
      if (!woken)
        co_return runtime::fail(Errc::cancelled, Layer::transport, "write cancelled while keys were exchanged");
    }
    if (broken_) co_return runtime::fail(*broken_);
    const bool locked = co_await send_lock_.lock();
    if (!locked) co_return runtime::fail(Errc::cancelled, Layer::transport, "write cancelled");
    if (!kex_in_progress_) break;
    send_lock_.unlock();
  }
  const runtime::AsyncMutex::Unlocker unlock(send_lock_);
  co_return co_await packets_->write_packet(payload);
}

asio::awaitable<Result<void>> Transport::write_disconnect(std::vector<std::uint8_t> message) {
  const bool locked = co_await send_lock_.lock();
  if (!locked) co_return runtime::fail(Errc::cancelled, Layer::transport, "DISCONNECT cancelled");
  const runtime::AsyncMutex::Unlocker unlock(send_lock_);
  co_return co_await packets_->write_final_packet(message);
}

asio::awaitable<void> Transport::disconnect(DisconnectReason reason, std::string_view description) {
  auto message = Disconnect{static_cast<std::uint32_t>(reason), std::string(description), ""}.encode();
  // Its Result is not needed: the connection ends whether or not the server hears why. A stream
  // that does not take it in time (a peer that stopped reading, a write of ours stuck behind one)
  // is closed all the same, which ends that write too.
  auto sending = write_disconnect(std::move(message));
  std::string what = "sending DISCONNECT";
  [[maybe_unused]] auto sent = co_await runtime::with_deadline(runtime::Deadline::after(kDisconnectBudget),
                                                               std::move(sending), Layer::transport, std::move(what));
  mark_broken(Error(Errc::stream_closed, Layer::transport, "the connection was closed"));
  co_await stream_.close();
}

}  // namespace cr::ssh
