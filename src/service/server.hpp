#pragma once
// The service protocol's server (docs/protocol.md): its methods, each client's commands and their
// streams, over one connection pool that every client shares. The connection holder serves it on
// its private socket; `coder-runtime serve --stdio` on its own stdin and stdout.
//
// A client's commands and port forwards belong to that client: when its stream ends, each command
// is ended as a cancellation ends it (TERM, then its channel closes), each forward stops
// listening, and the shared connections stay.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "coder/pool.hpp"
#include "runtime/async_stream.hpp"
#include "runtime/event.hpp"
#include "runtime/logging.hpp"
#include "service/sftp_sessions.hpp"

namespace cr::service {

class ClientSession;
class PortForwards;

struct ServerOptions {
  // ControlPersist: how long a connection nobody uses stays open.
  std::chrono::milliseconds persist{std::chrono::minutes(10)};
  // Where servers' first key exchange choices are remembered (coder::DialOptions).
  std::optional<std::filesystem::path> remembered_choices;
  std::string version = "coder-runtime 0.1.0";
  runtime::Logger log;
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  static std::shared_ptr<Server> create(asio::any_io_executor executor, ServerOptions options);

  // Serves one client until its stream ends or the server stops.
  asio::awaitable<void> serve(std::unique_ptr<runtime::AsyncStream> client);
  // Ends every client's session and closes every connection.
  asio::awaitable<void> stop();

  std::size_t clients() const { return clients_; }
  std::size_t open_connections() const { return pool_->open_connections(); }
  // Notified when a client comes or goes, a connection closes, or a client asks the service to
  // stop (connections.stop without a destination).
  runtime::Event& changed() { return changed_; }
  bool stop_requested() const { return stop_requested_; }
  void request_stop() {
    stop_requested_ = true;
    changed_.notify();
  }

  Server(asio::any_io_executor executor, ServerOptions options);

 private:
  friend class ClientSession;
  asio::any_io_executor executor_;
  ServerOptions options_;
  std::shared_ptr<coder::ConnectionPool> pool_;
  SftpSessions sftp_sessions_;
  std::shared_ptr<PortForwards> forwards_;
  std::size_t clients_ = 0;
  bool stop_requested_ = false;
  runtime::Event changed_;
  std::map<std::uint64_t, std::weak_ptr<ClientSession>> sessions_;
  std::uint64_t next_session_id_ = 0;
};

}  // namespace cr::service
