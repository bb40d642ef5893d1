#include "proxy/proxy_command.hpp"

#include <fmt/format.h>

namespace cr::proxy {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

runtime::Result<std::string> expand_proxy_command(std::string_view command, const ProxyTokens& tokens) {
  std::string out;
  out.reserve(command.size());
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command[i] != '%') {
      out += command[i];
      continue;
    }
    if (i + 1 == command.size()) {
      return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::proxy,
                                           "ProxyCommand ends with a lone '%' (write %% for a literal %)")
                                         .with("ProxyCommand", std::string(command))));
    }
    const char token = command[++i];
    switch (token) {
      case '%': out += '%'; break;
      case 'h': out += tokens.host; break;
      case 'p': out += tokens.port; break;
      case 'r': out += tokens.user; break;
      case 'n': out += tokens.original_host.empty() ? tokens.host : tokens.original_host; break;
      default:
        return runtime::fail(std::move(
            Error(Errc::invalid_argument, Layer::proxy,
                  fmt::format("ProxyCommand uses unknown token %{} at offset {} (allowed: %h %p %r %n %%)",
                              token, i - 1))
                .with("ProxyCommand", std::string(command))));
    }
  }
  return out;
}

runtime::Result<std::unique_ptr<ProcessStream>> start_proxy_command(asio::any_io_executor executor,
                                                                    std::string_view command,
                                                                    const ProxyTokens& tokens,
                                                                    ProcessOptions options) {
  auto expanded = expand_proxy_command(command, tokens);
  if (!expanded) return runtime::fail(std::move(expanded.error()));
  // `exec` keeps the shell from lingering as the proxy's parent, so signals reach the proxy itself.
  options.argv = {"/bin/sh", "-c", "exec " + *expanded};
  if (options.name.empty()) options.name = fmt::format("ProxyCommand `{}`", *expanded);
  return spawn_process(std::move(executor), std::move(options));
}

}  // namespace cr::proxy
