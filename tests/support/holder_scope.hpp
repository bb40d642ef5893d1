#pragma once
// A connection holder of the test's own: the coder-runtime processes this test starts find their
// holder in a private temporary folder (XDG_RUNTIME_DIR), and when the test ends every holder
// there is told to stop (SIGTERM) and its end is awaited, so none outlives its test.

#include <sys/stat.h>

#include <csignal>
#include <cstdlib>

#include <catch2/catch.hpp>

#include "support/files.hpp"
#include "support/processes.hpp"

namespace cr::test {

class HolderScope {
 public:
  HolderScope() {
    ::chmod(dir_.path().c_str(), 0700);
    ::setenv("XDG_RUNTIME_DIR", dir_.path().c_str(), 1);
  }
  ~HolderScope() {
    for (const pid_t pid : holders()) {
      ::kill(pid, SIGTERM);
      CHECK(ends_within(pid, std::chrono::seconds(10)));
    }
    ::unsetenv("XDG_RUNTIME_DIR");
  }
  HolderScope(const HolderScope&) = delete;
  HolderScope& operator=(const HolderScope&) = delete;

  std::filesystem::path socket() const { return dir_.path() / "coder-runtime" / "holder.sock"; }
  std::vector<pid_t> holders() const { return holder_processes(socket()); }
  // What the last holder started here wrote to its log: for a failing test to show.
  std::string log() const { return read_text(dir_.path() / "coder-runtime" / "holder.sock.log"); }

 private:
  TemporaryDirectory dir_{"holder_scope"};
};

}  // namespace cr::test
