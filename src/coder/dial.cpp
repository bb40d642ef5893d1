#include "coder/dial.hpp"

#include <optional>
#include <system_error>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

#include "coder/first_choices.hpp"
#include "proxy/agent_socket.hpp"
#include "proxy/proxy_command.hpp"
#include "proxy/tcp_stream.hpp"
#include "runtime/deadline.hpp"
#include "ssh/agent.hpp"
#include "ssh/client.hpp"

namespace cr::coder {
namespace {

using Stream = std::unique_ptr<runtime::AsyncStream>;

// ssh -J starts an ssh per jump host, each with the rest of the list as its own -J; a chain that
// long is a loop in the config (a ProxyJump naming a host whose ProxyJump names the first).
constexpr int kMostJumpHosts = 16;

// A direct-tcpip channel through a jump host's connection, which it owns: the chain before it
// ends with it.
class ThroughJumpHost final : public runtime::AsyncStream {
 public:
  ThroughJumpHost(Stream channel, std::shared_ptr<ssh::Connection> jump, std::string jump_host)
      : channel_(std::move(channel)), jump_(std::move(jump)), jump_host_(std::move(jump_host)) {}
  ~ThroughJumpHost() override {
    if (!jump_) return;
    auto executor = jump_->executor();
    asio::co_spawn(executor, close_connection(std::move(jump_)), asio::detached);
  }
  ThroughJumpHost(const ThroughJumpHost&) = delete;
  ThroughJumpHost& operator=(const ThroughJumpHost&) = delete;

  executor_type get_executor() override { return channel_->get_executor(); }
  asio::awaitable<runtime::Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    return channel_->read_some(buffer);
  }
  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    return channel_->write_some(buffer);
  }
  runtime::Result<void> shutdown_send() override { return channel_->shutdown_send(); }
  // The jump connection first: its DISCONNECT is bounded in time, where the channel's CLOSE would
  // wait on a jump host that stopped reading; the channel then ends with it.
  asio::awaitable<void> close() override {
    if (jump_) co_await close_connection(std::move(jump_));
    co_await channel_->close();
  }
  std::string describe() const override { return fmt::format("{} (jump host {})", channel_->describe(), jump_host_); }

 private:
  static asio::awaitable<void> close_connection(std::shared_ptr<ssh::Connection> connection) {
    co_await connection->close();
  }

  Stream channel_;
  std::shared_ptr<ssh::Connection> jump_;
  std::string jump_host_;
};

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_bounded(Stream stream, ssh::ClientPlan plan,
                                                                                DialOptions options, int jumps_before);

// Through the last jump host, reached through the ones before it, as `ssh -J rest -W host:port last`.
asio::awaitable<runtime::Result<Stream>> open_through_jump_hosts(const ssh::ClientPlan& plan,
                                                                 const DialOptions& options, int jumps_before) {
  const auto& last = plan.proxy_jump.back();
  const auto failed = [&](runtime::Error error) {
    return runtime::fail(std::move(error)
                             .with("jump host", fmt::format("{} (on the way to {})", last.host, plan.host_alias))
                             .while_(fmt::format("reaching {} through jump host {}", plan.host_alias, last.host)));
  };
  if (jumps_before + static_cast<int>(plan.proxy_jump.size()) > kMostJumpHosts) {
    co_return failed(runtime::Error(runtime::Errc::invalid_argument, runtime::Layer::config,
                                    fmt::format("more than {} jump hosts on the way to {}: does a ProxyJump lead "
                                                "back to a host before it?",
                                                kMostJumpHosts, plan.host_alias)));
  }
  if (!options.plan_jump_host) {
    co_return failed(runtime::Error(runtime::Errc::invalid_argument, runtime::Layer::config,
                                    "ProxyJump needs DialOptions::plan_jump_host to plan its jump hosts"));
  }
  auto hop = options.plan_jump_host(last);
  if (!hop) co_return failed(std::move(hop.error()));
  if (plan.proxy_jump.size() > 1) {
    // The hosts before it, as -J on its command line: before anything in its own config.
    hop->proxy_command.reset();
    hop->proxy_jump.assign(plan.proxy_jump.begin(), plan.proxy_jump.end() - 1);
  }
  const auto jump_host = hop->host_alias;
  Stream none;
  auto jump_options = options;
  if (hop->batch_mode) jump_options.identity_files.passphrase = nullptr;
  auto jump = co_await dial_bounded(std::move(none), std::move(*hop), std::move(jump_options), jumps_before + 1);
  if (!jump) co_return failed(std::move(jump.error()));
  ssh::DirectTcpip onward{plan.hostname, plan.port};
  auto channel = co_await (*jump)->open_direct_tcpip(std::move(onward));
  if (!channel) {
    co_await (*jump)->close();
    co_return failed(std::move(channel.error()));
  }
  co_return std::make_unique<ThroughJumpHost>(std::move(*channel), std::move(*jump), jump_host);
}

asio::awaitable<runtime::Result<Stream>> open_stream(const ssh::ClientPlan& plan, const DialOptions& options,
                                                     runtime::Deadline deadline, int jumps_before) {
  if (!plan.proxy_jump.empty()) co_return co_await open_through_jump_hosts(plan, options, jumps_before);
  if (!plan.proxy_command) {
    std::string host = plan.hostname;
    auto log = options.log.child("tcp");
    co_return co_await proxy::connect_tcp(std::move(host), plan.port, deadline, std::move(log));
  }
  proxy::ProcessOptions process;
  process.log = options.log.child("proxy");
  process.on_stderr = options.on_proxy_stderr;
  process.environment = options.proxy_environment;
  process.close_grace = proxy::kProxyCloseGrace;
  const proxy::ProxyTokens tokens{plan.hostname, std::to_string(plan.port), plan.user, plan.host_alias};
  auto executor = co_await asio::this_coro::executor;
  auto started = proxy::start_proxy_command(executor, *plan.proxy_command, tokens, std::move(process));
  if (!started) co_return runtime::fail(std::move(started.error()));
  co_return Stream(std::move(*started));
}

// ssh's order: the agent's keys (unless IdentitiesOnly or IdentityAgent none), then the key files.
// A key that cannot be used is logged and passed over, as ssh does; the auth error lists what
// was tried.
asio::awaitable<std::vector<ssh::Identity>> gather_identities(const ssh::ClientPlan& plan, const DialOptions& options,
                                                              runtime::Deadline deadline) {
  std::vector<ssh::Identity> identities;
  const auto& log = options.log;
  const bool use_agent = !plan.identities_only && plan.identity_agent != "none";
  if (use_agent) {
    std::optional<std::string> socket;
    if (plan.identity_agent && !plan.identity_agent->empty()) socket = plan.identity_agent;
    auto stream = co_await proxy::connect_ssh_agent(deadline, std::move(socket));
    if (!stream) {
      log.debug("no agent keys: {}", stream.error().summary());
    } else {
      auto agent = std::make_shared<ssh::AgentClient>(std::move(*stream), ssh::AgentOptions{});
      auto keys = co_await ssh::agent_identities(agent);
      if (!keys) {
        log.warning("the agent did not list its keys: {}", keys.error().summary());
      } else {
        identities = std::move(*keys);
      }
    }
  }
  for (const auto& path : plan.identity_files) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      if (plan.identity_files_configured) log.warning("Identity file {} not accessible: no such file", path.string());
      continue;
    }
    auto identity = ssh::load_identity_file(path, options.identity_files);
    if (!identity) {
      log.warning("{}", identity.error().summary());
      continue;
    }
    identities.push_back(std::move(*identity));
  }
  co_return identities;
}

// HostName:Port names another server behind each jump host.
std::string destination_key(const ssh::ClientPlan& plan) {
  std::string way = plan.proxy_command.value_or("");
  for (const auto& jump : plan.proxy_jump) way += fmt::format(" via {}:{}", jump.host, jump.port.value_or(22));
  return fmt::format("{}:{} {}", plan.hostname, plan.port, way);
}

// The stream is the caller's, or opened here when none is given.
asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_within(Stream given, ssh::ClientPlan plan,
                                                                               DialOptions options,
                                                                               runtime::Deadline deadline,
                                                                               int jumps_before) {
  runtime::Result<Stream> stream = std::move(given);
  if (!*stream) stream = co_await open_stream(plan, options, deadline, jumps_before);
  if (!stream) co_return runtime::fail(std::move(stream.error()));
  auto gathered = co_await gather_identities(plan, options, deadline);
  auto& identities = plan.options.auth.identities;
  identities.insert(identities.end(), std::make_move_iterator(gathered.begin()),
                    std::make_move_iterator(gathered.end()));
  const auto destination = destination_key(plan);
  auto& transport = plan.options.transport;
  if (const auto remembered = recall_first_choice(destination, options.remembered_choices, options.log)) {
    // A guess that cannot be right would only cost a key pair and a packet.
    transport.guess_kex = ssh::lead_with(transport.algorithms, *remembered) && transport.guess_kex;
  }
  auto seen = std::make_shared<std::optional<ssh::ServerFirstChoice>>();
  transport.on_server_first_choice = [seen](const ssh::ServerFirstChoice& choice) { *seen = choice; };
  auto stream_to_server = std::move(*stream);
  auto client_options = std::move(plan.options);
  auto connected = co_await ssh::connect(std::move(stream_to_server), std::move(client_options));
  if (connected && *seen) {
    auto choice = std::move(**seen);
    // The server's first host key algorithm is led with next time only when it names the key that
    // was agreed and verified (rsa-sha2-256 for an agreed rsa-sha2-512 is the same key): another
    // could trade a key known_hosts knows for one it does not.
    const auto& agreed = (*connected)->transport().algorithms().host_key;
    if (!ssh::same_host_key(choice.host_key, agreed)) choice.host_key.clear();
    remember_first_choice(destination, choice, options.remembered_choices, options.log);
  }
  co_return connected;
}

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_bounded(Stream stream, ssh::ClientPlan plan,
                                                                                DialOptions options, int jumps_before) {
  const auto deadline =
      plan.connect_timeout ? runtime::Deadline::after(*plan.connect_timeout) : runtime::Deadline::never();
  const auto what = fmt::format("connecting to {}", plan.host_alias);
  auto dialing = dial_within(std::move(stream), std::move(plan), std::move(options), deadline, jumps_before);
  auto dialed = co_await runtime::with_deadline(deadline, std::move(dialing), runtime::Layer::network, std::move(what));
  co_return dialed;
}

}  // namespace

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial(ssh::ClientPlan plan, DialOptions options) {
  Stream none;
  co_return co_await dial_bounded(std::move(none), std::move(plan), std::move(options), 0);
}

asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_over(Stream stream, ssh::ClientPlan plan,
                                                                             DialOptions options) {
  if (!stream) {
    co_return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::network,
                            fmt::format("dial_over was given no stream to reach {} over", plan.host_alias));
  }
  co_return co_await dial_bounded(std::move(stream), std::move(plan), std::move(options), 0);
}

}  // namespace cr::coder
