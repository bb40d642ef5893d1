// ssh_config(5) reading: precedence, Host and Match blocks, Include, quoting, tokens and the
// errors a person gets for a bad file; and the same files resolved by OpenSSH's own `ssh -G`,
// which must agree with us on the options the client uses.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "ssh/config.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

class TempHome {
 public:
  TempHome() {
    char templ[] = "/tmp/coder-runtime-config-XXXXXX";
    if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    fs::create_directories(dir_ / ".ssh");
  }
  ~TempHome() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  const fs::path& path() const { return dir_; }
  fs::path write(const std::string& relative, const std::string& text) const {
    const auto file = dir_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }
  ssh::ConfigContext context(std::string host) const {
    ssh::ConfigContext context;
    context.host = std::move(host);
    context.local_user = "me";
    context.home = dir_;
    return context;
  }

 private:
  fs::path dir_;
};

ssh::SshConfig read(const TempHome& home, const std::string& host, const fs::path& file,
                    std::vector<std::string> options = {}) {
  ssh::ConfigInput input{std::move(options), {file}};
  auto config = ssh::read_config(input, home.context(host));
  INFO((config ? "" : config.error().summary()));
  REQUIRE(config);
  return std::move(*config);
}

runtime::Error read_error(const TempHome& home, const std::string& host, const fs::path& file) {
  ssh::ConfigInput input{{}, {file}};
  auto config = ssh::read_config(input, home.context(host));
  REQUIRE_FALSE(config);
  CHECK(config.error().layer == runtime::Layer::config);
  return config.error();
}

// `ssh -G`: how OpenSSH itself resolves the file for a host, keyword -> its lines.
std::multimap<std::string, std::string> openssh_resolves(const fs::path& file, const std::string& host) {
  const auto command = fmt::format("ssh -G -F '{}' '{}' 2>/dev/null", file.string(), host);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe);
  std::multimap<std::string, std::string> out;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) {
    std::string line(buffer);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    const auto space = line.find(' ');
    if (space != std::string::npos) out.emplace(line.substr(0, space), line.substr(space + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("the first value obtained wins, and -o options come before every file", "[config]") {
  TempHome home;
  const auto file = home.write(".ssh/config",
                               "Host ws.coder\n"
                               "  User first\n"
                               "  Port 2222\n"
                               "Host *\n"
                               "  User second\n"
                               "  Port 22\n"
                               "  ConnectTimeout 7\n");
  const auto config = read(home, "ws.coder", file, {"Port=4000"});
  CHECK(config.text("user") == "first");
  CHECK(config.text("Port") == "4000");
  CHECK(config.origin("port") == "command line");
  CHECK(config.origin("user") == file.string() + ":2");
  CHECK(*config.number("ConnectTimeout", 0, 3600) == 7);
  const auto other = read(home, "elsewhere", file);
  CHECK(other.text("user") == "second");
}

TEST_CASE("IdentityFile accumulates in order, and ~ and tokens expand", "[config]") {
  TempHome home;
  const auto file = home.write(".ssh/config",
                               "Host box\n"
                               "  HostName %h.example.com\n"
                               "  User deploy\n"
                               "  IdentityFile ~/.ssh/id_%r_%h\n"
                               "IdentityFile ~/.ssh/id_ed25519\n");
  const auto config = read(home, "box", file);
  CHECK(config.text("hostname") == "box.example.com");
  const auto identities = config.all("IdentityFile");
  REQUIRE(identities.size() == 2);
  CHECK(*config.expand(identities[0], "IdentityFile") == (home.path() / ".ssh/id_deploy_box.example.com").string());
  CHECK(*config.expand(identities[1], "IdentityFile") == (home.path() / ".ssh/id_ed25519").string());
  CHECK(*config.expand("%d/%u/%n/%p/%%", "x") == home.path().string() + "/me/box/22/%");
  const auto unknown = config.expand("%Z", "ControlPath");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message, Catch::Contains("%Z"));
}

TEST_CASE("Host patterns: wildcards, several patterns, negation vetoes", "[config]") {
  TempHome home;
  const auto file = home.write(".ssh/config",
                               "Host *.coder !bad.coder other\n"
                               "  User coder\n");
  CHECK(read(home, "ws.coder", file).text("user") == "coder");
  CHECK(read(home, "WS.CODER", file).text("user") == "coder");
  CHECK(read(home, "other", file).text("user") == "coder");
  CHECK_FALSE(read(home, "bad.coder", file).text("user"));
  CHECK_FALSE(read(home, "ws.coder.example", file).text("user"));
}

TEST_CASE("ProxyCommand keeps the rest of the line as written, quotes and all", "[config]") {
  TempHome home;
  const auto file = home.write(
      ".ssh/config",
      "Host *.mux--coder\n"
      "  ProxyCommand \"/opt/my coder/coder\" \"ssh\" \"--stdio\" \"--hostname-suffix\" \"mux--coder\" \"%h\"  \n");
  CHECK(read(home, "ws.mux--coder", file).text("ProxyCommand") ==
        "\"/opt/my coder/coder\" \"ssh\" \"--stdio\" \"--hostname-suffix\" \"mux--coder\" \"%h\"");
}

TEST_CASE("Keyword=value, quoted arguments and CRLF line ends", "[config]") {
  TempHome home;
  const auto file = home.write(".ssh/config",
                               "Host=box\r\n"
                               "  IdentityFile = \"~/my keys/id_ed25519\"\r\n"
                               "  UserKnownHostsFile \"/tmp/a b\" /tmp/c # trailing comment\r\n");
  const auto config = read(home, "box", file);
  CHECK(config.all("identityfile") == std::vector<std::string>{"~/my keys/id_ed25519"});
  CHECK(*config.find("UserKnownHostsFile") == std::vector<std::string>{"/tmp/a b", "/tmp/c"});
}

TEST_CASE("Match host, originalhost, user, localuser, all and negation", "[config]") {
  TempHome home;
  const auto file = home.write(".ssh/config",
                               "Host alias\n"
                               "  HostName real.example\n"
                               "Match host real.example !user root\n"
                               "  Port 1\n"
                               "Match originalhost alias localuser me\n"
                               "  User matched\n"
                               "Match !localuser me\n"
                               "  ConnectTimeout 1\n"
                               "Match all\n"
                               "  ConnectTimeout 2\n");
  const auto config = read(home, "alias", file);
  CHECK(config.text("port") == "1");
  CHECK(config.text("user") == "matched");
  CHECK(config.text("connecttimeout") == "2");
}

TEST_CASE("Match exec runs through the caller's runner, with tokens expanded", "[config]") {
  TempHome home;
  // What `coder config-ssh` writes for Coder Connect.
  const auto file = home.write(".ssh/config",
                               "Match host *.coder !exec \"coder connect exists %h\"\n"
                               "  ProxyCommand coder ssh --stdio %h\n");
  std::vector<std::string> ran;
  // Reads the file for `host` with a runner that records each command and answers `exists`.
  const auto read_with_runner = [&](const std::string& host, bool exists) {
    auto context = home.context(host);
    context.run_exec = [&ran, exists](const std::string& command) {
      ran.push_back(command);
      return exists;
    };
    return ssh::read_config({{}, {file}}, std::move(context));
  };
  for (const bool exists : {false, true}) {
    auto config = read_with_runner("ws.coder", exists);
    REQUIRE(config);
    CHECK(config->text("proxycommand").has_value() == !exists);
  }
  CHECK(ran == std::vector<std::string>{"coder connect exists ws.coder", "coder connect exists ws.coder"});
  // Without a runner, Match exec is an error, not a guess.
  const auto error = read_error(home, "ws.coder", file);
  CHECK_THAT(error.message, Catch::Contains("Match exec"));
  // No command runs once an earlier criterion has failed.
  ran.clear();
  REQUIRE(read_with_runner("elsewhere", false));
  CHECK(ran.empty());
}

TEST_CASE("Include: relative to ~/.ssh, wildcards in sorted order, conditional inside Host", "[config]") {
  TempHome home;
  home.write(".ssh/config.d/20-late", "User late\nPort 20\n");
  home.write(".ssh/config.d/10-early", "User early\n");
  home.write(".ssh/only-box", "ConnectTimeout 9\n");
  const auto file = home.write(".ssh/config",
                               "Include config.d/*\n"
                               "Host box\n"
                               "  Include only-box missing-file\n");
  const auto config = read(home, "box", file);
  CHECK(config.text("user") == "early");
  CHECK(config.text("port") == "20");
  CHECK(config.text("connecttimeout") == "9");
  CHECK_FALSE(read(home, "other", file).text("connecttimeout"));
}

TEST_CASE("Include that includes itself stops at the depth limit with an error", "[config]") {
  TempHome home;
  const auto file = home.write(".ssh/config", "Include config\n");
  const auto error = read_error(home, "box", file);
  CHECK_THAT(error.message, Catch::Contains("Include nested more than 16 deep"));
}

TEST_CASE("bad files are errors naming the file and line, never fallbacks", "[config]") {
  TempHome home;
  SECTION("an unknown keyword, as ssh says it") {
    const auto file = home.write(".ssh/config", "Host *\n  Colour blue\n");
    const auto error = read_error(home, "box", file);
    CHECK(error.message == file.string() + ":2: Bad configuration option: colour");
    CHECK(error.find_evidence("line")->text == "  Colour blue");
  }
  SECTION("IgnoreUnknown lets named keywords pass") {
    const auto file = home.write(".ssh/config", "IgnoreUnknown Colour,Flavour*\nColour blue\nFlavourful yes\n");
    CHECK_FALSE(read(home, "box", file).find("colour"));
  }
  SECTION("an unterminated quote") {
    const auto file = home.write(".ssh/config", "IdentityFile \"~/.ssh/id\n");
    CHECK_THAT(read_error(home, "box", file).message, Catch::Contains(":1: unterminated quoted argument"));
  }
  SECTION("a keyword without a value") {
    const auto file = home.write(".ssh/config", "User\n");
    CHECK_THAT(read_error(home, "box", file).message, Catch::Contains(":1: user needs a value"));
  }
  SECTION("an unsupported Match criterion") {
    const auto file = home.write(".ssh/config", "Match localnetwork 10.0.0.0/8\n  User x\n");
    CHECK_THAT(read_error(home, "box", file).message, Catch::Contains("unsupported Match criterion 'localnetwork'"));
  }
  SECTION("a value of the wrong kind, found when it is used") {
    const auto file = home.write(".ssh/config", "BatchMode perhaps\nServerAliveCountMax -3\n");
    const auto config = read(home, "box", file);
    const auto flag = config.flag("BatchMode");
    REQUIRE_FALSE(flag);
    CHECK(flag.error().message == file.string() + ":1: BatchMode takes yes or no, not 'perhaps'");
    const auto number = config.number("ServerAliveCountMax", 0, 1000);
    REQUIRE_FALSE(number);
    CHECK_THAT(number.error().message, Catch::Contains(":2: ServerAliveCountMax takes a whole number from 0 to 1000"));
  }
  SECTION("Host is not an option") {
    ssh::ConfigInput input{{"Host=x"}, {}};
    const auto config = ssh::read_config(input, home.context("box"));
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message, Catch::Contains("command line: host is not allowed as an option"));
  }
}

TEST_CASE("a missing file is no configuration, as for ssh", "[config]") {
  TempHome home;
  const auto config = read(home, "box", home.path() / "nope");
  CHECK_FALSE(config.text("user"));
}

TEST_CASE("OpenSSH's own ssh -G resolves the same files the same way", "[config][openssh]") {
  TempHome home;
  home.write(".ssh/extra", "Host *.coder\n  ServerAliveInterval 5\n");
  const auto file = home.write(".ssh/config",
                               "Host alias\n"
                               "  HostName real.example\n"
                               "  Port 2200\n"
                               "Host *.coder !bad.coder\n"
                               "  User coder\n"
                               "  StrictHostKeyChecking no\n"
                               "  ProxyCommand /usr/bin/coder ssh --stdio %h\n"
                               "  IdentityFile /keys/coder\n"
                               "Match originalhost alias !user nobody\n"
                               "  User aliased\n"
                               "Include " +
                                   (home.path() / ".ssh/extra").string() +
                                   "\n"
                                   "Host *\n"
                                   "  ConnectTimeout 11\n"
                                   "  IdentityFile /keys/all\n"
                                   "  ServerAliveCountMax 4\n");
  for (const std::string host : {"alias", "ws.coder", "bad.coder", "plain"}) {
    INFO(host);
    const auto theirs = openssh_resolves(file, host);
    REQUIRE_FALSE(theirs.empty());
    const auto ours = read(home, host, file);
    const auto their_value = [&](const std::string& keyword) {
      const auto it = theirs.find(keyword);
      return it == theirs.end() ? std::string() : it->second;
    };
    CHECK(ours.text("hostname").value_or(host) == their_value("hostname"));
    CHECK(ours.text("port").value_or("22") == their_value("port"));
    if (ours.text("user")) CHECK(*ours.text("user") == their_value("user"));
    CHECK(ours.text("connecttimeout") == their_value("connecttimeout"));
    CHECK(ours.text("serveralivecountmax") == their_value("serveralivecountmax"));
    CHECK(ours.text("serveraliveinterval").value_or("0") == their_value("serveraliveinterval"));
    if (ours.text("proxycommand")) CHECK(*ours.text("proxycommand") == their_value("proxycommand"));
    CHECK(theirs.count("proxycommand") == (ours.text("proxycommand") ? 1u : 0u));
    std::vector<std::string> their_identities;
    for (auto [it, end] = theirs.equal_range("identityfile"); it != end; ++it) their_identities.push_back(it->second);
    CHECK(ours.all("identityfile") == their_identities);
  }
}
