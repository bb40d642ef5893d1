// `coder-runtime ssh -J` and ProxyJump end to end (#20): a command on a host that only a jump host
// connects onward to, through one jump host or a chain of two; the jump host OpenSSH's sshd or
// the Go server (the Coder agent's x/crypto, forwarding as gliderlabs' handlers do); and the
// failures named: a jump host that will not connect onward, one that cannot be reached, and a
// ProxyJump that leads back to itself.
//
// "box" and "go" are jump hosts on a ProxyCommand's stdio; "inner" is an sshd listening on a
// loopback port, whose SSH_CONNECTION shows a client on loopback either way. That the way is the
// jump host's shows when box is forbidden to connect onward: what goes through box fails there,
// what goes through go does not.

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/cli_process.hpp"
#include "support/files.hpp"
#include "support/listening_sshd.hpp"
#include "support/sshd.hpp"

using namespace cr;

namespace {

struct Setup {
  test::TemporaryDirectory dir{"jump_command_test"};
  test::Sshd inner_sshd{"PasswordAuthentication no\nKbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n"};
  std::unique_ptr<test::ListeningSshd> inner;
  std::unique_ptr<test::Sshd> box;
  std::filesystem::path config = dir.path() / "ssh_config";

  explicit Setup(const std::string& box_extra = "") {
    const auto key = dir.path() / "id_ed25519";
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -f {}", key.string())) == 0);
    std::filesystem::copy_file(key.string() + ".pub", inner_sshd.authorized_keys());
    inner = std::make_unique<test::ListeningSshd>(inner_sshd);
    box = std::make_unique<test::Sshd>("PasswordAuthentication no\nKbdInteractiveAuthentication no\n" + box_extra);
    std::filesystem::copy_file(key.string() + ".pub", box->authorized_keys());
    test::write_text(
        config, fmt::format("Host box\n"
                            "  ProxyCommand {}\n"
                            "Host go\n"
                            "  ProxyCommand {}\n"
                            "Host inner\n"
                            "  HostName 127.0.0.1\n"
                            "  Port {}\n"
                            "Host inner-via-box\n"
                            "  HostName 127.0.0.1\n"
                            "  Port {}\n"
                            "  ProxyJump box\n"
                            "Host loop-a\n"
                            "  ProxyJump loop-b\n"
                            "Host loop-b\n"
                            "  ProxyJump loop-a\n"
                            "Host *\n"
                            "  User root\n"
                            "  IdentityFile {}\n"
                            "  IdentityAgent none\n"
                            "  BatchMode yes\n"
                            "  StrictHostKeyChecking no\n"
                            "  UserKnownHostsFile /dev/null\n",
                            box->proxy_command(), CODER_RUNTIME_GO_SSHD, inner->port(), inner->port(), key.string()));
  }

  test::Ran ssh(std::vector<std::string> args) const {
    args.insert(args.begin(), {"ssh", "-F", config.string()});
    return test::run_cli(std::move(args));
  }
  // "127.0.0.1 PORT 127.0.0.1 INNER": the client's address and port as inner saw them, then its own.
  std::string inner_end() const { return fmt::format("127.0.0.1 {}\n", inner->port()); }
};

}  // namespace

TEST_CASE("ssh -J: a command runs on a host only the jump host connects to", "[cli][sshd][jump]") {
  const std::string jump = GENERATE(as<std::string>{}, "box", "go");
  Setup setup;
  const auto ran = setup.ssh({"-J", jump, "inner", "echo $SSH_CONNECTION"});
  INFO(jump << ": " << ran.err);
  CHECK(ran.status == 0);
  CHECK_THAT(ran.out, Catch::StartsWith("127.0.0.1 ") && Catch::EndsWith(setup.inner_end()));
}

TEST_CASE("ProxyJump in the config and a chain of two jump hosts", "[cli][sshd][jump]") {
  Setup setup;
  const auto configured = setup.ssh({"inner-via-box", "echo $SSH_CONNECTION"});
  INFO(configured.err);
  CHECK(configured.status == 0);
  CHECK_THAT(configured.out, Catch::EndsWith(setup.inner_end()));
  // box, then inner through box, then inner again through the first inner.
  const auto chained = setup.ssh({"-J", "box,inner", "inner", "echo $SSH_CONNECTION"});
  INFO(chained.err);
  CHECK(chained.status == 0);
  CHECK_THAT(chained.out, Catch::EndsWith(setup.inner_end()));
}

TEST_CASE("scp -J copies through the jump host", "[cli][sshd][jump]") {
  Setup setup;
  const auto source = setup.dir.path() / "sent.txt";
  const auto copy = setup.dir.path() / "copied.txt";
  test::write_text(source, "through the jump host\n");
  const auto ran = test::run_cli(
      {"scp", "-F", setup.config.string(), "-J", "box", source.string(), fmt::format("inner:{}", copy.string())});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(test::read_text(copy) == "through the jump host\n");
}

TEST_CASE("a jump host that will not connect onward: 255 with its refusal and its name", "[cli][sshd][jump]") {
  Setup setup("AllowTcpForwarding no\n");
  const auto ran = setup.ssh({"-J", "box", "inner", "true"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err,
             Catch::Contains("administratively prohibited") && Catch::Contains("jump host: box (on the way to inner)"));
  CHECK(ran.out.empty());
  // So the way is the jump host's: a chain starting at box stops there, where the same chain
  // through go, and -J go in place of the config's ProxyJump box, get through.
  const auto chained = setup.ssh({"-J", "box,inner", "inner", "true"});
  CHECK(chained.status == 255);
  CHECK_THAT(chained.err,
             Catch::Contains("administratively prohibited") && Catch::Contains("jump host: box (on the way to inner)"));
  const auto configured = setup.ssh({"inner-via-box", "true"});
  CHECK(configured.status == 255);
  const auto through_go = setup.ssh({"-J", "go,inner", "inner", "true"});
  INFO(through_go.err);
  CHECK(through_go.status == 0);
  const auto overridden = setup.ssh({"-J", "go", "inner-via-box", "true"});
  INFO(overridden.err);
  CHECK(overridden.status == 0);
}

TEST_CASE("a jump host that cannot be reached: 255 naming it", "[cli][sshd][jump]") {
  Setup setup;
  const auto ran = setup.ssh({"-J", "root@127.0.0.1:1", "inner", "true"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains("refused") && Catch::Contains("jump host: 127.0.0.1 (on the way to inner)"));
}

TEST_CASE("a ProxyJump that leads back to its host is an error at once", "[cli][jump]") {
  Setup setup;
  const auto ran = setup.ssh({"loop-a", "true"});
  CHECK(ran.status == 255);
  CHECK_THAT(ran.err, Catch::Contains("more than 16 jump hosts on the way to"));
}
