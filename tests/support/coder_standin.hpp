#pragma once
// The scripted stand-in for the `coder` executable (tests/fixtures/coder/coder): a temporary state
// folder with the scenario, CODER_STANDIN_STATE pointing at it for the CLIs this process starts,
// and the log of what was run.

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coder/cli_driver.hpp"
#include "support/files.hpp"

namespace cr::test {

class CoderStandin {
 public:
  explicit CoderStandin(const nlohmann::json& scenario) {
    write_text(dir_.path() / "scenario.json", scenario.dump(2));
    ::setenv("CODER_STANDIN_STATE", dir_.path().c_str(), 1);
    ::setenv("CODER_STANDIN_GO_SSHD", CODER_RUNTIME_GO_SSHD, 1);
  }
  ~CoderStandin() { ::unsetenv("CODER_STANDIN_STATE"); }
  CoderStandin(const CoderStandin&) = delete;
  CoderStandin& operator=(const CoderStandin&) = delete;

  static std::filesystem::path program() { return CODER_RUNTIME_CODER_STANDIN; }
  coder::CoderCli cli() const { return coder::CoderCli(program()); }
  const std::filesystem::path& state() const { return dir_.path(); }

  // Each call's arguments, one string per call, in order.
  std::vector<std::string> calls() const {
    std::vector<std::string> lines;
    std::istringstream in(read_text(dir_.path() / "calls.log"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::size_t count_calls(std::string_view prefix) const {
    std::size_t n = 0;
    for (const auto& call : calls()) n += call.starts_with(prefix) ? 1 : 0;
    return n;
  }

 private:
  TemporaryDirectory dir_{"coder_standin"};
};

}  // namespace cr::test
