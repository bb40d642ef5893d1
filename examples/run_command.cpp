// Runs one command on a host of an ssh_config file, as `ssh -F CONFIG HOST COMMAND` would: the
// file's HostName, Port, User, ProxyCommand, IdentityFile and host key policy, with OpenSSH's
// defaults where it says nothing. Prints the command's output, and exits with its status.
//
//   run_command [-F CONFIG] HOST COMMAND
//
// Without -F, the user's ~/.ssh/config and /etc/ssh/ssh_config, as ssh reads them.

#include <coder_runtime/coder_runtime.hpp>

#include <cstdio>
#include <optional>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

namespace {

using namespace cr;

int failed(const runtime::Error& error) {
  std::fprintf(stderr, "run_command: %s\n", error.detailed().c_str());
  return 255;
}

asio::awaitable<int> run(std::optional<std::string> config_file, std::string host, std::string command) {
  const auto home = runtime::home_directory().value_or(".");
  ssh::ConfigInput input;
  input.files = config_file ? std::vector<std::filesystem::path>{*config_file} : ssh::default_config_files(home);
  auto config = ssh::read_config(input, ssh::ConfigContext{host, runtime::local_user_name(), home, {}});
  if (!config) co_return failed(config.error());
  auto destination = ssh::parse_destination(host);
  if (!destination) co_return failed(destination.error());
  auto plan = ssh::plan_connection(*config, *destination);
  if (!plan) co_return failed(plan.error());

  // The stream (ProxyCommand or TCP), the keys, the handshake and authentication, within the
  // plan's ConnectTimeout; errors name the layer that failed and carry the peer's own words.
  // (Options as a named variable: GCC 12 destroys a temporary in a co_await expression too early.)
  coder::DialOptions options;
  auto connection = co_await coder::dial(std::move(*plan), std::move(options));
  if (!connection) co_return failed(connection.error());

  coder::ExecRequest request;
  request.command = std::move(command);
  request.on_stdout = [](std::string_view data) { std::fwrite(data.data(), 1, data.size(), stdout); };
  request.on_stderr = [](std::string_view data) { std::fwrite(data.data(), 1, data.size(), stderr); };
  auto outcome = co_await coder::exec(**connection, std::move(request));
  co_await (*connection)->close();
  if (!outcome) co_return failed(outcome.error());
  if (outcome->end != coder::ExecEnd::exited) {
    std::fprintf(stderr, "run_command: the command %s\n", std::string(coder::to_string(outcome->end)).c_str());
    co_return 255;
  }
  co_return *outcome->exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::string> config_file;
  int next = 1;
  if (argc > 2 && std::string(argv[1]) == "-F") {
    config_file = argv[2];
    next = 3;
  }
  if (argc - next != 2) {
    std::fprintf(stderr, "usage: run_command [-F CONFIG] HOST COMMAND\n");
    return 2;
  }
  asio::io_context io;
  int status = 255;
  asio::co_spawn(io, run(config_file, argv[next], argv[next + 1]), [&](std::exception_ptr failure, int code) {
    status = code;
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "run_command: %s\n", e.what());
    }
    status = 255;
  });
  io.run();
  return status;
}
