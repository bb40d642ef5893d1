#pragma once
// Which algorithms we offer, the OpenSSH-style edits a user makes to them, and what negotiation
// (RFC 4253 section 7.1, over the two KEXINITs: ssh/transport_messages.hpp) agreed on.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace cr::ssh {

using NameList = std::vector<std::string>;

// "a,b,c" -> {"a", "b", "c"}; empty names are dropped.
NameList split_names(std::string_view text);

struct AlgorithmPreferences {
  NameList kex;
  NameList host_key;
  NameList ciphers;
  NameList macs;

  // Our defaults: everything we implement, fastest and strongest first (ssh-rsa/SHA-1 left out).
  static AlgorithmPreferences defaults();
};

// What a server lists first in its KEXINIT: the guess for first_kex_packet_follows next time.
struct ServerFirstChoice {
  std::string kex;
  std::string host_key;
  bool operator==(const ServerFirstChoice&) const = default;
};

// Moves the server's first choices to the front of our lists, each only when we offer it, so that
// our guess is right. False when a guess cannot be right (a name we do not offer, or empty).
bool lead_with(AlgorithmPreferences& preferences, const ServerFirstChoice& choice);

// Whether two host key algorithms sign with the same kind of key (rsa-sha2-512 and rsa-sha2-256
// both use an ssh-rsa key; every other algorithm is its own).
bool same_host_key(std::string_view algorithm, std::string_view other);

enum class AlgorithmCategory { kex, host_key, ciphers, macs };
std::string_view option_name(AlgorithmCategory category);  // "KexAlgorithms", "HostKeyAlgorithms", ...

// Applies an ssh_config(5) value to a default list: "a,b" replaces it, "+a,b" appends, "-a,b"
// removes (patterns allowed), "^a,b" moves to the front. Names we do not implement are an error.
runtime::Result<NameList> edit_algorithm_list(AlgorithmCategory category, const NameList& defaults,
                                              std::string_view spec, const NameList& implemented);

// Pseudo-algorithms in the kex list that signal extensions, not key exchanges.
inline constexpr std::string_view kExtInfoClient = "ext-info-c";
inline constexpr std::string_view kExtInfoServer = "ext-info-s";
inline constexpr std::string_view kStrictKexClient = "kex-strict-c-v00@openssh.com";
inline constexpr std::string_view kStrictKexServer = "kex-strict-s-v00@openssh.com";

struct Negotiated {
  std::string kex;
  std::string host_key;
  std::string cipher_client_to_server;
  std::string cipher_server_to_client;
  std::string mac_client_to_server;  // empty for AEAD ciphers
  std::string mac_server_to_client;
  bool strict_kex = false;  // both sides offered strict kex (only read on the first kex)
};

}  // namespace cr::ssh
