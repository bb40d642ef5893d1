// The coder-runtime library peer of the benchmark suite (bench/run): the same work as
// bench/libssh_client.c and bench/ssh2_client.js, printing one JSON line.
//
//   coder_runtime_client (--host H --port P | --proxy COMMAND) [--user U] [--key FILE] [--cipher NAME]
//                        [--profile coder] MODE ...
//
// Modes as in bench/libssh_client.c: cold COUNT, warm COUNT, concurrent N ROUNDS, stream BYTES,
// idle N. The options become ssh_config lines and each connection is dialled the way the
// executable dials one (coder::dial: the stream, the identities, the handshake), so what is
// measured is the library as the CLI and the pool use it. With --profile coder the plan is the
// Coder workspace profile (coder::workspace_plan: none auth with the session opened behind it,
// the agent's host key algorithm first, a spare session channel), its ProxyCommand replaced by
// the benchmark's route: what `coder-runtime exec` does once the workspace is up. The host key is
// not checked: the servers are the benchmark's own.

#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "coder/dial.hpp"
#include "coder/workspace_plan.hpp"
#include "runtime/event.hpp"
#include "ssh/client_config.hpp"
#include "ssh/config.hpp"

namespace {

using namespace cr;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "coder_runtime_client: %s\n", message.c_str());
  std::exit(1);
}

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

long long cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000LL + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

long rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

int count_arg(const std::vector<std::string>& words, std::size_t index) {
  if (index >= words.size()) die("a count is missing");
  int value = 0;
  const auto& word = words[index];
  const auto parsed = std::from_chars(word.data(), word.data() + word.size(), value);
  if (parsed.ec != std::errc{} || parsed.ptr != word.data() + word.size() || value <= 0) {
    die("not a positive count: " + word);
  }
  return value;
}

// The Coder workspace profile, reaching the server the way `route` (the command line's plan) does.
ssh::ClientPlan coder_profile_plan(const ssh::ClientPlan& route) {
  coder::WorkspacePlanOptions options;
  options.coder = "/usr/bin/coder";  // only quoted into the ProxyCommand, which is replaced below
  auto plan = coder::workspace_plan(coder::WorkspaceRef{"", "bench"}, options);
  if (!plan) die(plan.error().summary());
  plan->hostname = route.hostname;
  plan->port = route.port;
  plan->proxy_command = route.proxy_command;
  plan->options.transport.algorithms.ciphers = route.options.transport.algorithms.ciphers;
  return std::move(*plan);
}

// The command line's options as the ssh_config a user would write for the same server.
ssh::ClientPlan plan_for(int argc, char** argv, int& next) {
  std::string user = std::getenv("USER") ? std::getenv("USER") : "root";
  bool coder_profile = false;
  ssh::ConfigInput input;
  input.command_line = {"StrictHostKeyChecking no", "UserKnownHostsFile /dev/null", "BatchMode yes",
                        "IdentitiesOnly yes",       "IdentityAgent none",           "LogLevel ERROR"};
  for (next = 1; next + 1 < argc && std::string_view(argv[next]).starts_with("--"); next += 2) {
    const std::string_view name(argv[next]);
    const std::string value = argv[next + 1];
    if (name == "--host") input.command_line.push_back("HostName " + value);
    else if (name == "--port") input.command_line.push_back("Port " + value);
    else if (name == "--proxy") input.command_line.push_back("ProxyCommand " + value);
    else if (name == "--user") user = value;
    else if (name == "--key") input.command_line.push_back("IdentityFile " + value);
    else if (name == "--cipher") input.command_line.push_back("Ciphers " + value);
    else if (name == "--profile" && value == "coder") coder_profile = true;
    else die(fmt::format("unknown option {} {}", name, value));
  }
  ssh::ConfigContext context;
  context.host = "bench";
  context.local_user = user;
  context.home = "/nonexistent";
  auto config = ssh::read_config(input, std::move(context));
  if (!config) die(config.error().summary());
  auto plan = ssh::plan_connection(*config, ssh::Destination{user, "bench", std::nullopt});
  if (!plan) die(plan.error().summary());
  if (coder_profile) return coder_profile_plan(*plan);
  return std::move(*plan);
}

asio::awaitable<std::shared_ptr<ssh::Connection>> connect(const ssh::ClientPlan& plan) {
  auto copy = plan;
  coder::DialOptions options;
  auto dialed = co_await coder::dial(std::move(copy), std::move(options));
  if (!dialed) die(dialed.error().summary());
  co_return std::move(*dialed);
}

// Runs command, counting stdout; a failure or a nonzero exit status ends the program. (A view,
// so that callers pass literals without a std::string temporary in their co_await.)
asio::awaitable<long long> run(ssh::Connection& connection, std::string_view command) {
  long long bytes = 0;
  std::string line(command);
  ssh::ExecOptions options;
  options.on_stdout = [&bytes](std::string_view chunk) { bytes += static_cast<long long>(chunk.size()); };
  options.on_stderr = [](std::string_view) {};
  auto ran = co_await connection.exec(std::move(line), std::move(options));
  if (!ran) die(ran.error().summary());
  if (ran->exit_code != 0) die(fmt::format("`{}` did not exit with 0", command));
  co_return bytes;
}

asio::awaitable<void> run_counted(std::shared_ptr<ssh::Connection> connection, std::shared_ptr<int> remaining,
                                  std::shared_ptr<runtime::Event> all_done) {
  co_await run(*connection, "true");
  if (--*remaining == 0) all_done->notify();
}

// N execs in flight on one connection, each on its own channel; resumes when all have ended.
asio::awaitable<void> run_together(std::shared_ptr<ssh::Connection> connection, int n) {
  auto executor = co_await asio::this_coro::executor;
  auto remaining = std::make_shared<int>(n);
  auto all_done = std::make_shared<runtime::Event>(executor);
  for (int k = 0; k < n; ++k) asio::co_spawn(executor, run_counted(connection, remaining, all_done), asio::detached);
  while (*remaining > 0) co_await all_done->wait();
}

void print_times(const std::vector<long long>& wall, long long cpu) {
  fmt::print("{{\"wall_us\": [{}], \"cpu_us\": {}}}\n", fmt::join(wall, ", "), cpu);
}

asio::awaitable<void> bench(ssh::ClientPlan plan, std::vector<std::string> words) {
  if (words.empty()) die("usage: coder_runtime_client OPTIONS (cold|warm|concurrent|stream|idle) ...");
  const auto& mode = words[0];
  if (mode == "cold") {
    std::vector<long long> wall;
    const auto cpu = cpu_us();
    for (int k = count_arg(words, 1); k > 0; --k) {
      const auto started = now_us();
      auto connection = co_await connect(plan);
      co_await run(*connection, "true");
      co_await connection->close();
      wall.push_back(now_us() - started);
    }
    print_times(wall, cpu_us() - cpu);
  } else if (mode == "warm" || mode == "concurrent") {
    auto connection = co_await connect(plan);
    co_await run(*connection, "true");
    const bool warm = mode == "warm";
    const int n = warm ? 1 : count_arg(words, 1);
    const int rounds = count_arg(words, warm ? 1 : 2);
    std::vector<long long> wall;
    const auto cpu = cpu_us();
    for (int k = 0; k < rounds; ++k) {
      const auto started = now_us();
      if (warm) {
        co_await run(*connection, "true");
      } else {
        co_await run_together(connection, n);
      }
      wall.push_back(now_us() - started);
    }
    print_times(wall, cpu_us() - cpu);
    co_await connection->close();
  } else if (mode == "stream") {
    if (words.size() < 2) die("stream needs a byte count");
    auto connection = co_await connect(plan);
    const auto cpu = cpu_us();
    const auto started = now_us();
    const auto command = "head -c " + words[1] + " /dev/zero";
    const auto bytes = co_await run(*connection, command);
    fmt::print("{{\"bytes\": {}, \"wall_us\": {}, \"cpu_us\": {}}}\n", bytes, now_us() - started, cpu_us() - cpu);
    co_await connection->close();
  } else if (mode == "idle") {
    const int n = count_arg(words, 1);
    std::vector<std::shared_ptr<ssh::Connection>> held;
    auto first = co_await connect(plan);
    held.push_back(std::move(first));
    const auto before = rss_kb();
    for (int k = 0; k < n; ++k) {
      auto another = co_await connect(plan);
      held.push_back(std::move(another));
    }
    fmt::print("{{\"rss_kb_before\": {}, \"rss_kb_after\": {}, \"connections\": {}}}\n", before, rss_kb(), n);
    for (auto& connection : held) co_await connection->close();
  } else {
    die("unknown mode " + mode);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int next = 1;
  auto plan = plan_for(argc, argv, next);
  std::vector<std::string> words(argv + next, argv + argc);
  asio::io_context io;
  asio::co_spawn(io, bench(std::move(plan), std::move(words)), [](std::exception_ptr failure) {
    if (failure) std::rethrow_exception(failure);
  });
  io.run();
  return 0;
}
