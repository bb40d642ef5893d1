// The connection holder's listener: a peer of another uid (the unprivileged cr-ssh-test user that
// scripts/setup creates) is closed before a byte is read, even when the socket's folder lets it
// in; a peer of our own uid is served. And the folder rules that keep others out first.

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "proxy/local_endpoint.hpp"
#include "runtime/event.hpp"
#include "support/files.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

// In a child that becomes `user`: connect to `path` and read; 0 when the server closed at once.
pid_t connect_as(const passwd& user, const std::string& path) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::alarm(10);  // a child that waits for good must not outlive its test
  if (::setgroups(0, nullptr) != 0 || ::setgid(user.pw_gid) != 0 || ::setuid(user.pw_uid) != 0) ::_exit(2);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ::_exit(3);
  char byte = 0;
  ::_exit(::read(fd, &byte, 1) == 0 ? 0 : 4);
}

}  // namespace

TEST_CASE("unix listener: another user's connection is closed unread, our own is served", "[proxy][unix][security]") {
  if (::geteuid() != 0) {
    WARN("needs root to connect as another user");
    return;
  }
  const passwd* other = ::getpwnam("cr-ssh-test");
  REQUIRE(other != nullptr);  // scripts/setup creates it
  const passwd stranger = *other;
  test::TemporaryDirectory folder;
  ::chmod(folder.path().c_str(), 0755);  // let the stranger reach the socket: only the uid check is left
  const auto path = (folder.path() / "holder.sock").string();
  const auto refused = test::run([&]() -> asio::awaitable<std::size_t> {
    auto executor = co_await asio::this_coro::executor;
    auto listener = proxy::LocalListener::listen(executor, path);
    REQUIRE(listener);
    ::chmod(path.c_str(), 0777);
    // Accepting from now on, while the stranger connects and this coroutine waits for it.
    std::optional<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> accepted;
    runtime::Event accept_ended(executor);
    asio::co_spawn(executor, (*listener)->accept(), [&](std::exception_ptr, auto result) {
      accepted = std::move(result);
      accept_ended.notify();
    });
    const pid_t child = connect_as(stranger, path);
    // The child's end, without blocking the executor the listener runs on: its pidfd is readable.
    asio::posix::stream_descriptor ended(executor, static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    co_await ended.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // connected, then closed without a byte
    auto ours = co_await proxy::connect_local(path, runtime::Deadline::after(5s));
    REQUIRE(ours);
    while (!accepted) co_await accept_ended.wait();
    CHECK(*accepted);
    co_return (*listener)->refused();
  }());
  CHECK(refused == 1);
}

TEST_CASE("unix listener: the socket's folder must be ours and 0700, and is made so when missing",
          "[proxy][unix][security]") {
  test::TemporaryDirectory base;
  const auto made = base.path() / "made";
  REQUIRE(proxy::private_directory(made));
  struct stat info {};
  REQUIRE(::stat(made.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
  REQUIRE(proxy::private_directory(made));  // as it is: fine

  ::chmod(made.c_str(), 0750);
  auto open = proxy::private_directory(made);
  REQUIRE_FALSE(open);
  CHECK(open.error().message.find("has mode 0750") != std::string::npos);

  const auto file = base.path() / "file";
  test::write_text(file, "x");
  auto not_folder = proxy::private_directory(file);
  REQUIRE_FALSE(not_folder);
  CHECK(not_folder.error().message.find("is not a directory") != std::string::npos);

  const auto link = base.path() / "link";
  std::filesystem::create_directory_symlink(made, link);
  ::chmod(made.c_str(), 0700);
  auto linked = proxy::private_directory(link);
  REQUIRE_FALSE(linked);
  CHECK(linked.error().message.find("is not a directory") != std::string::npos);

  if (::geteuid() == 0) {
    const passwd* other = ::getpwnam("cr-ssh-test");
    REQUIRE(other != nullptr);
    REQUIRE(::chown(made.c_str(), other->pw_uid, other->pw_gid) == 0);
    auto theirs = proxy::private_directory(made);
    REQUIRE_FALSE(theirs);
    CHECK(theirs.error().message.find(fmt::format("belongs to uid {}", other->pw_uid)) != std::string::npos);
  }
}
