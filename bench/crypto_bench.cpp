// Micro-benchmarks of the crypto paths a connection spends its CPU in, through src/ssh/crypto/'s
// interfaces (Botan stays behind them): sealing and opening packets for each cipher mode, the
// client's half of a curve25519 key exchange, and verifying the host key's signature.
//
//   build/bench/crypto_bench [Google Benchmark flags]   (bench/run runs it with the others)

#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/packet_cipher.hpp"

namespace {

using namespace cr::ssh::crypto;
using ByteVector = std::vector<std::uint8_t>;

ByteVector random_bytes(std::size_t size) {
  static std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  ByteVector out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(byte(rng));
  return out;
}

SecretBytes random_secret(std::size_t size) {
  const auto bytes = random_bytes(size);
  return SecretBytes(bytes.begin(), bytes.end());
}

DirectionKeys keys_for(const std::string& cipher, const std::string& mac) {
  const CipherRequirements needed = requirements(cipher, mac);
  return {random_secret(needed.iv_size), random_secret(needed.key_size), random_secret(needed.mac_key_size)};
}

// A padded plaintext packet (RFC 4253 section 6) carrying `payload_size` bytes, with the sealer's
// tag_size() spare bytes behind it.
ByteVector plaintext_packet(const PacketSealer& sealer, std::size_t payload_size) {
  const std::size_t block = sealer.block_size();
  const std::size_t counted = 1 + payload_size + (sealer.length_outside_padding() ? 0 : 4);
  std::size_t padding = block - counted % block;
  if (padding < 4) padding += block;
  const auto length = static_cast<std::uint32_t>(1 + payload_size + padding);
  ByteVector packet{static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
                    static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length),
                    static_cast<std::uint8_t>(padding)};
  const auto body = random_bytes(payload_size + padding);
  packet.insert(packet.end(), body.begin(), body.end());
  packet.resize(packet.size() + sealer.tag_size());
  return packet;
}

void seal(benchmark::State& state, std::string cipher, std::string mac) {
  const auto payload_size = static_cast<std::size_t>(state.range(0));
  auto sealer = make_sealer(cipher, mac, keys_for(cipher, mac)).value();
  auto packet = plaintext_packet(*sealer, payload_size);
  std::uint32_t sequence = 0;
  for (auto _ : state) {
    sealer->seal(sequence++, packet);
    benchmark::DoNotOptimize(packet.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_size));
}

// Opens, in order, packets one sealer sealed in turn, as the packet layer does: the length from the
// first block, then the whole packet. An opener's state moves on with each packet (the GCM nonce,
// the CTR keystream), so after the last one a fresh opener starts over, outside the timing.
void open(benchmark::State& state, std::string cipher, std::string mac) {
  constexpr std::uint32_t kPackets = 256;
  const auto payload_size = static_cast<std::size_t>(state.range(0));
  const auto keys = keys_for(cipher, mac);
  auto sealer = make_sealer(cipher, mac, keys).value();
  std::vector<ByteVector> sealed;
  for (std::uint32_t sequence = 0; sequence < kPackets; ++sequence) {
    sealed.push_back(plaintext_packet(*sealer, payload_size));
    sealer->seal(sequence, sealed.back());
  }
  auto opener = make_opener(cipher, mac, keys).value();
  ByteVector packet(sealed.front().size());
  std::uint32_t sequence = 0;
  for (auto _ : state) {
    if (sequence == kPackets) {
      state.PauseTiming();
      opener = make_opener(cipher, mac, keys).value();
      sequence = 0;
      state.ResumeTiming();
    }
    packet = sealed[sequence];  // opening decrypts in place
    const auto first = Bytes(packet.data(), opener->first_block_size());
    benchmark::DoNotOptimize(opener->packet_length(sequence, first));
    if (!opener->open(sequence, packet)) {
      state.SkipWithError("a packet we sealed did not open");
      break;
    }
    ++sequence;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_size));
}

// The client's half of one exchange: a fresh key pair, then the shared secret with the server's
// public value.
void key_exchange(benchmark::State& state, std::string method) {
  const auto server_public = make_key_exchange(method)->client_public();
  for (auto _ : state) {
    auto exchange = make_key_exchange(method);
    benchmark::DoNotOptimize(exchange->client_public());
    auto secret = exchange->shared_secret(server_public);
    if (!secret) {
      state.SkipWithError("the exchange failed");
      break;
    }
    benchmark::DoNotOptimize(secret->data());
  }
}

ByteVector from_hex(const std::string& hex) {
  ByteVector out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The first (valid) block for each algorithm in the host key known answers: a real key, data and
// signature made by ssh-keygen.
std::map<std::string, std::map<std::string, std::string>> host_key_answers() {
  std::map<std::string, std::map<std::string, std::string>> first_of_each;
  std::ifstream file(CODER_RUNTIME_HOST_KEY_KAT);
  std::map<std::string, std::string> block;
  auto finish = [&] {
    if (block.count("algorithm") && !block.count("rejected")) first_of_each.emplace(block["algorithm"], block);
    block.clear();
  };
  for (std::string line; std::getline(file, line);) {
    if (line.empty()) finish();
    const auto equals = line.find(" = ");
    if (line.starts_with("#") || equals == std::string::npos) continue;
    block[line.substr(0, equals)] = line.substr(equals + 3);
  }
  finish();
  return first_of_each;
}

void verify(benchmark::State& state, std::string algorithm) {
  const auto answers = host_key_answers();
  const auto found = answers.find(algorithm);
  if (found == answers.end()) {
    state.SkipWithError("no known answer for this algorithm");
    return;
  }
  const auto key = from_hex(found->second.at("key_blob"));
  const auto data = from_hex(found->second.at("data"));
  const auto signature = from_hex(found->second.at("signature_blob"));
  for (auto _ : state) {
    if (!verify_host_signature(algorithm, key, signature, data)) {
      state.SkipWithError("the known-answer signature did not verify");
      break;
    }
  }
}

// The bulk payload (a 32 KiB channel data packet) and a keystroke-sized one.
void payload_sizes(benchmark::internal::Benchmark* b) { b->Arg(32 * 1024)->Arg(64); }

BENCHMARK_CAPTURE(seal, chacha20_poly1305, std::string("chacha20-poly1305@openssh.com"), std::string())
    ->Apply(payload_sizes);
BENCHMARK_CAPTURE(open, chacha20_poly1305, std::string("chacha20-poly1305@openssh.com"), std::string())
    ->Apply(payload_sizes);
BENCHMARK_CAPTURE(seal, aes128_gcm, std::string("aes128-gcm@openssh.com"), std::string())->Apply(payload_sizes);
BENCHMARK_CAPTURE(open, aes128_gcm, std::string("aes128-gcm@openssh.com"), std::string())->Apply(payload_sizes);
BENCHMARK_CAPTURE(seal, aes256_gcm, std::string("aes256-gcm@openssh.com"), std::string())->Apply(payload_sizes);
BENCHMARK_CAPTURE(open, aes256_gcm, std::string("aes256-gcm@openssh.com"), std::string())->Apply(payload_sizes);
BENCHMARK_CAPTURE(seal, aes128_ctr_hmac_sha256_etm, std::string("aes128-ctr"),
                  std::string("hmac-sha2-256-etm@openssh.com"))
    ->Apply(payload_sizes);
BENCHMARK_CAPTURE(open, aes128_ctr_hmac_sha256_etm, std::string("aes128-ctr"),
                  std::string("hmac-sha2-256-etm@openssh.com"))
    ->Apply(payload_sizes);
BENCHMARK_CAPTURE(key_exchange, curve25519_sha256, std::string("curve25519-sha256"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(key_exchange, ecdh_nistp256, std::string("ecdh-sha2-nistp256"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(verify, ssh_ed25519, std::string("ssh-ed25519"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(verify, rsa_sha2_256, std::string("rsa-sha2-256"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(verify, rsa_sha2_512, std::string("rsa-sha2-512"))->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
