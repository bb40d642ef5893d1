// `coder-runtime exec WORKSPACE -- WORDS...` end to end through the connection holder (so the
// words cross the service protocol too) and the stand-in Coder CLI, whose
// `ssh --stdio` runs the Go x/crypto/ssh server (which, as the Coder agent on Linux, hands the
// command line to `/bin/sh -c`): several words are a program and its arguments, each reaching it
// byte for byte; one word is a shell command line; --shell and --argv force either reading, and
// what cannot be quoted for the remote shell is refused before the workspace is touched.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/argv_words.hpp"
#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/holder_scope.hpp"

using namespace cr;

namespace {

// A stand-in whose one workspace, ws, is running.
nlohmann::json running_ws() {
  const nlohmann::json ws{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}};
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD}, {"workspaces", nlohmann::json::array({ws})}};
}

// `coder-runtime exec --coder STANDIN OPTIONS... ws -- WORDS...`.
test::Ran exec_words(std::vector<std::string> options, const std::vector<std::string>& words) {
  std::vector<std::string> argv{"exec", "--coder", test::CoderStandin::program().string()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"ws", "--"});
  argv.insert(argv.end(), words.begin(), words.end());
  return test::run_cli(std::move(argv));
}

}  // namespace

TEST_CASE("exec: several words are an argv: printf gets its format, 'a b' and c as they are", "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const auto ran = exec_words({}, {"printf", "[%s]\\n", "a b", "c"});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "[a b]\n[c]\n");
}

TEST_CASE("exec: an argv reaches the remote program byte for byte", "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const bool forced = GENERATE(false, true);  // --argv changes nothing when there are several words
  std::vector<std::string> words{"printf", "%s\\0"};
  const auto awkward = test::awkward_words();
  words.insert(words.end(), awkward.begin(), awkward.end());
  const auto ran = exec_words(forced ? std::vector<std::string>{"--argv"} : std::vector<std::string>{}, words);
  INFO(ran.err);
  CHECK(ran.status == 0);
  const auto expected = test::nul_terminated(awkward);
  INFO(test::first_difference(expected, ran.out));
  CHECK((ran.out == expected));
}

TEST_CASE("exec: one word is a shell command line, and --shell joins several into one", "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const auto one = exec_words({}, {"printf '%s\\n' one two | tr a-z A-Z; exit 3"});
  INFO(one.err);
  CHECK(one.status == 3);
  CHECK(one.out == "ONE\nTWO\n");
  // A word in brackets is not a list of words (CLI11 reads it as one for options with several values).
  const auto test_command = exec_words({}, {"[ 'a,b' = a,b ]"});
  INFO(test_command.err);
  CHECK(test_command.status == 0);
  const auto joined = exec_words({"--shell"}, {"echo", "a  b", "|", "tr", "a-z", "A-Z"});
  INFO(joined.err);
  CHECK(joined.status == 0);
  CHECK(joined.out == "A B\n");
}

TEST_CASE("exec --argv: one word is one program, run with no arguments", "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const auto pwd = exec_words({"--argv", "--cwd", "/usr"}, {"pwd"});
  INFO(pwd.err);
  CHECK(pwd.status == 0);
  CHECK(pwd.out == "/usr\n");
  // The whole word names the program: nothing in it is read as shell syntax.
  const auto quoted = exec_words({"--argv"}, {"echo hi; exit 9"});
  CHECK(quoted.status == 127);
  CHECK(quoted.out.empty());
  CHECK_THAT(quoted.err, Catch::Contains("echo hi; exit 9: not found"));
}

TEST_CASE("exec: --cwd and --env compose with an argv", "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const auto ran = exec_words({"--cwd", "/usr/share", "--env", "GREETING=it's $HOME; `x`"},
                              {"sh", "-c", "printf '%s|%s|%s' \"$(pwd)\" \"$GREETING\" \"$0\"", "a b's $0"});
  INFO(ran.err);
  CHECK(ran.status == 0);
  CHECK(ran.out == "/usr/share|it's $HOME; `x`|a b's $0");
}

TEST_CASE("exec --remote-shell cmd or powershell: an argv, --cwd or --env is refused before the workspace is touched",
          "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const std::string shell = GENERATE("cmd", "powershell");
  INFO(shell);
  const auto argv = exec_words({"--remote-shell", shell}, {"dir", "C:\\Program Files"});
  CHECK(argv.status == 125);
  CHECK_THAT(argv.err, Catch::Contains("coder-runtime: coder: an argv cannot be quoted for ") &&
                           Catch::Contains("run a command line written for"));
  const auto cwd = exec_words({"--remote-shell", shell, "--cwd", "C:\\"}, {"dir"});
  CHECK(cwd.status == 125);
  CHECK_THAT(cwd.err, Catch::Contains("POSIX shell syntax"));
  CHECK(standin.calls().empty());
}

TEST_CASE("exec: --shell and --argv together, or an unknown --remote-shell, are usage errors", "[cli][exec][argv]") {
  test::CoderStandin standin(running_ws());
  test::HolderScope holder;
  const auto both = exec_words({"--shell", "--argv"}, {"true"});
  CHECK(both.status != 0);
  CHECK_THAT(both.err, Catch::Contains("excludes"));
  const auto unknown = exec_words({"--remote-shell", "fish"}, {"true"});
  CHECK(unknown.status != 0);
  CHECK_THAT(unknown.err, Catch::Contains("fish"));
  CHECK(standin.calls().empty());
}
