// Windows paths: the home folder is %USERPROFILE% (as OpenSSH for Windows has it), and paths
// cross to UTF-8 text and back without the ANSI code page in between.

#include <cstdlib>

#include <catch2/catch.hpp>

#include "runtime/paths.hpp"
#include "ssh/config.hpp"

using namespace cr;

TEST_CASE("windows: home is %USERPROFILE%, and ~/.ssh/config is under it", "[windows][paths]") {
  const auto saved = runtime::environment_variable(L"USERPROFILE");
  _wputenv(L"USERPROFILE=C:\\Users\\Zo\u00eb Example");
  const auto home = runtime::home_directory();
  REQUIRE(home);
  CHECK(runtime::path_to_utf8(*home) == "C:\\Users\\Zo\xc3\xab Example");
  const auto files = ssh::default_config_files(*home);
  REQUIRE_FALSE(files.empty());
  CHECK(runtime::path_to_utf8(files.front()) == "C:\\Users\\Zo\xc3\xab Example\\.ssh\\config");
  if (saved) _wputenv((L"USERPROFILE=" + runtime::widen(*saved)).c_str());
}

TEST_CASE("windows: UTF-8 text and paths convert both ways", "[windows][paths]") {
  const std::string text = "C:\\Program Files\\Coder \xe2\x9c\x93\\coder.exe";
  CHECK(runtime::path_to_utf8(runtime::utf8_to_path(text)) == text);
  CHECK(runtime::narrow(runtime::widen(text)) == text);
}
