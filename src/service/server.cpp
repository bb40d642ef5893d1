#include "service/server.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <set>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "coder/doctor.hpp"
#include "coder/operations.hpp"
#include "coder/readiness.hpp"
#include "coder/sftp_files.hpp"
#include "coder/workspace.hpp"
#include "service/diagnosis_json.hpp"
#include "service/frame.hpp"
#include "service/json_rpc.hpp"
#include "service/exec_params.hpp"
#include "service/port_forwards.hpp"
#include "runtime/cancellation.hpp"
#include "service/workspace_connections.hpp"

namespace cr::service {
namespace {

using nlohmann::json;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

// A read of stdout or stderr takes up to this much (ssh::Session::exec's buffer): a stream is read
// only while its receiver has granted at least as much.
constexpr std::int64_t kLargestRead = 32 * 1024;
constexpr std::size_t kKeptStderr = 4096;

std::string_view end_name(coder::ExecEnd end) {
  switch (end) {
    case coder::ExecEnd::exited:
      return "exited";
    case coder::ExecEnd::signalled:
      return "signalled";
    case coder::ExecEnd::closed_without_status:
      return "closed_without_status";
    case coder::ExecEnd::timed_out:
      return "timed_out";
    case coder::ExecEnd::cancelled:
      return "cancelled";
  }
  return "?";
}

// One running command of a client: its stdin as it arrives, its output's credit, and its session
// for signals and window changes.
struct RunningExec {
  explicit RunningExec(asio::any_io_executor executor) : changed(std::move(executor)) {}
  std::deque<std::string> stdin_chunks;
  bool stdin_ended = false;
  std::int64_t stdout_credit = static_cast<std::int64_t>(kInitialCredit);
  std::int64_t stderr_credit = static_cast<std::int64_t>(kInitialCredit);
  std::int64_t stdin_window = static_cast<std::int64_t>(kInitialCredit);  // what the client may still send
  // Set once the client is gone or the command has ended: output is no longer paced.
  bool released = false;
  // A file transfer's stderr is the evidence of its failure, not a stream for the client.
  bool collect_stderr = false;
  std::string stderr_text;
  runtime::Event changed;
  asio::cancellation_signal cancel;
  std::weak_ptr<ssh::Session> session;
};

asio::awaitable<Reply> ready(Reply reply) { co_return reply; }

// params[name], a positive number of milliseconds, or `otherwise` when it is absent.
tl::expected<std::chrono::milliseconds, ReplyError> positive_ms(const json& params, const std::string& name,
                                                                std::chrono::milliseconds otherwise) {
  if (!params.contains(name)) return otherwise;
  if (!params[name].is_number_integer() || params[name].get<std::int64_t>() <= 0)
    return tl::unexpected(
        ReplyError{kInvalidParams, fmt::format("params.{} must be a positive integer", name), nullptr});
  return std::chrono::milliseconds(params[name].get<std::int64_t>());
}

// params[name], milliseconds from `least` to `most`, or `otherwise` when it is absent.
tl::expected<std::chrono::milliseconds, ReplyError> ms_within(const json& params, const std::string& name,
                                                              std::chrono::milliseconds otherwise,
                                                              std::chrono::milliseconds least,
                                                              std::chrono::milliseconds most) {
  if (!params.contains(name)) return otherwise;
  const auto& value = params[name];
  if (!value.is_number_integer() || value.get<std::int64_t>() < least.count() ||
      value.get<std::int64_t>() > most.count())
    return tl::unexpected(ReplyError{
        kInvalidParams, fmt::format("params.{} must be an integer from {} to {}", name, least.count(), most.count()),
        nullptr});
  return std::chrono::milliseconds(value.get<std::int64_t>());
}

// Below this, a command whose connection died unseen is not tried again: its error is the answer.
constexpr std::chrono::milliseconds kLeastRetryTime{100};

ReplyError handle_in_use(std::uint32_t handle) {
  return ReplyError{kInvalidParams, fmt::format("handle {} is already running a command", handle)};
}

// The operation's own error, as -32000 with the library's error in data.
Reply failed(const Error& error) { return ReplyError{kOperationFailed, error.summary(), error_data(error)}; }

json info_json(const coder::FileInfo& info) {
  return json{
      {"size", info.size}, {"mode", info.mode}, {"modified", info.modified}, {"is_directory", info.is_directory}};
}

// files.stat, files.ensure_dir or files.resolve_path on the connection's SFTP session.
asio::awaitable<Result<json>> sftp_file_operation(SftpSessions& sessions, std::shared_ptr<ssh::Connection> connection,
                                                  std::string path, FileRequest kind) {
  auto client = co_await sessions.acquire(std::move(connection));
  if (!client) co_return runtime::fail(std::move(client.error()));
  Result<json> result = json::object();
  if (kind == FileRequest::stat) {
    auto info = co_await coder::sftp_files::stat(**client, std::move(path));
    result = info ? Result<json>(info_json(*info)) : runtime::fail(std::move(info.error()));
  } else if (kind == FileRequest::ensure_dir) {
    auto made = co_await coder::sftp_files::ensure_dir(**client, std::move(path));
    if (!made) result = runtime::fail(std::move(made.error()));
  } else {
    auto resolved = co_await coder::sftp_files::resolve_path(**client, std::move(path));
    result =
        resolved ? Result<json>(json{{"path", bytes_value(*resolved)}}) : runtime::fail(std::move(resolved.error()));
  }
  sessions.done(*client, result ? nullptr : &result.error());
  co_return result;
}

// A download's chunk as stdout data frames, within the client's credit.
asio::awaitable<Result<void>> send_paced(std::shared_ptr<RunningExec> running, std::shared_ptr<FrameWriter> writer,
                                         std::uint32_t handle, runtime::ConstBytes chunk) {
  while (!chunk.empty()) {
    while (!running->released && running->stdout_credit <= 0) {
      const bool woken = co_await running->changed.wait();
      if (!woken) co_return runtime::fail(Errc::cancelled, Layer::runtime, "cancelled while waiting for credit");
    }
    if (running->released) co_return runtime::fail(Errc::cancelled, Layer::runtime, "the client left");
    const auto n = std::min({chunk.size(), kMaxDataPayload, static_cast<std::size_t>(running->stdout_credit)});
    running->stdout_credit -= static_cast<std::int64_t>(n);
    writer->send(encode_data(handle, StreamId::stdout_stream, runtime::as_text(chunk.first(n))));
    chunk = chunk.subspan(n);
  }
  co_return Result<void>{};
}

}  // namespace

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(std::shared_ptr<Server> server, std::shared_ptr<runtime::AsyncStream> stream, std::uint64_t id)
      : server_(std::move(server)),
        id_(id),
        stream_(std::move(stream)),
        writer_(std::make_shared<FrameWriter>(stream_, stream_->get_executor())),
        requests_done_(stream_->get_executor()) {}

  asio::awaitable<void> run();
  void end() {
    asio::co_spawn(
        stream_->get_executor(), [stream = stream_]() -> asio::awaitable<void> { co_await stream->close(); },
        asio::detached);
  }

 private:
  void on_message(const std::string& text);
  void on_stream_frame(const Frame& frame);
  asio::awaitable<void> answer(json id, asio::awaitable<Reply> work);
  asio::awaitable<Reply> start(const std::string& method, json params);
  asio::awaitable<Reply> start_exec(const json& params);
  // The handle's new command, or nullptr when the handle is running one already.
  std::shared_ptr<RunningExec> take_handle(std::uint32_t handle);
  asio::awaitable<Reply> exec(ExecParams params, std::shared_ptr<RunningExec> running);
  // The handle's work has ended: its streams end and it may be taken again.
  Reply finish(std::uint32_t handle, const std::shared_ptr<RunningExec>& running, Result<json> outcome);
  asio::awaitable<Reply> start_transfer(const json& params, FileRequest kind);
  asio::awaitable<Reply> transfer(ExecParams params, std::shared_ptr<RunningExec> running, std::string what);
  asio::awaitable<Reply> sftp_transfer(FileParams file, FileRequest kind, std::shared_ptr<RunningExec> running);
  asio::awaitable<Result<json>> run_sftp_transfer(FileParams file, FileRequest kind,
                                                  std::shared_ptr<RunningExec> running);
  asio::awaitable<Result<json>> move_over_sftp(std::shared_ptr<ssh::Connection> connection, FileParams file,
                                               FileRequest kind, std::shared_ptr<RunningExec> running);
  // The next stdin bytes of a write over SFTP, credited back to the client as they are taken.
  asio::awaitable<Result<std::size_t>> take_stdin(std::shared_ptr<RunningExec> running, std::uint32_t handle,
                                                  runtime::Bytes buffer);
  asio::awaitable<Reply> file_request(json params, FileRequest kind);
  asio::awaitable<Result<json>> run_file_request(FileParams file, FileRequest kind);
  asio::awaitable<Reply> workspace_request(json params, bool ensure_ready);
  asio::awaitable<Reply> doctor(json params);
  asio::awaitable<Result<json>> run_exec(ExecParams params, std::shared_ptr<RunningExec> running);
  Reply connections_list();
  asio::awaitable<Reply> forward_open(json params);
  Reply forward_close(const json& params);
  asio::awaitable<Reply> connections_stop(json params);
  Reply control(const std::string& method, const json& params);
  void notify(std::string_view method, json params) {
    writer_->send(encode_message(notification(method, std::move(params))));
  }
  void send_credit(std::uint32_t handle, StreamId stream, std::size_t bytes) {
    notify("credit", {{"handle", handle}, {"stream", to_string(stream)}, {"bytes", bytes}});
  }

  std::shared_ptr<Server> server_;
  std::uint64_t id_;  // owns the forwards it opens
  std::shared_ptr<runtime::AsyncStream> stream_;
  std::shared_ptr<FrameWriter> writer_;
  std::map<std::uint32_t, std::shared_ptr<RunningExec>> execs_;
  std::set<std::string> ids_in_flight_;
  std::size_t requests_running_ = 0;
  runtime::Event requests_done_;
  // One for each forward.open still listening for its dial: a client that leaves ends them, so
  // that their ports are free at once rather than once the dial is done.
  std::list<asio::cancellation_signal> opening_;
};

asio::awaitable<void> ClientSession::run() {
  co_await asio::this_coro::throw_if_cancelled(false);
  FrameReader reader(*stream_);
  for (;;) {
    auto frame = co_await reader.read();
    if (!frame) {
      if (frame.error().code == Errc::protocol_error) {
        server_->options_.log.warning("a client broke the protocol: {}", frame.error().message);
        notify("protocol_error", {{"message", frame.error().message}});
      }
      break;
    }
    if (frame->kind == FrameKind::message) {
      on_message(frame->body);
    } else {
      on_stream_frame(*frame);
    }
  }
  // The client is gone: its commands end (TERM, then close) and nothing more is paced for it.
  for (auto& [handle, running] : execs_) {
    running->released = true;
    running->stdin_ended = true;
    running->cancel.emit(asio::cancellation_type::terminal);
    running->changed.notify();
  }
  for (auto& opening : opening_) opening.emit(asio::cancellation_type::terminal);
  while (requests_running_ > 0) co_await requests_done_.wait();
  // After its requests: none of its forwards is still opening.
  server_->forwards_->close_owned_by(id_);
  co_await writer_->flush();
  co_await stream_->close();
}

void ClientSession::on_message(const std::string& text) {
  auto parsed = parse_request(text);
  if (!parsed) {
    writer_->send(encode_message(error_response(parsed.error().id, parsed.error().code, parsed.error().message)));
    return;
  }
  auto request = std::move(*parsed);
  if (!request.id) {
    // A notification: its effect, no answer (and an unknown one is ignored, as JSON-RPC says).
    if (request.method == "credit" || request.method.starts_with("exec.")) control(request.method, request.params);
    return;
  }
  const auto key = request.id->dump();
  if (!ids_in_flight_.insert(key).second) {
    writer_->send(
        encode_message(error_response(*request.id, kInvalidRequest, fmt::format("the id {} is already in use", key))));
    return;
  }
  ++requests_running_;
  asio::co_spawn(stream_->get_executor(), answer(*request.id, start(request.method, std::move(request.params))),
                 [self = shared_from_this(), key](std::exception_ptr) {
                   self->ids_in_flight_.erase(key);
                   --self->requests_running_;
                   self->requests_done_.notify();
                 });
}

asio::awaitable<void> ClientSession::answer(json id, asio::awaitable<Reply> work) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto reply = co_await std::move(work);
  writer_->send(encode_message(response(id, std::move(reply))));
}

// Not a coroutine: what a request does takes effect as it is read, before the frames that follow
// it in the same read (an exec's stdin among them) are.
asio::awaitable<Reply> ClientSession::start(const std::string& method, json params) {
  if (method == "initialize") {
    return ready(
        json{{"protocol", kProtocolVersion}, {"server", server_->options_.version}, {"pid", current_process_id()}});
  }
  if (method == "exec") return start_exec(params);
  if (method == "files.read") return start_transfer(params, FileRequest::read);
  if (method == "files.write") return start_transfer(params, FileRequest::write);
  if (method == "files.stat") return file_request(std::move(params), FileRequest::stat);
  if (method == "files.ensure_dir") return file_request(std::move(params), FileRequest::ensure_dir);
  if (method == "files.resolve_path") return file_request(std::move(params), FileRequest::resolve_path);
  if (method == "workspace.status") return workspace_request(std::move(params), false);
  if (method == "workspace.ensure_ready") return workspace_request(std::move(params), true);
  if (method == "doctor") return doctor(std::move(params));
  if (method == "connections.list") return ready(connections_list());
  if (method == "connections.stop") return connections_stop(std::move(params));
  if (method == "forward.open") return forward_open(std::move(params));
  if (method == "forward.close") return ready(forward_close(params));
  if (method == "credit" || method.starts_with("exec.")) return ready(control(method, params));
  return ready(ReplyError{kMethodNotFound, fmt::format("no method \"{}\"", method), nullptr});
}

// Credit, signals, window changes and cancellation: small effects on a running command.
Reply ClientSession::control(const std::string& method, const json& params) {
  auto handle = handle_param(params);
  if (!handle) return std::move(handle.error());
  const auto found = execs_.find(*handle);
  if (found == execs_.end())
    return ReplyError{kInvalidParams, fmt::format("no command is running with handle {}", *handle)};
  auto& running = *found->second;
  if (method == "credit") {
    auto grant = credit_param(params);
    if (!grant) return std::move(grant.error());
    (grant->stream == StreamId::stdout_stream ? running.stdout_credit : running.stderr_credit) += grant->bytes;
    running.changed.notify();
    return json::object();
  }
  if (method == "exec.cancel") {
    running.cancel.emit(asio::cancellation_type::terminal);
    return json::object();
  }
  auto session = running.session.lock();
  if (method == "exec.signal") {
    auto name = string_param(params, "signal");
    if (!name) return std::move(name.error());
    if (session) {
      asio::co_spawn(stream_->get_executor(), session->signal(*name), asio::detached);
    }
    return json::object();
  }
  if (method == "exec.resize") {
    auto size = resize_params(params);
    if (!size) return std::move(size.error());
    if (session) {
      asio::co_spawn(stream_->get_executor(), session->window_change(size->first, size->second), asio::detached);
    }
    return json::object();
  }
  return ReplyError{kMethodNotFound, fmt::format("no method \"{}\"", method), nullptr};
}

void ClientSession::on_stream_frame(const Frame& frame) {
  const auto found = execs_.find(frame.handle);
  if (frame.stream != StreamId::stdin_stream || found == execs_.end()) {
    // A command that has just ended may still be sent stdin; anything else is the client's mistake.
    server_->options_.log.debug("dropped a {} frame for {} of handle {}",
                                frame.kind == FrameKind::data ? "data" : "end", to_string(frame.stream), frame.handle);
    return;
  }
  auto& running = *found->second;
  if (frame.kind == FrameKind::end) {
    running.stdin_ended = true;
  } else if (!running.stdin_ended) {
    running.stdin_window -= static_cast<std::int64_t>(frame.body.size());
    if (running.stdin_window < 0) {
      server_->options_.log.warning("a client sent handle {} more stdin than its credit", frame.handle);
      end();
      return;
    }
    running.stdin_chunks.push_back(frame.body);
  }
  running.changed.notify();
}

std::shared_ptr<RunningExec> ClientSession::take_handle(std::uint32_t handle) {
  if (execs_.contains(handle)) return nullptr;
  auto running = std::make_shared<RunningExec>(stream_->get_executor());
  execs_[handle] = running;
  return running;
}

// Takes the handle at once, so the command's stdin frames find it however soon they follow.
asio::awaitable<Reply> ClientSession::start_exec(const json& params) {
  auto parsed = parse_exec_params(params);
  if (!parsed) return ready(std::move(parsed.error()));
  auto running = take_handle(parsed->handle);
  if (!running) return ready(handle_in_use(parsed->handle));
  return exec(std::move(*parsed), std::move(running));
}

asio::awaitable<Reply> ClientSession::exec(ExecParams params, std::shared_ptr<RunningExec> running) {
  const auto handle = params.handle;
  auto executor = stream_->get_executor();
  auto ran = co_await asio::co_spawn(executor, run_exec(std::move(params), running),
                                     asio::bind_cancellation_slot(running->cancel.slot(), asio::use_awaitable));
  co_return finish(handle, running, std::move(ran));
}

Reply ClientSession::finish(std::uint32_t handle, const std::shared_ptr<RunningExec>& running, Result<json> outcome) {
  running->released = true;
  running->changed.notify();
  execs_.erase(handle);
  writer_->send(encode_end(handle, StreamId::stdout_stream));
  writer_->send(encode_end(handle, StreamId::stderr_stream));
  if (!outcome) return failed(outcome.error());
  return std::move(*outcome);
}

// files.read and files.write are commands whose bytes travel on the handle's stdout or stdin; like
// an exec, the handle is taken at once.
asio::awaitable<Reply> ClientSession::start_transfer(const json& params, FileRequest kind) {
  auto file = parse_file_params(params, kind);
  if (!file) return ready(std::move(file.error()));
  auto running = take_handle(file->handle);
  if (!running) return ready(handle_in_use(file->handle));
  if (file->over_sftp) return sftp_transfer(std::move(*file), kind, std::move(running));
  running->collect_stderr = true;
  ExecParams transfer_params;
  transfer_params.handle = file->handle;
  transfer_params.target = std::move(file->target);
  const bool reading = kind == FileRequest::read;
  transfer_params.request.command =
      reading ? coder::read_file_command(file->path) : coder::write_file_command(file->path, file->size);
  transfer_params.stdin_follows = !reading;
  transfer_params.request.timeout = file->timeout;
  return transfer(std::move(transfer_params), std::move(running),
                  fmt::format("{} {}", reading ? "reading" : "writing", file->path));
}

asio::awaitable<Reply> ClientSession::transfer(ExecParams params, std::shared_ptr<RunningExec> running,
                                               std::string what) {
  auto reply = co_await exec(std::move(params), running);
  const auto* result = std::get_if<json>(&reply);
  if (!result) co_return reply;
  if (result->value("end", std::string()) == "exited" && result->value("exit_code", -1) == 0) co_return json::object();
  const bool timed_out = result->value("end", std::string()) == "timed_out";
  Error error(timed_out ? Errc::timed_out : Errc::io_error, Layer::channel, fmt::format("{} failed", what));
  error.with("outcome", result->contains("exit_code") ? fmt::format("exit status {}", (*result)["exit_code"].get<int>())
                                                      : result->value("end", std::string()));
  if (!running->stderr_text.empty()) error.with("stderr", running->stderr_text);
  co_return failed(error);
}

asio::awaitable<Reply> ClientSession::sftp_transfer(FileParams file, FileRequest kind,
                                                    std::shared_ptr<RunningExec> running) {
  const auto handle = file.handle;
  auto executor = stream_->get_executor();
  auto moved = co_await asio::co_spawn(executor, run_sftp_transfer(std::move(file), kind, running),
                                       asio::bind_cancellation_slot(running->cancel.slot(), asio::use_awaitable));
  co_return finish(handle, running, std::move(moved));
}

asio::awaitable<Result<json>> ClientSession::run_sftp_transfer(FileParams file, FileRequest kind,
                                                               std::shared_ptr<RunningExec> running) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (running->released)
    co_return runtime::fail(Errc::cancelled, Layer::runtime, "the client left before its transfer started");
  const auto ignore = [](std::string) {};
  auto lease = co_await acquire_workspace(*server_->pool_, std::move(file.target), server_->options_, ignore, ignore);
  if (!lease) co_return runtime::fail(std::move(lease.error()));
  if (!file.timeout) co_return co_await move_over_sftp(lease->connection(), std::move(file), kind, std::move(running));
  const auto deadline = runtime::Deadline::after(*file.timeout);
  auto moving = move_over_sftp(lease->connection(), std::move(file), kind, std::move(running));
  std::string what = "the transfer";
  co_return co_await runtime::with_deadline(deadline, std::move(moving), Layer::sftp, std::move(what));
}

asio::awaitable<Result<json>> ClientSession::move_over_sftp(std::shared_ptr<ssh::Connection> connection,
                                                            FileParams file, FileRequest kind,
                                                            std::shared_ptr<RunningExec> running) {
  auto client = co_await server_->sftp_sessions_.acquire(std::move(connection));
  if (!client) co_return runtime::fail(std::move(client.error()));
  const auto handle = file.handle;
  Result<void> moved;
  if (kind == FileRequest::read) {
    ssh::sftp::DownloadSink sink = [running, writer = writer_, handle](runtime::ConstBytes chunk) {
      return send_paced(running, writer, handle, chunk);
    };
    ssh::sftp::TransferOptions options;
    auto read = co_await (*client)->download(std::move(file.path), std::move(sink), std::move(options));
    if (!read) moved = runtime::fail(std::move(read.error()));
  } else {
    ssh::sftp::UploadSource source = [self = shared_from_this(), running, handle](runtime::Bytes buffer) {
      return self->take_stdin(running, handle, buffer);
    };
    moved = co_await coder::sftp_files::write_file(**client, std::move(file.path), std::move(source), file.size);
  }
  server_->sftp_sessions_.done(*client, moved ? nullptr : &moved.error());
  if (!moved) co_return runtime::fail(std::move(moved.error()));
  co_return json::object();
}

asio::awaitable<Result<std::size_t>> ClientSession::take_stdin(std::shared_ptr<RunningExec> running,
                                                               std::uint32_t handle, runtime::Bytes buffer) {
  while (running->stdin_chunks.empty() && !running->stdin_ended) {
    const bool woken = co_await running->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::runtime, "cancelled while waiting for stdin");
  }
  if (running->stdin_chunks.empty()) co_return 0;
  auto& front = running->stdin_chunks.front();
  const auto n = std::min(buffer.size(), front.size());
  std::copy_n(front.data(), n, reinterpret_cast<char*>(buffer.data()));
  front.erase(0, n);
  if (front.empty()) running->stdin_chunks.pop_front();
  running->stdin_window += static_cast<std::int64_t>(n);
  send_credit(handle, StreamId::stdin_stream, n);
  co_return n;
}

asio::awaitable<Reply> ClientSession::file_request(json params, FileRequest kind) {
  auto file = parse_file_params(params, kind);
  if (!file) co_return std::move(file.error());
  const auto deadline = runtime::Deadline::after(*file->timeout);
  auto running = run_file_request(std::move(*file), kind);
  std::string what = "the files request";
  auto done = co_await runtime::with_deadline(deadline, std::move(running), Layer::runtime, std::move(what));
  if (!done) co_return failed(done.error());
  co_return std::move(*done);
}

asio::awaitable<Result<json>> ClientSession::run_file_request(FileParams file, FileRequest kind) {
  const auto ignore = [](std::string) {};
  auto lease = co_await acquire_workspace(*server_->pool_, std::move(file.target), server_->options_, ignore, ignore);
  if (!lease) co_return runtime::fail(std::move(lease.error()));
  if (file.over_sftp) {
    co_return co_await sftp_file_operation(server_->sftp_sessions_, lease->connection(), std::move(file.path), kind);
  }
  if (kind == FileRequest::stat) {
    auto info = co_await coder::stat(**lease, std::move(file.path));
    if (!info) co_return runtime::fail(std::move(info.error()));
    co_return info_json(*info);
  }
  if (kind == FileRequest::ensure_dir) {
    auto made = co_await coder::ensure_dir(**lease, std::move(file.path));
    if (!made) co_return runtime::fail(std::move(made.error()));
    co_return json::object();
  }
  auto resolved = co_await coder::resolve_path(**lease, std::move(file.path));
  if (!resolved) co_return runtime::fail(std::move(resolved.error()));
  co_return json{{"path", bytes_value(*resolved)}};
}

// A workspace's state from `coder list`, or made ready (started if need be, its agent waited for)
// with each step as a progress notification.
asio::awaitable<Reply> ClientSession::workspace_request(json params, bool ensure_ready) {
  auto parsed = parse_workspace_params(params);
  if (!parsed) co_return std::move(parsed.error());
  auto cli = coder_cli_for(parsed->target, server_->options_.log);
  if (!cli) co_return failed(cli.error());
  const auto& workspace = parsed->target.workspace;
  if (!ensure_ready) {
    auto state = co_await coder::query_workspace(*cli, workspace, runtime::Deadline::after(std::chrono::seconds(30)));
    if (!state) co_return failed(state.error());
    if (!*state) co_return failed(coder::workspace_not_found(workspace));
    co_return coder::to_json(**state);
  }
  coder::ReadinessOptions readiness;
  if (parsed->handle != 0) {
    readiness.on_progress = [weak = weak_from_this(), handle = parsed->handle](const coder::ReadinessEvent& event) {
      auto alive = weak.lock();
      if (alive && event.kind != coder::ReadinessEvent::Kind::ready)
        alive->notify("progress", {{"handle", handle}, {"text", event.text}});
    };
  }
  auto ready = co_await coder::ensure_ready(*cli, workspace, std::move(readiness));
  if (!ready) co_return failed(ready.error());
  co_return coder::to_json(*ready);
}

// coder::diagnose's steps, each as a doctor.step notification as it ends (with a handle), then
// `true` on this server's shared connection to the workspace, dialed if need be.
asio::awaitable<Reply> ClientSession::doctor(json params) {
  auto parsed = parse_workspace_params(params);
  if (!parsed) co_return std::move(parsed.error());
  const auto timeout = positive_ms(params, "timeout_ms", std::chrono::seconds(30));
  if (!timeout) co_return timeout.error();
  const auto stall_budget = ms_within(params, "stall_budget_ms", coder::kDefaultStallBudget, coder::kLeastStallBudget,
                                      coder::kMostStallBudget);
  if (!stall_budget) co_return stall_budget.error();
  std::function<void(const coder::DiagnosisStep&)> on_step;
  if (parsed->handle != 0) {
    on_step = [weak = weak_from_this(), handle = parsed->handle](const coder::DiagnosisStep& step) {
      if (auto alive = weak.lock()) alive->notify("doctor.step", {{"handle", handle}, {"step", step_json(step)}});
    };
  }
  coder::Diagnosis diagnosis(std::move(on_step));
  coder::DiagnoseOptions options;
  options.suffix = parsed->target.suffix;
  options.deadline = runtime::Deadline::after(*timeout);
  options.stall_budget = *stall_budget;
  options.log = server_->options_.log;
  const bool connected = co_await coder::diagnose(diagnosis, coder_cli_for(parsed->target, server_->options_.log),
                                                  parsed->target.workspace.to_string(), options);
  if (connected) {
    const auto ignore = [](std::string) {};
    const auto started = runtime::Clock::now();
    auto lease = co_await runtime::with_deadline(
        options.deadline, acquire_workspace(*server_->pool_, parsed->target, server_->options_, ignore, ignore),
        runtime::Layer::runtime, "the shared connection");
    runtime::Result<coder::ExecOutcome> ran =
        lease ? runtime::Result<coder::ExecOutcome>() : runtime::fail(std::move(lease.error()));
    if (lease) {
      coder::ExecRequest request;
      request.command = "true";
      request.timeout = std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                   options.deadline.at() - runtime::Clock::now()));
      ran = co_await coder::exec(**lease, std::move(request));
    }
    const auto took = std::chrono::duration<double, std::milli>(runtime::Clock::now() - started).count();
    if (!ran) {
      diagnosis.fail("shared", ran.error(),
                     "the direct connection above worked, so the shared one is at fault: "
                     "connections.stop ends it and the next call dials afresh");
    } else if (ran->exit_code != 0) {
      diagnosis.fail("shared", fmt::format("`true` on the shared connection ended {}", coder::to_string(ran->end)),
                     "check the workspace's shell");
    } else {
      diagnosis.pass("shared", fmt::format("`true` exited 0 in {:.1f} ms on the shared connection", took));
    }
  }
  co_return diagnosis_json(diagnosis);
}

asio::awaitable<Result<json>> ClientSession::run_exec(ExecParams params, std::shared_ptr<RunningExec> running) {
  co_await asio::this_coro::throw_if_cancelled(false);
  // Its client left between sending the request and this start: the cancellation found nothing yet.
  if (running->released)
    co_return runtime::fail(Errc::cancelled, Layer::runtime, "the client left before its command started");
  const auto handle = params.handle;
  auto self = shared_from_this();
  // The dial's callbacks may outlive this client (a connection outlives its first user).
  const auto tell = [weak = weak_from_this(), handle](std::string_view method) {
    return [weak, handle, method = std::string(method)](std::string text) {
      if (auto alive = weak.lock()) alive->notify(method, {{"handle", handle}, {"text", std::move(text)}});
    };
  };
  coder::ExecRequest request = std::move(params.request);
  const auto send_output = [self, handle, running](StreamId stream, std::string_view data) {
    if (running->released) return;
    if (stream == StreamId::stderr_stream && running->collect_stderr) {
      running->stderr_text.append(data.substr(0, kKeptStderr - std::min(kKeptStderr, running->stderr_text.size())));
      return;
    }
    (stream == StreamId::stdout_stream ? running->stdout_credit : running->stderr_credit) -=
        static_cast<std::int64_t>(data.size());
    self->writer_->send(encode_data(handle, stream, data));
  };
  request.on_stdout = [send_output](std::string_view data) { send_output(StreamId::stdout_stream, data); };
  request.on_stderr = [send_output](std::string_view data) { send_output(StreamId::stderr_stream, data); };
  request.pace_output = [running](ssh::Channel::Stream stream) -> asio::awaitable<void> {
    const auto& credit = stream == ssh::Channel::Stream::out ? running->stdout_credit : running->stderr_credit;
    while (!running->released && credit < kLargestRead) {
      const bool woken = co_await running->changed.wait();
      if (!woken) co_return;
    }
  };
  if (params.stdin_follows) {
    request.stdin_source = [self, handle, running]() -> asio::awaitable<std::optional<std::string>> {
      while (running->stdin_chunks.empty() && !running->stdin_ended) {
        const bool woken = co_await running->changed.wait();
        if (!woken) co_return std::nullopt;
      }
      if (running->stdin_chunks.empty()) co_return std::nullopt;
      auto chunk = std::move(running->stdin_chunks.front());
      running->stdin_chunks.pop_front();
      // Taken by the channel: the client may send as much again.
      running->stdin_window += static_cast<std::int64_t>(chunk.size());
      self->send_credit(handle, StreamId::stdin_stream, chunk.size());
      co_return chunk;
    };
  }
  request.on_session = [running](std::weak_ptr<ssh::Session> session) { running->session = std::move(session); };
  // A shared connection can die (its proxy exits, its tunnel drops) between the lease and its
  // reader noticing. A command whose request never left never ran: it runs once more, on a fresh
  // connection, within what is left of its timeout. One whose request left may have run, and a
  // second run could do its work twice: its error is the answer.
  // The timeout counts from the first attempt's start, as exec's own does: its dial is not in it;
  // a second attempt's dial is.
  std::optional<runtime::Clock::time_point> started;
  const auto left = [&request, &started] {
    return *request.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Clock::now() - *started);
  };
  const auto on_progress = tell("progress");
  const auto on_warning = tell("warning");
  Result<coder::ExecOutcome> outcome;
  for (bool retried = false;; retried = true) {
    WorkspaceTarget target = params.target;
    auto acquiring = acquire_workspace(*server_->pool_, std::move(target), server_->options_, on_progress, on_warning);
    const auto dial_deadline =
        started && request.timeout ? runtime::Deadline::after(left()) : runtime::Deadline::never();
    std::string what = "dialing a fresh connection for the command";
    auto lease = co_await runtime::with_deadline(dial_deadline, std::move(acquiring), Layer::runtime, std::move(what));
    if (!lease) co_return runtime::fail(std::move(lease.error()));
    if (!started) started = runtime::Clock::now();
    auto attempt = request;
    if (request.timeout) attempt.timeout = left();
    outcome = co_await coder::exec(**lease, std::move(attempt));
    const bool never_ran = !outcome && ssh::command_never_sent(outcome.error()) && (*lease)->failure() &&
                           outcome.error().code != Errc::cancelled && outcome.error().code != Errc::timed_out;
    const bool time_left = !request.timeout || left() > kLeastRetryTime;
    // A cancellation that came as the attempt failed reached no operation: the state keeps it.
    const bool cancelled = co_await runtime::cancellation_requested();
    if (retried || running->released || cancelled || !never_ran || !time_left) break;
    server_->options_.log.info(
        "the connection for {} ended before the command's request left ({}); "
        "running it on a fresh connection",
        params.target.workspace.to_string(), outcome.error().summary());
  }
  if (!outcome) co_return runtime::fail(std::move(outcome.error()));
  json result{{"end", end_name(outcome->end)}, {"duration_ms", outcome->duration.count()}};
  if (outcome->exit_code) result["exit_code"] = *outcome->exit_code;
  if (outcome->signal) result["signal"] = outcome->signal->name;
  co_return result;
}

Reply ClientSession::connections_list() {
  json list = json::array();
  const auto now = runtime::Clock::now();
  for (const auto& pooled : server_->pool_->connections()) {
    json entry{{"destination", destination_of(pooled.key)},
               {"age_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - pooled.since).count()},
               {"channels", pooled.connection->open_channels()}};
    if (const auto rtt = pooled.connection->last_round_trip())
      entry["round_trip_ms"] = static_cast<double>(rtt->count()) / 1000.0;
    auto& transport = pooled.connection->transport();
    const auto& agreed = transport.algorithms();
    entry["server"] = transport.server_version().line;
    entry["algorithms"] = {{"kex", agreed.kex},
                           {"host_key", agreed.host_key},
                           {"cipher", agreed.cipher_client_to_server},
                           {"mac", agreed.mac_client_to_server}};
    list.push_back(std::move(entry));
  }
  return json{{"connections", std::move(list)}, {"forwards", server_->forwards_->list()}};
}

asio::awaitable<Reply> ClientSession::forward_open(json params) {
  auto parsed = parse_forward_params(params);
  if (!parsed) co_return std::move(parsed.error());
  const auto handle = parsed->handle;
  // The dial's callbacks and a forward's end may come after this client has gone.
  const auto tell = [weak = weak_from_this(), handle](std::string_view method) -> TextCallback {
    if (handle == 0) return [](std::string) {};
    return [weak, handle, method = std::string(method)](std::string text) {
      if (auto alive = weak.lock()) alive->notify(method, {{"handle", handle}, {"text", std::move(text)}});
    };
  };
  PortForwards::Callbacks callbacks{
      tell("progress"), tell("warning"), [weak = weak_from_this()](std::uint64_t id, const Error& why) {
        if (auto alive = weak.lock()) {
          alive->notify("forward.ended", {{"id", id}, {"message", why.summary()}, {"error", error_data(why)}});
        }
      }};
  auto executor = co_await asio::this_coro::executor;
  auto opening =
      server_->forwards_->open(std::move(*parsed), id_, server_->pool_, server_->options_, std::move(callbacks));
  auto& leaving = opening_.emplace_back();
  const auto mine = std::prev(opening_.end());
  auto opened = co_await asio::co_spawn(executor, std::move(opening),
                                        asio::bind_cancellation_slot(leaving.slot(), asio::use_awaitable));
  opening_.erase(mine);
  if (!opened) co_return failed(opened.error());
  co_return json{{"id", opened->id}, {"listen", opened->listening}, {"port", opened->port}};
}

Reply ClientSession::forward_close(const json& params) {
  auto id = unsigned_param(params, "id", std::numeric_limits<std::uint64_t>::max());
  if (!id) return std::move(id.error());
  if (!server_->forwards_->close(*id, id_)) {
    return ReplyError{kInvalidParams, fmt::format("this client has no forward {}", *id), nullptr};
  }
  return json::object();
}

asio::awaitable<Reply> ClientSession::connections_stop(json params) {
  std::optional<std::string> destination;
  if (params.contains("destination")) {
    auto named = string_param(params, "destination");
    if (!named) co_return std::move(named.error());
    destination = std::move(*named);
  }
  std::size_t stopped = 0;
  for (const auto& pooled : server_->pool_->connections()) {
    if (destination && destination_of(pooled.key) != *destination) continue;
    const bool closed = co_await server_->pool_->close(pooled.key);
    if (closed) ++stopped;
  }
  if (!destination) server_->request_stop();
  co_return json{{"stopped", stopped}};
}

std::shared_ptr<Server> Server::create(asio::any_io_executor executor, ServerOptions options) {
  return std::make_shared<Server>(std::move(executor), std::move(options));
}

Server::Server(asio::any_io_executor executor, ServerOptions options)
    : executor_(executor), options_(std::move(options)), changed_(executor) {
  coder::PoolOptions pool;
  pool.idle_timeout = options_.persist;
  // Each request is a person's or a script's: a failed dial is its answer, as when exec dials
  // itself, and the next request dials again once the backoff has passed.
  pool.backoff.max_total_wait = std::chrono::milliseconds(0);
  pool.log = options_.log.child("pool");
  pool.on_closed = [this] { changed_.notify(); };
  pool_ = coder::ConnectionPool::create(executor_, std::move(pool));
  forwards_ = std::make_shared<PortForwards>();
}

asio::awaitable<void> Server::serve(std::unique_ptr<runtime::AsyncStream> client) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto id = next_session_id_++;
  auto session =
      std::make_shared<ClientSession>(shared_from_this(), std::shared_ptr<runtime::AsyncStream>(std::move(client)), id);
  sessions_[id] = session;
  ++clients_;
  changed_.notify();
  co_await session->run();
  sessions_.erase(id);
  --clients_;
  changed_.notify();
}

asio::awaitable<void> Server::stop() {
  for (auto& [id, weak] : sessions_) {
    if (auto session = weak.lock()) session->end();
  }
  sftp_sessions_.stop();
  forwards_->close_all();
  co_await pool_->close_all();
}

}  // namespace cr::service
