// The order messages leave in when a re-exchange is due. A message's place in line is taken when
// it is written, before the KEXINIT that the due re-exchange sends first: while that KEXINIT is
// still leaving, the connection's reader may queue a CLOSE, which must stay behind the message
// (sshd ends the whole connection on an EOF for a channel it has freed).
//
// The peer here reads nothing, so the KEXINIT stays in the stream's buffer for as long as the test
// needs; no exchange completes, so the transport is failed as a broken reader fails it, and the
// order in which the writes give up is the order they stood in line.

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/memory_stream.hpp"
#include "ssh/transport.hpp"

using namespace cr;

namespace {

asio::awaitable<runtime::Result<void>> write(ssh::Transport& transport, std::vector<std::uint8_t> payload) {
  co_return co_await transport.write_message(payload);
}

}  // namespace

TEST_CASE("a message written as a due re-exchange begins keeps its place before one written after",
          "[transport][rekey]") {
  asio::io_context io;
  auto [ours, theirs] = runtime::make_memory_stream_pair(io.get_executor(), {.capacity = 64});
  ssh::TransportOptions options;
  options.verify_host_key = ssh::accept_any_host_key();
  options.rekey_after_time = std::chrono::seconds(0);  // due from the start
  ssh::Transport transport(*ours, std::move(options));
  transport.authenticated();

  std::vector<std::string> gave_up;
  const auto spawn_write = [&](std::string name, std::vector<std::uint8_t> payload) {
    asio::co_spawn(io, write(transport, std::move(payload)),
                   [&gave_up, name](std::exception_ptr, runtime::Result<void> written) {
                     gave_up.push_back(written ? name + " written" : name);
                   });
  };
  spawn_write("eof", {96, 0, 0, 0, 0});  // CHANNEL_EOF: its KEXINIT fills the stream and waits
  io.poll();
  spawn_write("close", {97, 0, 0, 0, 0});  // CHANNEL_CLOSE, as the reader queues it
  io.restart();
  io.poll();
  REQUIRE(gave_up.empty());

  transport.mark_broken(runtime::Error(runtime::Errc::end_of_stream, runtime::Layer::transport, "the peer left"));
  io.restart();
  io.poll();
  theirs.reset();  // the KEXINIT's write fails
  io.restart();
  io.run_for(std::chrono::seconds(5));
  CHECK(gave_up == std::vector<std::string>{"eof", "close"});
}
