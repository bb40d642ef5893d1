#pragma once
// OpenSSH's ProxyCommand: expand the %-tokens ssh_config(5) allows for it, then run the result
// through the platform's shell the way ssh does, with the child's stdio as the stream.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/process_stream.hpp"

// Byte streams to a server: a ProxyCommand's process (its stdin and stdout, its exit and stderr
// kept as evidence) and a TCP connection.
namespace cr::proxy {

// Values for %h (host name), %p (port), %r (remote user) and %n (the host as given on the command
// line, before HostName applied). %% is a literal %.
struct ProxyTokens {
  std::string host;
  std::string port = "22";
  std::string user;
  std::string original_host;
};

// An unknown token or a trailing lone % is an error naming its position, as ssh refuses them too.
runtime::Result<std::string> expand_proxy_command(std::string_view command, const ProxyTokens& tokens);

// cmd.exe's command line for a ProxyCommand: "<comspec>" /d /s /c "<command>". /s makes cmd.exe
// strip exactly the outer pair of quotes and run the rest as written, so a command whose every
// argument is quoted ("C:\Program Files\Coder\coder.exe" "ssh" ...) survives unchanged.
std::string windows_shell_command_line(std::string_view comspec, std::string_view command);

// The close_grace for a ProxyCommand whose SSH connection is done: DISCONNECT has been written and
// its stdin has ended, so there is nothing left for it to do but exit. OpenSSH hangs its proxy up
// (SIGHUP) as it exits and waits for nothing; we give it this long to relay the DISCONNECT and exit
// on its own, then end it (SIGTERM, then SIGKILL), so that a process's exit never waits a round
// trip of the proxy's own (`coder ssh --stdio` closing its tunnel).
inline constexpr std::chrono::milliseconds kProxyCloseGrace{150};

// POSIX: /bin/sh -c "exec <expanded>"; Windows: "%COMSPEC%" /d /s /c "<expanded>", verbatim.
runtime::Result<std::unique_ptr<ProcessStream>> start_proxy_command(asio::any_io_executor executor,
                                                                    std::string_view command, const ProxyTokens& tokens,
                                                                    ProcessOptions options = {});

}  // namespace cr::proxy
