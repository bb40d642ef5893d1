// The client's side of the version exchange and the first key exchange, fed arbitrary server
// bytes: lines before the version line, packet framing and padding under the null cipher, IGNORE,
// DEBUG, DISCONNECT and the rest before KEXINIT, KEXINIT parsing and negotiation, the KEX reply
// and the host key and signature checks (a fuzzer cannot forge the signature, so the exchange
// never completes: what it reaches is every check before that).

#include "fuzz/server_bytes.hpp"
#include "ssh/transport.hpp"

using namespace cr;

namespace {

asio::awaitable<void> handshake(std::unique_ptr<runtime::AsyncStream> stream) {
  ssh::TransportOptions options;  // every algorithm we implement, any host key whose signature verifies
  options.verify_host_key = ssh::accept_any_host_key();  // the fuzzed peer
  options.log = fuzz::trace_logger();
  auto transport = co_await ssh::Transport::connect(*stream, std::move(options));
  co_await stream->close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::fuzz_against_server_bytes({data, size}, handshake);
  return 0;
}
