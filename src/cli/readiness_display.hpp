#pragma once
// Progress on stderr while a workspace gets ready. On a terminal: one status line rewritten in
// place (a spinner, what is happening, the seconds so far), then a last line once it is ready, so
// that the command's output starts on a clean line. Elsewhere: a line per event, as a log reads.
//
// The spinner turns on a timer of the caller's executor, beside the readiness it shows rather
// than on its path; finish() (or destruction) stops it.

#include <chrono>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include "coder/readiness.hpp"

namespace cr::cli {

// What an event reads as, on a status line, a log line or in a JSON progress event.
std::string progress_text(const coder::ReadinessEvent& event, const std::string& workspace);

class ReadinessDisplay {
 public:
  ReadinessDisplay(asio::any_io_executor executor, std::string workspace, bool terminal);
  ~ReadinessDisplay();
  ReadinessDisplay(const ReadinessDisplay&) = delete;
  ReadinessDisplay& operator=(const ReadinessDisplay&) = delete;

  void show(const coder::ReadinessEvent& event);
  // Ready: the last line says so (on a terminal). Not ready: the status line is cleared for the
  // error that follows.
  void finish(bool ready);

 private:
  struct Spinner;
  std::string workspace_;
  bool started_ = false;              // we ran `coder start`
  std::shared_ptr<Spinner> spinner_;  // on a terminal, until finish()
};

}  // namespace cr::cli
