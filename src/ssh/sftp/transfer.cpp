// Pipelined transfers: many READs or WRITEs in flight, answered in any order, taken in file order.

#include <algorithm>
#include <deque>

#include <asio/this_coro.hpp>
#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "ssh/sftp/client.hpp"
#include "ssh/sftp/client_state.hpp"

namespace cr::ssh::sftp {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

constexpr std::uint32_t kDefaultChunk = 32 * 1024;
constexpr std::uint32_t kStatusEof = 1;

struct InFlight {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  std::shared_ptr<Pending> pending;
};

// The request size: the caller's, else the server's limit from limits@openssh.com, else 32 KiB;
// never more than a packet of ours may carry. Only a cancellation fails it.
asio::awaitable<Result<std::uint32_t>> chunk_size(Client& client, const TransferOptions& options, bool reading) {
  std::uint64_t chunk = kDefaultChunk;
  if (options.chunk_size) {
    chunk = *options.chunk_size;
  } else if (client.has_extension("limits@openssh.com")) {
    auto limits = co_await client.limits();
    if (!limits && limits.error().code == Errc::cancelled) co_return runtime::fail(std::move(limits.error()));
    const std::uint64_t limit = !limits ? 0 : reading ? limits->max_read_length : limits->max_write_length;
    if (limit > 0) chunk = limit;
  }
  co_return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(chunk, 1, kMaxPayload));
}

// A transfer that stops early drops the replies still to come and closes its handle behind it.
void abandon(Client::State& state, std::deque<InFlight>& flight, const File& file) {
  for (auto& request : flight) state.abandon(request.pending);
  flight.clear();
  state.close_in_background(file.handle);
}

// Whether to send another READ. Until FSTAT answers, one is out: it goes with FSTAT, whose answer
// comes first. Then as many as the rest of the file takes, up to max_requests, so that a small file
// costs two READs (its bytes, then the end) rather than max_requests; past the size, one at a time
// (the end, or what a growing file added). A server that does not tell the size gets max_requests.
bool another_read(bool size_pending, std::optional<std::uint64_t> total, std::uint64_t next, std::size_t in_flight,
                  std::size_t max_requests) {
  if (in_flight >= max_requests) return false;
  if (size_pending) return in_flight == 0;
  if (!total || next < *total) return true;
  return in_flight == 0;
}

Error cancelled_transfer(std::string_view what, const File& file, std::uint64_t done) {
  return std::move(Error(Errc::cancelled, Layer::sftp, fmt::format("the {} of {} was cancelled", what, file.path))
                       .with("bytes done", std::to_string(done)));
}

}  // namespace

asio::awaitable<Result<std::uint64_t>> Client::download(std::string path, DownloadSink sink, TransferOptions options) {
  auto& state = *state_;
  const auto sized = co_await chunk_size(*this, options, true);
  if (!sized) co_return runtime::fail(std::move(sized.error()));
  const auto chunk = *sized;
  const std::size_t max_requests = std::max<std::size_t>(options.max_requests, 1);
  auto opened = co_await open(std::move(path), open_flags::read, {});
  if (!opened) co_return runtime::fail(std::move(opened.error()));
  const File file = std::move(*opened);
  // The size, for progress only, asked for together with the first READs.
  auto id = state.take_id();
  auto size_asked = state.send(id, encode_handle_request(PacketType::fstat, id, file.handle));
  std::optional<std::uint64_t> total;

  std::deque<InFlight> flight;
  const auto ask = [&](std::uint64_t offset, std::uint32_t length) {
    const auto read_id = state.take_id();
    return InFlight{offset, length, state.send(read_id, encode_read(read_id, file.handle, offset, length))};
  };
  std::uint64_t next = 0;
  std::uint64_t delivered = 0;
  bool at_end = false;
  for (;;) {
    const bool stop = co_await runtime::cancellation_requested();
    if (stop) {
      abandon(state, flight, file);
      co_return runtime::fail(cancelled_transfer("download", file, delivered));
    }
    while (!at_end && another_read(size_asked != nullptr, total, next, flight.size(), max_requests)) {
      flight.push_back(ask(next, chunk));
      next += chunk;
    }
    if (size_asked) {
      auto attrs = co_await state.answer(std::move(size_asked));
      size_asked.reset();
      if (attrs) {
        if (auto* got = std::get_if<AttrsReply>(&attrs->body)) total = got->attrs.size;
      } else if (attrs.error().code == Errc::cancelled) {
        abandon(state, flight, file);
        co_return runtime::fail(cancelled_transfer("download", file, delivered));
      }
      continue;  // the rest of the READs the size calls for go out before the first answer is awaited
    }
    if (flight.empty()) break;
    const InFlight request = std::move(flight.front());
    flight.pop_front();
    auto reply = co_await state.answer(request.pending);
    if (reply) {
      if (auto* status = std::get_if<StatusReply>(&reply->body); status && status->code == kStatusEof) {
        at_end = true;
        continue;
      }
    }
    auto data = expect<DataReply>(std::move(reply), "READ", file.path);
    if (data && data->data.size() > request.length) {
      data = runtime::fail(std::move(
          Error(Errc::protocol_error, Layer::sftp,
                fmt::format("the SFTP server sent {} bytes for a READ of {}", data->data.size(), request.length))
              .with("path", file.path)));
    }
    if (!data) {
      if (data.error().code == Errc::cancelled) data = runtime::fail(cancelled_transfer("download", file, delivered));
      abandon(state, flight, file);
      co_return runtime::fail(std::move(data.error()).with("bytes done", std::to_string(delivered)));
    }
    // Past an end already seen, the file grew during the transfer: what it has now is not taken.
    if (at_end) continue;
    if (data->data.empty()) {
      at_end = true;
      continue;
    }
    const auto got = static_cast<std::uint32_t>(data->data.size());
    // A short read that stops at the size FSTAT told is the end of the file: asking past it would
    // only fetch the EOF, a round trip later. Any other short read (the server's choice, or a file
    // that changed size) has the rest of its range asked for again, ahead of everything later.
    if (got < request.length) {
      if (total && request.offset + got == *total) {
        at_end = true;
      } else {
        flight.push_front(ask(request.offset + got, request.length - got));
      }
    }
    auto taken = co_await sink(runtime::as_bytes(data->data));
    if (!taken) {
      abandon(state, flight, file);
      co_return runtime::fail(std::move(taken.error()));
    }
    delivered += got;
    if (options.progress) options.progress(delivered, total);
  }
  // Every byte is in: the CLOSE of a handle that was only read cannot take any back, so it is not
  // waited for.
  state.close_in_background(file.handle);
  co_return delivered;
}

asio::awaitable<Result<std::uint64_t>> Client::upload(UploadSource source, std::string path, TransferOptions options) {
  FileAttributes attrs;
  attrs.permissions = options.permissions;
  auto opened = co_await open(std::move(path), open_flags::write | open_flags::create | open_flags::truncate, attrs);
  if (!opened) co_return runtime::fail(std::move(opened.error()));
  co_return co_await upload(std::move(source), std::move(*opened), std::move(options));
}

asio::awaitable<Result<std::uint64_t>> Client::upload(UploadSource source, File file, TransferOptions options) {
  auto& state = *state_;
  const auto sized = co_await chunk_size(*this, options, false);
  if (!sized) {
    state.close_in_background(file.handle);
    co_return runtime::fail(std::move(sized.error()));
  }
  const auto chunk = *sized;
  const std::size_t max_requests = std::max<std::size_t>(options.max_requests, 1);

  std::deque<InFlight> flight;
  std::vector<std::uint8_t> piece(chunk);
  std::uint64_t offset = 0;
  std::uint64_t written = 0;
  bool source_done = false;
  // The CLOSE goes right behind the last WRITE, not a round trip after its answer: servers finish a
  // handle's writes before they close it (OpenSSH's serves requests in turn, pkg/sftp waits for
  // its writers), and every WRITE's answer is still checked before the upload counts as done.
  std::shared_ptr<Pending> closing;
  const auto stop_early = [&] {
    if (!closing) return abandon(state, flight, file);
    for (auto& request : flight) state.abandon(request.pending);
    flight.clear();
    state.abandon(closing);
  };
  for (;;) {
    const bool stop = co_await runtime::cancellation_requested();
    if (stop) {
      stop_early();
      co_return runtime::fail(cancelled_transfer("upload", file, written));
    }
    while (!source_done && flight.size() < max_requests) {
      std::size_t filled = 0;
      while (filled < piece.size()) {
        auto n = co_await source(runtime::Bytes(piece.data() + filled, piece.size() - filled));
        if (!n) {
          stop_early();
          co_return runtime::fail(std::move(n.error()));
        }
        if (*n == 0) {
          source_done = true;
          break;
        }
        filled += *n;
      }
      if (filled == 0) break;
      const auto write_id = state.take_id();
      const ConstBytes data(piece.data(), filled);
      flight.push_back(InFlight{offset, static_cast<std::uint32_t>(filled),
                                state.send(write_id, encode_write(write_id, file.handle, offset, data))});
      offset += filled;
    }
    if (source_done && !closing) {
      const auto close_id = state.take_id();
      closing = state.send(close_id, encode_handle_request(PacketType::close, close_id, file.handle));
    }
    if (flight.empty()) break;
    const InFlight request = std::move(flight.front());
    flight.pop_front();
    auto reply = co_await state.answer(request.pending);
    auto done = expect_ok(std::move(reply), "WRITE", file.path);
    if (!done) {
      if (done.error().code == Errc::cancelled) done = runtime::fail(cancelled_transfer("upload", file, written));
      stop_early();
      co_return runtime::fail(std::move(done.error()).with("bytes done", std::to_string(written)));
    }
    written += request.length;
    if (options.progress) options.progress(written, std::nullopt);
  }
  auto close_reply = co_await state.answer(std::move(closing));
  auto closed = expect_ok(std::move(close_reply), "CLOSE", file.path);
  if (!closed) co_return runtime::fail(std::move(closed.error()));
  co_return written;
}

}  // namespace cr::ssh::sftp
