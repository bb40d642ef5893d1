// The original failure, for real: the SSH client reaches a server on golang.org/x/crypto/ssh (the
// Coder agent's library, cross-built for Windows) through a ProxyCommand whose program lives in a
// folder with spaces and whose every argument is double-quoted, as `coder config-ssh` and the
// desktop app write it. The desktop app saw "Premature close" here.

#include <catch2/catch.hpp>

#include "ssh/known_hosts.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"
#include "windows/helpers.hpp"

using namespace cr;

namespace {

std::string quoted_go_sshd(std::string arguments = "") {
  return "\"" + test::helper(L"go_sshd.exe") + "\"" + arguments;
}

}  // namespace

TEST_CASE("windows: key exchange, none auth and exec through a quoted ProxyCommand with spaces", "[windows][ssh]") {
  auto result = test::run(test::exec_through(quoted_go_sshd(R"( "-rekey-bytes" "0")"), test::as_user("coder"),
                                             "echo hello& echo oops 1>&2& exit 3"),
                          std::chrono::seconds(60));
  INFO((result ? "ok" : result.error().summary()));
  REQUIRE(result);
  CHECK_THAT(result->stdout_data, Catch::StartsWith("hello"));
  CHECK_THAT(result->stderr_data, Catch::StartsWith("oops"));
  CHECK(result->exit_code == 3);
}

TEST_CASE("windows: a proxy that exits 1 before the banner: the error quotes its code and stderr", "[windows][ssh]") {
  // go_sshd refuses an unreadable host key file at once, on stderr, with status 1.
  auto result = test::run(
      test::connect_through(quoted_go_sshd(R"( "-hostkey" "C:\no such folder\key.pem")"), test::as_user("coder")),
      std::chrono::seconds(60));
  REQUIRE_FALSE(result);
  INFO(result.error().summary());
  CHECK(result.error().layer == runtime::Layer::proxy);
  CHECK_THAT(result.error().message, Catch::Contains("exited with status 1"));
  CHECK_THAT(result.error().message, Catch::Contains("go_sshd.exe"));
  REQUIRE(result.error().find_evidence("stderr"));
  CHECK_THAT(result.error().find_evidence("stderr")->text, Catch::StartsWith("go_sshd:"));
  CHECK_THAT(result.error().summary(), !Catch::Contains("premature"));
}

TEST_CASE("windows: a host key for UserKnownHostsFile /dev/null or NUL is dropped, as OpenSSH for Windows does",
          "[windows][ssh][known_hosts]") {
  std::vector<std::uint8_t> key_blob;
  for (const char c : std::string_view("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19))
    key_blob.push_back(static_cast<std::uint8_t>(c));
  key_blob.resize(key_blob.size() + 32, 7);
  for (const char* null_device : {"/dev/null", "NUL", "nul"}) {
    auto added = ssh::add_known_host(null_device, "ws.mux--coder", 22, key_blob, false);
    INFO(null_device << ": " << (added ? "dropped" : added.error().summary()));
    CHECK(added);
  }
}
