#pragma once
// An ssh-agent client (draft-miller-ssh-agent) over any AsyncStream: a Unix socket from
// proxy::connect_ssh_agent, later a Windows named pipe, or a forwarded agent channel. The agent's
// keys become Identities whose signatures the agent makes; the private keys never leave it.
//
// One request at a time on the stream (the protocol has no request ids), each within its own
// deadline. A request that fails half way leaves the stream out of step, so the client then
// refuses further requests with that first error.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/async_mutex.hpp"
#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "ssh/client_auth.hpp"

namespace cr::ssh {

struct AgentOptions {
  // Per request. Generous: an agent may wait for a person to confirm a signature (ssh-add -c).
  runtime::Clock::duration request_timeout = std::chrono::seconds(30);
};

struct AgentKey {
  std::vector<std::uint8_t> blob;
  std::string comment;
};

class AgentClient {
 public:
  AgentClient(std::unique_ptr<runtime::AsyncStream> stream, AgentOptions options);

  // SSH_AGENTC_REQUEST_IDENTITIES. Errors are Layer::auth.
  asio::awaitable<runtime::Result<std::vector<AgentKey>>> list_keys();
  // SSH_AGENTC_SIGN_REQUEST: an SSH signature blob made with `algorithm` (for RSA keys the
  // rsa-sha2 flags ask for it). An agent that answers with another algorithm is an error.
  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> sign(std::vector<std::uint8_t> key_blob,
                                                                   std::vector<std::uint8_t> data,
                                                                   std::string algorithm);
  asio::awaitable<void> close();
  std::string describe() const { return stream_->describe(); }

 private:
  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> request(std::vector<std::uint8_t> message,
                                                                      std::string what);
  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> exchange(std::vector<std::uint8_t> message);

  std::unique_ptr<runtime::AsyncStream> stream_;
  AgentOptions options_;
  runtime::AsyncMutex turn_;
  std::optional<runtime::Error> broken_;
};

// The agent's keys as identities (source "agent <comment>"), in the agent's order.
asio::awaitable<runtime::Result<std::vector<Identity>>> agent_identities(std::shared_ptr<AgentClient> agent);

}  // namespace cr::ssh
