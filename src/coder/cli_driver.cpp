#include "coder/cli_driver.hpp"

#include <array>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "coder/cli_text.hpp"
#include "runtime/paths.hpp"

#ifndef _WIN32
#include <unistd.h>
#endif

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
namespace fs = std::filesystem;

namespace {

#ifdef _WIN32
constexpr char kPathSeparator = ';';
#else
constexpr char kPathSeparator = ':';
#endif

bool is_executable_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
#ifdef _WIN32
  return true;
#else
  return ::access(path.c_str(), X_OK) == 0;
#endif
}

// Splits the collected stdout into complete lines for the caller's callback; the rest waits.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}
  void feed(std::string_view chunk) {
    if (!sink_) return;
    pending_.append(chunk);
    std::size_t start = 0;
    for (auto newline = pending_.find('\n'); newline != std::string::npos; newline = pending_.find('\n', start)) {
      std::string_view line(pending_.data() + start, newline - start);
      if (line.ends_with('\r')) line.remove_suffix(1);
      sink_(line);
      start = newline + 1;
    }
    pending_.erase(0, start);
  }
  void finish() {
    if (sink_ && !pending_.empty()) sink_(pending_);
    pending_.clear();
  }

 private:
  std::function<void(std::string_view)> sink_;
  std::string pending_;
};

asio::awaitable<runtime::Result<CliOutput>> run_child(proxy::ProcessStream& child, const RunOptions& options,
                                                      const std::string& what) {
  CliOutput output;
  LineSplitter lines(options.on_stdout_line);
  std::array<std::uint8_t, 16384> buffer;
  for (;;) {
    const bool cancelled = co_await runtime::cancellation_requested();
    if (cancelled) co_return runtime::fail(Errc::cancelled, Layer::coder, fmt::format("{} cancelled", what));
    auto n = co_await child.read_some(buffer);
    if (!n) {
      if (n.error().code != Errc::end_of_stream) co_return runtime::fail(std::move(n.error()).while_(what));
      break;
    }
    const auto chunk = runtime::as_text(runtime::ConstBytes(buffer.data(), *n));
    lines.feed(chunk);
    if (output.out.size() + chunk.size() > options.max_stdout_bytes) {
      co_return runtime::fail(
          std::move(Error(Errc::protocol_error, Layer::coder,
                          fmt::format("{} printed more than {} bytes", what, options.max_stdout_bytes))
                        .with("stdout", runtime::printable(output.out, 512))));
    }
    output.out.append(chunk);
  }
  lines.finish();
  // The read at the end of stdout waited for the exit and drained stderr: this returns at once
  // unless the CLI closed its stdout and kept running.
  const auto no_deadline = runtime::Deadline::never();  // the caller's with_deadline bounds it
  auto status = co_await child.wait_exit(no_deadline);
  if (!status) co_return runtime::fail(std::move(status.error()).while_(what));
  output.status = *status;
  output.err = child.stderr_tail();
  co_return output;
}

Error failed_command(const std::string& what, const CliOutput& output) {
  Error error(Errc::refused, Layer::coder, fmt::format("{} {}", what, output.status.describe()));
  error.with("exit status", output.status.describe());
  const auto err = strip_ansi(output.err);
  if (!err.empty()) error.with("stderr", tail(err));
  if (!output.out.empty()) error.with("stdout", tail(strip_ansi(output.out), 1024));
  return error;
}

}  // namespace

std::string_view cli_file_name() {
#ifdef _WIN32
  return "coder.exe";
#else
  return "coder";
#endif
}

runtime::Result<fs::path> find_cli(const std::optional<fs::path>& explicit_path, std::string_view path_variable) {
  if (explicit_path) {
    if (is_executable_file(*explicit_path)) return *explicit_path;
    return runtime::fail(std::move(
        Error(Errc::invalid_argument, Layer::coder,
              fmt::format("the Coder CLI {} is not an executable file", runtime::path_to_utf8(*explicit_path)))
            .with("path", runtime::path_to_utf8(*explicit_path))));
  }
  std::vector<std::string> searched;
  std::size_t start = 0;
  while (start <= path_variable.size()) {
    auto end = path_variable.find(kPathSeparator, start);
    if (end == std::string_view::npos) end = path_variable.size();
    const auto folder = path_variable.substr(start, end - start);
    start = end + 1;
    if (folder.empty()) continue;  // an empty entry means "." to a shell; we do not run from there
    const fs::path candidate = runtime::utf8_to_path(folder) / cli_file_name();
    if (is_executable_file(candidate)) return candidate;
    searched.emplace_back(folder);
  }
  return runtime::fail(std::move(
      Error(Errc::invalid_argument, Layer::coder,
            fmt::format("the Coder CLI ({}) is not on PATH; install it or give its path", cli_file_name()))
          .with("PATH", searched.empty() ? "(empty)"
                                         : fmt::format("{}", fmt::join(searched, std::string(1, kPathSeparator))))));
}

runtime::Result<fs::path> find_cli(const std::optional<fs::path>& explicit_path) {
#ifdef _WIN32
  const auto path = runtime::environment_variable(L"PATH").value_or("");
  return find_cli(explicit_path, path);
#else
  const char* path = std::getenv("PATH");
  return find_cli(explicit_path, path ? std::string_view(path) : std::string_view());
#endif
}

std::string CoderCli::describe(const std::vector<std::string>& args) {
  return fmt::format("`coder {}`", fmt::join(args, " "));
}

asio::awaitable<runtime::Result<CliOutput>> CoderCli::run(std::vector<std::string> args, RunOptions options) const {
  const std::string what = describe(args);
  proxy::ProcessOptions process;
  process.argv.push_back(program_.string());
  process.argv.insert(process.argv.end(), args.begin(), args.end());
  process.name = what;
  process.environment = environment_;
  process.stderr_tail_bytes = options.stderr_bytes;
  // Shared: the process's stderr reader may outlive this call by a moment.
  auto stderr_lines = std::make_shared<LineSplitter>(options.on_stderr_line);
  if (options.on_stderr_line) process.on_stderr = [stderr_lines](std::string_view chunk) { stderr_lines->feed(chunk); };
  process.log = log_.child("cli");
  auto executor = co_await asio::this_coro::executor;
  auto spawned = proxy::spawn_process(executor, std::move(process));
  if (!spawned) {
    auto error = std::move(spawned.error());
    error.layer = Layer::coder;
    co_return runtime::fail(std::move(error));
  }
  auto child = std::move(*spawned);
  if (auto closed = child->shutdown_send(); !closed) co_return runtime::fail(std::move(closed.error()));
  log_.debug("running {}", what);
  auto running = run_child(*child, options, what);
  std::string doing = what;
  auto ran = co_await runtime::with_deadline(options.deadline, std::move(running), Layer::coder, std::move(doing));
  if (!ran) {
    // A timeout or cancellation: destroying the stream kills the CLI's process group and reaps it.
    if (const auto err = child->stderr_tail(); !err.empty() && !ran.error().find_evidence("stderr")) {
      ran.error().with("stderr", tail(strip_ansi(err)));
    }
    co_return ran;
  }
  stderr_lines->finish();
  if (!ran->status.success()) co_return runtime::fail(failed_command(what, *ran));
  co_return ran;
}

}  // namespace cr::coder
