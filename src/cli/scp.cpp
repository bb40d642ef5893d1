// `coder-runtime scp`: OpenSSH's scp command line (-F -i -P -o -r -p -q, `[user@]host:path` or
// scp:// on either side, several sources), over SFTP as OpenSSH's scp does by default. Each file
// goes to a temporary name beside its target and is renamed over it once whole, so a failed or
// interrupted copy leaves the target as it was. A progress line shows on a terminal (stderr).
// Exit codes are scp's: 0 when every file was copied, 1 when any was not, 255 when the connection
// failed.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"
#include "cli/scp_operand.hpp"
#include "cli/sftp_copy.hpp"
#include "cli/ssh_connect.hpp"

namespace cr::cli {
namespace {

struct ScpOptions {
  SshCommandLine line;
  bool recursive = false;
  bool preserve = false;
  bool quiet = false;
  std::vector<std::string> operands;
};

asio::awaitable<int> run_scp(ScpOptions o, int verbosity) {
  if (o.operands.size() < 2) {
    write_stderr("scp: a source and a target are needed: coder-runtime scp SOURCE... TARGET\n");
    co_return kExitCopyFailed;
  }
  std::vector<ScpOperand> sources;
  for (std::size_t i = 0; i + 1 < o.operands.size(); ++i) {
    auto source = parse_scp_operand(o.operands[i]);
    if (!source) co_return report_failure(source.error(), {});
    sources.push_back(std::move(*source));
  }
  auto target = parse_scp_operand(o.operands.back());
  if (!target) co_return report_failure(target.error(), {});
  const RemoteFile* server = one_server(sources, *target, o.operands.back(), "scp");
  if (!server) co_return kExitCopyFailed;
  ssh::Destination destination{server->user, server->host, server->port};
  auto planned = plan_like_ssh(o.line, std::move(destination), verbosity);
  if (!planned) co_return report_failure(planned.error(), {});
  const auto log = planned->log;
  auto connected = co_await dial_like_ssh(std::move(planned->plan), o.line, log);
  if (!connected) co_return report_failure(connected.error(), log);
  const CopyOptions copy{o.recursive, o.preserve, !o.quiet && stderr_is_terminal(), "scp"};
  co_return co_await copy_on_connection(std::move(*connected), copy, sources, *target, log);
}

}  // namespace

void add_scp_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ScpOptions>();
  auto* cmd = app.add_subcommand("scp", "Copy files to or from an SSH server over SFTP, as OpenSSH's scp does");
  add_connection_options(*cmd, o->line, "-P");
  add_copy_flags(*cmd, o->recursive, o->preserve, o->quiet);
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->add_option("operands", o->operands,
                  "SOURCE... TARGET: [user@]host:path, scp://[user@]host[:port]/path or a "
                  "local path");
  cmd->callback([o, &global, &exit_code] { exit_code = run_to_exit_code(run_scp(*o, global.verbosity)); });
}

}  // namespace cr::cli
