#pragma once
// What ssh_config says about one destination, turned into what the client does: where to connect
// (HostName, Port, ProxyCommand), as whom, with which algorithms, keys and host key policy, and
// how long to wait. Option names and defaults are OpenSSH's, so a user's file means here what it
// means to ssh.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/logging.hpp"
#include "ssh/client.hpp"
#include "ssh/config.hpp"

namespace cr::ssh {

// "[user@]host" or "ssh://[user@]host[:port]".
struct Destination {
  std::string user;
  std::string host;
  std::optional<std::uint16_t> port;
};
runtime::Result<Destination> parse_destination(std::string_view text);
// ProxyJump's and -J's list: "[user@]host[:port]" or "ssh://[user@]host[:port]", apart by commas.
runtime::Result<std::vector<Destination>> parse_jump_hosts(std::string_view text);

struct ClientPlan {
  std::string host_alias;  // as given (%n)
  std::string hostname;    // what to reach (%h)
  std::uint16_t port = 22;
  std::string user;
  std::optional<std::string> proxy_command;  // %h %p %r %n still to expand; none when "none"
  // ProxyJump: the hosts to pass through, in order; the last one connects to HostName:Port. Of it
  // and ProxyCommand, only the one the config gave first is set, as ssh does.
  std::vector<Destination> proxy_jump;
  std::optional<std::chrono::seconds> connect_timeout;
  std::chrono::seconds server_alive_interval{0};  // 0: no keepalives
  int server_alive_count_max = 3;
  bool batch_mode = false;  // never ask a person anything
  std::vector<std::filesystem::path> identity_files;
  bool identity_files_configured = false;  // false: ssh's default key names, silently skipped when missing
  bool identities_only = false;
  std::optional<std::string> identity_agent;  // a socket path, "none", or unset (SSH_AUTH_SOCK)
  // ForwardAgent: unset (no), "" (yes: the agent authentication would use), or a socket path.
  std::optional<std::string> forward_agent;
  std::vector<std::string> send_env;  // patterns of local variables to pass
  std::vector<std::pair<std::string, std::string>> set_env;
  std::optional<std::string> request_tty;  // yes, no, force, auto
  std::optional<runtime::LogLevel> log_level;
  ClientOptions options;  // algorithms, host key verifier, user and auth order
};

// ssh's LogLevel names (QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG1..3) as our levels.
std::optional<runtime::LogLevel> parse_log_level(std::string_view value);

// Values the config gets wrong are Layer::config errors naming where they came from.
runtime::Result<ClientPlan> plan_connection(const SshConfig& config, const Destination& destination,
                                            runtime::Logger log = {});

}  // namespace cr::ssh
