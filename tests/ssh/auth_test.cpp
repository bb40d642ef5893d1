// Authentication against real servers: publickey with every key type on OpenSSH's sshd (keys from
// ssh-keygen, listed in an AuthorizedKeysFile in the fixture's folder), RSA signature algorithms
// as server-sig-algs allow, and refusals that say which key and why.

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "ssh/crypto/host_key.hpp"
#include "ssh/identity.hpp"
#include "support/files.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"
#include "support/sshd.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPassphrase = "auth test passphrase";

class KeyRing {
 public:
  // A new key from ssh-keygen; `spec` is its arguments.
  fs::path make(const std::string& spec, std::string_view passphrase = "") {
    const auto path = directory_.path() / fmt::format("id_{}", count_++);
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q {} -N '{}' -C 'key {}' -f {}", spec, passphrase, count_,
                                          path.string())) == 0);
    return path;
  }

  static void authorize(const test::Sshd& sshd, const fs::path& key) {
    std::ofstream(sshd.authorized_keys(), std::ios::app) << test::read_text(key.string() + ".pub");
  }

  static ssh::Identity load(const fs::path& key, std::string_view passphrase = "") {
    ssh::IdentityFileOptions options;
    options.passphrase = [passphrase](const std::string&, int) { return std::optional<std::string>(passphrase); };
    auto identity = ssh::load_identity_file(key, options);
    INFO((identity ? "" : identity.error().summary()));
    REQUIRE(identity);
    return std::move(*identity);
  }

 private:
  test::TemporaryDirectory directory_{"auth_test"};
  int count_ = 0;
};

// sshd taking public keys only. Root may log in with a key (PermitRootLogin's default,
// prohibit-password); StrictModes is off in the fixture.
struct AuthorizedSshd {
  explicit AuthorizedSshd(const std::string& extra_config = "")
      : sshd(extra_config + "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n") {}
  test::Sshd sshd;
};

ssh::AuthOptions as_root(std::vector<ssh::Identity> identities) {
  ssh::AuthOptions auth;
  auth.user = "root";
  auth.identities = std::move(identities);
  return auth;
}

}  // namespace

TEST_CASE("sshd: publickey with each key type, an encrypted key among them, then a command runs", "[auth][sshd]") {
  const auto [spec, passphrase] = GENERATE(values<std::pair<std::string, std::string_view>>({
      {"-t ed25519", ""},
      {"-t ecdsa -b 256", ""},
      {"-t ecdsa -b 384", ""},
      {"-t ecdsa -b 521", ""},
      {"-t rsa -b 2048", ""},
      {"-t ed25519 -Z aes256-gcm@openssh.com", kPassphrase},
      {"-t ecdsa -b 256", kPassphrase},
      {"-t rsa -b 3072 -m PEM", ""},
  }));
  INFO(spec);
  KeyRing keys;
  AuthorizedSshd server;
  const auto key = keys.make(spec, passphrase);
  KeyRing::authorize(server.sshd, key);
  ssh::ClientOptions options;
  options.auth = as_root({KeyRing::load(key, passphrase)});
  auto ran = test::run(test::exec_through(server.sshd.proxy_command(), std::move(options), "echo authenticated"));
  INFO((ran ? "" : ran.error().detailed()));
  REQUIRE(ran);
  CHECK(ran->stdout_data == "authenticated\n");
}

TEST_CASE("the signature algorithm follows server-sig-algs, SHA-1 only when listed", "[auth]") {
  const std::vector<std::string> rsa{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"};
  CHECK(ssh::choose_signature_algorithm(rsa, {}) == "rsa-sha2-512");
  CHECK(ssh::choose_signature_algorithm(rsa, {"ssh-ed25519", "rsa-sha2-256", "rsa-sha2-512"}) == "rsa-sha2-512");
  CHECK(ssh::choose_signature_algorithm(rsa, {"ssh-ed25519", "rsa-sha2-256"}) == "rsa-sha2-256");
  CHECK(ssh::choose_signature_algorithm(rsa, {"ssh-ed25519", "ssh-rsa"}) == "ssh-rsa");
  // A list without any of the key's algorithms: try the best anyway; the server decides.
  CHECK(ssh::choose_signature_algorithm(rsa, {"ssh-ed25519"}) == "rsa-sha2-512");
  CHECK(ssh::choose_signature_algorithm({"ssh-ed25519"}, {"rsa-sha2-512"}) == "ssh-ed25519");
}

TEST_CASE("sshd: an RSA key signs with rsa-sha2-512; a server refusing it says which algorithm was refused",
          "[auth][sshd]") {
  KeyRing keys;
  const auto key = keys.make("-t rsa -b 2048");
  {
    AuthorizedSshd server;
    KeyRing::authorize(server.sshd, key);
    auto authenticated = test::run(test::authenticate_through(server.sshd.proxy_command(), as_root({KeyRing::load(key)})));
    INFO((authenticated ? "" : authenticated.error().detailed()));
    REQUIRE(authenticated);
    CHECK(authenticated->result.method == "publickey");
    CHECK(authenticated->result.signature_algorithm == "rsa-sha2-512");
    CHECK(authenticated->result.identity == key.string());
  }
  // OpenSSH 9.2's server-sig-algs lists every algorithm whatever PubkeyAcceptedAlgorithms says, so
  // a server restricted to rsa-sha2-256 refuses our rsa-sha2-512 signature (as it refuses ssh's).
  AuthorizedSshd restricted("PubkeyAcceptedAlgorithms rsa-sha2-256");
  KeyRing::authorize(restricted.sshd, key);
  auto refused = test::run(test::authenticate_through(restricted.sshd.proxy_command(), as_root({KeyRing::load(key)})));
  REQUIRE_FALSE(refused);
  INFO(refused.error().detailed());
  REQUIRE(refused.error().evidence.size() == 3);
  CHECK(refused.error().evidence[2].text.starts_with("refused by the server (signed with rsa-sha2-512)"));
}

TEST_CASE("sshd: a refused key is named by fingerprint with the reason, and the next key gets its turn",
          "[auth][sshd]") {
  KeyRing keys;
  AuthorizedSshd server;
  const auto stranger = keys.make("-t ed25519");
  const auto friend_key = keys.make("-t ecdsa -b 256");
  KeyRing::authorize(server.sshd, friend_key);
  const auto stranger_identity = KeyRing::load(stranger);
  const auto fingerprint = ssh::crypto::fingerprint_sha256(stranger_identity.signer->public_key_blob());

  auto accepted =
      test::run(test::authenticate_through(server.sshd.proxy_command(), as_root({stranger_identity, KeyRing::load(friend_key)})));
  REQUIRE(accepted);
  CHECK(accepted->result.identity == friend_key.string());

  auto refused = test::run(test::authenticate_through(server.sshd.proxy_command(), as_root({stranger_identity})));
  REQUIRE_FALSE(refused);
  INFO(refused.error().detailed());
  CHECK(refused.error().layer == runtime::Layer::auth);
  const auto* evidence =
      refused.error().find_evidence(fmt::format("key ssh-ed25519 {} ({})", fingerprint, stranger.string()));
  REQUIRE(evidence);
  CHECK(evidence->text.starts_with("refused by the server (signed with ssh-ed25519)"));
  CHECK(refused.error().find_evidence("methods tried")->text == fmt::format("none,publickey ({})", stranger.string()));
}
