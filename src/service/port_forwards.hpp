#pragma once
// The port forwards the service holds for its clients (forward.open, docs/protocol.md): a local
// listener whose connections each go through a workspace's shared connection to a port there, as
// `ssh -L` does. Each connection takes the workspace's current connection, dialed again if it
// ended, so a forward outlives a dropped tunnel; the forward keeps that connection from closing
// for idleness meanwhile. A forward belongs to the client that opened it and ends when that client
// leaves: a forwarding process that is killed frees its port.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "coder/forward.hpp"
#include "coder/pool.hpp"
#include "proxy/tcp_listener.hpp"
#include "service/json_rpc.hpp"
#include "service/workspace_connections.hpp"
#include "ssh/connection.hpp"

namespace cr::service {

struct ForwardParams {
  std::uint32_t handle = 0;  // 0: no progress notifications while the workspace is dialed
  WorkspaceTarget target;
  std::string address;      // where to listen: empty for loopback
  std::uint16_t port = 0;   // 0: a free port
  coder::ForwardTarget to;  // where the workspace connects (127.0.0.1 unless given)
};
tl::expected<ForwardParams, ReplyError> parse_forward_params(const nlohmann::json& params);

struct OpenedForward {
  std::uint64_t id = 0;
  std::string listening;  // "127.0.0.1:8080"
  std::uint16_t port = 0;
};

class PortForwards : public std::enable_shared_from_this<PortForwards> {
 public:
  struct Callbacks {
    TextCallback on_progress;
    // The dial's warnings, and then each connection through the forward that fails.
    TextCallback on_warning;
    // The forward's listener failed (out of descriptors): it has ended by itself.
    std::function<void(std::uint64_t id, const runtime::Error& why)> on_ended;
  };
  // Listens, then leases the workspace's shared connection (dialing it when there is none).
  // Errors: the listener's (a port in use names it) or the dial's.
  asio::awaitable<runtime::Result<OpenedForward>> open(ForwardParams params, std::uint64_t owner,
                                                       std::shared_ptr<coder::ConnectionPool> pool,
                                                       ServerOptions options, Callbacks callbacks);
  // Ends the listener and the connections through it; false when `owner` has no forward `id`.
  bool close(std::uint64_t id, std::uint64_t owner);
  void close_owned_by(std::uint64_t owner);
  void close_all();
  // For connections.list: each forward's id, destination, listener, target and connections.
  nlohmann::json list() const;

  struct Forward;  // one forward's state (port_forwards.cpp)

 private:
  static asio::awaitable<void> serve(std::weak_ptr<PortForwards> self, std::shared_ptr<Forward> forward,
                                     Callbacks callbacks);
  std::map<std::uint64_t, std::shared_ptr<Forward>> forwards_;
  std::uint64_t next_id_ = 1;
};

}  // namespace cr::service
