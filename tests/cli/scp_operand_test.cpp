// scp operands read as OpenSSH's scp reads them (scp.c's colon() and parse_uri()).

#include <catch2/catch.hpp>

#include "cli/scp_operand.hpp"

using namespace cr;

namespace {

cli::RemoteFile remote(std::string_view text) {
  auto operand = cli::parse_scp_operand(text, false);
  REQUIRE(operand);
  REQUIRE(operand->remote);
  return *operand->remote;
}

bool is_local(std::string_view text, bool drive_letters = false) {
  auto operand = cli::parse_scp_operand(text, drive_letters);
  REQUIRE(operand);
  if (operand->remote) return false;
  CHECK(operand->local_path == text);
  return true;
}

}  // namespace

TEST_CASE("scp operands: host, user and path", "[scp]") {
  const auto plain = remote("box:dir/file");
  CHECK(plain.user.empty());
  CHECK(plain.host == "box");
  CHECK(plain.path == "dir/file");
  CHECK_FALSE(plain.port);

  const auto with_user = remote("me@box:/etc/hosts");
  CHECK(with_user.user == "me");
  CHECK(with_user.host == "box");
  CHECK(with_user.path == "/etc/hosts");

  // The last '@' before the host ends the user; the path keeps its own '@' and ':'.
  const auto at_in_user = remote("me@corp@box:a@b:c");
  CHECK(at_in_user.user == "me@corp");
  CHECK(at_in_user.host == "box");
  CHECK(at_in_user.path == "a@b:c");

  CHECK(remote("box:").path == ".");
}

TEST_CASE("scp operands: IPv6 hosts in brackets", "[scp]") {
  const auto bare = remote("[::1]:x");
  CHECK(bare.host == "::1");
  CHECK(bare.path == "x");
  const auto with_user = remote("me@[fe80::1]:/tmp");
  CHECK(with_user.user == "me");
  CHECK(with_user.host == "fe80::1");
  CHECK(with_user.path == "/tmp");
}

TEST_CASE("scp operands: local paths", "[scp]") {
  CHECK(is_local("file"));
  CHECK(is_local("./a:b"));
  CHECK(is_local("/abs/x:y"));
  CHECK(is_local(":leading-colon"));
  CHECK(is_local("dir/sub"));
  // A drive letter is a host named C on POSIX, a local path on Windows.
  CHECK_FALSE(is_local("C:\\Users\\me", false));
  CHECK(is_local("C:\\Users\\me", true));
  CHECK(is_local("c:/x", true));
  CHECK_FALSE(is_local("box:/x", true));
}

TEST_CASE("scp operands: scp:// addresses", "[scp]") {
  const auto full = remote("scp://me@box:2222/dir/f");
  CHECK(full.user == "me");
  CHECK(full.host == "box");
  CHECK(full.port == 2222);
  CHECK(full.path == "dir/f");

  CHECK(remote("scp://box//etc/hosts").path == "/etc/hosts");
  CHECK(remote("scp://box").path == ".");
  CHECK(remote("scp://box/").path == ".");
  CHECK(remote("scp://[::1]:22/a%20b").path == "a b");
  CHECK(remote("scp://[::1]:22/a%20b").host == "::1");
}

TEST_CASE("scp operands: malformed ones are errors that quote them", "[scp]") {
  for (const std::string text : {"scp://box:99999/x", "scp://box/%zz", "scp:///x", "bad host:x"}) {
    INFO(text);
    auto operand = cli::parse_scp_operand(text, false);
    REQUIRE_FALSE(operand);
    CHECK(operand.error().code == runtime::Errc::invalid_argument);
    CHECK(operand.error().summary().find("'" + text + "'") != std::string::npos);
  }
}
