#include "ssh/algorithms.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/packet_cipher.hpp"
#include "ssh/pattern.hpp"
#include "ssh/transport_messages.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

AlgorithmPreferences AlgorithmPreferences::defaults() {
  return {crypto::supported_kex(), crypto::supported_host_key_algorithms(), crypto::supported_ciphers(),
          crypto::supported_macs()};
}

std::string_view option_name(AlgorithmCategory category) {
  switch (category) {
    case AlgorithmCategory::kex:
      return "KexAlgorithms";
    case AlgorithmCategory::host_key:
      return "HostKeyAlgorithms";
    case AlgorithmCategory::ciphers:
      return "Ciphers";
    case AlgorithmCategory::macs:
      return "MACs";
  }
  return "?";
}

NameList split_names(std::string_view text) {
  NameList names;
  while (!text.empty()) {
    const auto comma = text.find(',');
    if (auto name = text.substr(0, comma); !name.empty()) names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return names;
}

namespace {

std::string join(const NameList& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

bool contains(const NameList& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

bool same_host_key(std::string_view algorithm, std::string_view other) {
  return crypto::key_type_for(algorithm) == crypto::key_type_for(other);
}

bool lead_with(AlgorithmPreferences& preferences, const ServerFirstChoice& choice) {
  const auto to_front = [](NameList& names, const std::string& name) {
    const auto found = std::find(names.begin(), names.end(), name);
    if (found == names.end()) return false;
    std::rotate(names.begin(), found, std::next(found));
    return true;
  };
  const bool host_key_led = to_front(preferences.host_key, choice.host_key);
  const bool kex_led = to_front(preferences.kex, choice.kex);
  return host_key_led && kex_led;
}

runtime::Result<NameList> edit_algorithm_list(AlgorithmCategory category, const NameList& defaults,
                                              std::string_view spec, const NameList& implemented) {
  const char op = spec.empty() ? '\0' : spec.front();
  const bool is_edit = op == '+' || op == '-' || op == '^';
  const NameList names = split_names(is_edit ? spec.substr(1) : spec);
  if (op != '-') {
    for (const auto& name : names) {
      if (!contains(implemented, name)) {
        return runtime::fail(
            std::move(Error(Errc::invalid_argument, Layer::kex,
                            fmt::format("{}: unsupported algorithm \"{}\"", option_name(category), name))
                          .with("supported", join(implemented))));
      }
    }
  }
  NameList result;
  switch (op) {
    case '+':
      result = defaults;
      for (const auto& name : names) {
        if (!contains(result, name)) result.push_back(name);
      }
      break;
    case '-':
      for (const auto& name : defaults) {
        const bool removed =
            std::any_of(names.begin(), names.end(), [&](const auto& p) { return match_pattern(name, p); });
        if (!removed) result.push_back(name);
      }
      break;
    case '^':
      result = names;
      for (const auto& name : defaults) {
        if (!contains(result, name)) result.push_back(name);
      }
      break;
    default:
      result = names;
  }
  if (result.empty()) {
    return runtime::fail(Errc::invalid_argument, Layer::kex,
                         fmt::format("{} \"{}\" leaves no algorithm to offer", option_name(category), spec));
  }
  return result;
}

namespace {

runtime::Result<std::string> choose(std::string_view category, const NameList& ours, const NameList& theirs) {
  for (const auto& name : ours) {
    if (contains(theirs, name)) return name;
  }
  return runtime::fail(std::move(
      Error(Errc::protocol_error, Layer::kex, fmt::format("no {} algorithm in common with the server", category))
          .with("we offered", join(ours))
          .with("server offered", join(theirs))));
}

// Ours without the pseudo-algorithms, so they are never chosen as a key exchange.
NameList real_kex(const NameList& names) {
  NameList out;
  for (const auto& n : names) {
    if (n != kExtInfoClient && n != kExtInfoServer && n != kStrictKexClient && n != kStrictKexServer) out.push_back(n);
  }
  return out;
}

}  // namespace

runtime::Result<Negotiated> negotiate(const KexInit& client, const KexInit& server) {
  Negotiated n;
  auto kex = choose("key exchange", real_kex(client.kex), server.kex);
  if (!kex) return runtime::fail(std::move(kex.error()));
  n.kex = *kex;
  auto host_key = choose("host key", client.host_key, server.host_key);
  if (!host_key) return runtime::fail(std::move(host_key.error()));
  n.host_key = *host_key;
  auto c2s = choose("cipher (client to server)", client.ciphers_client_to_server, server.ciphers_client_to_server);
  if (!c2s) return runtime::fail(std::move(c2s.error()));
  auto s2c = choose("cipher (server to client)", client.ciphers_server_to_client, server.ciphers_server_to_client);
  if (!s2c) return runtime::fail(std::move(s2c.error()));
  n.cipher_client_to_server = *c2s;
  n.cipher_server_to_client = *s2c;
  // An AEAD cipher authenticates by itself: the MAC lists are not consulted for its direction.
  if (!crypto::requirements(*c2s, "").aead) {
    auto mac = choose("MAC (client to server)", client.macs_client_to_server, server.macs_client_to_server);
    if (!mac) return runtime::fail(std::move(mac.error()));
    n.mac_client_to_server = *mac;
  }
  if (!crypto::requirements(*s2c, "").aead) {
    auto mac = choose("MAC (server to client)", client.macs_server_to_client, server.macs_server_to_client);
    if (!mac) return runtime::fail(std::move(mac.error()));
    n.mac_server_to_client = *mac;
  }
  for (auto [category, ours, theirs] :
       {std::tuple{"compression (client to server)", &client.compression_client_to_server,
                   &server.compression_client_to_server},
        std::tuple{"compression (server to client)", &client.compression_server_to_client,
                   &server.compression_server_to_client}}) {
    auto chosen = choose(category, *ours, *theirs);
    if (!chosen) return runtime::fail(std::move(chosen.error()));
  }
  n.strict_kex = contains(client.kex, kStrictKexClient) && contains(server.kex, kStrictKexServer);
  return n;
}

}  // namespace cr::ssh
