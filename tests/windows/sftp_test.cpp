// Files on a Windows workspace, where there is no POSIX shell for cat and mv: the runtime's file
// operations over SFTP, against github.com/pkg/sftp in the Go server cross-built for Windows (the
// Coder agent's SFTP server), which writes Windows paths as "/C:/x".

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "coder/sftp_files.hpp"
#include "runtime/deadline.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"
#include "windows/helpers.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// "/C:/x/y", as pkg/sftp writes a Windows path, as a local path: "C:/x/y".
std::filesystem::path local_path(const std::string& wire_path) {
  return std::filesystem::path(runtime::utf8_to_path(wire_path.substr(1))).make_preferred();
}

asio::awaitable<bool> exercise(ssh::sftp::Client& client) {
  auto home = co_await coder::sftp_files::resolve_path(client, "~");
  INFO((home ? *home : home.error().summary()));
  REQUIRE(home);
  CHECK_THAT(*home, Catch::Matches("/[A-Za-z]:/.*"));
  const auto folder = fmt::format("{}/sftp-test-{}/a b", *home, GetCurrentProcessId());
  // A Windows user writes C:\x; pkg/sftp reads /C:/x; either reaches the same file.
  auto windows_folder = folder.substr(1);
  std::replace(windows_folder.begin(), windows_folder.end(), '/', '\\');
  auto made = co_await coder::sftp_files::ensure_dir(client, windows_folder);
  INFO((made ? "" : made.error().summary()));
  REQUIRE(made);
  const auto file = folder + "/notes.txt";
  std::string first = "first\r\n";
  const auto windows_file = windows_folder + "\\notes.txt";
  auto written = co_await coder::sftp_files::write_file(client, windows_file, std::move(first));
  INFO((written ? "" : written.error().summary()));
  REQUIRE(written);
  std::string second = "second\r\n";
  auto replaced = co_await coder::sftp_files::write_file(client, file, std::move(second));
  INFO((replaced ? "" : replaced.error().summary()));
  REQUIRE(replaced);
  auto read = co_await coder::sftp_files::read_file(client, file);
  REQUIRE(read);
  CHECK(*read == "second\r\n");
  auto info = co_await coder::sftp_files::stat(client, file);
  REQUIRE(info);
  CHECK(info->size == 8);
  CHECK_FALSE(info->is_directory);
  const auto nope = folder + "/nope.txt";
  auto missing = co_await coder::sftp_files::read_file(client, nope);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == runtime::Errc::not_found);

  // What is on disk: the file, and no temporary beside it.
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(local_path(folder)))
    names.push_back(runtime::path_to_utf8(entry.path().filename()));
  CHECK(names == std::vector<std::string>{"notes.txt"});
  std::error_code ignored;
  std::filesystem::remove_all(local_path(fmt::format("{}/sftp-test-{}", *home, GetCurrentProcessId())), ignored);
  co_return true;
}

asio::awaitable<bool> through_go_sshd() {
  auto connection = co_await test::connect_through("\"" + test::helper(L"go_sshd.exe") + "\"", test::as_user("coder"));
  INFO((connection ? "" : connection.error().summary()));
  REQUIRE(connection);
  auto starting = ssh::sftp::Client::start(**connection);
  auto client = co_await runtime::with_deadline(runtime::Deadline::after(30s), std::move(starting),
                                                runtime::Layer::sftp, "starting SFTP");
  INFO((client ? "" : client.error().summary()));
  REQUIRE(client);
  const bool done = co_await exercise(**client);
  co_await (*client)->close();
  co_await (*connection)->close();
  co_return done;
}

}  // namespace

TEST_CASE("windows: files written atomically, read and looked at over SFTP, on Windows paths", "[windows][sftp]") {
  CHECK(test::run(through_go_sshd(), std::chrono::seconds(120)));
}
