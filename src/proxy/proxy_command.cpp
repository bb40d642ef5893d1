#include "proxy/proxy_command.hpp"

#include <fmt/format.h>

#ifdef _WIN32
#include <windows.h>

#include "runtime/paths.hpp"
#endif

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
      return runtime::fail(std::move(
          Error(Errc::invalid_argument, Layer::proxy, "ProxyCommand ends with a lone '%' (write %% for a literal %)")
              .with("ProxyCommand", std::string(command))));
    }
    const char token = command[++i];
    switch (token) {
      case '%':
        out += '%';
        break;
      case 'h':
        out += tokens.host;
        break;
      case 'p':
        out += tokens.port;
        break;
      case 'r':
        out += tokens.user;
        break;
      case 'n':
        out += tokens.original_host.empty() ? tokens.host : tokens.original_host;
        break;
      default:
        return runtime::fail(
            std::move(Error(Errc::invalid_argument, Layer::proxy,
                            fmt::format("ProxyCommand uses unknown token %{} at offset {} (allowed: %h %p %r %n %%)",
                                        token, i - 1))
                          .with("ProxyCommand", std::string(command))));
    }
  }
  return out;
}

std::string windows_shell_command_line(std::string_view comspec, std::string_view command) {
  return fmt::format("\"{}\" /d /s /c \"{}\"", comspec, command);
}

#ifdef _WIN32
namespace {

// %COMSPEC%, else cmd.exe in the system folder.
std::string command_interpreter() {
  if (auto comspec = runtime::environment_variable(L"COMSPEC"); comspec && !comspec->empty()) return *comspec;
  wchar_t system[MAX_PATH];
  const UINT n = GetSystemDirectoryW(system, MAX_PATH);
  return runtime::narrow(std::wstring_view(system, n < MAX_PATH ? n : 0)) + "\\cmd.exe";
}

}  // namespace
#endif

runtime::Result<std::unique_ptr<ProcessStream>> start_proxy_command(asio::any_io_executor executor,
                                                                    std::string_view command, const ProxyTokens& tokens,
                                                                    ProcessOptions options) {
  auto expanded = expand_proxy_command(command, tokens);
  if (!expanded) return runtime::fail(std::move(expanded.error()));
#ifdef _WIN32
  // Verbatim, never re-quoted: re-escaped quotes are what made cmd.exe fail at once in the
  // desktop app this project replaces. The job object stands in for `exec`: ending the job ends
  // cmd.exe and the proxy it started.
  options.application = command_interpreter();
  options.command_line = windows_shell_command_line(options.application, *expanded);
  options.argv = {options.application, "/d", "/s", "/c", *expanded};
#else
  // `exec` keeps the shell from lingering as the proxy's parent, so signals reach the proxy itself.
  options.argv = {"/bin/sh", "-c", "exec " + *expanded};
#endif
  if (options.name.empty()) options.name = fmt::format("ProxyCommand `{}`", *expanded);
  return spawn_process(std::move(executor), std::move(options));
}

}  // namespace cr::proxy
