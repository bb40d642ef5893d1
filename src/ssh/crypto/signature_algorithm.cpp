#include "ssh/crypto/signature_algorithm.hpp"

#include <algorithm>
#include <array>

namespace cr::ssh::crypto {
namespace {

constexpr std::array kAlgorithms{
    SignatureAlgorithm{"ssh-ed25519", "ssh-ed25519", Scheme::ed25519, "Pure", "", "", ""},
    SignatureAlgorithm{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", Scheme::ecdsa, "SHA-256", "nistp256", "secp256r1",
                       ""},
    SignatureAlgorithm{"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", Scheme::ecdsa, "SHA-384", "nistp384", "secp384r1",
                       ""},
    SignatureAlgorithm{"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", Scheme::ecdsa, "SHA-512", "nistp521", "secp521r1",
                       ""},
    SignatureAlgorithm{"rsa-sha2-512", "ssh-rsa", Scheme::rsa, "PKCS1v15(SHA-512)", "", "", "SHA-512"},
    SignatureAlgorithm{"rsa-sha2-256", "ssh-rsa", Scheme::rsa, "PKCS1v15(SHA-256)", "", "", "SHA-256"},
    SignatureAlgorithm{"ssh-rsa", "ssh-rsa", Scheme::rsa, "PKCS1v15(SHA-1)", "", "", "SHA-1"},
};

template <class Predicate>
const SignatureAlgorithm* find_first(Predicate matches) {
  const auto* found = std::find_if(kAlgorithms.begin(), kAlgorithms.end(), matches);
  return found == kAlgorithms.end() ? nullptr : found;
}

}  // namespace

std::span<const SignatureAlgorithm> signature_algorithm_table() { return kAlgorithms; }

const SignatureAlgorithm* find_signature_algorithm(std::string_view name) {
  return find_first([&](const SignatureAlgorithm& a) { return a.name == name; });
}

const SignatureAlgorithm* find_by_key_type(std::string_view key_type) {
  return find_first([&](const SignatureAlgorithm& a) { return a.key_type == key_type; });
}

}  // namespace cr::ssh::crypto
