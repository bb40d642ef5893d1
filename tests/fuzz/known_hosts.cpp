// known_hosts files: markers, host patterns (negation, wildcards, [host]:port), hashed names,
// key types and base64 keys, comments; then lookups as a connection makes them, for the key of the
// file's first valid line and for a key it does not hold.

#include <array>

#include "ssh/known_hosts.hpp"

using namespace cr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto known = ssh::parse_known_hosts(text, "fuzz_known_hosts");
  const std::array<std::uint8_t, 4> other_key{0, 0, 0, 0};
  for (const auto& [host, port] : {std::pair<std::string_view, std::uint16_t>{"example.com", 22}, {"10.0.0.1", 2222}}) {
    for (const auto& line : known.lines) (void)line.matches_host(ssh::known_hosts_name(host, port));
    if (!known.lines.empty()) {
      const auto& first = known.lines.front();
      (void)ssh::lookup_host_key(known, host, port, first.key_type, first.key_blob);
    }
    (void)ssh::lookup_host_key(known, host, port, "ssh-ed25519", other_key);
  }
  return 0;
}
