#include "proxy/local_endpoint.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <asio/local/stream_protocol.hpp>

#include "proxy/socket_stream.hpp"

namespace cr::proxy {
namespace {

using asio::local::stream_protocol;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

Error directory_error(const std::filesystem::path& directory, std::string what) {
  return Error(
      Errc::invalid_argument, Layer::config,
      fmt::format("{} {}: it must be a directory of ours with mode 0700 (remove it, or set another ControlPath)",
                  directory.string(), what));
}

// The uid of the process at the other end, or -1 when the system will not say.
long peer_uid(int fd) {
#if defined(SO_PEERCRED)
  ucred credentials{};
  socklen_t size = sizeof credentials;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return -1;
  return static_cast<long>(credentials.uid);
#else
  uid_t uid = 0;
  gid_t gid = 0;
  if (getpeereid(fd, &uid, &gid) != 0) return -1;
  return static_cast<long>(uid);
#endif
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_path(std::string path) {
  auto executor = co_await asio::this_coro::executor;
  stream_protocol::socket socket(executor);
  auto [ec] = co_await socket.async_connect(stream_protocol::endpoint(path), as_tuple);
  if (ec == asio::error::operation_aborted) {
    co_return runtime::fail(Errc::cancelled, Layer::network, fmt::format("connect to unix socket {} cancelled", path));
  }
  if (ec) {
    co_return runtime::fail(std::move(Error(Errc::connect_failed, Layer::network,
                                            fmt::format("could not connect to unix socket {}: {}", path, ec.message()))
                                          .with_system(ec)));
  }
  co_return std::make_unique<SocketStream<stream_protocol::socket>>(std::move(socket), fmt::format("unix {}", path));
}

class UnixSocketListener final : public LocalListener {
 public:
  UnixSocketListener(stream_protocol::acceptor acceptor, std::string path, runtime::Logger log)
      : acceptor_(std::move(acceptor)), path_(std::move(path)), log_(std::move(log)) {}

  asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> accept() override {
    for (;;) {
      if (closed_)
        co_return runtime::fail(Errc::stream_closed, Layer::network, fmt::format("unix socket {}: closed", path_));
      auto [ec, socket] = co_await acceptor_.async_accept(as_tuple);
      if (ec)
        co_return runtime::fail(
            runtime::stream_error(ec, Layer::network, fmt::format("unix socket {}", path_), "accept"));
      const long uid = peer_uid(socket.native_handle());
      if (uid != static_cast<long>(geteuid())) {
        ++refused_;
        log_.warning("{}: refused a connection from uid {}", path_, uid);
        std::error_code ignored;
        socket.close(ignored);
        continue;
      }
      co_return std::make_unique<SocketStream<stream_protocol::socket>>(std::move(socket),
                                                                        fmt::format("unix {} (client)", path_));
    }
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    ::unlink(path_.c_str());
    std::error_code ignored;
    acceptor_.close(ignored);
  }

  std::size_t refused() const override { return refused_; }
  std::string describe() const override { return fmt::format("unix {}", path_); }

 private:
  stream_protocol::acceptor acceptor_;
  std::string path_;
  runtime::Logger log_;
  std::size_t refused_ = 0;
  bool closed_ = false;
};

}  // namespace

Result<void> private_directory(const std::filesystem::path& directory) {
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return runtime::fail(
        std::move(Error(Errc::invalid_argument, Layer::config, fmt::format("could not create {}", directory.string()))
                      .with_system({errno, std::system_category()})));
  }
  struct stat info {};
  if (::lstat(directory.c_str(), &info) != 0) {
    return runtime::fail(
        std::move(directory_error(directory, "cannot be examined").with_system({errno, std::system_category()})));
  }
  if (!S_ISDIR(info.st_mode)) return runtime::fail(directory_error(directory, "is not a directory"));
  if (info.st_uid != geteuid())
    return runtime::fail(directory_error(directory, fmt::format("belongs to uid {}", info.st_uid)));
  if ((info.st_mode & 077) != 0) {
    return runtime::fail(directory_error(directory, fmt::format("has mode {:04o}", info.st_mode & 07777)));
  }
  return {};
}

Result<std::unique_ptr<LocalListener>> LocalListener::listen(asio::any_io_executor executor, std::string path,
                                                             runtime::Logger log) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return runtime::fail(
        Errc::connect_failed, Layer::network,
        fmt::format("unix socket path {} is longer than {} bytes", path, sizeof(sockaddr_un::sun_path) - 1));
  }
  stream_protocol::acceptor acceptor(executor);
  std::error_code ec;
  acceptor.open(stream_protocol(), ec);
  if (!ec) acceptor.bind(stream_protocol::endpoint(path), ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return runtime::fail(std::move(Error(Errc::connect_failed, Layer::network,
                                         fmt::format("could not listen on unix socket {}: {}", path, ec.message()))
                                       .with_system(ec)));
  }
  return std::make_unique<UnixSocketListener>(std::move(acceptor), std::move(path), std::move(log));
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_local(std::string path,
                                                                             runtime::Deadline deadline) {
  // A socket path is at most about 100 bytes (sun_path); Asio throws past that, so say it here.
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    co_return runtime::fail(
        Errc::connect_failed, Layer::network,
        fmt::format("unix socket path {} is longer than {} bytes", path, sizeof(sockaddr_un::sun_path) - 1));
  }
  const std::string what = fmt::format("connecting to unix socket {}", path);
  co_return co_await runtime::with_deadline(deadline, connect_path(std::move(path)), Layer::network, what);
}

}  // namespace cr::proxy
