// known_hosts files and StrictHostKeyChecking, against keys and hashed lines made by ssh-keygen,
// and our own appended lines read back by `ssh-keygen -F`.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "ssh/crypto/encoding.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/known_hosts.hpp"
#include "support/files.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

using test::read_text;
using test::run_command;
using test::TemporaryDirectory;
using test::write_text;

struct TestKey {
  std::string type;
  std::string base64;
  std::vector<std::uint8_t> blob;
  std::string fingerprint;

  ssh::HostKey host_key() const { return {type, blob, fingerprint}; }
};

// A fresh key from ssh-keygen, made once per name for the whole run.
const TestKey& key(const std::string& name, const std::string& type = "ed25519") {
  static TemporaryDirectory directory;
  static std::map<std::string, TestKey> keys;
  if (auto found = keys.find(name); found != keys.end()) return found->second;
  const auto path = directory.path() / name;
  REQUIRE(run_command("ssh-keygen -q -t " + type + " -N '' -C test -f " + path.string()) == 0);
  std::istringstream pub(read_text(path.string() + ".pub"));
  TestKey made;
  pub >> made.type >> made.base64;
  auto blob = ssh::crypto::base64_decode(made.base64);
  REQUIRE(blob);
  made.blob = *blob;
  made.fingerprint = ssh::crypto::fingerprint_sha256(made.blob);
  return keys.emplace(name, std::move(made)).first->second;
}

std::string line_for(const std::string& hosts, const TestKey& k) { return hosts + " " + k.type + " " + k.base64; }

ssh::HostKeyLookup lookup(const std::string& text, const std::string& host, std::uint16_t port, const TestKey& k) {
  return ssh::lookup_host_key(ssh::parse_known_hosts(text, "known_hosts"), host, port, k.type, k.blob);
}

ssh::HostKeyStatus status_of(const std::string& text, const std::string& host, std::uint16_t port, const TestKey& k) {
  return lookup(text, host, port, k).status;
}

struct Outcome {
  runtime::Result<void> result;
  std::vector<std::string> log;
};

Outcome verify(const std::string& host, std::uint16_t port, ssh::KnownHostsOptions options, const TestKey& k) {
  auto log = std::make_shared<std::vector<std::string>>();
  options.log = runtime::Logger(
      [log](runtime::LogLevel, std::string_view, std::string_view message) { log->emplace_back(message); },
      runtime::LogLevel::trace);
  auto verifier = ssh::known_hosts_verifier(host, port, std::move(options));
  auto result = verifier(k.host_key());
  return {std::move(result), *log};
}

ssh::KnownHostsOptions policy(ssh::StrictHostKeyChecking strict, std::vector<fs::path> user_files,
                              std::vector<fs::path> global_files = {}) {
  ssh::KnownHostsOptions options;
  options.strict = strict;
  options.user_files = std::move(user_files);
  options.global_files = std::move(global_files);
  return options;
}

std::string evidence(const runtime::Error& error, std::string_view label) {
  std::string all;
  for (const auto& e : error.evidence) {
    if (e.label == label) all += e.text + "\n";
  }
  return all;
}

bool contains_line(const std::vector<std::string>& log, std::string_view text) {
  return std::ranges::any_of(log, [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

ino_t inode_of(const fs::path& path) {
  struct stat status {};
  REQUIRE(::stat(path.c_str(), &status) == 0);
  return status.st_ino;
}

mode_t mode_of(const fs::path& path) {
  struct stat status {};
  REQUIRE(::stat(path.c_str(), &status) == 0);
  return status.st_mode & 07777;
}

constexpr auto kYes = ssh::StrictHostKeyChecking::yes;
constexpr auto kAcceptNew = ssh::StrictHostKeyChecking::accept_new;
constexpr auto kNo = ssh::StrictHostKeyChecking::no;

}  // namespace

TEST_CASE("known_hosts: the name a host is known by", "[knownhosts]") {
  CHECK(ssh::known_hosts_name("Example.COM", 22) == "example.com");
  CHECK(ssh::known_hosts_name("example.com", 2222) == "[example.com]:2222");
  CHECK(ssh::known_hosts_name("::1", 22) == "::1");
  CHECK(ssh::known_hosts_name("::1", 2200) == "[::1]:2200");
}

TEST_CASE("known_hosts: a plain line matches its hosts, any case, on port 22 only", "[knownhosts]") {
  const auto& a = key("a");
  const auto text = "# a comment\n\n   \n" + line_for("example.com,192.0.2.1", a) + "  my laptop key \n";
  const auto known = ssh::parse_known_hosts(text, "f");
  REQUIRE(known.lines.size() == 1);
  CHECK(known.skipped.empty());
  CHECK(known.lines[0].comment == "my laptop key");
  CHECK(known.lines[0].where.to_string() == "f:4");

  for (const auto* host : {"example.com", "EXAMPLE.com", "192.0.2.1"}) {
    INFO(host);
    const auto found = lookup(text, host, 22, a);
    CHECK(found.status == ssh::HostKeyStatus::matches);
    REQUIRE(found.keys.size() == 1);
    CHECK(found.keys[0].where.to_string() == "known_hosts:4");
    CHECK(found.keys[0].fingerprint == a.fingerprint);
  }
  CHECK(status_of(text, "example.com", 2222, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "example.org", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "sub.example.com", 22, a) == ssh::HostKeyStatus::unknown);
}

TEST_CASE("known_hosts: [host]:port lines match that port only", "[knownhosts]") {
  const auto& a = key("a");
  const auto text = line_for("[example.com]:2222,[192.0.2.1]:22", a) + "\n";
  CHECK(status_of(text, "example.com", 2222, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "example.com", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "example.com", 2223, a) == ssh::HostKeyStatus::unknown);
  // OpenSSH writes port 22 bare: a bracketed :22 is never what it looks up.
  CHECK(status_of(text, "192.0.2.1", 22, a) == ssh::HostKeyStatus::unknown);
}

TEST_CASE("known_hosts: patterns with *, ? and !negation", "[knownhosts]") {
  const auto& a = key("a");
  const auto text = line_for("*.example.com,!bad.example.com,host?.test,[*.ports.test]:2222", a) + "\n";
  CHECK(status_of(text, "a.example.com", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "deep.a.example.com", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "Bad.Example.com", 22, a) == ssh::HostKeyStatus::unknown);  // the negation vetoes the line
  CHECK(status_of(text, "example.com", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "host1.test", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "host12.test", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "host.test", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "x.ports.test", 2222, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "x.ports.test", 22, a) == ssh::HostKeyStatus::unknown);
  // A line of only negations matches nothing.
  CHECK(status_of(line_for("!other.test", a), "example.test", 22, a) == ssh::HostKeyStatus::unknown);
}

TEST_CASE("known_hosts: names hashed by ssh-keygen -H", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  const auto& a = key("a");
  const auto& b = key("b");
  write_text(file, line_for("example.com", a) + "\n" + line_for("[example.com]:2222", b) + "\n");
  REQUIRE(run_command("ssh-keygen -q -H -f " + file.string() + " >/dev/null 2>&1") == 0);
  const auto text = read_text(file);
  REQUIRE(text.starts_with("|1|"));
  REQUIRE(text.find("example.com") == std::string::npos);

  const auto known = ssh::parse_known_hosts(text, file.string());
  CHECK(known.skipped.empty());
  CHECK(known.lines.size() == 2);
  CHECK(status_of(text, "example.com", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "EXAMPLE.COM", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "example.com", 2222, b) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "example.com", 22, b) == ssh::HostKeyStatus::changed);
  CHECK(status_of(text, "example.org", 22, a) == ssh::HostKeyStatus::unknown);
}

TEST_CASE("known_hosts: several files are one list, and every file:line is reported", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto user = directory.path() / "user";
  const auto global = directory.path() / "global";
  const auto& a = key("a");
  const auto& b = key("b");
  write_text(user, "# mine\n" + line_for("one.test", a) + "\n");
  write_text(global, line_for("two.test", a) + "\n" + line_for("one.test", b) + "\n");
  const std::vector<fs::path> files{user, directory.path() / "missing", global};
  auto known = ssh::load_known_hosts(files);
  REQUIRE(known);
  CHECK(known->lines.size() == 3);

  const auto two = ssh::lookup_host_key(*known, "two.test", 22, a.type, a.blob);
  CHECK(two.status == ssh::HostKeyStatus::matches);
  REQUIRE(two.keys.size() == 1);
  CHECK(two.keys[0].where.to_string() == global.string() + ":1");

  // one.test has a in the user file and b in the global one: both are its keys.
  CHECK(ssh::lookup_host_key(*known, "one.test", 22, a.type, a.blob).status == ssh::HostKeyStatus::matches);
  CHECK(ssh::lookup_host_key(*known, "one.test", 22, b.type, b.blob).status == ssh::HostKeyStatus::matches);
  const auto& c = key("c");
  const auto changed = ssh::lookup_host_key(*known, "one.test", 22, c.type, c.blob);
  CHECK(changed.status == ssh::HostKeyStatus::changed);
  REQUIRE(changed.keys.size() == 2);
  CHECK(changed.keys[0].where.to_string() == user.string() + ":2");
  CHECK(changed.keys[1].where.to_string() == global.string() + ":2");

  CHECK(verify("two.test", 22, policy(kYes, {user}, {global}), a).result);
}

TEST_CASE("known_hosts: a file we cannot read is an error, not an empty file", "[knownhosts]") {
  TemporaryDirectory directory;  // a directory opens but does not read, even for root
  const std::vector<fs::path> files{directory.path()};
  auto known = ssh::load_known_hosts(files);
  REQUIRE_FALSE(known);
  CHECK(known.error().code == runtime::Errc::io_error);
  CHECK(known.error().layer == runtime::Layer::kex);
  CHECK_THAT(known.error().message, Catch::Contains(directory.path().string()));

  auto outcome = verify("example.com", 22, policy(kNo, {directory.path()}), key("a"));
  CHECK_FALSE(outcome.result);
}

TEST_CASE("known_hosts: @revoked keys are refused under every policy", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  const auto& a = key("a");
  const auto& b = key("b");
  write_text(file, line_for("example.com", a) + "\n" + line_for("@revoked *", a) + "\n" +
                       line_for("@revoked other.test", b) + "\n");
  const auto found = lookup(read_text(file), "example.com", 22, a);
  CHECK(found.status == ssh::HostKeyStatus::revoked);
  REQUIRE(found.keys.size() == 1);
  CHECK(found.keys[0].where.line == 2);

  for (auto strict : {kYes, kAcceptNew, kNo}) {
    auto outcome = verify("example.com", 22, policy(strict, {file}), a);
    REQUIRE_FALSE(outcome.result);
    CHECK(outcome.result.error().layer == runtime::Layer::kex);
    CHECK(outcome.result.error().code == runtime::Errc::protocol_error);
    CHECK_THAT(outcome.result.error().message, Catch::Contains("REVOKED HOST KEY"));
    CHECK_THAT(outcome.result.error().message, Catch::Contains(file.string() + ":2"));
    CHECK_THAT(evidence(outcome.result.error(), "offered key"), Catch::Contains(a.fingerprint));
  }
  // A revocation applies to the hosts on its line: b is revoked for other.test only.
  CHECK(status_of(read_text(file), "example.com", 22, b) == ssh::HostKeyStatus::changed);
  CHECK(status_of(read_text(file), "other.test", 22, b) == ssh::HostKeyStatus::revoked);
  // An unknown host with a revoked key is not added, whatever the policy.
  CHECK_FALSE(verify("new.test", 22, policy(kNo, {file}), a).result);
  CHECK(read_text(file).find("new.test") == std::string::npos);
}

TEST_CASE("known_hosts: @cert-authority lines are kept but never match a host key", "[knownhosts]") {
  const auto& a = key("a");
  const auto& b = key("b");
  const auto text = line_for("@cert-authority *.example.com", a) + "\n" + line_for("web.example.com", b) + "\n";
  const auto known = ssh::parse_known_hosts(text, "f");
  CHECK(known.skipped.empty());
  REQUIRE(known.lines.size() == 2);
  CHECK(known.lines[0].marker == ssh::KnownHostMarker::cert_authority);
  CHECK(known.lines[1].marker == ssh::KnownHostMarker::none);
  CHECK(status_of(text, "db.example.com", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(status_of(text, "web.example.com", 22, a) == ssh::HostKeyStatus::changed);  // changed from b, not a's CA line
  CHECK(lookup(text, "web.example.com", 22, a).keys.size() == 1);
  CHECK(status_of(text, "web.example.com", 22, b) == ssh::HostKeyStatus::matches);
}

TEST_CASE("known_hosts: only other key types known is unknown, with those keys shown", "[knownhosts]") {
  const auto& a = key("a");
  const auto& ecdsa = key("ecdsa", "ecdsa");
  const auto text = line_for("example.com", ecdsa) + "\n";
  const auto found = lookup(text, "example.com", 22, a);
  CHECK(found.status == ssh::HostKeyStatus::unknown);
  REQUIRE(found.keys.size() == 1);
  CHECK(found.keys[0].key_type == "ecdsa-sha2-nistp256");
  CHECK(found.keys[0].fingerprint == ecdsa.fingerprint);

  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  write_text(file, text);
  auto refused = verify("example.com", 22, policy(kYes, {file}), a);
  REQUIRE_FALSE(refused.result);
  CHECK_THAT(evidence(refused.result.error(), "known key of another type"), Catch::Contains(ecdsa.fingerprint));
  CHECK(verify("example.com", 22, policy(kAcceptNew, {file}), a).result);
  CHECK(status_of(read_text(file), "example.com", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(read_text(file), "example.com", 22, ecdsa) == ssh::HostKeyStatus::matches);
}

TEST_CASE("known_hosts: a changed key is refused loudly, with the evidence", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  const auto& a = key("a");
  const auto& b = key("b");
  const auto before = "# header\n" + line_for("[example.com]:2222", a) + "\n";
  write_text(file, before);

  for (auto strict : {kYes, kAcceptNew}) {
    auto outcome = verify("example.com", 2222, policy(strict, {file}), b);
    REQUIRE_FALSE(outcome.result);
    const auto& error = outcome.result.error();
    CHECK(error.layer == runtime::Layer::kex);
    CHECK(error.code == runtime::Errc::protocol_error);
    CHECK_THAT(error.message, Catch::Contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
    CHECK_THAT(error.message, Catch::Contains(file.string() + ":2"));
    CHECK(evidence(error, "host") == "[example.com]:2222\n");
    CHECK_THAT(evidence(error, "offered key"), Catch::Contains(b.fingerprint));
    CHECK_THAT(evidence(error, "known key"), Catch::Contains(a.fingerprint) && Catch::Contains(file.string() + ":2"));
  }
  // "no" connects anyway, says so, and leaves the file alone.
  auto accepted = verify("example.com", 2222, policy(kNo, {file}), b);
  CHECK(accepted.result);
  CHECK(contains_line(accepted.log, "REMOTE HOST IDENTIFICATION HAS CHANGED"));
  CHECK(read_text(file) == before);
}

TEST_CASE("known_hosts: a known key is accepted under every policy and nothing is written", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  const auto& a = key("a");
  write_text(file, line_for("example.com", a) + "\n");
  const auto inode = inode_of(file);
  for (auto strict : {kYes, kAcceptNew, kNo}) {
    CHECK(verify("example.com", 22, policy(strict, {file}), a).result);
  }
  CHECK(inode_of(file) == inode);
  CHECK(read_text(file) == line_for("example.com", a) + "\n");
}

TEST_CASE("known_hosts: an unknown host under each policy", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto& a = key("a");
  const auto user = directory.path() / "dot-ssh" / "known_hosts";
  const auto second = directory.path() / "second";
  const auto global = directory.path() / "global";

  SECTION("yes refuses and writes nothing") {
    auto outcome = verify("example.com", 22, policy(kYes, {user}, {global}), a);
    REQUIRE_FALSE(outcome.result);
    CHECK(outcome.result.error().layer == runtime::Layer::kex);
    CHECK_THAT(outcome.result.error().message, Catch::Contains("no ssh-ed25519 host key is known for example.com"));
    CHECK_THAT(evidence(outcome.result.error(), "offered key"), Catch::Contains(a.fingerprint));
    CHECK_THAT(evidence(outcome.result.error(), "known hosts file"), Catch::Contains(global.string()));
    CHECK_FALSE(fs::exists(user));
  }
  for (auto strict : {kAcceptNew, kNo}) {
    SECTION(strict == kNo ? "no adds the key to the first user file"
                          : "accept-new adds the key to the first user file") {
      auto outcome = verify("example.com", 2222, policy(strict, {user, second}, {global}), a);
      CHECK(outcome.result);
      CHECK(contains_line(outcome.log, "Permanently added '[example.com]:2222'"));
      CHECK(read_text(user) == line_for("[example.com]:2222", a) + "\n");
      CHECK(mode_of(user) == 0600);
      CHECK(mode_of(user.parent_path()) == 0700);
      CHECK_FALSE(fs::exists(second));
      CHECK_FALSE(fs::exists(global));
      // OpenSSH finds what we wrote.
      CHECK(run_command("ssh-keygen -F '[example.com]:2222' -f " + user.string() + " >/dev/null") == 0);

      const auto inode = inode_of(user);
      CHECK(verify("example.com", 2222, policy(strict, {user, second}, {global}), a).result);
      CHECK(inode_of(user) == inode);
    }
  }
}

TEST_CASE("known_hosts: appending keeps the file's mode and its lines", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  const auto& a = key("a");
  const auto& b = key("b");
  const auto before = "# kept\n" + line_for("one.test", a) + " no newline at the end";
  write_text(file, before);
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  const auto inode = inode_of(file);

  REQUIRE(ssh::add_known_host(file, "two.test", 22, b.blob, false));
  CHECK(read_text(file) == before + "\n" + line_for("two.test", b) + "\n");
  CHECK(mode_of(file) == 0644);
  CHECK(inode_of(file) != inode);  // replaced by rename, never rewritten in place
  CHECK(std::distance(fs::directory_iterator(directory.path()), fs::directory_iterator()) == 1);

  // Already there: nothing written.
  const auto after = inode_of(file);
  REQUIRE(ssh::add_known_host(file, "TWO.test", 22, b.blob, false));
  CHECK(inode_of(file) == after);
}

TEST_CASE("known_hosts: appending through a symlink replaces the file it points to", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto target = directory.path() / "real_known_hosts";
  const auto link = directory.path() / "known_hosts";
  write_text(target, "");
  fs::create_symlink(target, link);
  REQUIRE(ssh::add_known_host(link, "example.com", 22, key("a").blob, false));
  CHECK(fs::is_symlink(link));
  CHECK(read_text(target) == line_for("example.com", key("a")) + "\n");
}

TEST_CASE("known_hosts: HashKnownHosts writes a hashed name that ssh-keygen -F finds", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  const auto& a = key("a");
  auto options = policy(kAcceptNew, {file});
  options.hash_new_entries = true;
  REQUIRE(verify("Example.com", 2222, options, a).result);
  const auto text = read_text(file);
  CHECK(text.starts_with("|1|"));
  CHECK(text.find("example") == std::string::npos);
  CHECK_THAT(text, Catch::EndsWith(" " + a.type + " " + a.base64 + "\n"));
  CHECK(status_of(text, "example.com", 2222, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "example.com", 22, a) == ssh::HostKeyStatus::unknown);
  CHECK(run_command("ssh-keygen -F '[example.com]:2222' -f " + file.string() + " >/dev/null") == 0);
  CHECK(run_command("ssh-keygen -F 'example.com' -f " + file.string() + " >/dev/null") != 0);
}

TEST_CASE("known_hosts: malformed lines are skipped and reported with their line numbers", "[knownhosts]") {
  const auto& a = key("a");
  const auto& ecdsa = key("ecdsa", "ecdsa");
  const std::vector<std::string> lines{
      line_for("good.test", a) + "\r",                               // 1: CRLF is fine
      "@trusted " + line_for("x.test", a),                           // 2: unknown marker
      "lonely.test ssh-ed25519",                                     // 3: no key
      "bad64.test ssh-ed25519 !!!notbase64!!!",                      // 4
      "mismatch.test ssh-rsa " + a.base64,                           // 5: type field is not the key's
      line_for("|1|c2FsdA==|aGFzaA==", a),                           // 6: salt and hash too short
      "# comment",                                                   // 7: not reported
      "@revoked",                                                    // 8: marker only
      "junk.test ssh-ed25519 AAAA",                                  // 9: base64, but not a key blob
      "",                                                            // 10
      "\t " + line_for("indented.test", ecdsa) + " trailing words",  // 11: fine
  };
  std::string text;
  for (const auto& line : lines) text += line + "\n";

  const auto known = ssh::parse_known_hosts(text, "kh");
  REQUIRE(known.lines.size() == 2);
  CHECK(known.lines[0].where.line == 1);
  CHECK(known.lines[1].where.line == 11);
  CHECK(known.lines[1].comment == "trailing words");
  std::map<std::size_t, std::string> reasons;
  for (const auto& skipped : known.skipped) {
    CHECK(skipped.where.file == "kh");
    reasons[skipped.where.line] = skipped.reason;
  }
  REQUIRE(reasons.size() == 7);
  CHECK_THAT(reasons[2], Catch::Contains("unknown marker '@trusted'"));
  CHECK_THAT(reasons[3], Catch::Contains("expected"));
  CHECK_THAT(reasons[4], Catch::Contains("not base64"));
  CHECK_THAT(reasons[5], Catch::Contains("'ssh-rsa'") && Catch::Contains("'ssh-ed25519'"));
  CHECK_THAT(reasons[6], Catch::Contains("hashed host name"));
  CHECK_THAT(reasons[8], Catch::Contains("expected"));
  CHECK_THAT(reasons[9], Catch::Contains("not an SSH public key"));
  CHECK(status_of(text, "good.test", 22, a) == ssh::HostKeyStatus::matches);
  CHECK(status_of(text, "indented.test", 22, ecdsa) == ssh::HostKeyStatus::matches);

  // The verifier logs them and goes on.
  TemporaryDirectory directory;
  const auto file = directory.path() / "known_hosts";
  write_text(file, text);
  auto outcome = verify("good.test", 22, policy(kYes, {file}), a);
  CHECK(outcome.result);
  CHECK(contains_line(outcome.log, file.string() + ":2: line skipped: unknown marker"));
  CHECK(contains_line(outcome.log, file.string() + ":9: line skipped"));
}

TEST_CASE("known_hosts: concurrent appends all land, and the file stays well formed", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto file = directory.path() / "ssh" / "known_hosts";
  const auto& a = key("a");
  constexpr int kWriters = 8;
  constexpr int kHostsEach = 5;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int h = 0; h < kHostsEach; ++h) {
        if (!ssh::add_known_host(file, "host" + std::to_string(w) + "-" + std::to_string(h) + ".test", 22, a.blob,
                                 w % 2 == 0)) {
          ++failures;
        }
      }
    });
  }
  for (auto& writer : writers) writer.join();
  CHECK(failures == 0);
  const auto text = read_text(file);
  const auto known = ssh::parse_known_hosts(text, file.string());
  CHECK(known.skipped.empty());
  CHECK(known.lines.size() == kWriters * kHostsEach);
  for (int w = 0; w < kWriters; ++w) {
    for (int h = 0; h < kHostsEach; ++h) {
      CHECK(status_of(text, "host" + std::to_string(w) + "-" + std::to_string(h) + ".test", 22, a) ==
            ssh::HostKeyStatus::matches);
    }
  }
  CHECK(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()) == 1);
}

// The Coder profile's UserKnownHostsFile keeps nothing: a log line must not say a key was added.
TEST_CASE("known_hosts: a new key is not said to be added to /dev/null", "[knownhosts]") {
  const auto outcome = verify("example.com", 22, policy(kNo, {"/dev/null"}), key("a"));
  CHECK(outcome.result);
  CHECK_FALSE(contains_line(outcome.log, "Permanently added"));
  CHECK(contains_line(outcome.log, "not recording the new host key"));
}

// UserKnownHostsFile /dev/null is what the Coder profile writes; with StrictHostKeyChecking no a
// new key is "recorded" there. A null device made in the test's folder stands in for it, so that a
// regression replaces that node, not /dev/null on the machine. Making a device node needs root,
// which CI has.
TEST_CASE("known_hosts: a device file (like /dev/null) is appended to, never replaced", "[knownhosts]") {
  TemporaryDirectory directory;
  const auto null_device = directory.path() / "known_hosts";
  if (::mknod(null_device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
    WARN("cannot make a device node here (not root): " << std::strerror(errno));
    return;
  }
  const auto outcome = verify("example.com", 22, policy(kNo, {null_device}), key("a"));
  CHECK(outcome.result);
  CHECK(fs::is_character_file(null_device));
  CHECK_FALSE(contains_line(outcome.log, "Failed to add"));
}
