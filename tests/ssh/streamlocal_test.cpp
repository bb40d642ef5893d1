// OpenSSH's Unix socket forwarding (its PROTOCOL file, section 2.4), against sshd and the Go test
// server (as the Coder agent serves it): a direct-streamlocal channel carries bytes to a socket on
// the server and back; the server listens on a socket for streamlocal-forward and each connection
// there comes back as a forwarded-streamlocal channel naming the socket; a socket nobody listens
// on is a refused channel, and one the server cannot listen on a refused request.

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "ssh/channel_stream.hpp"
#include "support/connect.hpp"
#include "support/files.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"
#include "support/tcp_echo.hpp"

using namespace cr;
using asio::local::stream_protocol;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

// sshd or the Go server, on a ProxyCommand's stdio.
struct Server {
  std::unique_ptr<test::LoggedInSshd> sshd;

  explicit Server(const std::string& name) {
    if (name == "sshd") sshd = std::make_unique<test::LoggedInSshd>();
  }
  asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect() const {
    if (sshd) co_return co_await sshd->connect();
    std::string command = CODER_RUNTIME_GO_SSHD;
    auto options = test::as_user("coder");
    co_return co_await test::connect_through(std::move(command), std::move(options));
  }
};

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 31 + i / 251) & 0xff);
  return out;
}

// Writes `data`, half-closes, and reads to the end: both at once, as the echo needs.
asio::awaitable<runtime::Result<std::string>> exchange(runtime::AsyncStream& stream, const std::string& data) {
  auto write_then_eof = [&]() -> asio::awaitable<runtime::Result<void>> {
    auto written = co_await runtime::write_all(stream, runtime::as_bytes(data));
    if (!written) co_return written;
    co_return stream.shutdown_send();
  };
  using namespace asio::experimental::awaitable_operators;
  auto both = co_await (write_then_eof() && test::read_to_end(stream));
  auto [wrote, read] = std::move(both);
  if (!wrote) co_return runtime::fail(std::move(wrote.error()));
  co_return read;
}

}  // namespace

TEST_CASE("direct-streamlocal: 1 MiB to a Unix socket on the server and back", "[streamlocal][sshd][go]") {
  const std::string name = GENERATE(as<std::string>{}, "sshd", "go");
  Server server(name);
  test::TemporaryDirectory dir{"streamlocal_test"};
  const auto socket_path = (dir.path() / "echo.sock").string();
  const auto sent = pattern(1 << 20);
  std::string description;
  auto echoed = test::run([&]() -> asio::awaitable<runtime::Result<std::string>> {
    auto ex = co_await asio::this_coro::executor;
    auto acceptor = std::make_shared<stream_protocol::acceptor>(ex, stream_protocol::endpoint(socket_path));
    asio::co_spawn(ex, test::serve_echo(acceptor), asio::detached);
    auto connection = co_await server.connect();
    REQUIRE(connection);
    auto path = socket_path;
    auto stream = co_await (*connection)->open_direct_streamlocal(std::move(path));
    REQUIRE(stream);
    description = (*stream)->describe();
    auto read = co_await exchange(**stream, sent);
    co_await (*stream)->close();
    co_await (*connection)->close();
    co_return read;
  }());
  INFO(name << ": " << (echoed ? "ok" : echoed.error().detailed()));
  REQUIRE(echoed);
  CHECK(echoed->size() == sent.size());
  CHECK((*echoed == sent));
  CHECK_THAT(description, Catch::Matchers::StartsWith("direct-streamlocal " + socket_path + " via "));
}

TEST_CASE("streamlocal-forward: each connection to the server's socket comes back as a channel naming it",
          "[streamlocal][sshd][go]") {
  const std::string name = GENERATE(as<std::string>{}, "sshd", "go");
  Server server(name);
  test::TemporaryDirectory dir{"streamlocal_test"};
  const auto socket_path = (dir.path() / "remote.sock").string();
  const std::string sent = "to the client and back\n";
  std::string named;
  auto echoed = test::run([&]() -> asio::awaitable<runtime::Result<std::string>> {
    auto ex = co_await asio::this_coro::executor;
    auto connection = co_await server.connect();
    REQUIRE(connection);
    std::string type = "forwarded-streamlocal@openssh.com";
    (*connection)->take_incoming(type);
    auto path = socket_path;
    auto listening = co_await (*connection)->request_streamlocal_forward(std::move(path));
    REQUIRE(listening);
    // A client of the server's socket, on this machine as the server is.
    stream_protocol::socket client(ex);
    auto [cec] = co_await client.async_connect(stream_protocol::endpoint(socket_path), as_tuple);
    REQUIRE_FALSE(cec);
    auto incoming = co_await (*connection)->next_incoming(std::move(type));
    REQUIRE(incoming);
    auto socket = ssh::parse_forwarded_streamlocal(incoming->type_specific_data());
    REQUIRE(socket);
    named = *socket;
    auto channel = co_await incoming->accept();
    REQUIRE(channel);
    auto stream = ssh::make_channel_stream(std::move(*channel), named);
    co_await asio::async_write(client, asio::buffer(sent), as_tuple);
    client.shutdown(stream_protocol::socket::shutdown_send);
    auto received = co_await test::read_to_end(*stream);
    REQUIRE(received);
    auto written = co_await runtime::write_all(*stream, runtime::as_bytes(*received));
    REQUIRE(written);
    REQUIRE(stream->shutdown_send());
    std::string back;
    std::array<char, 1024> buffer;
    for (;;) {
      auto [rec, n] = co_await client.async_read_some(asio::buffer(buffer), as_tuple);
      back.append(buffer.data(), n);
      if (rec) break;
    }
    co_await stream->close();
    co_await (*connection)->close();
    co_return back;
  }());
  INFO(name << ": " << (echoed ? "ok" : echoed.error().detailed()));
  REQUIRE(echoed);
  CHECK(*echoed == sent);
  CHECK(named == socket_path);
}

TEST_CASE("streamlocal: a socket nobody listens on and one the server cannot make are refused with why",
          "[streamlocal][sshd][go]") {
  const std::string name = GENERATE(as<std::string>{}, "sshd", "go");
  Server server(name);
  test::TemporaryDirectory dir{"streamlocal_test"};
  const auto nobody = (dir.path() / "nobody.sock").string();
  const auto unmakeable = (dir.path() / "no-such-dir" / "remote.sock").string();
  std::optional<runtime::Error> opened_error;
  std::optional<runtime::Error> listen_error;
  const bool ran_all = test::run([&]() -> asio::awaitable<bool> {
    auto connection = co_await server.connect();
    REQUIRE(connection);
    auto path = nobody;
    auto opened = co_await (*connection)->open_direct_streamlocal(std::move(path));
    if (!opened) opened_error = opened.error();
    auto other = unmakeable;
    auto listening = co_await (*connection)->request_streamlocal_forward(std::move(other));
    if (!listening) listen_error = listening.error();
    // The connection survives both.
    std::string command = "echo alive";
    auto ran = co_await test::exec(**connection, std::move(command));
    REQUIRE(ran);
    CHECK(ran->stdout_data == "alive\n");
    co_await (*connection)->close();
    co_return true;
  }());
  INFO(name);
  CHECK(ran_all);
  REQUIRE(opened_error);
  CHECK(opened_error->code == runtime::Errc::refused);
  REQUIRE(opened_error->find_evidence("target"));
  CHECK(opened_error->find_evidence("target")->text == nobody);
  REQUIRE(listen_error);
  CHECK(listen_error->code == runtime::Errc::refused);
  CHECK_THAT(listen_error->message, Catch::Matchers::Contains(unmakeable));
}
