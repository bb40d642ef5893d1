// The runtime's file operations over SFTP, against OpenSSH's sftp-server (behind sshd, as an
// unprivileged user) and github.com/pkg/sftp (the Go server, the Coder agent's SFTP server): the
// same promises as the exec path's (atomic writes, modes kept or 0600, symlinks followed), and a
// write cut short that leaves the target and no temporary file.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "coder/sftp_files.hpp"
#include "runtime/deadline.hpp"
#include "runtime/event.hpp"
#include "support/ssh_client.hpp"
#include "support/files.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;
using runtime::Result;

namespace {

constexpr const char* kSftpServer = "Subsystem sftp /usr/lib/openssh/sftp-server";

// A scratch folder any test user may write in.
struct Scratch {
  Scratch() { std::filesystem::permissions(folder.path(), std::filesystem::perms::all); }
  std::string path(std::string_view name) const { return (folder.path() / name).string(); }
  test::TemporaryDirectory folder{"sftp-files"};
};

using Body = std::function<asio::awaitable<void>(ssh::sftp::Client&)>;

asio::awaitable<void> with_sftp(ssh::Connection& connection, Body body) {
  auto starting = ssh::sftp::Client::start(connection);
  auto client = co_await runtime::with_deadline(runtime::Deadline::after(10s), std::move(starting),
                                                runtime::Layer::sftp, "starting SFTP");
  INFO((client ? "" : client.error().summary()));
  REQUIRE(client);
  co_await body(**client);
  co_await (*client)->close();
}

// Runs `body` on an SFTP client of a fresh server of the kind named: "sshd" or "go".
void on_server(const std::string& server, Body body) {
  std::unique_ptr<test::LoggedInSshd> sshd;
  if (server == "sshd") sshd = std::make_unique<test::LoggedInSshd>(kSftpServer, test::kUnprivilegedUser);
  test::run([&]() -> asio::awaitable<bool> {
    Result<std::shared_ptr<ssh::Connection>> connection =
        runtime::fail(runtime::Errc::internal_error, runtime::Layer::transport, "not connected");
    if (sshd) {
      connection = co_await sshd->connect();
    } else {
      connection = co_await test::connect_through(CODER_RUNTIME_GO_SSHD, test::as_user("coder"));
    }
    INFO((connection ? "" : connection.error().summary()));
    REQUIRE(connection);
    co_await with_sftp(**connection, body);
    co_await (*connection)->close();
    co_return true;
  }());
}

std::uint32_t mode_of(const std::string& path) {
  struct ::stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> names_in(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// A file whose content a failed write must leave as it was, alone in its folder.
struct KeptFile {
  KeptFile() { test::write_text(file, kContent); }
  void check_untouched() const {
    CHECK(test::read_text(file) == kContent);
    CHECK(names_in(scratch.folder.path().string()) == std::vector<std::string>{"kept.txt"});
  }
  static constexpr const char* kContent = "the old content";
  Scratch scratch;
  std::string file = scratch.path("kept.txt");
};

// A source that gives `given` bytes, then ends: fewer than the write was promised.
asio::awaitable<Result<std::size_t>> give_once(std::size_t& left, runtime::Bytes buffer) {
  const auto n = std::min(left, buffer.size());
  std::fill_n(buffer.data(), n, std::uint8_t{'x'});
  left -= n;
  co_return n;
}

// A source that gives one chunk, then waits for more that never comes, until it is cancelled.
asio::awaitable<Result<std::size_t>> give_then_stall(bool& given, runtime::Event& never, runtime::Bytes buffer) {
  if (!given) {
    given = true;
    std::fill_n(buffer.data(), buffer.size(), std::uint8_t{'y'});
    co_return buffer.size();
  }
  const bool notified = co_await never.wait();
  if (!notified) co_return runtime::fail(runtime::Errc::cancelled, runtime::Layer::runtime, "cancelled");
  co_return 0;
}

}  // namespace

TEST_CASE("sftp files: written atomically, read back byte for byte, modes kept or 0600", "[operations][sftp]") {
  const std::string server = GENERATE("sshd", "go");
  INFO("server: " << server);
  Scratch scratch;
  std::string binary;
  for (int i = 0; i < 300000; ++i) binary += static_cast<char>(i * 31 % 256);
  on_server(server, [&](ssh::sftp::Client& client) -> asio::awaitable<void> {
    const auto dir = scratch.path("a/b");
    auto made = co_await coder::sftp_files::ensure_dir(client, dir);
    INFO((made ? "" : made.error().summary()));
    REQUIRE(made);
    auto again = co_await coder::sftp_files::ensure_dir(client, dir);
    CHECK(again);
    const auto file = dir + "/data.bin";
    std::string content = binary;
    auto written = co_await coder::sftp_files::write_file(client, file, std::move(content));
    INFO((written ? "" : written.error().summary()));
    REQUIRE(written);
    CHECK(test::read_text(file) == binary);
    CHECK(mode_of(file) == 0600);
    auto read = co_await coder::sftp_files::read_file(client, file);
    REQUIRE(read);
    CHECK((*read == binary));
    auto info = co_await coder::sftp_files::stat(client, file);
    REQUIRE(info);
    CHECK(info->size == binary.size());
    CHECK(info->mode == 0600);
    CHECK_FALSE(info->is_directory);

    // An existing file keeps its mode, even one that forbids writing it; through a symlink, the
    // file it names is replaced.
    std::filesystem::permissions(file, std::filesystem::perms(0440));
    const auto link = scratch.path("a/link");
    std::filesystem::create_symlink("b/data.bin", link);
    std::string replacement = "short";
    auto rewritten = co_await coder::sftp_files::write_file(client, link, std::move(replacement));
    INFO((rewritten ? "" : rewritten.error().summary()));
    REQUIRE(rewritten);
    CHECK(std::filesystem::is_symlink(scratch.path("a/link")));
    CHECK(test::read_text(file) == "short");
    CHECK(mode_of(file) == 0440);
    CHECK(names_in(dir) == std::vector<std::string>{"data.bin"});

    const auto parent = scratch.path("a");
    auto folder = co_await coder::sftp_files::stat(client, parent);
    REQUIRE(folder);
    CHECK(folder->is_directory);
    const auto nope = scratch.path("nope");
    auto missing = co_await coder::sftp_files::read_file(client, nope);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == runtime::Errc::not_found);
    const auto under_file = file + "/under";
    auto blocked = co_await coder::sftp_files::ensure_dir(client, under_file);
    REQUIRE_FALSE(blocked);
    CHECK_THAT(blocked.error().summary(), Catch::Contains("not a directory"));
  });
}

TEST_CASE("sftp files: a write that fails leaves the file as it was and no temporary", "[operations][sftp]") {
  const std::string server = GENERATE("sshd", "go");
  const bool cut_short = GENERATE(true, false);
  INFO("server: " << server << (cut_short ? ", the source ends early" : ", the deadline cancels it"));
  KeptFile kept;
  const auto& file = kept.file;
  on_server(server, [&](ssh::sftp::Client& client) -> asio::awaitable<void> {
    if (cut_short) {
      std::size_t left = 100'000;
      ssh::sftp::UploadSource source = [&left](runtime::Bytes buffer) { return give_once(left, buffer); };
      auto written = co_await coder::sftp_files::write_file(client, file, std::move(source), 200'000);
      REQUIRE_FALSE(written);
      CHECK_THAT(written.error().summary(), Catch::Contains("received 100000 of 200000 bytes"));
      co_return;
    }
    bool given = false;
    runtime::Event never(co_await asio::this_coro::executor);
    ssh::sftp::UploadSource source = [&given, &never](runtime::Bytes buffer) {
      return give_then_stall(given, never, buffer);
    };
    auto writing = coder::sftp_files::write_file(client, file, std::move(source), 1'000'000);
    auto written = co_await runtime::with_deadline(runtime::Deadline::after(500ms), std::move(writing),
                                                   runtime::Layer::sftp, "writing");
    REQUIRE_FALSE(written);
    CHECK(written.error().code == runtime::Errc::timed_out);
    CHECK(given);
    // The client still serves: the cancellation ended the write, not the session.
    auto info = co_await coder::sftp_files::stat(client, file);
    REQUIRE(info);
    CHECK(info->size == std::string_view(KeptFile::kContent).size());
  });
  kept.check_untouched();
}

TEST_CASE("sftp files: ~ is the home and ~name a user's and a relative path starts there", "[operations][sftp]") {
  SECTION("sshd: the test user's home") {
    on_server("sshd", [](ssh::sftp::Client& client) -> asio::awaitable<void> {
      auto home = co_await coder::sftp_files::resolve_path(client, "~");
      REQUIRE(home);
      CHECK(*home == "/tmp");  // the test user's home (scripts/setup)
      auto below = co_await coder::sftp_files::resolve_path(client, "~/x y");
      REQUIRE(below);
      CHECK(*below == "/tmp/x y");
      auto relative = co_await coder::sftp_files::resolve_path(client, "a/b");
      REQUIRE(relative);
      CHECK(*relative == "/tmp/a/b");
      // (root's home, 0700, is out of the test user's reach: the server resolves what it expands.)
      std::string other_user = "~daemon/x";
      auto others = co_await coder::sftp_files::resolve_path(client, std::move(other_user));
      REQUIRE(others);
      CHECK(*others == "/usr/sbin/x");
      std::string nobody = "~no-such-user-cr";
      auto missing = co_await coder::sftp_files::resolve_path(client, std::move(nobody));
      REQUIRE_FALSE(missing);
      CHECK(missing.error().layer == runtime::Layer::sftp);
    });
  }
  SECTION("go: the directory the server runs in, as the agent starts it in the home") {
    const auto here = std::filesystem::current_path().string();
    on_server("go", [&here](ssh::sftp::Client& client) -> asio::awaitable<void> {
      auto home = co_await coder::sftp_files::resolve_path(client, "~");
      REQUIRE(home);
      CHECK(*home == here);
      auto relative = co_await coder::sftp_files::resolve_path(client, "a/b");
      REQUIRE(relative);
      CHECK(*relative == here + "/a/b");
      auto absolute = co_await coder::sftp_files::resolve_path(client, "/etc");
      REQUIRE(absolute);
      CHECK(*absolute == "/etc");
      // pkg/sftp has no expand-path: another user's home is refused, not taken as a relative path.
      std::string other_user = "~root/x";
      auto others = co_await coder::sftp_files::resolve_path(client, std::move(other_user));
      REQUIRE_FALSE(others);
      CHECK(others.error().code == runtime::Errc::refused);
      CHECK(others.error().message == "~root/x names another user's home, which this SFTP server cannot expand");
    });
  }
}
