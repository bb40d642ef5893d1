#pragma once
// OpenSSH's ProxyCommand: expand the %-tokens ssh_config(5) allows for it, then run the result
// through the platform's shell the way ssh does, with the child's stdio as the stream.

#include <memory>
#include <string>
#include <string_view>

#include "proxy/process_stream.hpp"

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

// POSIX: /bin/sh -c "exec <expanded>"; Windows: "%COMSPEC%" /d /s /c "<expanded>", verbatim.
runtime::Result<std::unique_ptr<ProcessStream>> start_proxy_command(asio::any_io_executor executor,
                                                                    std::string_view command,
                                                                    const ProxyTokens& tokens,
                                                                    ProcessOptions options = {});

}  // namespace cr::proxy
