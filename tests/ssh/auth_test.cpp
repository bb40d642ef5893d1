// Authentication against real servers: publickey with every key type on OpenSSH's sshd (keys from
// ssh-keygen, listed in an AuthorizedKeysFile in the fixture's folder), RSA signature algorithms
// as server-sig-algs allow, refusals that say which key and why, and keys held by a real
// ssh-agent (reached through proxy::connect_ssh_agent, as an application would).

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "proxy/agent_socket.hpp"
#include "ssh/agent.hpp"
#include "ssh/crypto/encoding.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/private_key.hpp"
#include "ssh/identity.hpp"
#include "support/connect.hpp"
#include "support/files.hpp"
#include "support/ssh_agent.hpp"
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

  static std::vector<std::uint8_t> public_blob(const fs::path& key) {
    std::istringstream line(test::read_text(key.string() + ".pub"));
    std::string type, base64;
    line >> type >> base64;
    auto blob = ssh::crypto::base64_decode(base64);
    REQUIRE(blob);
    return *blob;
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

asio::awaitable<std::shared_ptr<ssh::AgentClient>> open_agent(const test::SshAgent& agent) {
  const auto deadline = runtime::Deadline::after(std::chrono::seconds(5));
  auto socket = agent.socket().string();
  auto stream = co_await proxy::connect_ssh_agent(deadline, std::move(socket));
  REQUIRE(stream);
  co_return std::make_shared<ssh::AgentClient>(std::move(*stream), ssh::AgentOptions{});
}

asio::awaitable<std::vector<ssh::Identity>> agent_identities(const test::SshAgent& agent) {
  auto client = co_await open_agent(agent);
  auto identities = co_await ssh::agent_identities(client);
  REQUIRE(identities);
  co_return std::move(*identities);
}

// `preferred` empty: the library's default order.
ssh::AuthOptions as_user(std::string user, std::vector<ssh::Identity> identities = {},
                         std::vector<std::string> preferred = {}) {
  ssh::AuthOptions auth;
  auth.user = std::move(user);
  auth.identities = std::move(identities);
  if (!preferred.empty()) auth.preferred = std::move(preferred);
  return auth;
}

ssh::AuthOptions as_root(std::vector<ssh::Identity> identities) { return as_user("root", std::move(identities)); }

const std::string kGoPassword = "go server secret";

std::string go_server(const std::string& flags) { return fmt::format("{} {}", CODER_RUNTIME_GO_SSHD, flags); }

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
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
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

TEST_CASE("sshd: an RSA key signs with rsa-sha2-512, and a server refusing it says which algorithm was refused",
          "[auth][sshd]") {
  KeyRing keys;
  const auto key = keys.make("-t rsa -b 2048");
  {
    AuthorizedSshd server;
    KeyRing::authorize(server.sshd, key);
    auto authenticated =
        test::run(test::authenticate_through(server.sshd.proxy_command(), as_root({KeyRing::load(key)})));
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

  auto accepted = test::run(
      test::authenticate_through(server.sshd.proxy_command(), as_root({stranger_identity, KeyRing::load(friend_key)})));
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

TEST_CASE("ssh-agent: lists the keys ssh-add gave it, and signs with each algorithm of each", "[auth][agent]") {
  const auto descriptors = test::open_descriptor_count();
  KeyRing keys;
  auto agent_holder = std::make_unique<test::SshAgent>();
  const auto& agent = *agent_holder;
  const std::vector<fs::path> added{keys.make("-t ed25519"), keys.make("-t ecdsa -b 384"), keys.make("-t rsa -b 2048")};
  for (const auto& key : added) REQUIRE(agent.add(key));
  const auto data = std::vector<std::uint8_t>{'s', 'i', 'g', 'n', ' ', 'm', 'e'};
  auto checked = test::run([&]() -> asio::awaitable<int> {
    auto client = co_await open_agent(agent);
    auto listed = co_await client->list_keys();
    REQUIRE(listed);
    REQUIRE(listed->size() == added.size());
    int signatures = 0;
    for (std::size_t i = 0; i < added.size(); ++i) {
      CHECK(((*listed)[i].blob == KeyRing::public_blob(added[i])));
      CHECK((*listed)[i].comment == fmt::format("key {}", i + 1));
      const auto type = ssh::crypto::key_blob_type((*listed)[i].blob);
      REQUIRE(type);
      for (const auto& algorithm : ssh::crypto::signature_algorithms_for(*type)) {
        auto blob = (*listed)[i].blob;
        auto to_sign = data;
        auto signature = co_await client->sign(std::move(blob), std::move(to_sign), algorithm);
        INFO(algorithm << (signature ? "" : signature.error().summary()));
        REQUIRE(signature);
        CHECK(ssh::crypto::verify_host_signature(algorithm, (*listed)[i].blob, *signature, data));
        ++signatures;
      }
    }
    co_await client->close();
    co_return signatures;
  }());
  CHECK(checked == 5);  // ed25519, ecdsa, and RSA three ways
  agent_holder.reset();
  CHECK(test::open_descriptor_count() == descriptors);
}

TEST_CASE("sshd: publickey through the agent, refused agent keys are named and the RSA key signs rsa-sha2-512",
          "[auth][agent][sshd]") {
  KeyRing keys;
  test::SshAgent agent;
  AuthorizedSshd server;
  const auto stranger = keys.make("-t ed25519");
  const auto rsa = keys.make("-t rsa -b 2048");
  REQUIRE(agent.add(stranger));
  REQUIRE(agent.add(rsa));
  KeyRing::authorize(server.sshd, rsa);
  auto authenticated = test::run([&]() -> asio::awaitable<runtime::Result<test::Authenticated>> {
    auto identities = co_await agent_identities(agent);
    auto proxy_command = server.sshd.proxy_command();
    auto auth = as_root(std::move(identities));
    co_return co_await test::authenticate_through(std::move(proxy_command), std::move(auth));
  }());
  INFO((authenticated ? "" : authenticated.error().detailed()));
  REQUIRE(authenticated);
  CHECK(authenticated->result.identity == "agent: key 2");
  CHECK(authenticated->result.signature_algorithm == "rsa-sha2-512");

  KeyRing::authorize(server.sshd, stranger);
  auto ran = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    ssh::ClientOptions options;
    options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
    auto identities = co_await agent_identities(agent);
    options.auth = as_root(std::move(identities));
    auto proxy_command = server.sshd.proxy_command();
    std::string command = "echo through the agent";
    co_return co_await test::exec_through(std::move(proxy_command), std::move(options), std::move(command));
  }());
  REQUIRE(ran);
  CHECK(ran->stdout_data == "through the agent\n");
}

TEST_CASE("sshd: an agent with no authorized key fails with each key's fingerprint", "[auth][agent][sshd]") {
  KeyRing keys;
  test::SshAgent agent;
  AuthorizedSshd server;
  const auto key = keys.make("-t ecdsa -b 256");
  REQUIRE(agent.add(key));
  auto refused = test::run([&]() -> asio::awaitable<runtime::Result<test::Authenticated>> {
    auto identities = co_await agent_identities(agent);
    auto proxy_command = server.sshd.proxy_command();
    auto auth = as_root(std::move(identities));
    co_return co_await test::authenticate_through(std::move(proxy_command), std::move(auth));
  }());
  REQUIRE_FALSE(refused);
  const auto label = fmt::format("key ecdsa-sha2-nistp256 {} (agent: key 1)",
                                 ssh::crypto::fingerprint_sha256(KeyRing::public_blob(key)));
  INFO(refused.error().detailed());
  REQUIRE(refused.error().find_evidence(label));
}

TEST_CASE("Go server: password, asked for only once the server offers it", "[auth][go]") {
  const auto given = GENERATE(as<std::string>{}, kGoPassword, "not the password");
  int asked = 0;
  auto auth = as_user("coder", {}, {"password"});
  auth.password = [&](const std::string& user, const std::string&) -> std::optional<std::string> {
    ++asked;
    CHECK(user == "coder");
    return given;
  };
  auto authenticated =
      test::run(test::authenticate_through(go_server(fmt::format("-password '{}'", kGoPassword)), auth));
  CHECK(asked == 1);
  if (given == kGoPassword) {
    INFO((authenticated ? "" : authenticated.error().detailed()));
    REQUIRE(authenticated);
    CHECK(authenticated->result.method == "password");
  } else {
    REQUIRE_FALSE(authenticated);
    CHECK(authenticated.error().layer == runtime::Layer::auth);
    CHECK(authenticated.error().find_evidence("methods tried")->text == "none,password");
    CHECK(authenticated.error().find_evidence("server accepts")->text == "password");
  }

  // The default Go server takes "none", like the Coder agent: no password is asked for.
  asked = 0;
  auto none = test::run(test::authenticate_through(CODER_RUNTIME_GO_SSHD, auth));
  REQUIRE(none);
  CHECK(none->result.method == "none");
  CHECK(asked == 0);
}

TEST_CASE("Go server: keyboard-interactive shows the prompts with their echo flags and sends the answers",
          "[auth][go]") {
  const bool right = GENERATE(true, false);
  std::vector<ssh::Prompt> shown;
  auto auth = as_user("coder", {}, {"keyboard-interactive"});
  auth.keyboard_interactive = [&](const std::string& name, const std::string& instruction,
                                  const std::vector<ssh::Prompt>& prompts) -> std::optional<std::vector<std::string>> {
    CHECK(name == "go_sshd");
    CHECK(instruction == "Answer both prompts.");
    shown = prompts;
    return std::vector<std::string>{kGoPassword, right ? "424242" : "000000"};
  };
  const auto server = go_server(fmt::format("-password '{}' -keyboard-interactive", kGoPassword));
  auto authenticated = test::run(test::authenticate_through(server, auth));
  REQUIRE(shown.size() == 2);
  CHECK(shown[0].text == "Password: ");
  CHECK_FALSE(shown[0].echo);
  CHECK(shown[1].text == "One-time code: ");
  CHECK(shown[1].echo);
  if (right) {
    INFO((authenticated ? "" : authenticated.error().detailed()));
    REQUIRE(authenticated);
    CHECK(authenticated->result.method == "keyboard-interactive");
  } else {
    REQUIRE_FALSE(authenticated);
    CHECK(authenticated.error().find_evidence("methods tried")->text == "none,keyboard-interactive");
  }
}

TEST_CASE("Go server: a password login runs a command", "[auth][go]") {
  ssh::ClientOptions options;
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.auth = as_user("coder", {}, {"publickey", "password"});
  options.auth.password = [](const std::string&, const std::string&) {
    return std::optional<std::string>(kGoPassword);
  };
  auto ran = test::run(
      test::exec_through(go_server(fmt::format("-password '{}'", kGoPassword)), std::move(options), "echo in"));
  INFO((ran ? "" : ran.error().detailed()));
  REQUIRE(ran);
  CHECK(ran->stdout_data == "in\n");
}

// With a re-exchange due from the first byte, one started while authentication writes would wait
// for a reply that nothing reads (authentication reads only after its write): the connection hangs
// until the deadline. It must instead start once authentication has succeeded.
TEST_CASE("re-exchanges due during authentication start only after it, with publickey and password",
          "[auth][rekey][sshd][go]") {
  KeyRing keys;
  AuthorizedSshd server;
  const auto key = keys.make("-t ed25519", "");
  KeyRing::authorize(server.sshd, key);
  const bool with_password = GENERATE(false, true);
  ssh::ClientOptions options;
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.transport.rekey_after_bytes = 1;
  std::string proxy_command = server.sshd.proxy_command();
  options.auth = as_root({KeyRing::load(key, "")});
  if (with_password) {
    proxy_command = go_server(fmt::format("-password '{}'", kGoPassword));
    options.auth = as_user("coder", {}, {"password"});
    options.auth.password = [](const std::string&, const std::string&) {
      return std::optional<std::string>(kGoPassword);
    };
  }
  INFO(proxy_command);
  const auto [exchanges_at_login, ran, exchanges_after] =
      test::run([](std::string command_line,
                   ssh::ClientOptions client) -> asio::awaitable<std::tuple<std::size_t, std::string, std::size_t>> {
        auto connection = co_await test::connect_through(std::move(command_line), std::move(client));
        REQUIRE(connection);
        const auto at_login = (*connection)->transport().completed_key_exchanges();
        auto result = co_await test::exec(**connection, "echo rekeyed");
        const auto after = (*connection)->transport().completed_key_exchanges();
        co_await (*connection)->close();
        co_return std::tuple(at_login, result ? result->stdout_data : result.error().detailed(), after);
      }(std::move(proxy_command), std::move(options)));
  CHECK(exchanges_at_login == 1);
  CHECK(ran == "rekeyed\n");
  CHECK(exchanges_after >= 2);
}
