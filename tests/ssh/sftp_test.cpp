// The SFTP client against OpenSSH's sftp-server through sshd (Debian 12's and OpenSSH 10's), and
// against a relay in front of it that misbehaves on purpose (tests/support/sftp_shim.py); the reply
// parser alone against malformed packets.

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "runtime/deadline.hpp"
#include "ssh/connection.hpp"
#include "ssh/sftp/client.hpp"
#include "ssh/sftp/messages.hpp"
#include "ssh/wire.hpp"
#include "support/deterministic_bytes.hpp"
#include "support/files.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"

using namespace cr;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using runtime::Errc;
using runtime::Result;

namespace {

constexpr const char* kDebianSftpServer = "/usr/lib/openssh/sftp-server";
constexpr const char* kOpenssh10SftpServer = CODER_RUNTIME_OPENSSH10 "/libexec/sftp-server";
constexpr const char* kShim = CODER_RUNTIME_TEST_SUPPORT "/sftp_shim.py";

struct Peer {
  const char* sshd;
  const char* sftp_server;
};
const Peer kPeers[] = {{test::kDebianSshd, kDebianSftpServer}, {test::kOpenssh10Sshd, kOpenssh10SftpServer}};

// An sshd whose sftp subsystem is `subsystem`, and a scratch folder that goes with it.
struct SftpServer {
  explicit SftpServer(const std::string& subsystem, std::string program = test::kDebianSshd, std::string user = "root")
      : server(subsystem.empty() ? "" : "Subsystem sftp " + subsystem, std::move(user), std::move(program)) {}
  std::string path(std::string_view name) const { return (scratch.path() / name).string(); }

  test::LoggedInSshd server;
  test::TemporaryDirectory scratch{"sftp"};
};

std::string shim(std::string_view mode) {
  return fmt::format("/usr/bin/python3 {} {} {}", kShim, mode, kDebianSftpServer);
}

asio::awaitable<Result<std::shared_ptr<ssh::sftp::Client>>> start_sftp(ssh::Connection& connection) {
  auto starting = ssh::sftp::Client::start(connection);
  co_return co_await runtime::with_deadline(runtime::Deadline::after(10s), std::move(starting), runtime::Layer::sftp,
                                            "starting SFTP");
}

struct Connected {
  std::shared_ptr<ssh::Connection> connection;
  std::shared_ptr<ssh::sftp::Client> client;
};

asio::awaitable<Connected> open_sftp(const SftpServer& fixture) {
  auto connection = co_await fixture.server.connect();
  REQUIRE(connection);
  auto started = co_await start_sftp(**connection);
  REQUIRE(started);
  co_return Connected{std::move(*connection), std::move(*started)};
}

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::string bytes(size, '\0');
  test::DeterministicBytes(seed).fill(reinterpret_cast<std::uint8_t*>(bytes.data()), size);
  return bytes;
}

// A download's sink that keeps every chunk; with a signal, it cancels the download once it holds
// `cancel_after` bytes.
struct Received {
  std::string bytes;
  std::size_t chunks = 0;
  std::size_t cancel_after = 0;
  asio::cancellation_signal* cancel = nullptr;
};

asio::awaitable<Result<void>> keep(Received* received, runtime::ConstBytes chunk) {
  received->bytes.append(runtime::as_text(chunk));
  ++received->chunks;
  if (received->cancel && received->bytes.size() >= received->cancel_after) {
    std::exchange(received->cancel, nullptr)->emit(asio::cancellation_type::terminal);
  }
  co_return Result<void>{};
}

// An upload's source over a string, read in pieces of at most `piece`; with a signal, it cancels
// the upload once `cancel_after` bytes are out.
struct Sending {
  const std::string* bytes = nullptr;
  std::size_t at = 0;
  std::size_t piece = 100 * 1000;
  std::size_t cancel_after = 0;
  asio::cancellation_signal* cancel = nullptr;
};

asio::awaitable<Result<std::size_t>> give(Sending* sending, runtime::Bytes out) {
  const auto n = std::min({out.size(), sending->piece, sending->bytes->size() - sending->at});
  std::memcpy(out.data(), sending->bytes->data() + sending->at, n);
  sending->at += n;
  if (sending->cancel && sending->at >= sending->cancel_after) {
    std::exchange(sending->cancel, nullptr)->emit(asio::cancellation_type::terminal);
  }
  co_return n;
}

// A transfer within a deadline, cancellable through `cancel` (with_deadline carries a caller's
// cancellation into the operation).
asio::awaitable<Result<std::uint64_t>> transfer(asio::awaitable<Result<std::uint64_t>> operation,
                                                asio::cancellation_signal& cancel) {
  auto ex = co_await asio::this_coro::executor;
  auto bounded =
      runtime::with_deadline(runtime::Deadline::after(30s), std::move(operation), runtime::Layer::sftp, "the transfer");
  co_return co_await asio::co_spawn(ex, std::move(bounded),
                                    asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
}

asio::awaitable<Result<std::uint64_t>> download_into(ssh::sftp::Client& client, std::string path, Received& received,
                                                     ssh::sftp::TransferOptions options) {
  asio::cancellation_signal cancel;
  if (received.cancel_after > 0) received.cancel = &cancel;
  auto downloading = client.download(std::move(path), std::bind_front(&keep, &received), std::move(options));
  co_return co_await transfer(std::move(downloading), cancel);
}

asio::awaitable<Result<std::uint64_t>> upload_from(ssh::sftp::Client& client, Sending& sending, std::string path,
                                                   ssh::sftp::TransferOptions options) {
  asio::cancellation_signal cancel;
  if (sending.cancel_after > 0) sending.cancel = &cancel;
  auto uploading = client.upload(std::bind_front(&give, &sending), std::move(path), std::move(options));
  co_return co_await transfer(std::move(uploading), cancel);
}

// With the default options. (No default argument: a `{}` made in the caller's co_await expression
// trips GCC 12.)
asio::awaitable<Result<std::uint64_t>> download_into(ssh::sftp::Client& client, std::string path, Received& received) {
  ssh::sftp::TransferOptions options;
  co_return co_await download_into(client, std::move(path), received, std::move(options));
}

asio::awaitable<Result<std::uint64_t>> upload_from(ssh::sftp::Client& client, Sending& sending, std::string path) {
  ssh::sftp::TransferOptions options;
  co_return co_await upload_from(client, sending, std::move(path), std::move(options));
}

// How many descriptors of any process on this machine refer to `path` (the tests run as root, so
// sftp-server's are readable too).
std::size_t open_anywhere(const std::string& path) {
  std::size_t count = 0;
  std::error_code ignored;
  // Processes come and go while we look: every step takes its error rather than throwing.
  const std::filesystem::directory_iterator end;
  for (std::filesystem::directory_iterator process("/proc", ignored); process != end; process.increment(ignored)) {
    for (std::filesystem::directory_iterator fd(process->path() / "fd", ignored); fd != end; fd.increment(ignored)) {
      if (std::filesystem::read_symlink(fd->path(), ignored) == path) ++count;
    }
  }
  return count;
}

// An OPEN, or a listing (its OPENDIR first).
asio::awaitable<Result<bool>> open_or_list(ssh::sftp::Client& client, bool directory, std::string path) {
  if (directory) {
    auto listed = co_await client.list_directory(std::move(path));
    if (!listed) co_return runtime::fail(std::move(listed.error()));
    co_return true;
  }
  auto opened = co_await client.open(std::move(path), ssh::sftp::open_flags::read, {});
  if (!opened) co_return runtime::fail(std::move(opened.error()));
  co_return true;
}

asio::awaitable<Result<bool>> open_or_list_within(ssh::sftp::Client& client, bool directory, std::string path,
                                                  std::chrono::milliseconds budget) {
  auto opening = open_or_list(client, directory, std::move(path));
  co_return co_await runtime::with_deadline(runtime::Deadline::after(budget), std::move(opening), runtime::Layer::sftp,
                                            "opening");
}

asio::awaitable<Result<ssh::sftp::FileAttributes>> stat_within(ssh::sftp::Client& client, std::string path) {
  auto asking = client.stat(std::move(path));
  co_return co_await runtime::with_deadline(runtime::Deadline::after(10s), std::move(asking), runtime::Layer::sftp,
                                            "STAT");
}

std::string evidence(const runtime::Error& error, std::string_view label) {
  const auto* found = error.find_evidence(label);
  return found ? found->text : "";
}

std::vector<std::uint8_t> packet(std::initializer_list<std::uint8_t> head, std::string_view tail = {}) {
  std::vector<std::uint8_t> bytes(head);
  bytes.insert(bytes.end(), tail.begin(), tail.end());
  return bytes;
}

}  // namespace

TEST_CASE("sftp: requests are framed as the draft says", "[sftp]") {
  CHECK(ssh::sftp::encode_init() == std::vector<std::uint8_t>{0, 0, 0, 5, 1, 0, 0, 0, 3});
  CHECK(ssh::sftp::encode_path_request(ssh::sftp::PacketType::stat, 7, "/a") ==
        std::vector<std::uint8_t>{0, 0, 0, 11, 17, 0, 0, 0, 7, 0, 0, 0, 2, '/', 'a'});
  const std::uint8_t data[] = {'x'};
  CHECK(
      ssh::sftp::encode_write(1, "h", 0x100000000ULL, data) ==
      std::vector<std::uint8_t>{0, 0, 0, 23, 6, 0, 0, 0, 1, 0, 0, 0, 1, 'h', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 'x'});
  ssh::sftp::FileAttributes attrs;
  attrs.permissions = 0644;
  attrs.atime = 1;
  attrs.mtime = 2;
  CHECK(ssh::sftp::encode_attrs_request(ssh::sftp::PacketType::mkdir, 2, "d", attrs) ==
        std::vector<std::uint8_t>{0, 0, 0,   26, 14, 0,    0,    0, 2, 0, 0, 0, 1, 'd', 0,
                                  0, 0, 0xc, 0,  0,  0x01, 0xa4, 0, 0, 0, 1, 0, 0, 0,   2});
}

TEST_CASE("sftp: the parser reads each reply the server sends", "[sftp]") {
  auto version = ssh::sftp::parse_version(packet({2, 0, 0, 0, 3, 0, 0, 0, 1, 'x', 0, 0, 0, 1, '1'}));
  REQUIRE(version);
  CHECK(version->version == 3);
  REQUIRE(version->extensions.size() == 1);
  CHECK(version->extensions[0].name == "x");
  CHECK(version->extensions[0].data == "1");

  auto status = ssh::sftp::parse_reply(packet({101, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 'n', 'o', 0, 0, 0, 0}));
  REQUIRE(status);
  CHECK(status->id == 9);
  CHECK(std::get<ssh::sftp::StatusReply>(status->body).code == 2);
  CHECK(std::get<ssh::sftp::StatusReply>(status->body).message == "no");

  // A NAME of one entry whose attributes hold every field, extended pairs too.
  auto name =
      ssh::sftp::parse_reply(packet({104, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'f', 0,   0, 0, 0, 0x80, 0,    0, 0xf,
                                     0,   0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0,   0,   2, 0, 0, 0x81, 0xa4, 0, 0,
                                     0,   3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1,   'k', 0, 0, 0, 1,    'v'}));
  REQUIRE(name);
  const auto& entries = std::get<ssh::sftp::NameReply>(name->body).entries;
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].filename == "f");
  CHECK(entries[0].attrs.size == 5u);
  CHECK(entries[0].attrs.uid == 1u);
  CHECK(entries[0].attrs.gid == 2u);
  CHECK(entries[0].attrs.is_regular());
  CHECK(entries[0].attrs.mtime == 4u);
  CHECK(entries[0].attrs.extended == std::vector<std::pair<std::string, std::string>>{{"k", "v"}});
}

TEST_CASE("sftp: the parser rejects malformed replies with the bytes as evidence", "[sftp]") {
  const std::vector<std::vector<std::uint8_t>> malformed = {
      {},                                                                 // nothing
      {103, 0, 0, 0, 1},                                                  // DATA without its string
      {103, 0, 0, 0, 1, 0, 0, 0, 9, 'a'},                                 // DATA longer than the packet
      {103, 0, 0, 0, 1, 0, 0, 0, 1, 'a', 'b'},                            // bytes after the reply
      {104, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff},                          // four billion names in no bytes
      {104, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // two names, room for one
      {105, 0, 0, 0, 1, 0, 0, 0, 0x40},                                   // an attribute flag version 3 lacks
      {105, 0, 0, 0, 1, 0x80, 0, 0, 0, 0x10, 0, 0, 0},                    // extended pairs larger than the packet
      {2, 0, 0, 0, 1, 0, 0, 0, 3},                                        // VERSION where a reply belongs
      {102, 0, 0, 0, 1, 0, 0, 1, 1},                                      // a handle longer than the packet
  };
  for (const auto& bytes : malformed) {
    auto reply = ssh::sftp::parse_reply(bytes);
    INFO(runtime::hex_preview(bytes));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == Errc::protocol_error);
    CHECK(reply.error().layer == runtime::Layer::sftp);
    CHECK(reply.error().find_evidence("packet") != nullptr);
  }
  std::string long_handle(300, 'h');
  ssh::Writer w;
  w.byte(102);
  w.uint32(1);
  w.string(long_handle);
  CHECK_FALSE(ssh::sftp::parse_reply(w.bytes()));

  CHECK_FALSE(ssh::sftp::parse_version(packet({101, 0, 0, 0, 3})));                 // not VERSION
  CHECK_FALSE(ssh::sftp::parse_version(packet({2, 0, 0, 0, 3, 0, 0, 0, 5, 'a'})));  // a cut extension
  CHECK_FALSE(ssh::sftp::parse_limits(std::string(31, '\0')));
  CHECK_FALSE(ssh::sftp::parse_statvfs(std::string(89, '\0')));

  const std::uint8_t oversized[] = {0, 4, 0, 1};  // 256 KiB + 1
  auto length = ssh::sftp::packet_length(oversized);
  REQUIRE_FALSE(length);
  CHECK(evidence(length.error(), "length") == "262145");
  const std::uint8_t largest[] = {0, 4, 0, 0};
  CHECK(ssh::sftp::packet_length(largest) == 262144u);
  const std::uint8_t empty[] = {0, 0, 0, 0};
  CHECK_FALSE(ssh::sftp::packet_length(empty));
}

TEST_CASE("sftp: every operation and extension against OpenSSH's sftp-server", "[sftp][sshd]") {
  const auto& peer = GENERATE(0, 1);
  INFO("sshd: " << kPeers[peer].sshd);
  SftpServer fixture(kPeers[peer].sftp_server, kPeers[peer].sshd);
  const auto scratch = fixture.scratch.path().string();
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto& client = *sftp.client;
    CHECK(client.version() == 3);
    for (const char* name : {"posix-rename@openssh.com", "statvfs@openssh.com", "fsync@openssh.com",
                             "hardlink@openssh.com", "limits@openssh.com", "expand-path@openssh.com", "copy-data"}) {
      INFO(name);
      CHECK(client.has_extension(name));
    }

    const std::string dot = ".";
    auto home = co_await client.realpath(dot);
    REQUIRE(home);
    CHECK(*home == "/root");
    const std::string tilde = "~";
    auto expanded = co_await client.expand_path(tilde);
    REQUIRE(expanded);
    CHECK(*expanded == "/root");

    const std::string sub = fixture.path("sub");
    ssh::sftp::FileAttributes mode;
    mode.permissions = 0750;
    auto made = co_await client.mkdir(sub, mode);
    REQUIRE(made);
    auto sub_attrs = co_await client.stat(sub);
    REQUIRE(sub_attrs);
    CHECK(sub_attrs->is_directory());
    CHECK((*sub_attrs->permissions & 0777) == 0750);

    const std::string a = sub + "/a.txt";
    auto file = co_await client.open(a, ssh::sftp::open_flags::write | ssh::sftp::open_flags::create, {});
    REQUIRE(file);
    const std::string hello = "hello";
    const std::string world = " world";
    auto first = co_await client.write(*file, 0, runtime::as_bytes(hello));
    REQUIRE(first);
    auto second = co_await client.write(*file, 5, runtime::as_bytes(world));
    REQUIRE(second);
    auto synced = co_await client.fsync(*file);
    CHECK(synced);
    ssh::sftp::FileAttributes private_mode;
    private_mode.permissions = 0640;
    auto chmodded = co_await client.fsetstat(*file, private_mode);
    CHECK(chmodded);
    auto fstatted = co_await client.fstat(*file);
    REQUIRE(fstatted);
    CHECK(fstatted->size == 11u);
    CHECK((*fstatted->permissions & 0777) == 0640);
    auto closed = co_await client.close(*file);
    REQUIRE(closed);

    ssh::sftp::FileAttributes times;
    times.atime = 1000000000;
    times.mtime = 1000000001;
    auto touched = co_await client.setstat(a, times);
    REQUIRE(touched);
    auto a_attrs = co_await client.stat(a);
    REQUIRE(a_attrs);
    CHECK(a_attrs->is_regular());
    CHECK(a_attrs->mtime == 1000000001u);
    CHECK(a_attrs->atime == 1000000000u);
    CHECK(a_attrs->uid == 0u);

    auto reading = co_await client.open(a, ssh::sftp::open_flags::read, {});
    REQUIRE(reading);
    auto text = co_await client.read(*reading, 0, 100);
    REQUIRE(text);
    CHECK(*text == "hello world");
    auto tail = co_await client.read(*reading, 6, 100);
    REQUIRE(tail);
    CHECK(*tail == "world");
    auto past_end = co_await client.read(*reading, 11, 100);
    REQUIRE(past_end);
    CHECK(past_end->empty());

    // copy-data: the server copies between two of its open files.
    const std::string c = sub + "/c.txt";
    auto copy = co_await client.open(c, ssh::sftp::open_flags::write | ssh::sftp::open_flags::create, {});
    REQUIRE(copy);
    auto copied = co_await client.copy_data(*reading, 0, 0, *copy, 0);
    CHECK(copied);
    auto closed_copy = co_await client.close(*copy);
    CHECK(closed_copy);
    auto closed_reading = co_await client.close(*reading);
    CHECK(closed_reading);
    CHECK(test::read_text(c) == "hello world");

    const std::string link = sub + "/l";
    const std::string target = "a.txt";
    auto linked = co_await client.symlink(target, link);
    REQUIRE(linked);
    auto link_attrs = co_await client.lstat(link);
    REQUIRE(link_attrs);
    CHECK(link_attrs->is_symlink());
    auto followed = co_await client.stat(link);
    REQUIRE(followed);
    CHECK(followed->is_regular());
    auto points_to = co_await client.readlink(link);
    REQUIRE(points_to);
    CHECK(*points_to == "a.txt");

    const std::string hard = sub + "/h";
    auto hardlinked = co_await client.hardlink(a, hard);
    REQUIRE(hardlinked);
    CHECK(test::read_text(hard) == "hello world");

    // RENAME refuses to replace (OpenSSH's link-then-unlink); posix-rename replaces.
    const std::string b = sub + "/b.txt";
    auto renamed = co_await client.rename(a, b);
    REQUIRE(renamed);
    auto gone = co_await client.stat(a);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == Errc::not_found);
    auto over = co_await client.rename(hard, b);
    REQUIRE_FALSE(over);
    CHECK(over.error().code == Errc::io_error);
    CHECK(evidence(over.error(), "status") == "SSH_FX_FAILURE (4)");
    // (Not over b.txt's own hard link: rename(2) of two links to one file does nothing.)
    auto replaced = co_await client.posix_rename(c, b);
    REQUIRE(replaced);

    auto listed = co_await client.list_directory(sub);
    REQUIRE(listed);
    std::vector<std::string> names;
    for (const auto& entry : *listed) names.push_back(entry.filename);
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"b.txt", "h", "l"});
    CHECK(test::read_text(b) == "hello world");

    auto vfs = co_await client.statvfs(scratch);
    REQUIRE(vfs);
    CHECK(vfs->block_size > 0);
    CHECK(vfs->max_name_length == 255);
    auto limits = co_await client.limits();
    REQUIRE(limits);
    CHECK(limits->max_read_length > 0);
    CHECK(limits->max_write_length > 0);

    // A directory that is not empty stays; emptied, it goes.
    auto not_empty = co_await client.rmdir(sub);
    CHECK_FALSE(not_empty);
    for (const auto& name : names) {
      const std::string doomed = sub + "/" + name;
      auto removed = co_await client.remove(doomed);
      CHECK(removed);
    }
    auto removed_dir = co_await client.rmdir(sub);
    CHECK(removed_dir);
    auto empty = co_await client.list_directory(scratch);
    REQUIRE(empty);
    CHECK(empty->empty());
    co_await client.close();
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a missing file is not_found with the server's words, status, operation and path", "[sftp][sshd]") {
  SftpServer fixture(kDebianSftpServer);
  const std::string missing = fixture.path("missing");
  auto outcome = test::run([&]() -> asio::awaitable<Result<ssh::sftp::File>> {
    auto sftp = co_await open_sftp(fixture);
    auto opened = co_await sftp.client->open(missing, ssh::sftp::open_flags::read, {});
    REQUIRE_FALSE(opened);
    // A failed request leaves the client as it was.
    const std::string root = "/";
    auto still = co_await sftp.client->stat(root);
    CHECK(still);
    co_await sftp.connection->close();
    co_return opened;
  }());
  REQUIRE_FALSE(outcome);
  const auto& error = outcome.error();
  INFO(error.detailed());
  CHECK(error.code == Errc::not_found);
  CHECK(error.layer == runtime::Layer::sftp);
  CHECK(evidence(error, "server message") == "No such file");
  CHECK(evidence(error, "status") == "SSH_FX_NO_SUCH_FILE (2)");
  CHECK(evidence(error, "operation") == "OPEN");
  CHECK(evidence(error, "path") == missing);
  CHECK_THAT(error.summary(), Contains("sftp: OPEN " + missing + ": No such file"));
}

TEST_CASE("sftp: what the user may not touch is permission_denied", "[sftp][sshd]") {
  SftpServer fixture(kDebianSftpServer, test::kDebianSshd, test::kUnprivilegedUser);
  std::filesystem::permissions(fixture.scratch.path(),
                               std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                   std::filesystem::perms::others_read | std::filesystem::perms::others_exec);
  const std::string secret = fixture.path("secret");
  test::write_text(secret, "root's");
  ::chmod(secret.c_str(), 0600);
  const std::string inside = fixture.path("new");
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto opened = co_await sftp.client->open(secret, ssh::sftp::open_flags::read, {});
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::permission_denied);
    CHECK(evidence(opened.error(), "status") == "SSH_FX_PERMISSION_DENIED (3)");
    auto made = co_await sftp.client->mkdir(inside, {});
    REQUIRE_FALSE(made);
    CHECK(made.error().code == Errc::permission_denied);
    CHECK(evidence(made.error(), "operation") == "MKDIR");
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a pipelined download and upload of 8 MiB arrive byte for byte", "[sftp][sshd]") {
  const auto& peer = GENERATE(0, 1);
  INFO("sshd: " << kPeers[peer].sshd);
  SftpServer fixture(kPeers[peer].sftp_server, kPeers[peer].sshd);
  // Not a multiple of any chunk size: the last READ is short, and the one for its rest meets EOF.
  const std::string content = random_bytes(8 * 1024 * 1024 + 12345, 18);
  const std::string source = fixture.path("source");
  const std::string target = fixture.path("target");
  test::write_text(source, content);
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto& client = *sftp.client;

    Received received;
    std::uint64_t progress = 0;
    std::optional<std::uint64_t> total;
    ssh::sftp::TransferOptions options;
    options.progress = [&](std::uint64_t done, std::optional<std::uint64_t> whole) {
      CHECK(done > progress);
      progress = done;
      total = whole;
    };
    auto downloaded = co_await download_into(client, source, received, options);
    REQUIRE(downloaded);
    CHECK(*downloaded == content.size());
    CHECK(progress == content.size());
    CHECK(total == content.size());
    CHECK(received.bytes.size() == content.size());
    CHECK(received.bytes == content);
    // limits@openssh.com's 255 KiB READs, not 32 KiB ones.
    CHECK(received.chunks < content.size() / (128 * 1024));

    Sending sending{&content};
    ssh::sftp::TransferOptions upload_options;
    upload_options.permissions = 0600;
    auto uploaded = co_await upload_from(client, sending, target, upload_options);
    REQUIRE(uploaded);
    CHECK(*uploaded == content.size());
    co_await client.close();
    co_await sftp.connection->close();
    co_return true;
  }()));
  const auto written = test::read_text(target);
  CHECK(written.size() == content.size());
  CHECK(written == content);
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("sftp: short reads mid-file are asked for again and the bytes stay in order", "[sftp][sshd]") {
  SftpServer fixture(shim("short-reads"));
  const std::string content = random_bytes(300 * 1000, 7);
  const std::string source = fixture.path("source");
  test::write_text(source, content);
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    Received received;
    auto downloaded = co_await download_into(*sftp.client, source, received);
    REQUIRE(downloaded);
    CHECK(received.bytes == content);
    CHECK(received.chunks >= content.size() / 1000);
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a download asks for what the file's size takes: one READ for a small file", "[sftp][sshd]") {
  test::TemporaryDirectory logs{"sftp-requests"};
  const auto log = (logs.path() / "requests").string();
  SftpServer fixture(shim("log-requests:" + log));
  const std::string small = fixture.path("small");
  const std::string large = fixture.path("large");
  test::write_text(small, random_bytes(4096, 5));
  test::write_text(large, random_bytes(2 * 1024 * 1024, 6));
  const auto reads_for = [&](const std::string& path) {
    return test::run([&]() -> asio::awaitable<std::size_t> {
      auto sftp = co_await open_sftp(fixture);
      Received received;
      auto downloaded = co_await download_into(*sftp.client, path, received);
      REQUIRE(downloaded);
      CHECK(received.bytes == test::read_text(path));
      // Answered after every request before it: all of them are in the log by now.
      auto after = co_await sftp.client->stat(path);
      CHECK(after);
      co_await sftp.connection->close();
      std::size_t reads = 0;
      std::size_t closes = 0;
      std::istringstream lines(test::read_text(log));
      for (std::string line; std::getline(lines, line);) {
        reads += line == "5" ? 1 : 0;
        closes += line == "4" ? 1 : 0;
      }
      // The handle is closed, though the download does not wait for the answer.
      CHECK(closes == 1);
      std::filesystem::remove(log);
      co_return reads;
    }());
  };
  // Its bytes: the short READ stops at the size FSTAT told, so no READ asks for the end.
  CHECK(reads_for(small) == 1);
  // 2 MiB in 255 KiB READs: nine, the last one short at the size; none past it.
  CHECK(reads_for(large) == 9);
}

TEST_CASE("sftp: an extension the server does not offer is refused by name, and transfers use 32 KiB", "[sftp][sshd]") {
  SftpServer fixture(shim("no-extensions"));
  const std::string content = random_bytes(200 * 1000, 3);
  const std::string source = fixture.path("source");
  test::write_text(source, content);
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto& client = *sftp.client;
    CHECK(client.extensions().empty());
    const std::string other = fixture.path("other");
    auto renamed = co_await client.posix_rename(source, other);
    REQUIRE_FALSE(renamed);
    CHECK(renamed.error().code == Errc::refused);
    CHECK(evidence(renamed.error(), "extension") == "posix-rename@openssh.com");
    auto limits = co_await client.limits();
    REQUIRE_FALSE(limits);
    CHECK(evidence(limits.error(), "extension") == "limits@openssh.com");
    Received received;
    auto downloaded = co_await download_into(client, source, received);
    REQUIRE(downloaded);
    CHECK(received.bytes == content);
    CHECK(received.chunks == (content.size() + 32767) / 32768);
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a server that dies mid-transfer fails the transfer and every later request, with its exit",
          "[sftp][sshd]") {
  const auto& mode = GENERATE(as<std::string>{}, "die-after-1m", "killed-after-1m");
  INFO(mode);
  SftpServer fixture(shim(mode));
  const std::string source = fixture.path("source");
  test::write_text(source, random_bytes(4 * 1024 * 1024, 5));
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    Received received;
    auto downloaded = co_await download_into(*sftp.client, source, received);
    REQUIRE_FALSE(downloaded);
    INFO(downloaded.error().detailed());
    CHECK(downloaded.error().code == Errc::end_of_stream);
    CHECK(downloaded.error().layer == runtime::Layer::sftp);
    // sshd drops a subsystem's stderr; how it ended comes through.
    if (mode == "die-after-1m") {
      CHECK(evidence(downloaded.error(), "exit status") == "3");
    } else {
      CHECK(evidence(downloaded.error(), "exit signal") == "KILL");
    }
    CHECK(received.bytes.size() < 4 * 1024 * 1024);
    const std::string root = "/";
    auto after = co_await sftp.client->stat(root);
    REQUIRE_FALSE(after);
    CHECK(after.error().code == Errc::end_of_stream);
    // The connection outlives its SFTP channel.
    std::string echo = "echo still here";
    auto echoed = co_await sftp.connection->exec(std::move(echo));
    REQUIRE(echoed);
    CHECK(echoed->stdout_data == "still here\n");
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a reply to an id never sent, or an oversized packet, fails the client as a protocol error",
          "[sftp][sshd]") {
  const auto& mode = GENERATE(as<std::string>{}, "unknown-id", "oversized");
  INFO(mode);
  SftpServer fixture(shim(mode));
  const std::string source = fixture.path("source");
  test::write_text(source, random_bytes(1024 * 1024, 9));
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    Received received;
    auto downloaded = co_await download_into(*sftp.client, source, received);
    REQUIRE_FALSE(downloaded);
    INFO(downloaded.error().detailed());
    CHECK(downloaded.error().code == Errc::protocol_error);
    CHECK(downloaded.error().layer == runtime::Layer::sftp);
    if (mode == "unknown-id") {
      CHECK_THAT(downloaded.error().message, Contains("which we did not send"));
    } else {
      CHECK(evidence(downloaded.error(), "length") == "16777216");
    }
    CHECK(received.bytes.empty());
    const std::string root = "/";
    auto after = co_await sftp.client->stat(root);
    CHECK_FALSE(after);
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a cancelled download or upload stops, and the client goes on serving", "[sftp][sshd]") {
  SftpServer fixture(kDebianSftpServer);
  const std::string content = random_bytes(16 * 1024 * 1024, 11);
  const std::string source = fixture.path("source");
  const std::string target = fixture.path("target");
  test::write_text(source, content);
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto& client = *sftp.client;

    Received received;
    received.cancel_after = 1024 * 1024;
    auto downloaded = co_await download_into(client, source, received);
    REQUIRE_FALSE(downloaded);
    CHECK(downloaded.error().code == Errc::cancelled);
    CHECK(evidence(downloaded.error(), "bytes done") == std::to_string(received.bytes.size()));
    CHECK(received.bytes.size() < content.size());
    CHECK(received.bytes == content.substr(0, received.bytes.size()));

    Sending sending{&content};
    sending.cancel_after = 1024 * 1024;
    auto uploaded = co_await upload_from(client, sending, target);
    REQUIRE_FALSE(uploaded);
    CHECK(uploaded.error().code == Errc::cancelled);
    CHECK(sending.at < content.size());

    // The replies still in flight are dropped as they come; the client answers what follows, after
    // the server has closed both handles (it answers in order).
    auto size = co_await client.stat(source);
    REQUIRE(size);
    CHECK(size->size == content.size());
    CHECK(open_anywhere(source) == 0);
    CHECK(open_anywhere(target) == 0);
    Received again;
    auto whole = co_await download_into(client, source, again);
    REQUIRE(whole);
    CHECK(again.bytes == content);
    co_await client.close();
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: a transfer whose deadline passes while it waits for limits or FSTAT stops there", "[sftp][sshd]") {
  // "mute" answers nothing after VERSION, so the download waits for limits first; "handles-only"
  // answers OPEN alone, and with the chunk size given, limits is not asked: the wait is FSTAT's.
  // Either way nothing after that wait is answered, so a transfer that goes on hangs.
  const auto& mode = GENERATE(as<std::string>{}, "mute", "handles-only");
  INFO(mode);
  SftpServer fixture(shim(mode));
  const std::string source = fixture.path("source");
  test::write_text(source, random_bytes(1024 * 1024, 13));
  auto outcome = test::run(
      [&]() -> asio::awaitable<Result<std::uint64_t>> {
        auto sftp = co_await open_sftp(fixture);
        Received received;
        ssh::sftp::TransferOptions options;
        if (mode == "handles-only") options.chunk_size = 32 * 1024;
        auto downloading = sftp.client->download(source, std::bind_front(&keep, &received), std::move(options));
        auto downloaded = co_await runtime::with_deadline(runtime::Deadline::after(1s), std::move(downloading),
                                                          runtime::Layer::sftp, "the download");
        co_await sftp.connection->close();
        co_return downloaded;
      }(),
      10s);
  REQUIRE_FALSE(outcome);
  INFO(outcome.error().detailed());
  CHECK(outcome.error().code == Errc::timed_out);
}

TEST_CASE("sftp: the handle of an OPEN or OPENDIR given up before its reply is closed once the reply comes",
          "[sftp][sshd]") {
  const bool directory = GENERATE(false, true);
  INFO((directory ? "OPENDIR" : "OPEN"));
  // The relay holds the HANDLE back until just before the server's next reply: the open's
  // deadline passes first whatever the timing.
  SftpServer fixture(shim("hold-handle"));
  const std::string file = fixture.path("file");
  test::write_text(file, "contents");
  const std::string folder = fixture.path("folder");
  std::filesystem::create_directory(folder);
  const std::string& opened = directory ? folder : file;
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto cut = co_await open_or_list_within(*sftp.client, directory, opened, 500ms);
    REQUIRE_FALSE(cut);
    CHECK(cut.error().code == Errc::timed_out);
    // The first STAT's reply comes right behind the HANDLE, so the CLOSE is sent before the second
    // STAT, and the server answers in order.
    const std::string root = "/";
    auto first = co_await stat_within(*sftp.client, root);
    REQUIRE(first);
    auto second = co_await stat_within(*sftp.client, root);
    REQUIRE(second);
    CHECK(open_anywhere(opened) == 0);
    co_await sftp.client->close();
    co_await sftp.connection->close();
    co_return true;
  }()));
}

TEST_CASE("sftp: an upload cancelled before its WRITEs went out sends none of them", "[sftp][sshd]") {
  SftpServer fixture(kDebianSftpServer);
  const std::string content = random_bytes(4 * 1024 * 1024, 17);
  const std::string target = fixture.path("target");
  CHECK(test::run([&]() -> asio::awaitable<bool> {
    auto sftp = co_await open_sftp(fixture);
    auto& client = *sftp.client;
    // Cancelled from the source while the first requests are being queued, before the writer has
    // had a turn: none of them has reached the channel.
    Sending sending{&content};
    sending.cancel_after = 1;
    auto uploaded = co_await upload_from(client, sending, target);
    REQUIRE_FALSE(uploaded);
    CHECK(uploaded.error().code == Errc::cancelled);
    CHECK(evidence(uploaded.error(), "bytes done") == "0");
    // The server answers in order: by this answer it has done all it was sent.
    auto attrs = co_await stat_within(client, target);
    REQUIRE(attrs);
    CHECK(attrs->size == 0u);
    CHECK(open_anywhere(target) == 0);
    Sending whole{&content};
    auto again = co_await upload_from(client, whole, target);
    REQUIRE(again);
    CHECK(*again == content.size());
    co_await client.close();
    co_await sftp.connection->close();
    co_return true;
  }()));
  CHECK(test::read_text(target) == content);
}

TEST_CASE("Go server: an SFTP server that says why on stderr and exits fails the client with both", "[sftp][go]") {
  // sshd drops a subsystem's stderr; the Go server relays it as it does an exec's.
  const auto server = fmt::format("{} -sftp-command '{}'", CODER_RUNTIME_GO_SSHD, shim("complain"));
  auto outcome = test::run([&]() -> asio::awaitable<Result<ssh::sftp::FileAttributes>> {
    auto connection = co_await test::connect_through(server, test::as_user("coder"));
    REQUIRE(connection);
    auto started = co_await start_sftp(**connection);
    REQUIRE(started);
    const std::string root = "/";
    auto attrs = co_await stat_within(**started, root);
    co_await (*connection)->close();
    co_return attrs;
  }());
  REQUIRE_FALSE(outcome);
  const auto& error = outcome.error();
  INFO(error.detailed());
  CHECK(error.code == Errc::end_of_stream);
  CHECK(error.layer == runtime::Layer::sftp);
  CHECK(evidence(error, "stderr") == "sftp_shim: the disk caught fire\n");
  CHECK(evidence(error, "exit status") == "5");
}

TEST_CASE("sftp: a server without the subsystem refuses it", "[sftp][sshd]") {
  SftpServer fixture("");
  auto started = test::run([&]() -> asio::awaitable<Result<std::shared_ptr<ssh::sftp::Client>>> {
    auto connection = co_await fixture.server.connect();
    REQUIRE(connection);
    auto result = co_await start_sftp(**connection);
    co_await (*connection)->close();
    co_return result;
  }());
  REQUIRE_FALSE(started);
  CHECK(started.error().code == Errc::refused);
  CHECK_THAT(started.error().message, Contains("sftp"));
}
