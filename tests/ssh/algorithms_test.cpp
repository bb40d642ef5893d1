#include <catch2/catch.hpp>

#include "ssh/algorithms.hpp"
#include "ssh/pattern.hpp"
#include "ssh/transport_messages.hpp"

using namespace cr;
using ssh::AlgorithmCategory;
using ssh::NameList;

TEST_CASE("ssh_config list edits: replace, +append, -remove with patterns, ^front", "[algorithms]") {
  const NameList defaults{"a", "b-etm", "c", "d-etm"};
  const NameList implemented{"a", "b-etm", "c", "d-etm", "e"};
  const auto edit = [&](std::string_view spec) {
    return ssh::edit_algorithm_list(AlgorithmCategory::macs, defaults, spec, implemented);
  };
  CHECK(*edit("c,a") == NameList{"c", "a"});
  CHECK(*edit("+e") == NameList{"a", "b-etm", "c", "d-etm", "e"});
  CHECK(*edit("-*-etm") == NameList{"a", "c"});
  CHECK(*edit("^c") == NameList{"c", "a", "b-etm", "d-etm"});
  auto unknown = edit("+hmac-md5");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message == "MACs: unsupported algorithm \"hmac-md5\"");
  CHECK(unknown.error().find_evidence("supported")->text == "a,b-etm,c,d-etm,e");
  CHECK_FALSE(edit("-*"));
}

TEST_CASE("patterns match like OpenSSH's", "[algorithms]") {
  CHECK(ssh::match_pattern("hmac-sha2-256-etm@openssh.com", "*-etm@openssh.com"));
  CHECK(ssh::match_pattern("ws.coder", "*.coder"));
  CHECK(ssh::match_pattern("host1", "host?"));
  CHECK_FALSE(ssh::match_pattern("host10", "host?"));
  CHECK_FALSE(ssh::match_pattern("coder", "*.coder"));
  CHECK(ssh::match_pattern("", "*"));
  CHECK(ssh::match_pattern(std::string(200, 'a'), std::string(50, '*') + "b*") == false);
}

TEST_CASE("a KEXINIT survives encode and parse", "[algorithms]") {
  ssh::KexInit k;
  k.cookie.fill(7);
  k.kex = {"curve25519-sha256", "ext-info-c"};
  k.host_key = {"ssh-ed25519"};
  k.ciphers_client_to_server = k.ciphers_server_to_client = {"aes128-ctr"};
  k.macs_client_to_server = k.macs_server_to_client = {"hmac-sha2-256"};
  k.compression_client_to_server = k.compression_server_to_client = {"none"};
  k.first_kex_packet_follows = true;
  auto parsed = ssh::KexInit::parse(k.encode());
  REQUIRE(parsed);
  CHECK(parsed->cookie == k.cookie);
  CHECK(parsed->kex == k.kex);
  CHECK(parsed->macs_server_to_client == k.macs_server_to_client);
  CHECK(parsed->languages_client_to_server.empty());
  CHECK(parsed->first_kex_packet_follows);
  auto truncated = k.encode();
  truncated.resize(40);
  CHECK_FALSE(ssh::KexInit::parse(truncated));
}

TEST_CASE("negotiation picks the client's first choice the server has, never a pseudo-algorithm", "[algorithms]") {
  ssh::KexInit client, server;
  client.kex = {"ext-info-c", "curve25519-sha256", "ecdh-sha2-nistp256", "kex-strict-c-v00@openssh.com"};
  server.kex = {"ecdh-sha2-nistp256", "curve25519-sha256", "ext-info-c", "kex-strict-s-v00@openssh.com"};
  client.host_key = {"ssh-ed25519", "rsa-sha2-512"};
  server.host_key = {"rsa-sha2-512"};
  client.ciphers_client_to_server = client.ciphers_server_to_client = {"aes128-gcm@openssh.com", "aes128-ctr"};
  server.ciphers_client_to_server = {"aes128-ctr", "aes128-gcm@openssh.com"};
  server.ciphers_server_to_client = {"aes128-ctr"};
  client.macs_client_to_server = client.macs_server_to_client = {"hmac-sha2-256"};
  server.macs_client_to_server = server.macs_server_to_client = {"hmac-sha2-512", "hmac-sha2-256"};
  client.compression_client_to_server = client.compression_server_to_client = {"none"};
  server.compression_client_to_server = server.compression_server_to_client = {"none", "zlib@openssh.com"};
  auto n = ssh::negotiate(client, server);
  REQUIRE(n);
  CHECK(n->kex == "curve25519-sha256");
  CHECK(n->host_key == "rsa-sha2-512");
  CHECK(n->cipher_client_to_server == "aes128-gcm@openssh.com");
  CHECK(n->mac_client_to_server.empty());  // AEAD: no MAC
  CHECK(n->cipher_server_to_client == "aes128-ctr");
  CHECK(n->mac_server_to_client == "hmac-sha2-256");
  CHECK(n->strict_kex);
  server.kex = {"diffie-hellman-group1-sha1", "ext-info-c"};
  auto none = ssh::negotiate(client, server);
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "no key exchange algorithm in common with the server");
  CHECK(none.error().find_evidence("server offered")->text == "diffie-hellman-group1-sha1,ext-info-c");
}
