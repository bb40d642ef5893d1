#pragma once
// How the ssh and scp commands reach a server, as OpenSSH's do: the same command line options
// (-F, -i, -l, the port, -o), the user's ssh_config, the log level that LogLevel and -v give, and
// a connection dialled through the ProxyCommand or TCP with the remembered first choices, asking
// on the terminal for passphrases and passwords unless BatchMode says no one is there.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "runtime/logging.hpp"
#include "ssh/client_config.hpp"
#include "ssh/connection.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace cr::cli {

struct SshCommandLine {
  std::string config_file;                  // -F; "none": no file; empty: ~/.ssh/config and the system's
  std::vector<std::string> identity_files;  // -i
  std::string login;                        // -l
  std::optional<std::uint16_t> port;        // ssh's -p, scp's -P
  std::vector<std::string> options;         // -o, in ssh_config's format
  std::string jump_hosts;                   // -J, as ProxyJump
};

// -F, -i, -J, -o and the port's flag (ssh's -p, scp's -P) on `command`, filling `line`.
void add_connection_options(CLI::App& command, SshCommandLine& line, const std::string& port_flag);

struct PlannedConnection {
  ssh::SshConfig config;
  ssh::ClientPlan plan;
  runtime::Logger log;
};

// The destination's configuration and plan; the command line's login and port fill in what the
// destination leaves out. verbosity: the count of -v.
runtime::Result<PlannedConnection> plan_like_ssh(const SshCommandLine& line, ssh::Destination destination,
                                                 int verbosity);

// Dials the plan; the ProxyCommand's stderr reaches ours, as with ssh. Jump hosts are planned from
// the same files (-F) and nothing else of the command line, as ssh's -J does. Under
// ConnectTimeout, a server that stops sending in the version or key exchange fails as a stall
// (ssh/stall.hpp).
asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_like_ssh(ssh::ClientPlan plan,
                                                                                 const SshCommandLine& line,
                                                                                 runtime::Logger log);

// The error's one line on stderr ("coder-runtime: LAYER: ..."), every field at -vv; ssh's exit
// code for a failed connection.
int report_failure(const runtime::Error& error, const runtime::Logger& log);

}  // namespace cr::cli
