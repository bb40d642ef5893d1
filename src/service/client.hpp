#pragma once
// The client side of the service protocol (docs/protocol.md): requests with their answers,
// notifications and stream frames both ways, over any stream (the holder's socket, a child's
// stdio). When the stream ends, every call still waiting gets that as its error.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/async_stream.hpp"
#include "runtime/event.hpp"
#include "service/frame.hpp"

namespace cr::service {

struct ClientHandlers {
  std::function<void(std::string_view method, const nlohmann::json& params)> on_notification;
  std::function<void(std::uint32_t handle, StreamId stream, std::string_view data)> on_data;
  std::function<void(std::uint32_t handle, StreamId stream)> on_end;
};

class ServiceClient : public std::enable_shared_from_this<ServiceClient> {
 public:
  static std::shared_ptr<ServiceClient> start(std::unique_ptr<runtime::AsyncStream> stream, ClientHandlers handlers);

  // The result, or the error: the server's own (layer, code, evidence) for a failed operation,
  // Layer::runtime protocol_error for a request it refused, end_of_stream when the stream ended
  // first. Cancelling the wait abandons the answer, not the request.
  asio::awaitable<runtime::Result<nlohmann::json>> call(std::string method, nlohmann::json params);
  void notify(std::string_view method, nlohmann::json params);
  void send_data(std::uint32_t handle, StreamId stream, std::string_view data);
  void send_end(std::uint32_t handle, StreamId stream);
  asio::awaitable<void> close();

  // Why the stream ended, once it has.
  const std::optional<runtime::Error>& failure() const { return failure_; }
  // Returns once the stream has ended, or when cancelled.
  asio::awaitable<void> wait_ended();

  ServiceClient(std::shared_ptr<runtime::AsyncStream> stream, ClientHandlers handlers);

 private:
  struct Pending {
    std::optional<runtime::Result<nlohmann::json>> answer;
  };
  static asio::awaitable<void> read_loop(std::shared_ptr<ServiceClient> self);
  void on_message(const std::string& text);

  std::shared_ptr<runtime::AsyncStream> stream_;
  std::shared_ptr<FrameWriter> writer_;
  ClientHandlers handlers_;
  std::map<std::int64_t, std::shared_ptr<Pending>> pending_;
  std::int64_t next_id_ = 1;
  runtime::Event answered_;
  std::optional<runtime::Error> failure_;
};

}  // namespace cr::service
