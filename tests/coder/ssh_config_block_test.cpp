// The ssh config block: written, replaced in place, removed; markers that are duplicated or
// unbalanced; quoting; the file's mode, its folder, and symlinks.

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "runtime/atomic_file.hpp"
#include "coder/ssh_config_block.hpp"
#include "support/files.hpp"

using namespace cr;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kUserLines = "Host example\n  User me\n";

coder::SshConfigBlock block(std::string coder = "/usr/bin/coder") { return {coder, "mux--coder"}; }

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("config block: the exact text the desktop app writes", "[coder][config]") {
  auto rendered = coder::render_block(block());
  REQUIRE(rendered);
  CHECK(*rendered ==
        "# --- START MUX CODER SSH ---\n"
        "Host *.mux--coder\n"
        "  ConnectTimeout 0\n"
        "  LogLevel ERROR\n"
        "  StrictHostKeyChecking no\n"
        "  UserKnownHostsFile /dev/null\n"
        "  ProxyCommand \"/usr/bin/coder\" \"ssh\" \"--stdio\" \"--hostname-suffix\" \"mux--coder\" \"%h\"\n"
        "# --- END MUX CODER SSH ---\n");
  auto other = coder::render_block({"/usr/bin/coder", "corp"});
  REQUIRE(other);
  CHECK_THAT(*other, Contains("Host *.corp\n") && Contains("\"--hostname-suffix\" \"corp\""));
  for (std::string bad : {"", "a b", "*", "x\ny"}) CHECK_FALSE(coder::render_block({"/usr/bin/coder", bad}));
}

TEST_CASE("config block: arguments quoted, quotes escaped, backslashes kept, line breaks refused", "[coder][config]") {
  CHECK(*coder::quote_proxy_argument("C:\\Program Files\\Coder\\coder.exe") ==
        "\"C:\\Program Files\\Coder\\coder.exe\"");
  CHECK(*coder::quote_proxy_argument("/opt/my \"odd\" dir/coder") == "\"/opt/my \\\"odd\\\" dir/coder\"");
  CHECK(*coder::quote_proxy_argument("/opt/100%/coder") == "\"/opt/100%%/coder\"");
  CHECK(*coder::quote_proxy_argument("%h", false) == "\"%h\"");
  for (std::string bad : {std::string("/a\nb/coder"), std::string("/a\rb/coder"), std::string("/a\0b", 4)}) {
    auto refused = coder::quote_proxy_argument(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
  }
  test::TemporaryDirectory dir;
  const auto config = dir.path() / "config";
  auto refused = coder::write_block(config, block("/opt/evil\nHost *\n  ProxyCommand sh/coder"));
  REQUIRE_FALSE(refused);
  CHECK_FALSE(fs::exists(config));
}

TEST_CASE("config block: the ProxyCommand it writes reads back as a workspace route, and nothing else does",
          "[coder][config]") {
  for (const std::string coder :
       {"/usr/bin/coder", "C:\\Program Files\\Coder\\coder.exe", "/opt/my \"odd\" dir/coder", "/opt/100%/coder"}) {
    INFO(coder);
    const auto line = coder::coder_proxy_command(coder, "mux--coder", "%h");
    REQUIRE(line);
    const auto route = coder::read_coder_proxy_command(*line, "ws.mux--coder");
    REQUIRE(route);
    CHECK(route->coder == coder);
    CHECK(route->suffix == "mux--coder");
  }
  const auto literal = coder::read_coder_proxy_command("/usr/bin/coder ssh --stdio --hostname-suffix s ws.s", "ws.s");
  REQUIRE(literal);
  CHECK(literal->coder == "/usr/bin/coder");
  CHECK(literal->suffix == "s");
  // Other flags, other hosts, shell syntax or expansions, unbalanced quotes: not known to be a
  // workspace's route.
  for (const std::string other :
       {"coder ssh --stdio --hostname-suffix s other.s", "coder ssh --stdio coder.ws",
        "coder --global-config /x ssh --stdio --hostname-suffix s %h", "coder ssh --stdio --hostname-suffix s %h; rm x",
        "\"$HOME/coder\" ssh --stdio --hostname-suffix s %h", "\"`which coder`\" ssh --stdio --hostname-suffix s %h",
        "\"/usr/bin/coder ssh --stdio --hostname-suffix s %h",
        "\"\\\\server\\coder\" ssh --stdio --hostname-suffix s %h", "nc %h 22", "",
        "coder ssh --stdio --hostname-suffix '' %h", "\"/usr/bin/coder\"ssh --stdio --hostname-suffix s %h"}) {
    INFO(other);
    CHECK_FALSE(coder::read_coder_proxy_command(other, "ws.s"));
  }
}

TEST_CASE("config block: a new file is 0600 in a ~/.ssh created 0700", "[coder][config]") {
  test::TemporaryDirectory home;
  const auto config = home.path() / ".ssh" / "config";
  REQUIRE(coder::write_block(config, block()));
  CHECK(test::read_text(config) == *coder::render_block(block()));
  CHECK(mode_of(config) == 0600);
  CHECK(mode_of(config.parent_path()) == 0700);
  // Nothing left beside it.
  CHECK(std::distance(fs::directory_iterator(config.parent_path()), fs::directory_iterator()) == 1);
}

TEST_CASE("config block: appended after the user's lines, replaced in place, removed cleanly", "[coder][config]") {
  test::TemporaryDirectory dir;
  const auto config = dir.path() / "config";
  test::write_text(config, kUserLines);
  REQUIRE(coder::write_block(config, block()));
  const auto first = *coder::render_block(block());
  CHECK(test::read_text(config) == kUserLines + "\n" + first);

  // Lines after the block stay after it when it is replaced.
  test::write_text(config, test::read_text(config) + "\nHost after\n  Port 2222\n");
  REQUIRE(coder::write_block(config, block("/new/coder")));
  const auto second = *coder::render_block(block("/new/coder"));
  CHECK(test::read_text(config) == kUserLines + "\n" + second + "\nHost after\n  Port 2222\n");

  auto removed = coder::remove_block(config);
  REQUIRE(removed);
  CHECK(*removed);
  CHECK(test::read_text(config) == kUserLines + "\n\nHost after\n  Port 2222\n");
  removed = coder::remove_block(config);
  REQUIRE(removed);
  CHECK_FALSE(*removed);
}

TEST_CASE("config block: write then remove gives the user's file back", "[coder][config]") {
  for (std::string original :
       {std::string(""), kUserLines, std::string("Host x"), std::string("Host a\r\n  User b\r\n")}) {
    auto added = coder::with_block(original, *coder::render_block(block()), "config");
    REQUIRE(added);
    auto again = coder::with_block(*added, *coder::render_block(block()), "config");
    REQUIRE(again);
    CHECK(*again == *added);
    auto removed = coder::without_block(*added, "config");
    REQUIRE(removed);
    const std::string expected = original.empty() || original.ends_with('\n') ? original : original + "\n";
    CHECK(*removed == expected);
  }
  test::TemporaryDirectory dir;
  auto missing = coder::remove_block(dir.path() / "none");
  REQUIRE(missing);
  CHECK_FALSE(*missing);
}

TEST_CASE("config block: duplicate or unbalanced markers are errors naming the lines", "[coder][config]") {
  const std::string start(coder::kBlockStart);
  const std::string end(coder::kBlockEnd);
  struct Row {
    std::string text;
    std::string message;
    std::string lines;  // the evidence for the start marker
  };
  const std::vector<Row> rows{
      {start + "\n" + end + "\n" + start + "\n" + end + "\n", "more than once", "line 1, 3"},
      {"Host a\n" + start + "\nHost b\n", "unbalanced", "line 2"},
      {end + "\nx\n" + start + "\n", "unbalanced", "line 3"},
      {"  " + start + "  \n" + start + "\n" + end + "\n", "more than once", "line 1, 2"},
  };
  test::TemporaryDirectory dir;
  const auto config = dir.path() / "config";
  for (const auto& row : rows) {
    INFO(row.text);
    test::write_text(config, row.text);
    auto written = coder::write_block(config, block());
    REQUIRE_FALSE(written);
    CHECK(written.error().layer == runtime::Layer::config);
    CHECK_THAT(written.error().summary(), Contains(row.message) && Contains(config.string()));
    CHECK(written.error().find_evidence(start)->text == row.lines);
    CHECK_FALSE(coder::remove_block(config));
    CHECK(test::read_text(config) == row.text);  // untouched
  }
  test::write_text(config, end + "\n");
  auto only_end = coder::write_block(config, block());
  REQUIRE_FALSE(only_end);
  CHECK(only_end.error().find_evidence(end)->text == "line 1");
}

TEST_CASE("config block: an existing file keeps its mode", "[coder][config]") {
  test::TemporaryDirectory dir;
  const auto config = dir.path() / "config";
  test::write_text(config, kUserLines);
  fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  REQUIRE(coder::write_block(config, block()));
  CHECK(mode_of(config) == 0640);
  REQUIRE(coder::remove_block(config));
  CHECK(mode_of(config) == 0640);
}

TEST_CASE("config block: a symlinked config is followed, the link stays a link", "[coder][config]") {
  test::TemporaryDirectory dir;
  const auto dotfiles = dir.path() / "dotfiles";
  fs::create_directories(dotfiles);
  const auto real = dotfiles / "ssh_config";
  test::write_text(real, kUserLines);
  const auto ssh = dir.path() / ".ssh";
  fs::create_directories(ssh);
  const auto link = ssh / "config";
  fs::create_symlink("../dotfiles/ssh_config", link);

  REQUIRE(coder::write_block(link, block()));
  CHECK(fs::is_symlink(fs::symlink_status(link)));
  CHECK_THAT(test::read_text(real), Contains(std::string(coder::kBlockStart)) && Contains("Host example"));
  REQUIRE(coder::remove_block(link));
  CHECK(fs::is_symlink(fs::symlink_status(link)));
  CHECK(test::read_text(real) == kUserLines);

  const auto loop = ssh / "loop";
  fs::create_symlink("loop", loop);
  auto refused = coder::write_block(loop, block());
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().summary(), Contains("symbolic links"));
}
