#pragma once
// What an SFTP client, its reader, its writer and its transfers share (internal to src/ssh/sftp).

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/event.hpp"
#include "ssh/session.hpp"
#include "ssh/sftp/client.hpp"
#include "ssh/sftp/messages.hpp"

namespace cr::ssh::sftp {

// One request awaiting its reply. An abandoned one (its waiter was cancelled) still holds its id,
// so that the late reply is dropped rather than taken for an unknown id.
struct Pending {
  Pending(asio::any_io_executor executor, std::uint32_t request_id) : id(request_id), answered(std::move(executor)) {}
  std::uint32_t id;
  std::optional<runtime::Result<Reply>> reply;
  bool abandoned = false;
  runtime::Event answered;
};

// A framed packet for the writer, with its request's id (INIT has none).
struct Outgoing {
  std::optional<std::uint32_t> id;
  std::vector<std::uint8_t> packet;
};

struct Client::State {
  State(Session s, asio::any_io_executor ex) : session(std::move(s)), executor(ex), queued(ex) {}

  // Queues the framed request carrying `id` (from take_id) for the writer; the reply, or the
  // client's failure, comes to the returned Pending.
  std::shared_ptr<Pending> send(std::uint32_t id, std::vector<std::uint8_t> packet);
  std::uint32_t take_id() { return next_id++; }
  // Waits for the reply; cancelled, the request is abandoned and Errc::cancelled returned.
  asio::awaitable<runtime::Result<Reply>> answer(std::shared_ptr<Pending> pending);
  // Gives up on a request: its reply is dropped as it comes, or, when the request has not been
  // written yet, it is never sent.
  void abandon(const std::shared_ptr<Pending>& waiting);
  asio::awaitable<runtime::Result<Reply>> call(std::uint32_t id, std::vector<std::uint8_t> packet);
  // Every waiting request, and every later one, gets `error`.
  void fail(runtime::Error error);
  // Sends CLOSE for a handle without waiting for its answer (a cancelled transfer's cleanup).
  void close_in_background(const std::string& handle);

  Session session;
  asio::any_io_executor executor;
  std::uint32_t version = 0;
  std::vector<Extension> extensions;
  std::optional<Limits> limits;
  std::shared_ptr<Pending> limits_pending;

  std::uint32_t next_id = 0;
  std::unordered_map<std::uint32_t, std::shared_ptr<Pending>> pending;
  std::deque<Outgoing> outbox;
  runtime::Event queued;
  std::optional<runtime::Error> failure;
  std::string stderr_text;  // the subsystem's stderr, the first kStderrKept bytes
  bool closing = false;
};

// Waits until the reply is in: false when the coroutine is cancelled first, or was already (Asio
// drops a cancellation that lands between two operations, the coroutine's state keeps it).
asio::awaitable<bool> wait_for_reply(Pending& waiting);

// Reads the next framed packet from the channel into `packet` (the length taken off).
asio::awaitable<runtime::Result<void>> read_packet(Client::State& state, std::vector<std::uint8_t>& inbox,
                                                   std::vector<std::uint8_t>& packet);

// The error a STATUS stands for (its code other than OK), naming the operation ("STAT", an
// extension's name) and path.
runtime::Error status_error(const StatusReply& status, std::string_view operation, std::string_view path);

// A reply of a type the request does not take: the server's protocol error.
runtime::Error unexpected_reply(const Reply& reply, std::string_view operation, std::string_view path);

// The reply as the type the request expects: a STATUS other than OK is its error.
template <class Expected>
runtime::Result<Expected> expect(runtime::Result<Reply> reply, std::string_view operation, std::string_view path) {
  if (!reply) return runtime::fail(std::move(reply.error()));
  if (auto* wanted = std::get_if<Expected>(&reply->body)) return std::move(*wanted);
  if (auto* status = std::get_if<StatusReply>(&reply->body); status && status->code != 0) {
    return runtime::fail(status_error(*status, operation, path));
  }
  return runtime::fail(unexpected_reply(*reply, operation, path));
}
runtime::Result<void> expect_ok(runtime::Result<Reply> reply, std::string_view operation, std::string_view path);

}  // namespace cr::ssh::sftp
