// Coder's version rules and the CLI's version output, table-driven, then against the stand-in.

#include <catch2/catch.hpp>

#include "coder/versions.hpp"
#include "support/coder_standin.hpp"
#include "support/run.hpp"

using namespace cr;
using Catch::Matchers::Contains;

TEST_CASE("versions: parsed from what the CLI prints", "[coder][versions]") {
  struct Row {
    std::string text;
    int major, minor, patch;
  };
  const std::vector<Row> rows{
      {"v2.31.6+abcdef0", 2, 31, 6},  {"2.25.0", 2, 25, 0},     {"v2.30.0-rc.1", 2, 30, 0},
      {"v0.0.0-devel+4f2a", 0, 0, 0}, {" v2.9.10\n", 2, 9, 10}, {"v2.26", 2, 26, 0},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    const auto version = coder::parse_version(row.text);
    REQUIRE(version);
    CHECK(version->major == row.major);
    CHECK(version->minor == row.minor);
    CHECK(version->patch == row.patch);
  }
  for (std::string bad : {"", "v", "latest", "v2", "v2.x.1", "2.25.0.1", "v-1.2.3", "2..3"}) {
    INFO(bad);
    CHECK_FALSE(coder::parse_version(bad));
  }
  CHECK(coder::parse_version("v0.0.0-devel+4f2a")->is_dev());
  CHECK_FALSE(coder::parse_version("v2.31.6")->is_dev());
}

TEST_CASE("versions: major.minor must match, dev builds match all", "[coder][versions]") {
  struct Row {
    std::string client, server;
    bool compatible;
  };
  const std::vector<Row> rows{
      {"v2.31.6+abc", "v2.31.0", true}, {"v2.31.6", "v2.31.9-rc.0", true},   {"v2.31.6", "v2.30.6", false},
      {"v2.31.6", "v3.31.6", false},    {"v0.0.0-devel+1", "v2.12.0", true}, {"v2.12.0", "v0.0.0-devel", true},
      {"garbage", "v2.31.0", false},
  };
  for (const auto& row : rows) {
    INFO(row.client << " vs " << row.server);
    CHECK(coder::versions_compatible(row.client, row.server) == row.compatible);
  }
}

TEST_CASE("versions: the minimum CLI version is 2.25.0, compared numerically", "[coder][versions]") {
  const std::vector<std::pair<std::string, bool>> rows{
      {"v2.25.0", true}, {"v2.25.0-rc.1", true}, {"v2.24.9", false}, {"v2.100.0", true},
      {"v3.0.0", true},  {"v1.99.99", false},    {"v2.3.0", false},  {"v0.0.0-devel+abc", true},
  };
  for (const auto& [text, ok] : rows) {
    INFO(text);
    CHECK(coder::meets_minimum(*coder::parse_version(text)) == ok);
  }
}

TEST_CASE("versions: the mismatch warning is found in stderr, colour codes and all", "[coder][versions]") {
  struct Row {
    std::string stderr_text;
    std::string client, server;
  };
  const std::vector<Row> rows{
      {"version mismatch: client v2.31.6, server v2.29.1\n", "v2.31.6", "v2.29.1"},
      {"\x1b[33mversion mismatch: client v2.31.6+abc, server v2.29.1+def\x1b[0m\ndownload...\n", "v2.31.6+abc",
       "v2.29.1+def"},
      {"some notice\n\x1b[1;33mVersion mismatch: \x1b[0mclient \x1b[1mv2.30.0\x1b[0m, server \x1b[1mv2.28.3\x1b[0m",
       "v2.30.0", "v2.28.3"},
  };
  for (const auto& row : rows) {
    INFO(runtime::printable(row.stderr_text));
    const auto found = coder::find_mismatch_warning(row.stderr_text);
    REQUIRE(found);
    CHECK(found->client == row.client);
    CHECK(found->server == row.server);
  }
  CHECK_FALSE(coder::find_mismatch_warning("all good\n"));
  CHECK_FALSE(coder::find_mismatch_warning(""));
}

TEST_CASE("versions: a mismatch is a warning or an error by policy, with both versions and the remedy",
          "[coder][versions]") {
  const auto client = *coder::parse_version("v2.31.6+abc");
  const std::string warning = "\x1b[33mversion mismatch: client v2.31.6+abc, server v2.29.1\x1b[0m\n";

  auto warned = coder::judge_versions(client, warning, coder::MismatchPolicy::warn);
  REQUIRE(warned);
  REQUIRE(warned->warning);
  CHECK_THAT(*warned->warning, Contains("v2.31.6+abc") && Contains("v2.29.1") && Contains("install"));
  CHECK(warned->server == "v2.29.1");

  auto refused = coder::judge_versions(client, warning, coder::MismatchPolicy::fail);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().layer == runtime::Layer::coder);
  CHECK_THAT(refused.error().summary(), Contains("v2.31.6+abc") && Contains("v2.29.1") && Contains("install"));

  // The CLI's own warning about a dev build is not ours to enforce.
  auto dev = coder::judge_versions(client, "version mismatch: client v2.31.6+abc, server v0.0.0-devel+1\n",
                                   coder::MismatchPolicy::fail);
  REQUIRE(dev);
  CHECK_FALSE(dev->warning);

  auto old = coder::judge_versions(*coder::parse_version("v2.24.3"), "", coder::MismatchPolicy::warn);
  REQUIRE_FALSE(old);
  CHECK_THAT(old.error().summary(), Contains("v2.24.3") && Contains("2.25.0"));
}

TEST_CASE("versions: `coder version --output json` with missing or malformed fields is a clear error",
          "[coder][versions][json]") {
  auto ok = coder::parse_version_output(R"({"version":"v2.31.6+abcdef0","build_time":"0001-01-01T00:00:00Z"})");
  REQUIRE(ok);
  CHECK(ok->text == "v2.31.6+abcdef0");

  struct Row {
    std::string output;
    std::string expected;
  };
  const std::vector<Row> rows{
      {"", "not JSON"},
      {"{\"version\": \"v2.31", "not JSON"},
      {"Error: you are not logged in\n", "not JSON"},
      {"{}", "\"version\""},
      {"[1,2]", "\"version\""},
      {R"({"version": 231})", "\"version\""},
      {R"({"version": "banana"})", "not a version"},
  };
  for (const auto& row : rows) {
    INFO(row.output);
    auto parsed = coder::parse_version_output(row.output);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().layer == runtime::Layer::coder);
    CHECK(parsed.error().code == runtime::Errc::protocol_error);
    CHECK_THAT(parsed.error().summary(), Contains(row.expected));
    CHECK((parsed.error().find_evidence("stdout") || parsed.error().find_evidence("json")));
  }
  // The offending text is kept, cut short.
  auto huge = coder::parse_version_output(std::string(100000, 'x'));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().find_evidence("stdout")->text.size() < 1000);
}

TEST_CASE("versions: check_versions reads the stand-in's version and its mismatch warning",
          "[coder][versions][standin]") {
  SECTION("matching") {
    test::CoderStandin standin({{"version", "v2.31.6+abcdef0"}, {"server_version", "v2.31.2"}, {"username", "alice"}});
    auto report = test::run(coder::check_versions(standin.cli()));
    REQUIRE(report);
    CHECK(report->client.text == "v2.31.6+abcdef0");
    CHECK_FALSE(report->warning);
    CHECK(report->username == "alice");
  }
  SECTION("mismatch, warned") {
    test::CoderStandin standin({{"version", "v2.31.6+abcdef0"}, {"server_version", "v2.29.1"}});
    auto report = test::run(coder::check_versions(standin.cli()));
    REQUIRE(report);
    REQUIRE(report->warning);
    CHECK_THAT(*report->warning, Contains("v2.31.6+abcdef0") && Contains("v2.29.1"));
  }
  SECTION("mismatch, refused") {
    test::CoderStandin standin({{"version", "v2.31.6+abcdef0"}, {"server_version", "v2.29.1"}});
    coder::VersionCheckOptions options;
    options.policy = coder::MismatchPolicy::fail;
    auto report = test::run(coder::check_versions(standin.cli(), options));
    REQUIRE_FALSE(report);
    CHECK(report.error().find_evidence("server version")->text == "v2.29.1");
  }
  SECTION("too old") {
    test::CoderStandin standin(nlohmann::json{{"version", "v2.20.0"}});
    auto report = test::run(coder::check_versions(standin.cli()));
    REQUIRE_FALSE(report);
    CHECK_THAT(report.error().summary(), Contains("2.25.0"));
  }
  SECTION("not logged in") {
    test::CoderStandin standin(
        nlohmann::json::parse(R"({"fail": {"whoami": {"message": "error: You are not logged in.", "exit": 1}}})"));
    auto report = test::run(coder::check_versions(standin.cli()));
    REQUIRE_FALSE(report);
    CHECK_THAT(report.error().detailed(), Contains("not logged in") && Contains("status 1"));
  }
}
