#include "cli/readiness_display.hpp"

#include <array>

#include <fmt/format.h>

#include "cli/local_terminal.hpp"
#include "runtime/deadline.hpp"

namespace cr::cli {
namespace {

constexpr std::array<std::string_view, 10> kFrames{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
constexpr std::chrono::milliseconds kTick{100};
constexpr std::string_view kClearLine = "\r\x1b[K";

}  // namespace

std::string progress_text(const coder::ReadinessEvent& event, const std::string& workspace) {
  if (event.kind != coder::ReadinessEvent::Kind::state) return event.text;
  return fmt::format("workspace {}: {}", workspace, event.text);
}

// The status line's state, shared with the timer's handler, which may run after finish().
struct ReadinessDisplay::Spinner {
  explicit Spinner(asio::any_io_executor executor) : timer(executor) {}
  asio::steady_timer timer;
  runtime::Clock::time_point since = runtime::Clock::now();
  std::string text;
  std::size_t frame = 0;
  bool running = true;

  void draw() {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(runtime::Clock::now() - since).count();
    const auto suffix = fmt::format(" ({} s)", seconds);
    // One terminal row, or the carriage return would rewrite only the last of several.
    const std::size_t columns = terminal_size().columns;
    const std::size_t room = columns > suffix.size() + 3 ? columns - suffix.size() - 3 : 0;
    const auto shown = text.size() > room ? text.substr(0, room) : text;
    write_stderr(fmt::format("{}{} {}{}", kClearLine, kFrames[frame++ % kFrames.size()], shown, suffix));
  }

  static void tick(const std::shared_ptr<Spinner>& spinner) {
    spinner->timer.expires_after(kTick);
    spinner->timer.async_wait([spinner](std::error_code ec) {
      if (ec || !spinner->running) return;
      spinner->draw();
      tick(spinner);
    });
  }
};

ReadinessDisplay::ReadinessDisplay(asio::any_io_executor executor, std::string workspace, bool terminal)
    : workspace_(std::move(workspace)) {
  if (!terminal) return;
  spinner_ = std::make_shared<Spinner>(executor);
  spinner_->text = fmt::format("checking workspace {}", workspace_);
  spinner_->draw();
  Spinner::tick(spinner_);
}

ReadinessDisplay::~ReadinessDisplay() { finish(false); }

void ReadinessDisplay::show(const coder::ReadinessEvent& event) {
  if (event.kind == coder::ReadinessEvent::Kind::starting) started_ = true;
  if (event.kind == coder::ReadinessEvent::Kind::ready) return;  // finish() says it
  if (!spinner_) {
    write_stderr(fmt::format("coder-runtime: {}\n", progress_text(event, workspace_)));
    return;
  }
  spinner_->text = progress_text(event, workspace_);
  spinner_->draw();
}

void ReadinessDisplay::finish(bool ready) {
  if (!spinner_) return;
  spinner_->running = false;
  spinner_->timer.cancel();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Clock::now() - spinner_->since);
  spinner_.reset();
  if (!ready) {
    write_stderr(kClearLine);
    return;
  }
  const auto took = runtime::describe_budget(std::chrono::milliseconds((elapsed.count() + 50) / 100 * 100));
  write_stderr(fmt::format("{}coder-runtime: workspace {} {} in {}\n", kClearLine, workspace_,
                           started_ ? "started" : "ready", took));
}

}  // namespace cr::cli
