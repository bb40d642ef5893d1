#include "ssh/sftp/client.hpp"

#include <algorithm>
#include <array>

#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "ssh/connection.hpp"
#include "ssh/sftp/client_state.hpp"

namespace cr::ssh::sftp {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

constexpr std::size_t kStderrKept = 8 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
// How long an ended subsystem gets to send its exit status and CLOSE, for the error's evidence.
constexpr auto kEndGrace = std::chrono::seconds(2);

// A background task of the client: one that ends by an exception fails the client with it, so
// that no request waits for a reply that will never come.
void spawn(const std::shared_ptr<Client::State>& state, asio::awaitable<void> task, std::string_view name) {
  std::weak_ptr<Client::State> weak = state;
  asio::co_spawn(state->executor, std::move(task), [weak, name](std::exception_ptr thrown) {
    auto alive = weak.lock();
    if (!thrown || !alive) return;
    alive->fail(Error(Errc::internal_error, Layer::sftp,
                      fmt::format("the SFTP {} failed: {}", name, runtime::exception_text(thrown))));
  });
}

asio::awaitable<void> read_stderr(std::shared_ptr<Client::State> state) {
  std::array<std::uint8_t, 4096> buffer;
  for (;;) {
    auto n = co_await state->session.read_stderr(buffer);
    if (!n) co_return;
    const auto room = kStderrKept - std::min(kStderrKept, state->stderr_text.size());
    state->stderr_text.append(runtime::as_text(runtime::ConstBytes(buffer.data(), std::min(*n, room))));
  }
}

// Why the subsystem stopped answering, with what it said on its way out: its stderr and how it
// ended, once the server has closed the channel (or the grace has passed).
asio::awaitable<Error> end_error(std::shared_ptr<Client::State> state, Error cause) {
  Error error = std::move(cause);
  if (error.code == Errc::end_of_stream) {
    error = state->closing ? Error(Errc::stream_closed, Layer::sftp, "the SFTP client was closed")
                           : Error(Errc::end_of_stream, Layer::sftp, "the SFTP server ended the session");
    if (!state->closing) {
      auto closing = state->session.channel().wait_closed();
      [[maybe_unused]] auto closed = co_await runtime::with_deadline(runtime::Deadline::after(kEndGrace),
                                                                     std::move(closing), Layer::sftp, "closing");
    }
  }
  auto& channel = state->session.channel();
  // Once the server's EOF is in, its stderr is all here and reading it does not wait.
  if (channel.eof_received() || channel.closed()) co_await read_stderr(state);
  if (!state->stderr_text.empty()) error.with("stderr", state->stderr_text);
  if (channel.exit_status()) error.with("exit status", std::to_string(*channel.exit_status()));
  if (channel.exit_signal()) error.with("exit signal", channel.exit_signal()->name);
  if (!state->pending.empty()) error.with("requests in flight", std::to_string(state->pending.size()));
  co_return error;
}

asio::awaitable<void> write_loop(std::shared_ptr<Client::State> state) {
  for (;;) {
    while (state->outbox.empty() && !state->failure) co_await state->queued.wait();
    if (state->failure) co_return;
    auto packet = std::move(state->outbox.front().packet);
    state->outbox.pop_front();
    auto written = co_await state->session.write_stdin(packet);
    if (!written) {
      // A channel the server closed under us: the reader tells why (the subsystem's exit, its
      // stderr), which says more than that writing failed.
      if (written.error().code != Errc::stream_closed) {
        state->fail(std::move(written.error()).while_("sending an SFTP request"));
      }
      co_return;
    }
  }
}

asio::awaitable<void> read_loop(std::shared_ptr<Client::State> state, std::vector<std::uint8_t> inbox) {
  std::vector<std::uint8_t> packet;
  for (;;) {
    auto got = co_await read_packet(*state, inbox, packet);
    if (!got) {
      auto error = co_await end_error(state, std::move(got.error()));
      state->fail(std::move(error));
      co_return;
    }
    auto reply = parse_reply(packet);
    auto found = reply ? state->pending.find(reply->id) : state->pending.end();
    if (reply && found == state->pending.end()) {
      reply = runtime::fail(
          std::move(Error(Errc::protocol_error, Layer::sftp,
                          fmt::format("the SFTP server answered request {}, which we did not send", reply->id))
                        .with("reply", std::string(to_string(reply->type())))
                        .with("packet", runtime::hex_preview(packet, 64))));
    }
    if (!reply) {
      state->fail(std::move(reply.error()));
      co_await state->session.close();
      co_return;
    }
    auto waiting = std::move(found->second);
    state->pending.erase(found);
    if (waiting->abandoned) {
      // An OPEN or OPENDIR given up before its answer: the server keeps the handle until it is closed.
      if (auto* handle = std::get_if<HandleReply>(&reply->body)) state->close_in_background(handle->handle);
      continue;
    }
    waiting->reply = std::move(*reply);
    waiting->answered.notify();
  }
}

}  // namespace

std::shared_ptr<Pending> Client::State::send(std::uint32_t id, std::vector<std::uint8_t> packet) {
  auto waiting = std::make_shared<Pending>(executor, id);
  if (failure) {
    waiting->reply = runtime::fail(*failure);
    return waiting;
  }
  pending.emplace(id, waiting);
  outbox.push_back(Outgoing{id, std::move(packet)});
  queued.notify();
  return waiting;
}

namespace {
// A framed request's type follows its 4-byte length.
bool is_close(const std::vector<std::uint8_t>& packet) {
  return packet.size() > 4 && packet[4] == static_cast<std::uint8_t>(PacketType::close);
}
}  // namespace

asio::awaitable<bool> wait_for_reply(Pending& waiting) {
  while (!waiting.reply) {
    const bool cancelled = co_await runtime::cancellation_requested();
    if (cancelled) co_return false;
    const bool woken = co_await waiting.answered.wait();
    if (!woken && !waiting.reply) co_return false;
  }
  co_return true;
}

asio::awaitable<Result<Reply>> Client::State::answer(std::shared_ptr<Pending> waiting) {
  const bool answered = co_await wait_for_reply(*waiting);
  if (!answered) {
    abandon(waiting);
    co_return runtime::fail(Errc::cancelled, Layer::sftp, "cancelled while waiting for the SFTP server");
  }
  co_return std::move(*waiting->reply);
}

asio::awaitable<Result<Reply>> Client::State::call(std::uint32_t id, std::vector<std::uint8_t> packet) {
  co_return co_await answer(send(id, std::move(packet)));
}

void Client::State::abandon(const std::shared_ptr<Pending>& waiting) {
  waiting->abandoned = true;
  // Still in the outbox, it never reaches the server and no reply will come: neither it nor its id
  // need stay. But a CLOSE goes out all the same: without it the server keeps the handle open.
  const auto unsent =
      std::find_if(outbox.begin(), outbox.end(), [&](const Outgoing& outgoing) { return outgoing.id == waiting->id; });
  if (unsent == outbox.end() || is_close(unsent->packet)) return;
  outbox.erase(unsent);
  pending.erase(waiting->id);
}

void Client::State::fail(Error error) {
  if (failure) return;
  failure = error;
  for (auto& [id, waiting] : pending) {
    waiting->reply = runtime::fail(error);
    waiting->answered.notify();
  }
  pending.clear();
  outbox.clear();
  queued.notify();
}

void Client::State::close_in_background(const std::string& handle) {
  const auto id = take_id();
  send(id, encode_handle_request(PacketType::close, id, handle))->abandoned = true;
}

asio::awaitable<Result<void>> read_packet(Client::State& state, std::vector<std::uint8_t>& inbox,
                                          std::vector<std::uint8_t>& packet) {
  std::size_t have = inbox.size();
  for (;;) {
    if (have >= 4) {
      auto length = packet_length(ConstBytes(inbox.data(), 4));
      if (!length) co_return runtime::fail(std::move(length.error()));
      if (have >= 4 + std::size_t{*length}) {
        packet.assign(inbox.begin() + 4, inbox.begin() + 4 + *length);
        inbox.erase(inbox.begin(), inbox.begin() + 4 + *length);
        co_return Result<void>{};
      }
    }
    inbox.resize(have + kReadChunk);
    auto n = co_await state.session.read_stdout(runtime::Bytes(inbox.data() + have, kReadChunk));
    inbox.resize(have + (n ? *n : 0));
    if (!n) co_return runtime::fail(std::move(n.error()));
    have += *n;
  }
}

Error status_error(const StatusReply& status, std::string_view operation, std::string_view path) {
  const auto code = static_cast<StatusCode>(status.code);
  Errc errc = Errc::io_error;
  switch (code) {
    case StatusCode::no_such_file:
      errc = Errc::not_found;
      break;
    case StatusCode::permission_denied:
      errc = Errc::permission_denied;
      break;
    case StatusCode::op_unsupported:
      errc = Errc::refused;
      break;
    case StatusCode::bad_message:
      errc = Errc::protocol_error;
      break;
    default:
      break;
  }
  const std::string said =
      status.message.empty() ? std::string(to_string(code)) : runtime::printable(status.message, 200);
  return std::move(Error(errc, Layer::sftp, fmt::format("{} {}: {}", operation, path, said))
                       .with("server message", status.message)
                       .with("status", fmt::format("{} ({})", to_string(code), status.code))
                       .with("operation", std::string(operation))
                       .with("path", std::string(path)));
}

Error unexpected_reply(const Reply& reply, std::string_view operation, std::string_view path) {
  return std::move(Error(Errc::protocol_error, Layer::sftp,
                         fmt::format("the SFTP server answered {} with {}", operation, to_string(reply.type())))
                       .with("path", std::string(path)));
}

Result<void> expect_ok(Result<Reply> reply, std::string_view operation, std::string_view path) {
  auto status = expect<StatusReply>(std::move(reply), operation, path);
  if (!status) return runtime::fail(std::move(status.error()));
  if (status->code != 0) return runtime::fail(status_error(*status, operation, path));
  return {};
}

asio::awaitable<Result<std::shared_ptr<Client>>> Client::start(Connection& connection) {
  auto session = co_await connection.open_session();
  if (!session) co_return runtime::fail(std::move(session.error()).while_("opening the SFTP session"));
  auto ticket = co_await session->send_subsystem("sftp");
  if (!ticket) co_return runtime::fail(std::move(ticket.error()).while_("asking for the SFTP subsystem"));
  auto state = std::make_shared<State>(std::move(*session), connection.executor());
  // INIT goes behind the request without waiting for its answer. sshd opens a session's window
  // only once the subsystem runs, so there the writer holds INIT until then; a refusal closes the
  // channel under it.
  state->outbox.push_back(Outgoing{std::nullopt, encode_init()});
  spawn(state, write_loop(state), "writer");
  auto agreed = co_await state->session.subsystem_answer(*ticket, "sftp");
  if (!agreed) {
    state->closing = true;
    state->fail(agreed.error());
    co_await state->session.close();
    co_return runtime::fail(std::move(agreed.error()));
  }
  spawn(state, read_stderr(state), "stderr reader");
  std::vector<std::uint8_t> inbox;
  std::vector<std::uint8_t> packet;
  auto got = co_await read_packet(*state, inbox, packet);
  Result<VersionReply> version;
  if (got) {
    version = parse_version(packet);
  } else {
    version = runtime::fail(std::move(got.error()));
  }
  if (version && version->version != kVersion) {
    version = runtime::fail(std::move(Error(Errc::protocol_error, Layer::sftp,
                                            fmt::format("the SFTP server speaks version {}, not 3", version->version))
                                          .with("packet", runtime::hex_preview(packet, 64))));
  }
  if (!version) {
    auto error = co_await end_error(state, std::move(version.error()));
    state->fail(error);
    co_await state->session.close();
    co_return runtime::fail(std::move(error).while_("starting SFTP"));
  }
  state->version = version->version;
  state->extensions = std::move(version->extensions);
  spawn(state, read_loop(state, std::move(inbox)), "reader");
  auto client = std::make_shared<Client>(state);
  if (client->has_extension("limits@openssh.com")) {
    const auto id = state->take_id();
    state->limits_pending = state->send(id, encode_extended(id, "limits@openssh.com", {}));
  }
  co_return client;
}

Client::~Client() {
  if (state_->closing || state_->failure) return;
  state_->closing = true;
  auto closing = [](std::shared_ptr<State> state) -> asio::awaitable<void> { co_await state->session.close(); };
  asio::co_spawn(state_->executor, closing(state_), [](std::exception_ptr) {});
}

asio::awaitable<void> Client::close() {
  if (state_->closing) co_return;
  state_->closing = true;
  co_await state_->session.close();
  if (state_->failure) co_return;
  auto closed = state_->session.channel().wait_closed();
  [[maybe_unused]] auto done =
      co_await runtime::with_deadline(runtime::Deadline::after(kEndGrace), std::move(closed), Layer::sftp, "closing");
  state_->fail(Error(Errc::stream_closed, Layer::sftp, "the SFTP client was closed"));
}

bool Client::is_open() const { return !state_->closing && !state_->failure; }
std::uint32_t Client::version() const { return state_->version; }
const std::vector<Extension>& Client::extensions() const { return state_->extensions; }
bool Client::has_extension(std::string_view name) const {
  return std::any_of(state_->extensions.begin(), state_->extensions.end(),
                     [&](const Extension& e) { return e.name == name; });
}

}  // namespace cr::ssh::sftp
