// The server's KEX reply under every key exchange and host key algorithm we implement: the reply's
// fields, the server's public value checks (curve25519 length and the all-zero secret, NIST points
// on the curve, DH f in range), the agreement, and the host key blob and signature blob parsing of
// ssh-ed25519, ecdsa-sha2-nistp* and RSA keys; for the hybrids (mlkem768x25519, sntrup761x25519)
// the length checks and the decapsulation of whatever ciphertext the input holds. Input: one byte
// choosing the key exchange, one choosing the host key algorithm, then the reply's payload (message
// number 31 first).

#include <map>
#include <memory>
#include <vector>

#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/sntrup761.hpp"
#include "support/deterministic_bytes.hpp"
#include "ssh/transport_messages.hpp"

using namespace cr;

namespace {

// Our half of each exchange made once, from a fixed private key: making keys (an 8192-bit DH
// group's) would cost more than the parsing under test. Never destroyed: the keys' secure memory
// belongs to Botan's pool, which static destruction may already have taken down.
ssh::crypto::KeyExchange& exchange_for(const std::string& name) {
  static auto& made = *new std::map<std::string, std::unique_ptr<ssh::crypto::KeyExchange>>;
  auto& exchange = made[name];
  if (!exchange) {
    std::vector<std::uint8_t> private_key;
    if (name.starts_with("sntrup761x25519")) {
      // The KEM's secret key comes first, made from a fixed byte stream.
      test::DeterministicBytes stream(0x42);
      const auto pair = ssh::crypto::sntrup761::generate_key_pair(
          [&stream](std::span<std::uint8_t> out) { stream.fill(out.data(), out.size()); });
      private_key.assign(pair.secret_key.begin(), pair.secret_key.end());
    }
    if (name.starts_with("mlkem768x25519")) private_key.assign(64, 0x42);  // the ML-KEM seed d || z
    private_key.insert(private_key.end(), 32, 0x42);
    exchange = ssh::crypto::make_key_exchange_for_test(name, private_key);
  }
  return *exchange;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto& kex_names = ssh::crypto::supported_kex();
  const auto& host_key_names = ssh::crypto::supported_host_key_algorithms();
  const auto& kex = kex_names[data[0] % kex_names.size()];
  const auto& host_key_algorithm = host_key_names[data[1] % host_key_names.size()];
  auto& exchange = exchange_for(kex);

  auto reply = ssh::parse_kex_reply({data + 2, size - 2}, exchange.family());
  if (!reply) return 0;
  (void)exchange.shared_secret(reply->server_public);
  (void)ssh::crypto::key_blob_type(reply->host_key_blob);
  (void)ssh::crypto::fingerprint_sha256(reply->host_key_blob);
  // The exchange hash itself is the transport's; any bytes serve to reach the signature's checks.
  const auto exchange_hash = ssh::crypto::hash(exchange.hash_name(), reply->server_public);
  (void)ssh::crypto::verify_host_signature(host_key_algorithm, reply->host_key_blob, reply->signature, exchange_hash);
  return 0;
}
