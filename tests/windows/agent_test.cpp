// The ssh-agent on Windows: OpenSSH's agent service listens on \\.\pipe\openssh-ssh-agent. A
// stand-in on that pipe (a thread serving one client synchronously) answers REQUEST_IDENTITIES;
// the client opens the pipe overlapped on a stream_handle and lists the key.

#include <cstdlib>
#include <thread>

#include <catch2/catch.hpp>

#include "proxy/agent_socket.hpp"
#include "runtime/paths.hpp"
#include "ssh/agent.hpp"
#include "ssh/wire.hpp"
#include "support/run.hpp"
#include "windows/helpers.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

bool read_exact(HANDLE pipe, std::uint8_t* data, DWORD size) {
  while (size > 0) {
    DWORD got = 0;
    if (!ReadFile(pipe, data, size, &got, nullptr) || got == 0) return false;
    data += got;
    size -= got;
  }
  return true;
}

// Serves one client on a new instance of `name`: reads one request, records its type, answers
// SSH_AGENT_IDENTITIES_ANSWER with one key. stop() unblocks it if no client ever came.
class AgentStandIn {
 public:
  explicit AgentStandIn(std::string name) : name_(std::move(name)) {
    pipe_ = CreateNamedPipeW(runtime::widen(name_).c_str(), PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT,
                             PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nullptr);
    REQUIRE(pipe_ != INVALID_HANDLE_VALUE);
    thread_ = std::thread([this] { serve(); });
  }
  ~AgentStandIn() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    if (!served_) {
      // Connect as a client once so a ConnectNamedPipe still waiting returns.
      HANDLE poke = CreateFileW(runtime::widen(name_).c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                0, nullptr);
      if (poke != INVALID_HANDLE_VALUE) CloseHandle(poke);
    }
    thread_.join();
    CloseHandle(pipe_);
  }

  int request_type = -1;

 private:
  void serve() {
    if (!ConnectNamedPipe(pipe_, nullptr) && GetLastError() != ERROR_PIPE_CONNECTED) return;
    std::uint8_t length[4];
    if (!read_exact(pipe_, length, 4)) return;
    Bytes request((std::size_t{length[0]} << 24) | (length[1] << 16) | (length[2] << 8) | length[3]);
    if (request.empty() || !read_exact(pipe_, request.data(), static_cast<DWORD>(request.size()))) return;
    request_type = request[0];
    served_ = true;
    ssh::Writer key;
    key.string("ssh-ed25519");
    key.string(std::string(32, 'k'));
    ssh::Writer answer;
    answer.byte(12);  // SSH_AGENT_IDENTITIES_ANSWER
    answer.uint32(1);
    answer.string(key.take());
    answer.string("stand-in key");
    ssh::Writer framed;
    framed.string(answer.take());
    const Bytes reply = framed.take();
    DWORD written = 0;
    WriteFile(pipe_, reply.data(), static_cast<DWORD>(reply.size()), &written, nullptr);
    FlushFileBuffers(pipe_);
    DisconnectNamedPipe(pipe_);
  }

  std::string name_;
  HANDLE pipe_ = INVALID_HANDLE_VALUE;
  std::thread thread_;
  std::atomic<bool> served_{false};
};

asio::awaitable<runtime::Result<std::vector<ssh::AgentKey>>> list_keys(std::optional<std::string> pipe) {
  auto stream = co_await proxy::connect_ssh_agent(runtime::Deadline::after(5s), std::move(pipe));
  if (!stream) co_return runtime::fail(std::move(stream.error()));
  CHECK_THAT((*stream)->describe(), Catch::StartsWith("pipe \\\\.\\pipe\\"));
  ssh::AgentClient agent(std::move(*stream), ssh::AgentOptions{5s});
  auto keys = co_await agent.list_keys();
  co_await agent.close();
  co_return keys;
}

}  // namespace

TEST_CASE("windows: the agent on \\\\.\\pipe\\openssh-ssh-agent lists its keys (SSH_AUTH_SOCK unset)",
          "[windows][agent]") {
  _putenv("SSH_AUTH_SOCK=");  // Wine passes the host's environment through
  AgentStandIn agent{std::string(proxy::kWindowsAgentPipe)};
  auto keys = test::run(list_keys(std::nullopt));
  agent.stop();
  INFO((keys ? "ok" : keys.error().summary()));
  REQUIRE(keys);
  REQUIRE(keys->size() == 1);
  CHECK(keys->front().comment == "stand-in key");
  CHECK(agent.request_type == 11);  // SSH_AGENTC_REQUEST_IDENTITIES
}

TEST_CASE("windows: an agent pipe that does not exist is a connect error naming it", "[windows][agent]") {
  auto keys = test::run(list_keys(std::string(R"(\\.\pipe\coder-runtime-no-agent-here)")));
  REQUIRE_FALSE(keys);
  CHECK(keys.error().code == runtime::Errc::connect_failed);
  CHECK_THAT(keys.error().message, Catch::Contains("coder-runtime-no-agent-here"));
}
