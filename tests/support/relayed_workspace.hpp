#pragma once
// A stand-in workspace "ws" (tests/support/coder_standin.hpp's scenario) served by the Go server
// behind tests/support/fault_relay.py, whose control file the test sets: a fault at a chosen
// point of the connection, once or for every connection. Each relay writes its pid to a file as
// it starts.

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"

namespace cr::test {

class RelayedWorkspace {
 public:
  RelayedWorkspace() {
    set_control({{"rate", 0}});
    write_text(agent(), fmt::format("#!/bin/sh\necho $$ >{}\nexec /usr/bin/python3 {}/fault_relay.py {} {} {}\n",
                                    pid_file().string(), CODER_RUNTIME_TEST_SUPPORT, control().string(),
                                    relays().string(), CODER_RUNTIME_GO_SSHD));
    std::filesystem::permissions(agent(), std::filesystem::perms::owner_all);
  }
  nlohmann::json scenario() const {
    return {{"go_sshd", agent().string()}, {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}}}};
  }
  // Renamed into place: a relay never reads half of it.
  void set_control(const nlohmann::json& value) const {
    const auto written = control().string() + ".new";
    write_text(written, value.dump());
    std::filesystem::rename(written, control());
  }
  // Only the relay that claims it first (the one already running) gets the fault.
  void fault_once(std::string_view kind) const {
    const auto claim = folder_.path() / "claim";
    write_text(claim, "");
    set_control({{"rate", 1}, {"kinds", {kind}}, {"max_offset", 0}, {"claim", claim.string()}});
  }
  // Every connection stops passing the server's bytes after `bytes` of them.
  void stall_after(std::uint64_t bytes) const {
    set_control({{"rate", 1}, {"kinds", {"stall_down"}}, {"min_offset", bytes}, {"max_offset", bytes}});
  }
  // Kills the latest relay (the service's child) and returns once it has exited, without reaping
  // it: its pipes are closed, and the service, which has not run meanwhile, has not seen that.
  void kill_relay() const {
    const pid_t pid = std::stoi(read_text(pid_file()));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);
  }
  // One record per relayed connection, as each ended.
  std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> parsed;
    std::istringstream lines(read_text(relays()));
    for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
    return parsed;
  }

 private:
  std::filesystem::path control() const { return folder_.path() / "control.json"; }
  std::filesystem::path relays() const { return folder_.path() / "relays.jsonl"; }
  std::filesystem::path pid_file() const { return folder_.path() / "relay.pid"; }
  std::filesystem::path agent() const { return folder_.path() / "agent"; }
  TemporaryDirectory folder_{"relayed-workspace"};
};

}  // namespace cr::test
