// `coder-runtime ssh` end to end, as a script would run it: the executable reads an ssh_config,
// starts sshd (inetd mode) or the Go server as the ProxyCommand, and must give back the remote
// command's output, stdin and exit status, or 255 and one line that says what failed.

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/cli_process.hpp"
#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sshd.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

using test::run_cli;

// A client key authorized by a test sshd, and an ssh_config naming both.
struct Setup {
  test::TemporaryDirectory dir{"ssh_command_test"};
  std::unique_ptr<test::Sshd> sshd;
  std::filesystem::path config = dir.path() / "ssh_config";
  std::filesystem::path known_hosts = dir.path() / "known_hosts";

  explicit Setup(const std::string& strict = "accept-new", const std::vector<std::string>& host_keys = {"ed25519"}) {
    const auto key = dir.path() / "id_ed25519";
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -f {}", key.string())) == 0);
    sshd = std::make_unique<test::Sshd>("PasswordAuthentication no\nKbdInteractiveAuthentication no\n", host_keys);
    std::filesystem::copy_file(key.string() + ".pub", sshd->authorized_keys());
    test::write_text(
        config, fmt::format("Host box\n"
                            "  ProxyCommand {}\n"
                            "  User root\n"
                            "  IdentityFile {}\n"
                            "  IdentityAgent none\n"
                            "  StrictHostKeyChecking {}\n"
                            "  UserKnownHostsFile {}\n"
                            "Host go\n"
                            "  ProxyCommand {}\n"
                            "  StrictHostKeyChecking no\n"
                            "  UserKnownHostsFile /dev/null\n"
                            "Host broken\n"
                            "  ProxyCommand sh -c 'echo \"error: workspace %h not found\" >&2; exit 1'\n",
                            sshd->proxy_command(), key.string(), strict, known_hosts.string(), CODER_RUNTIME_GO_SSHD));
  }
};

}  // namespace

TEST_CASE("ssh: output, stderr and the exit status come back, and a new host key is recorded", "[cli][sshd]") {
  Setup setup;
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "box", "echo hello; echo oops >&2; exit 3"});
  INFO(ran.err);
  CHECK(ran.status == 3);
  CHECK(ran.out == "hello\n");
  CHECK(ran.err == "oops\n");
  CHECK_THAT(test::read_text(setup.known_hosts), Catch::StartsWith("box ssh-ed25519 "));
}

TEST_CASE("ssh: stdin reaches the remote command, and the words after the host are its command", "[cli][sshd]") {
  Setup setup;
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "box", "tr", "a-z", "A-Z"}, "quiet words\n");
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "QUIET WORDS\n");
}

TEST_CASE("ssh: the Go server (the Coder agent's library) with none auth", "[cli][go]") {
  Setup setup;
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "go", "printf", "agent"});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "agent");
}

TEST_CASE("ssh: a server's first choices are remembered between runs, so the next run's kex guess is right",
          "[cli][go]") {
  Setup setup;
  test::TemporaryDirectory cache{"first_choices_cache"};
  ::setenv("XDG_CACHE_HOME", cache.path().c_str(), 1);
  const auto first = run_cli({"ssh", "-vv", "-F", setup.config.string(), "go", "true"});
  const auto second = run_cli({"ssh", "-vv", "-F", setup.config.string(), "go", "true"});
  ::unsetenv("XDG_CACHE_HOME");
  INFO(first.err);
  INFO(second.err);
  CHECK(first.status == 0);
  CHECK(second.status == 0);
  // Our defaults lead with mlkem768x25519-sha256 and ssh-ed25519; the Go server has neither first
  // (it lists curve25519-sha256 and, with its RSA key, rsa-sha2-256).
  CHECK_THAT(first.err, Catch::Contains("kex guess mlkem768x25519-sha256 / ssh-ed25519 was wrong"));
  CHECK_THAT(second.err, Catch::Contains("kex guess curve25519-sha256 / rsa-sha2-256 was right"));
  const auto remembered = test::read_text(cache.path() / "coder-runtime" / "server-first-choices");
  CHECK(std::count(remembered.begin(), remembered.end(), '\n') == 1);
  CHECK_THAT(remembered, Catch::EndsWith(" curve25519-sha256 rsa-sha2-256\n"));
  CHECK_THAT(remembered, !Catch::Contains("go_sshd"));  // the destination is hashed
}

TEST_CASE("ssh: a ProxyCommand that fails is 255 and one line with its status and stderr", "[cli]") {
  Setup setup;
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "broken", "true"});
  CHECK(ran.status == 255);
  CHECK(ran.out.empty());
  // The proxy's own words reach the terminal as they come (as with ssh), then our one line.
  CHECK_THAT(ran.err, Catch::StartsWith("error: workspace broken not found\ncoder-runtime: proxy: "));
  CHECK_THAT(ran.err, Catch::Contains("exited with status 1"));
  CHECK(std::count(ran.err.begin(), ran.err.end(), '\n') == 2);
}

// A host "relayed" whose ProxyCommand runs `server` behind tests/support/fault_relay.py, which
// stops passing the server's bytes after `stall_after` of them: a tunnel that stopped passing data.
std::filesystem::path stalling_config(const Setup& setup, const std::string& server, std::uint64_t stall_after) {
  const auto control = setup.dir.path() / "control.json";
  test::write_text(
      control,
      fmt::format(R"({{"rate": 1, "kinds": ["stall_down"], "min_offset": {0}, "max_offset": {0}}})", stall_after));
  const auto config = setup.dir.path() / "relayed_config";
  test::write_text(config, fmt::format("Host relayed\n"
                                       "  ProxyCommand /usr/bin/python3 {}/fault_relay.py {} {} {}\n"
                                       "  StrictHostKeyChecking no\n"
                                       "  UserKnownHostsFile /dev/null\n",
                                       CODER_RUNTIME_TEST_SUPPORT, control.string(),
                                       (setup.dir.path() / "relays.jsonl").string(), server));
  return config;
}

// ConnectTimeout gives the version and key exchange half of itself as a stall budget (2 s of 4),
// so a stall there is named before the timeout would only say that time ran out.
TEST_CASE("ssh: under ConnectTimeout a server gone quiet mid-handshake is named a stall within it", "[cli][sshd]") {
  Setup setup;
  // sshd's version line, then 100 bytes into its KEXINIT.
  const auto config = stalling_config(setup, setup.sshd->proxy_command(), 100);
  const auto started = std::chrono::steady_clock::now();
  const auto ran = run_cli({"ssh", "-F", config.string(), "-o", "ConnectTimeout=4", "relayed", "true"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(ran.err);
  CHECK(ran.status == 255);
  CHECK(took < 4s);
  CHECK_THAT(ran.err, Catch::StartsWith("coder-runtime: transport: the server stopped sending: nothing for 2 s after "
                                        "100 bytes; stalled: no data for 2 s after 100 bytes; last arrived: the "
                                        "server's version line and part of its first packet; server version: "
                                        "SSH-2.0-OpenSSH_"));
  CHECK(std::count(ran.err.begin(), ran.err.end(), '\n') == 1);
}

// A plain host's login may wait on a person (a second factor approved on a phone): only
// ConnectTimeout bounds it, however quiet the server is meanwhile.
TEST_CASE("ssh: under ConnectTimeout the login has no stall budget", "[cli][go]") {
  Setup setup;
  // The Go server's NEWKEYS ends at 1228 bytes; 1300 is inside the EXT_INFO that follows it.
  const auto config = stalling_config(setup, CODER_RUNTIME_GO_SSHD, 1300);
  const auto started = std::chrono::steady_clock::now();
  const auto ran = run_cli({"ssh", "-F", config.string(), "-o", "ConnectTimeout=3", "relayed", "true"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(ran.err);
  CHECK(ran.status == 255);
  CHECK(took >= 3s);
  // go_sshd's own stderr, which the relay passes on, may come first.
  CHECK_THAT(ran.err, Catch::EndsWith("coder-runtime: network: connecting to relayed did not finish within 3 s\n"));
  CHECK_THAT(ran.err, !Catch::Contains("stalled"));
}

TEST_CASE("ssh: an unknown host key under StrictHostKeyChecking yes is refused with its fingerprint", "[cli][sshd]") {
  Setup setup("yes");
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "box", "true"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains("no ssh-ed25519 host key is known for box"));
  CHECK_THAT(ran.err, Catch::Contains("SHA256:"));
}

TEST_CASE("ssh: the known key of a host with several is the one asked for, as OpenSSH does", "[cli][sshd]") {
  // The server has ed25519 and RSA keys; the user accepted the RSA one long ago. Leading with
  // ed25519 (our default) would get a key StrictHostKeyChecking yes refuses as unknown.
  Setup setup("yes", {"ed25519", "rsa:2048"});
  const auto rsa_public = test::read_text(setup.sshd->host_key_files().at(1).string() + ".pub");
  test::write_text(setup.known_hosts, "box " + rsa_public);
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "box", "echo", "known"});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "known\n");
}

TEST_CASE("ssh: -o beats the file: with only password allowed, sshd refuses and the line says auth", "[cli][sshd]") {
  Setup setup;
  const auto ran = run_cli({"ssh", "-F", setup.config.string(), "-o", "PreferredAuthentications=password", "-o",
                            "BatchMode=yes", "box", "true"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::StartsWith("coder-runtime: auth: "));
  CHECK(std::count(ran.err.begin(), ran.err.end(), '\n') == 1);
}

TEST_CASE("ssh: -p and -l reach the ProxyCommand's %p and %r", "[cli][sshd]") {
  Setup setup;
  const auto config = setup.dir.path() / "tokens_config";
  test::write_text(config, fmt::format("Host tokens\n"
                                       "  ProxyCommand sh -c 'echo port=%p user=%r host=%h >&2; exec {}'\n"
                                       "  IdentityFile {}\n"
                                       "  IdentityAgent none\n"
                                       "  StrictHostKeyChecking no\n"
                                       "  UserKnownHostsFile /dev/null\n",
                                       setup.sshd->proxy_command(), (setup.dir.path() / "id_ed25519").string()));
  const auto ran = run_cli({"ssh", "-F", config.string(), "-p", "2222", "-l", "root", "tokens", "echo", "in"});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "in\n");
  CHECK_THAT(ran.err, Catch::StartsWith("port=2222 user=root host=tokens\n"));
}

TEST_CASE("ssh: a bad config line is 255 and names the file and line", "[cli]") {
  test::TemporaryDirectory dir{"ssh_command_test"};
  const auto config = dir.path() / "config";
  test::write_text(config, "Host *\n  Colour blue\n");
  const auto ran = run_cli({"ssh", "-F", config.string(), "box", "true"});
  CHECK(ran.status == 255);
  CHECK(ran.err == fmt::format("coder-runtime: config: {}:2: Bad configuration option: colour; line:   Colour blue\n",
                               config.string()));
}
