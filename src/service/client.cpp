#include "service/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

#include "service/json_rpc.hpp"

namespace cr::service {

using nlohmann::json;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;

std::shared_ptr<ServiceClient> ServiceClient::start(std::unique_ptr<runtime::AsyncStream> stream,
                                                    ClientHandlers handlers) {
  auto client =
      std::make_shared<ServiceClient>(std::shared_ptr<runtime::AsyncStream>(std::move(stream)), std::move(handlers));
  asio::co_spawn(client->stream_->get_executor(), read_loop(client), asio::detached);
  return client;
}

ServiceClient::ServiceClient(std::shared_ptr<runtime::AsyncStream> stream, ClientHandlers handlers)
    : stream_(std::move(stream)),
      writer_(std::make_shared<FrameWriter>(stream_, stream_->get_executor())),
      handlers_(std::move(handlers)),
      answered_(stream_->get_executor()) {}

asio::awaitable<void> ServiceClient::read_loop(std::shared_ptr<ServiceClient> self) {
  co_await asio::this_coro::throw_if_cancelled(false);
  FrameReader reader(*self->stream_);
  for (;;) {
    auto frame = co_await reader.read();
    if (!frame) {
      self->failure_ = std::move(frame.error());
      break;
    }
    switch (frame->kind) {
      case FrameKind::message:
        self->on_message(frame->body);
        break;
      case FrameKind::data:
        if (self->handlers_.on_data) self->handlers_.on_data(frame->handle, frame->stream, frame->body);
        break;
      case FrameKind::end:
        if (self->handlers_.on_end) self->handlers_.on_end(frame->handle, frame->stream);
        break;
    }
  }
  for (auto& [id, pending] : self->pending_) {
    if (!pending->answer) pending->answer = runtime::fail(*self->failure_);
  }
  self->answered_.notify();
}

void ServiceClient::on_message(const std::string& text) {
  json message = json::parse(text, nullptr, false);
  if (!message.is_object()) return;
  if (message.contains("method") && message["method"].is_string()) {
    if (handlers_.on_notification) {
      handlers_.on_notification(message["method"].get<std::string>(), message.value("params", json::object()));
    }
    return;
  }
  if (!message.contains("id") || !message["id"].is_number_integer()) return;
  const auto found = pending_.find(message["id"].get<std::int64_t>());
  if (found == pending_.end()) return;
  auto& pending = *found->second;
  if (message.contains("result")) {
    pending.answer = message["result"];
  } else {
    pending.answer = runtime::fail(error_from_response(message.value("error", json::object())));
  }
  answered_.notify();
}

asio::awaitable<runtime::Result<json>> ServiceClient::call(std::string method, json params) {
  if (failure_) co_return runtime::fail(*failure_);
  const auto id = next_id_++;
  auto pending = std::make_shared<Pending>();
  pending_[id] = pending;
  writer_->send(
      encode_message(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump(
          -1, ' ', false, json::error_handler_t::replace)));
  while (!pending->answer) {
    const bool woken = co_await answered_.wait();
    if (!woken) {
      pending_.erase(id);
      co_return runtime::fail(Errc::cancelled, Layer::runtime, fmt::format("cancelled while waiting for {}", method));
    }
  }
  pending_.erase(id);
  co_return std::move(*pending->answer);
}

void ServiceClient::notify(std::string_view method, json params) {
  writer_->send(encode_message(notification(method, std::move(params))));
}

void ServiceClient::send_data(std::uint32_t handle, StreamId stream, std::string_view data) {
  writer_->send(encode_data(handle, stream, data));
}

void ServiceClient::send_end(std::uint32_t handle, StreamId stream) { writer_->send(encode_end(handle, stream)); }

asio::awaitable<void> ServiceClient::wait_ended() {
  while (!failure_) {
    const bool woken = co_await answered_.wait();
    if (!woken) co_return;
  }
}

asio::awaitable<void> ServiceClient::close() {
  co_await writer_->flush();
  co_await stream_->close();
}

}  // namespace cr::service
