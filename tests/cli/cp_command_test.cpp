// `coder-runtime cp` end to end through the stand-in Coder CLI, whose `ssh --stdio` runs the Go
// server and its pkg/sftp, as the Coder agent serves files: WORKSPACE:path on either side, trees
// with -r, and the failures a script must tell apart by exit code.

#include <filesystem>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/files.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

// A stand-in whose one workspace, ws, is running.
nlohmann::json running_ws() {
  const nlohmann::json ws{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}};
  return {{"go_sshd", CODER_RUNTIME_GO_SSHD}, {"workspaces", nlohmann::json::array({ws})}};
}

test::Ran cp(std::vector<std::string> args) {
  args.insert(args.begin(), {"cp", "--coder", test::CoderStandin::program().string()});
  return test::run_cli(std::move(args));
}

}  // namespace

TEST_CASE("cp: a file goes into a workspace and comes back, and -r copies a tree", "[cli][cp][go]") {
  test::CoderStandin standin(running_ws());
  test::TemporaryDirectory dir{"cp_command_test"};
  // The Go server shares this machine's files: the workspace's side is a folder here.
  const auto local = dir.path() / "local";
  const auto remote = dir.path() / "remote";
  fs::create_directories(local / "tree" / "inner");
  fs::create_directories(remote);
  std::string content;
  for (int i = 0; i < 200000; ++i) content += static_cast<char>(i * 7 % 256);
  test::write_text(local / "data.bin", content);
  test::write_text(local / "tree" / "inner" / "leaf.txt", "leaf");

  const auto up = cp({(local / "data.bin").string(), fmt::format("ws:{}", remote.string())});
  INFO(up.err);
  REQUIRE(up.status == 0);
  CHECK(test::read_text(remote / "data.bin") == content);

  const auto down = cp({fmt::format("ws:{}", (remote / "data.bin").string()), (local / "back.bin").string()});
  INFO(down.err);
  REQUIRE(down.status == 0);
  CHECK(test::read_text(local / "back.bin") == content);

  const auto tree = cp({"-r", (local / "tree").string(), fmt::format("ws:{}", remote.string())});
  INFO(tree.err);
  REQUIRE(tree.status == 0);
  CHECK(test::read_text(remote / "tree" / "inner" / "leaf.txt") == "leaf");
  // No temporary names left beside what was copied.
  CHECK(std::distance(fs::directory_iterator(remote), fs::directory_iterator()) == 2);
}

TEST_CASE("cp: a missing workspace is 255 with the CLI's words, a missing file 1, two workspaces refused",
          "[cli][cp][go]") {
  test::CoderStandin standin(running_ws());
  test::TemporaryDirectory dir{"cp_command_test"};
  const auto local = (dir.path() / "x").string();
  test::write_text(local, "x");

  const auto no_workspace = cp({local, "nope:/tmp/x"});
  CHECK(no_workspace.status == 255);
  CHECK_THAT(no_workspace.err, Catch::Contains("workspace nope not found"));

  const auto no_file = cp({fmt::format("ws:{}", (dir.path() / "absent").string()), local});
  CHECK(no_file.status == 1);
  CHECK_THAT(no_file.err, Catch::Contains("cp: ") && Catch::Contains("absent"));
  CHECK(test::read_text(local) == "x");

  const auto between = cp({"ws:/tmp/a", "other:/tmp/b"});
  CHECK(between.status == 1);
  CHECK_THAT(between.err, Catch::Contains("copies go between this machine and one server"));
  const auto both_local = cp({local, (dir.path() / "y").string()});
  CHECK(both_local.status == 1);
}
