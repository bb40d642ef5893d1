// Running the Coder CLI as a child process: finding it, deadlines, stdout and stderr kept apart,
// a non-zero exit with its evidence.

#include <catch2/catch.hpp>

#include "coder/cli_driver.hpp"
#include "coder/cli_json.hpp"
#include "coder/cli_text.hpp"
#include "support/coder_standin.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

TEST_CASE("cli: an explicit path wins, else PATH is searched, else a clear error", "[coder][cli]") {
  test::TemporaryDirectory dir;
  const auto bin = dir.path() / "bin";
  std::filesystem::create_directories(bin);
  const auto program = bin / "coder";
  test::write_text(program, "#!/bin/sh\n");

  SECTION("not executable yet: skipped") {
    auto found = coder::find_cli({}, "/nonexistent:" + bin.string());
    REQUIRE_FALSE(found);
    CHECK_THAT(found.error().summary(), Contains("not on PATH"));
    CHECK_THAT(found.error().find_evidence("PATH")->text, Contains(bin.string()));
  }
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
  SECTION("found on PATH") {
    auto found = coder::find_cli({}, "::/nonexistent:" + bin.string());
    REQUIRE(found);
    CHECK(*found == program);
  }
  SECTION("explicit") {
    auto found = coder::find_cli(program, "");
    REQUIRE(found);
    CHECK(*found == program);
    auto missing = coder::find_cli(dir.path() / "nope", bin.string());
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error().summary(), Contains("nope"));
    auto folder = coder::find_cli(bin, "");
    REQUIRE_FALSE(folder);
  }
  SECTION("empty PATH") {
    auto found = coder::find_cli({}, "");
    REQUIRE_FALSE(found);
    CHECK(found.error().find_evidence("PATH")->text == "(empty)");
  }
}

TEST_CASE("cli: stdout and stderr come back apart, stdout lines stream as they come", "[coder][cli][standin]") {
  test::CoderStandin standin({{"version", "v2.31.6"},
                              {"server_version", "v2.20.0"},
                              {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "stopped"}}}}}}}});
  std::vector<std::string> lines;
  coder::RunOptions options;
  options.on_stdout_line = [&](std::string_view line) { lines.emplace_back(line); };
  auto ran = test::run(standin.cli().run({"start", "ws", "--yes"}, std::move(options)));
  REQUIRE(ran);
  CHECK(ran->status.success());
  CHECK_THAT(ran->out, Contains("Build succeeded") && !Contains("mismatch"));
  CHECK_THAT(ran->err, Contains("version mismatch") && !Contains("Build succeeded"));
  CHECK(lines == std::vector<std::string>{"Waiting for the build to start...", "Build succeeded",
                                          "The ws workspace has been started"});
}

TEST_CASE("cli: a non-zero exit is an error with the exit status and stderr", "[coder][cli][standin]") {
  test::CoderStandin standin(nlohmann::json::parse(
      R"({"fail": {"list": {"message": "error: \u001b[31mTrouble\u001b[0m talking to the server", "exit": 3}}})"));
  auto ran = test::run(standin.cli().run({"list", "--output", "json"}));
  REQUIRE_FALSE(ran);
  const auto& error = ran.error();
  CHECK(error.layer == runtime::Layer::coder);
  CHECK(error.find_evidence("exit status")->text == "exited with status 3");
  CHECK(error.find_evidence("stderr")->text == "error: Trouble talking to the server\n");
  CHECK_THAT(error.summary(), Contains("`coder list --output json`"));
}

TEST_CASE("cli: a program that cannot start is a spawn error naming it", "[coder][cli]") {
  coder::CoderCli cli("/nonexistent/coder");
  auto ran = test::run(cli.run({"version"}));
  REQUIRE_FALSE(ran);
  CHECK(ran.error().code == runtime::Errc::spawn_failed);
  CHECK(ran.error().layer == runtime::Layer::coder);
}

TEST_CASE("cli: the deadline ends a command that hangs, and the process with it", "[coder][cli]") {
  test::TemporaryDirectory dir;
  const auto program = dir.path() / "coder";
  const auto pid_file = dir.path() / "pid";
  test::write_text(program, "#!/bin/sh\necho $$ > " + pid_file.string() + "\necho waiting >&2\nexec sleep 600\n");
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
  coder::CoderCli cli(program);
  coder::RunOptions options;
  options.deadline = runtime::Deadline::after(300ms);
  auto ran = test::run(cli.run({"list"}, std::move(options)));
  REQUIRE_FALSE(ran);
  CHECK(ran.error().code == runtime::Errc::timed_out);
  CHECK_THAT(ran.error().summary(), Contains("`coder list`"));
  const int pid = std::stoi(test::read_text(pid_file));
  CHECK(::kill(pid, 0) != 0);  // killed and reaped
}

TEST_CASE("json: malformed documents and notices before them", "[coder][json]") {
  auto with_notice = coder::parse_cli_json("A new version is available!\n[{\"name\":\"ws\"}]\n", "`coder list`");
  REQUIRE(with_notice);
  CHECK((*with_notice)[0]["name"] == "ws");
  for (std::string bad : {"", "   ", "[{\"name\":", "nope", "{\"a\":1} trailing", "\xff\xfe"}) {
    INFO(runtime::printable(bad));
    auto parsed = coder::parse_cli_json(bad, "`coder list`");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == runtime::Errc::protocol_error);
    CHECK_THAT(parsed.error().summary(), Contains("`coder list`"));
  }
  auto object = coder::parse_cli_json(R"({"name": 5})", "x");
  REQUIRE(object);
  auto name = coder::required_string(*object, "name", "x");
  REQUIRE_FALSE(name);
  CHECK(name.error().find_evidence("json")->text == R"({"name":5})");
  CHECK(coder::optional_string(*object, "name").empty());
  CHECK(coder::optional_string(coder::Json::array(), "name").empty());
}

TEST_CASE("text: colour codes stripped, long output cut at its end", "[coder][cli]") {
  CHECK(coder::strip_ansi("\x1b[1;33mwarn\x1b[0m: x") == "warn: x");
  CHECK(coder::strip_ansi("\x1b]8;;https://x\x07link\x1b]8;;\x1b\\ done") == "link done");
  CHECK(coder::strip_ansi("plain\x1b") == "plain\x1b");
  CHECK(coder::tail("abcdef", 3) == "[3 bytes before this left out] def");
  CHECK(coder::tail("abc", 3) == "abc");
}
