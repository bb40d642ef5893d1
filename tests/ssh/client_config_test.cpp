// From ssh_config to what the client does: destinations, precedence between the command line and
// the file, OpenSSH's defaults, and the errors for values ssh would refuse too.

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "ssh/client_config.hpp"
#include "support/files.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

struct Planned {
  fs::path home;
  runtime::Result<ssh::ClientPlan> plan;
};

// Plans `destination` with `config_text` as ~/.ssh/config and `options` as -o options.
Planned plan_for(const std::string& destination, const std::string& config_text,
                 std::vector<std::string> options = {}) {
  char templ[] = "/tmp/coder-runtime-client-config-XXXXXX";
  REQUIRE(mkdtemp(templ));
  const fs::path home = templ;
  fs::create_directories(home / ".ssh");
  std::ofstream(home / ".ssh/config") << config_text;
  auto parsed = ssh::parse_destination(destination);
  REQUIRE(parsed);
  ssh::ConfigContext context;
  context.host = parsed->host;
  context.local_user = "me";
  context.home = home;
  ssh::ConfigInput input{std::move(options), {home / ".ssh/config"}};
  auto config = ssh::read_config(input, std::move(context));
  fs::remove_all(home);
  REQUIRE(config);
  return {home, ssh::plan_connection(*config, *parsed)};
}

}  // namespace

TEST_CASE("destinations: user@host and ssh:// URIs with ports", "[config]") {
  auto plain = ssh::parse_destination("alice@box.example");
  REQUIRE(plain);
  CHECK(plain->user == "alice");
  CHECK(plain->host == "box.example");
  CHECK_FALSE(plain->port);
  auto uri = ssh::parse_destination("ssh://bob@[::1]:2222");
  REQUIRE(uri);
  CHECK(uri->user == "bob");
  CHECK(uri->host == "::1");
  CHECK(uri->port == 2222);
  CHECK(ssh::parse_destination("ws.coder")->user.empty());
  for (const auto* bad : {"", "me@", "ssh://host:0", "ssh://host:99999", "host;rm -rf"}) {
    INFO(bad);
    const auto parsed = ssh::parse_destination(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().layer == runtime::Layer::config);
  }
}

TEST_CASE("the command line's user and port beat the file's, and the file's beat the defaults", "[config]") {
  const std::string file = "Host box\n  HostName box.example\n  User filed\n  Port 2200\n";
  const auto from_file = plan_for("box", file);
  REQUIRE(from_file.plan);
  CHECK(from_file.plan->hostname == "box.example");
  CHECK(from_file.plan->host_alias == "box");
  CHECK(from_file.plan->user == "filed");
  CHECK(from_file.plan->port == 2200);
  CHECK(from_file.plan->options.auth.user == "filed");
  const auto from_command_line = plan_for("ssh://given@box:3300", file);
  REQUIRE(from_command_line.plan);
  CHECK(from_command_line.plan->user == "given");
  CHECK(from_command_line.plan->port == 3300);
  const auto defaults = plan_for("other", file);
  REQUIRE(defaults.plan);
  CHECK(defaults.plan->user == "me");
  CHECK(defaults.plan->port == 22);
  CHECK_FALSE(defaults.plan->proxy_command);
  CHECK_FALSE(defaults.plan->connect_timeout);
  CHECK(defaults.plan->server_alive_count_max == 3);
  CHECK_FALSE(defaults.plan->identity_files_configured);
  REQUIRE(defaults.plan->identity_files.size() == 3);
  CHECK(defaults.plan->identity_files.back() == defaults.home / ".ssh/id_ed25519");
}

TEST_CASE("the block the desktop app writes for Coder workspaces", "[config]") {
  const auto planned =
      plan_for("ws.mux--coder",
               "Host *.mux--coder\n"
               "  ConnectTimeout 0\n"
               "  LogLevel ERROR\n"
               "  StrictHostKeyChecking no\n"
               "  UserKnownHostsFile /dev/null\n"
               "  ProxyCommand \"/usr/bin/coder\" \"ssh\" \"--stdio\" \"--hostname-suffix\" \"mux--coder\" \"%h\"\n");
  REQUIRE(planned.plan);
  CHECK(planned.plan->proxy_command ==
        "\"/usr/bin/coder\" \"ssh\" \"--stdio\" \"--hostname-suffix\" \"mux--coder\" \"%h\"");
  CHECK_FALSE(planned.plan->connect_timeout);  // 0: no limit of ours, as ssh
  CHECK(planned.plan->log_level == runtime::LogLevel::error);
  CHECK(planned.plan->options.transport.verify_host_key);
}

TEST_CASE("algorithm options edit our defaults the way ssh's do", "[config]") {
  const auto planned = plan_for("box",
                                "Ciphers ^aes256-ctr\nMACs -*-etm@openssh.com\nHostKeyAlgorithms +ssh-rsa\n"
                                "KexAlgorithms curve25519-sha256\nRekeyLimit 64M 10m\n");
  REQUIRE(planned.plan);
  const auto& transport = planned.plan->options.transport;
  CHECK(transport.algorithms.ciphers.front() == "aes256-ctr");
  CHECK(std::none_of(transport.algorithms.macs.begin(), transport.algorithms.macs.end(),
                     [](const std::string& mac) { return mac.ends_with("-etm@openssh.com"); }));
  CHECK(transport.algorithms.host_key.back() == "ssh-rsa");
  CHECK(transport.algorithms.kex == ssh::NameList{"curve25519-sha256"});
  CHECK(transport.rekey_after_bytes == 64u << 20);
  CHECK(transport.rekey_after_time == std::chrono::minutes(10));
}

TEST_CASE("PreferredAuthentications, less what *Authentication no turns off", "[config]") {
  const auto planned = plan_for("box",
                                "PreferredAuthentications password,publickey,keyboard-interactive\n"
                                "PasswordAuthentication no\n");
  REQUIRE(planned.plan);
  CHECK(planned.plan->options.auth.preferred == std::vector<std::string>{"publickey", "keyboard-interactive"});
}

TEST_CASE("identity, environment and agent options", "[config]") {
  const auto planned = plan_for("box",
                                "IdentityFile ~/.ssh/work_%r\nIdentitiesOnly yes\nIdentityAgent none\n"
                                "SendEnv LANG LC_*\nSetEnv A=1 B=two=2\nRequestTTY force\n",
                                {"User=ops"});
  REQUIRE(planned.plan);
  const auto& plan = *planned.plan;
  CHECK(plan.identity_files == std::vector<fs::path>{planned.home / ".ssh/work_ops"});
  CHECK(plan.identity_files_configured);
  CHECK(plan.identities_only);
  CHECK(plan.identity_agent == "none");
  CHECK(plan.send_env == std::vector<std::string>{"LANG", "LC_*"});
  CHECK(plan.set_env == std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "two=2"}});
  CHECK(plan.request_tty == "force");
}

TEST_CASE("ProxyJump and -J lists: users and ports of their own and the first of ProxyCommand or ProxyJump wins",
          "[config]") {
  auto hosts = ssh::parse_jump_hosts("alice@bastion:2222,inner,ssh://bob@[::1]:22,[fe80::1]:23,::1");
  REQUIRE(hosts);
  REQUIRE(hosts->size() == 5);
  CHECK((*hosts)[0].user == "alice");
  CHECK((*hosts)[0].host == "bastion");
  CHECK((*hosts)[0].port == 2222);
  CHECK((*hosts)[1].host == "inner");
  CHECK_FALSE((*hosts)[1].port);
  CHECK((*hosts)[2].user == "bob");
  CHECK((*hosts)[2].host == "::1");
  CHECK((*hosts)[3].host == "fe80::1");
  CHECK((*hosts)[3].port == 23);
  CHECK((*hosts)[4].host == "::1");
  CHECK_FALSE((*hosts)[4].port);

  const auto jumped = plan_for("box", "Host box\n  ProxyJump a,b:2\n  ProxyCommand nc %h %p\n");
  REQUIRE(jumped.plan);
  CHECK_FALSE(jumped.plan->proxy_command);
  REQUIRE(jumped.plan->proxy_jump.size() == 2);
  CHECK(jumped.plan->proxy_jump[1].host == "b");
  const auto proxied = plan_for("box", "Host box\n  ProxyCommand nc %h %p\n  ProxyJump a\n");
  REQUIRE(proxied.plan);
  CHECK(proxied.plan->proxy_command == "nc %h %p");
  CHECK(proxied.plan->proxy_jump.empty());
  // -J reaches the config reader as a command line option: before every file.
  const auto command_line = plan_for("box", "Host box\n  ProxyCommand nc %h %p\n", {"ProxyJump=j"});
  REQUIRE(command_line.plan);
  CHECK_FALSE(command_line.plan->proxy_command);
  REQUIRE(command_line.plan->proxy_jump.size() == 1);
  const auto none = plan_for("box", "Host box\n  ProxyJump none\n  ProxyCommand nc %h %p\n");
  REQUIRE(none.plan);
  CHECK_FALSE(none.plan->proxy_command);
  CHECK(none.plan->proxy_jump.empty());
}

TEST_CASE("values ssh would refuse are errors naming where they came from", "[config]") {
  const auto error_for = [](const std::string& text) {
    const auto planned = plan_for("box", text);
    REQUIRE_FALSE(planned.plan);
    CHECK(planned.plan.error().layer == runtime::Layer::config);
    return planned.plan.error().message;
  };
  CHECK_THAT(error_for("Port 0\n"), Catch::Contains("config:1: Port takes a whole number from 1 to 65535"));
  CHECK_THAT(error_for("Ciphers rot13\n"), Catch::Contains("config:1: Ciphers: unsupported algorithm \"rot13\""));
  CHECK_THAT(error_for("StrictHostKeyChecking maybe\n"),
             Catch::Contains("StrictHostKeyChecking takes yes, accept-new"));
  CHECK_THAT(error_for("\n\nRekeyLimit lots\n"), Catch::Contains("config:3: RekeyLimit cannot read 'lots'"));
  CHECK_THAT(error_for("ProxyJump bastion:0\n"), Catch::Contains("config:1: jump host 'bastion:0': the port is not"));
  CHECK_THAT(error_for("ProxyJump a,,b\n"), Catch::Contains("jump host '': no host name"));
  CHECK_THAT(error_for("SetEnv =x\n"), Catch::Contains("SetEnv takes NAME=VALUE"));
  CHECK_THAT(error_for("LogLevel LOUD\n"), Catch::Contains("unknown LogLevel 'LOUD'"));
  CHECK_THAT(error_for("IdentityFile ~bob/.ssh/id\n"), Catch::Contains("'~user' paths are not supported"));
}

TEST_CASE("without HostKeyAlgorithms, the key types known_hosts has for the host go first", "[config]") {
  test::TemporaryDirectory dir{"client_config_known"};
  const auto known = dir.path() / "known_hosts";
  // Blobs need only their type name here: planning reads the types, the verifier the keys.
  const std::string rsa = "AAAAB3NzaC1yc2EAAAADAQABAAAAAgDA";
  const std::string ecdsa =
      "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBERERERERERERERERERERERERERERERERERER"
      "ERERERERERERERERERERERERERERERERERERERERERERERERERERE=";
  const auto host_keys_for = [&](const std::string& known_text, const std::string& extra = "") {
    test::write_text(known, known_text);
    const auto planned = plan_for("box", "UserKnownHostsFile " + known.string() + "\n" + extra);
    REQUIRE(planned.plan);
    return planned.plan->options.transport.algorithms.host_key;
  };
  const auto defaults = ssh::AlgorithmPreferences::defaults().host_key;

  CHECK(host_keys_for("box ssh-rsa " + rsa + "\n") == ssh::NameList{"rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519",
                                                                    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                                                    "ecdsa-sha2-nistp521"});
  CHECK(host_keys_for("other ecdsa-sha2-nistp256 " + ecdsa + "\nbox,b2 ssh-rsa " + rsa + "\nbox ecdsa-sha2-nistp256 " +
                      ecdsa + "\n") == ssh::NameList{"ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256",
                                                     "ssh-ed25519", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"});
  // Another host's keys, a revoked key and a CA change nothing; nor does a known_hosts the user
  // overrode with HostKeyAlgorithms.
  CHECK(host_keys_for("other ssh-rsa " + rsa + "\n@revoked box ssh-rsa " + rsa + "\n@cert-authority box ssh-rsa " +
                      rsa + "\n") == defaults);
  CHECK(host_keys_for("box ssh-rsa " + rsa + "\n", "HostKeyAlgorithms ssh-ed25519,rsa-sha2-256\n") ==
        ssh::NameList{"ssh-ed25519", "rsa-sha2-256"});
  CHECK(host_keys_for("alias ssh-rsa " + rsa + "\n", "HostKeyAlias alias\n").front() == "rsa-sha2-512");
}
