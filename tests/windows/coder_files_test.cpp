// The Coder layer's own file work on Windows: replacing ~/.ssh/config atomically (no rename over
// an open target on POSIX terms: MoveFileExW), and finding coder.exe on %PATH% in a folder whose
// name has spaces and non-ASCII letters.

#include <fstream>

#include <catch2/catch.hpp>
#include <windows.h>

#include "runtime/atomic_file.hpp"
#include "coder/cli_driver.hpp"
#include "runtime/paths.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

// A folder under %TEMP% with spaces and a non-ASCII name, removed with everything in it.
struct ScratchFolder {
  fs::path path = fs::temp_directory_path() / runtime::utf8_to_path("coder runtime \xc3\xa9t\xc3\xa9");
  ScratchFolder() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

TEST_CASE("windows: write_file_atomically creates, then replaces, leaving no temporary file", "[windows][coder]") {
  ScratchFolder scratch;
  const auto config = scratch.path / ".ssh" / "config";
  REQUIRE(runtime::write_file_atomically(config, "Host a\r\n"));
  REQUIRE(runtime::write_file_atomically(config, "Host b\r\n"));
  auto content = runtime::read_file_if_exists(config);
  REQUIRE(content);
  REQUIRE(*content);
  CHECK(**content == "Host b\r\n");
  CHECK(std::distance(fs::directory_iterator(config.parent_path()), fs::directory_iterator()) == 1);
  auto missing = runtime::read_file_if_exists(scratch.path / "no such file");
  REQUIRE(missing);
  CHECK_FALSE(*missing);
}

TEST_CASE("windows: write_file_atomically names the file when the folder cannot be written", "[windows][coder]") {
  ScratchFolder scratch;
  // A file where the parent folder should be: nothing can be created under it.
  std::ofstream(scratch.path / "not a folder") << "x";
  auto written = runtime::write_file_atomically(scratch.path / "not a folder" / "config", "Host a\n");
  REQUIRE_FALSE(written);
  CHECK(written.error().summary().find("not a folder") != std::string::npos);
}

TEST_CASE("windows: find_cli finds coder.exe on PATH, and says where it looked", "[windows][coder]") {
  ScratchFolder scratch;
  const auto bin = scratch.path / "Program Files" / "Coder";
  fs::create_directories(bin);
  std::ofstream(bin / "coder.exe") << "MZ";
  const std::string path_variable = "C:\\nowhere;" + runtime::path_to_utf8(bin);
  auto found = coder::find_cli(std::nullopt, path_variable);
  REQUIRE(found);
  CHECK(runtime::path_to_utf8(*found) == runtime::path_to_utf8(bin / "coder.exe"));

  auto missing = coder::find_cli(std::nullopt, "C:\\nowhere;C:\\neither");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().summary().find("coder.exe") != std::string::npos);
  CHECK(missing.error().detailed().find("neither") != std::string::npos);
}
