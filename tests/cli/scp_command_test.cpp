// `coder-runtime scp` end to end, as a script runs it: the executable reads an ssh_config and copies
// through OpenSSH's sftp-server (behind sshd) or github.com/pkg/sftp (the Go server, as in the
// Coder agent). Both servers run on this machine, so the test reads what arrived directly.

#include <filesystem>
#include <random>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/cli_process.hpp"
#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sshd.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

using test::run_cli;

struct Setup {
  test::TemporaryDirectory dir{"scp_command_test"};
  std::unique_ptr<test::Sshd> sshd;
  fs::path config = dir.path() / "ssh_config";
  fs::path local = dir.path() / "local";
  fs::path remote = dir.path() / "remote";

  Setup() {
    const auto key = dir.path() / "id_ed25519";
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '' -f {}", key.string())) == 0);
    sshd = std::make_unique<test::Sshd>("PasswordAuthentication no\nSubsystem sftp /usr/lib/openssh/sftp-server\n");
    fs::copy_file(key.string() + ".pub", sshd->authorized_keys());
    fs::create_directories(local);
    fs::create_directories(remote);
    test::write_text(config, fmt::format("Host box\n"
                                         "  ProxyCommand {}\n"
                                         "  User root\n"
                                         "  IdentityFile {}\n"
                                         "Host go\n"
                                         "  ProxyCommand {}\n"
                                         "Host broken\n"
                                         "  ProxyCommand sh -c 'echo \"no such workspace\" >&2; exit 1'\n"
                                         "Host *\n"
                                         "  IdentityAgent none\n"
                                         "  StrictHostKeyChecking no\n"
                                         "  UserKnownHostsFile /dev/null\n",
                                         sshd->proxy_command(), key.string(), CODER_RUNTIME_GO_SSHD));
  }

  test::Ran scp(std::vector<std::string> args) const {
    args.insert(args.begin(), {"scp", "-F", config.string()});
    return run_cli(std::move(args));
  }
};

std::string random_bytes(std::size_t size) {
  std::mt19937 random(7);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

fs::perms mode_of(const fs::path& path) { return fs::status(path).permissions() & fs::perms::all; }

}  // namespace

TEST_CASE("scp: a file goes up and comes back byte for byte, with its mode under -p", "[cli][scp][sshd][go]") {
  const std::string host = GENERATE("box", "go");
  INFO(host);
  Setup setup;
  const auto content = random_bytes(3 * 1024 * 1024 + 17);
  const auto original = setup.local / "data.bin";
  test::write_text(original, content);
  fs::permissions(original, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

  const auto up = setup.scp({"-p", original.string(), fmt::format("{}:{}", host, setup.remote.string())});
  INFO(up.err);
  REQUIRE(up.status == 0);
  CHECK(up.out.empty());
  CHECK(up.err.find('\r') == std::string::npos);  // no terminal: no progress line
  const auto uploaded = setup.remote / "data.bin";
  CHECK(test::read_text(uploaded) == content);
  CHECK(mode_of(uploaded) == mode_of(original));
  CHECK(std::distance(fs::directory_iterator(setup.remote), fs::directory_iterator()) == 1);  // no temporary

  const auto back = setup.local / "back.bin";
  const auto down = setup.scp({"-p", fmt::format("{}:{}", host, uploaded.string()), back.string()});
  INFO(down.err);
  REQUIRE(down.status == 0);
  CHECK(test::read_text(back) == content);
  CHECK(mode_of(back) == mode_of(original));
}

TEST_CASE("scp: -r copies a tree both ways, and -p keeps modification times", "[cli][scp][sshd]") {
  Setup setup;
  const auto tree = setup.local / "tree";
  fs::create_directories(tree / "inner");
  test::write_text(tree / "top.txt", "top\n");
  test::write_text(tree / "inner" / "deep.txt", "deep\n");
  const fs::file_time_type long_ago = fs::file_time_type::clock::from_sys(
      std::chrono::sys_seconds(std::chrono::sys_days(std::chrono::year(2001) / 2 / 3)));
  fs::last_write_time(tree / "top.txt", long_ago);

  const auto up = setup.scp({"-r", "-p", tree.string(), "box:" + setup.remote.string()});
  INFO(up.err);
  REQUIRE(up.status == 0);
  CHECK(test::read_text(setup.remote / "tree" / "inner" / "deep.txt") == "deep\n");
  CHECK(fs::last_write_time(setup.remote / "tree" / "top.txt") == long_ago);

  const auto copy = setup.local / "copy";
  const auto down = setup.scp({"-r", "box:" + (setup.remote / "tree").string(), copy.string()});
  INFO(down.err);
  REQUIRE(down.status == 0);
  CHECK(test::read_text(copy / "top.txt") == "top\n");
  CHECK(test::read_text(copy / "inner" / "deep.txt") == "deep\n");
}

TEST_CASE("scp: several sources go into a directory, and a target that is none is refused", "[cli][scp][sshd]") {
  Setup setup;
  test::write_text(setup.local / "a", "a");
  test::write_text(setup.local / "b", "b");
  const auto a = (setup.local / "a").string();
  const auto b = (setup.local / "b").string();
  const auto into = setup.scp({a, b, "box:" + setup.remote.string()});
  INFO(into.err);
  REQUIRE(into.status == 0);
  CHECK(test::read_text(setup.remote / "a") == "a");
  CHECK(test::read_text(setup.remote / "b") == "b");

  const auto refused = setup.scp({a, b, "box:" + (setup.remote / "a").string()});
  CHECK(refused.status == 1);
  CHECK_THAT(refused.err, Catch::Contains("not a directory"));
  CHECK(test::read_text(setup.remote / "a") == "a");
}

TEST_CASE("scp: a file that is not there fails with 1 and the server's words, and the other files still go",
          "[cli][scp][sshd]") {
  Setup setup;
  test::write_text(setup.remote / "present", "here");
  const auto missing = (setup.remote / "missing").string();
  const auto ran = setup.scp({"box:" + missing, "box:" + (setup.remote / "present").string(), setup.local.string()});
  CHECK(ran.status == 1);
  CHECK_THAT(ran.err, Catch::StartsWith("scp: " + missing + ": sftp: "));
  CHECK_THAT(ran.err, Catch::Contains("No such file"));
  CHECK(test::read_text(setup.local / "present") == "here");

  const auto directory = setup.scp({"box:" + setup.remote.string(), setup.local.string()});
  CHECK(directory.status == 1);
  CHECK_THAT(directory.err, Catch::Contains("a directory (use -r)"));
}

TEST_CASE("scp: an upload into a folder that does not exist leaves nothing behind", "[cli][scp][go]") {
  Setup setup;
  test::write_text(setup.local / "f", "f");
  const auto target = setup.remote / "no-such-folder" / "f";
  const auto ran = setup.scp({(setup.local / "f").string(), "go:" + target.string()});
  CHECK(ran.status == 1);
  CHECK_THAT(ran.err, Catch::Contains(target.string()));
  CHECK(fs::is_empty(setup.remote));
}

TEST_CASE("scp: a connection that fails is 255 with the proxy's words, and bad operands are refused", "[cli][scp]") {
  Setup setup;
  const auto broken = setup.scp({"broken:/x", setup.local.string()});
  CHECK(broken.status == 255);
  CHECK_THAT(broken.err, Catch::Contains("no such workspace"));

  const auto two_servers = setup.scp({"box:/a", "go:/b"});
  CHECK(two_servers.status == 1);
  CHECK_THAT(two_servers.err, Catch::Contains("not supported"));

  const auto one_operand = setup.scp({"box:/a"});
  CHECK(one_operand.status == 1);
}

// Renaming a whole file over the target would replace a device or a link with a plain file: such
// targets are written in place, as scp writes them.
TEST_CASE("scp: /dev/null and a symbolic link as targets stay what they are", "[cli][scp][sshd]") {
  Setup setup;
  test::write_text(setup.local / "f", "content");
  const auto down = setup.scp({"box:" + (setup.local / "f").string(), "/dev/null"});
  INFO(down.err);
  CHECK(down.status == 0);
  const auto up = setup.scp({(setup.local / "f").string(), "box:/dev/null"});
  INFO(up.err);
  CHECK(up.status == 0);
  CHECK(fs::is_character_file("/dev/null"));

  test::write_text(setup.remote / "real", "old");
  fs::create_symlink(setup.remote / "real", setup.remote / "link");
  const auto through = setup.scp({(setup.local / "f").string(), "box:" + (setup.remote / "link").string()});
  INFO(through.err);
  CHECK(through.status == 0);
  CHECK(fs::is_symlink(setup.remote / "link"));
  CHECK(test::read_text(setup.remote / "real") == "content");
}
