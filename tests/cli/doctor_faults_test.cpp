// `coder-runtime doctor` against a workspace behind tests/support/fault_relay.py: one fault per
// phase of the connection, each pinned on the step it broke, with the class its evidence shows,
// that evidence, and the advice of that class; each run done within 12 s: a stall in the
// handshake is named within the stall budget (2 s here), one after the login at the --timeout
// (6 s). The offsets are the Go server's (server to client, "down") and ours ("up"), as a clean
// run through the relay lays them out:
//
//   down  0-12 its version line, 12-588 its KEXINIT, 588-1228 its key exchange reply and NEWKEYS,
//         1228-1456 (encrypted from here) EXT_INFO, 1456-1528 SERVICE_ACCEPT and USERAUTH_SUCCESS,
//         1528-1572 the session channel's confirmation, 1572-1776 the command's replies, its exit
//         status and end
//   up    0-2083 our version line, KEXINIT and guessed key exchange packet, 2083-2131 the key
//         exchange packet the server chose, 2131-2251 NEWKEYS, the auth requests and the channel
//         open behind them, 2251-2303 the exec request, sent before the channel's confirmation
//
// A cut of our side is placed where we have sent all we will until the server answers, as far as
// can be: in authentication and at the exec request a few writes follow each other (SERVICE_REQUEST,
// "none" and the channel open; the exec request and stdin's EOF), and whether the next of those or
// our next read sees the end first is a race. Those rows take either's evidence. After the
// login we write without waiting for the server (the exec request, and what follows it), so a
// cut of the server's side there may meet a write (the far side stopped taking our data) rather
// than a read (it closed the stream, after what arrived last): either way the ProxyCommand's exit
// is in the evidence.

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/coder_standin.hpp"
#include "support/relayed_workspace.hpp"

using namespace cr;

namespace {

struct Fault {
  std::string kind;      // fault_relay.py's, or "garbage" for the stand-in's text instead of a banner
  std::uint64_t offset;  // in the kind's direction
  std::string step;      // that fails
  std::string fault_class;
  std::string evidence;  // a label the step's evidence has, or one of several apart by '|' (a timeout has none)
  std::string remedy;    // words of that class's advice
};

// A stall after the login is no handshake's: only the whole check's time (the --timeout) ends it.
constexpr auto kTimeout = "6";
constexpr auto kStallBudget = "2";
constexpr auto kFinishesWithin = std::chrono::seconds(12);

nlohmann::json relay_control(const Fault& fault) {
  return {{"rate", 1}, {"kinds", {fault.kind}}, {"min_offset", fault.offset}, {"max_offset", fault.offset}};
}

void check_doctor_names(const Fault& fault) {
  test::RelayedWorkspace relayed;
  auto scenario = relayed.scenario();
  if (fault.kind == "garbage") {
    scenario["ssh_garbage"] = "Welcome to the workspace!\r\n";
  } else {
    relayed.set_control(relay_control(fault));
  }
  test::CoderStandin standin(scenario);
  const auto started = std::chrono::steady_clock::now();
  const auto ran = test::run_cli({"doctor", "--json", "--timeout", kTimeout, "--stall-budget", kStallBudget, "--coder",
                                  test::CoderStandin::program().string(), "-o", "ControlMaster=no", "ws"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(ran.out << ran.err);
  CHECK(took < kFinishesWithin);
  CHECK(ran.status == 1);
  const auto report = nlohmann::json::parse(ran.out);
  std::vector<nlohmann::json> failed;
  for (const auto& step : report["steps"]) {
    if (!step["passed"].get<bool>()) failed.push_back(step);
  }
  REQUIRE(failed.size() == 1);
  const auto& step = failed.front();
  CHECK(step["step"] == fault.step);
  CHECK(step["class"] == fault.fault_class);
  // Labels apart by '|': any one of them (a cut of our side may meet our next write or our next read).
  if (!fault.evidence.empty()) {
    bool found = false;
    for (std::size_t at = 0; at <= fault.evidence.size();) {
      const auto bar = std::min(fault.evidence.find('|', at), fault.evidence.size());
      found = found || step["evidence"].contains(fault.evidence.substr(at, bar - at));
      at = bar + 1;
    }
    CHECK(found);
  }
  CHECK_THAT(step["remedy"].get<std::string>(), Catch::Contains(fault.remedy));
}

void check_each(const std::vector<Fault>& faults) {
  for (const auto& fault : faults) {
    DYNAMIC_SECTION(fault.kind << " at " << fault.offset) { check_doctor_names(fault); }
  }
}

// Each class's advice, by words only it has.
const std::string kStallAdvice = "went quiet mid-handshake";
const std::string kEndedAdvice = "the far side";
const std::string kExitAdvice = "exited with status 3";
const std::string kAlteredAdvice = "SECURITY WARNING";
const std::string kTimeoutAdvice = "did not finish within 6 s";

}  // namespace

TEST_CASE("doctor faults: in the version exchange", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 4, "SSH banner", "stall", "stalled", kStallAdvice},
      {"cut_down", 4, "SSH banner", "stream_ended", "received before that", kEndedAdvice},
      {"exit", 4, "SSH banner", "proxy_exited", "stderr", kExitAdvice},
      // The version line is part of the exchange hash: a changed one fails the host key's signature.
      {"flip_down", 8, "key exchange", "data_altered", "integrity", kAlteredAdvice},
      {"garbage", 0, "SSH banner", "not_ssh", "received before that", "Welcome to the workspace!"},
  });
}

TEST_CASE("doctor faults: in the key exchange", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 100, "key exchange", "stall", "last arrived", kStallAdvice},
      {"cut_down", 100, "key exchange", "stream_ended", "server version", kEndedAdvice},
      {"cut_up", 2100, "key exchange", "stream_ended", "server version", kEndedAdvice},
      {"exit", 100, "key exchange", "proxy_exited", "exit", kExitAdvice},
      {"flip_down", 20, "key exchange", "data_altered", "integrity", kAlteredAdvice},  // KEXINIT's cookie
  });
}

TEST_CASE("doctor faults: in authentication", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 1470, "auth", "stall", "stalled", kStallAdvice},
      {"cut_down", 1470, "auth", "stream_ended", "last arrived", kEndedAdvice},
      {"cut_up", 2151, "auth", "stream_ended", "last arrived|exit", kEndedAdvice},
      {"exit", 1470, "auth", "proxy_exited", "exit", kExitAdvice},
      {"flip_down", 1300, "auth", "data_altered", "integrity", kAlteredAdvice},  // EXT_INFO
  });
}

TEST_CASE("doctor faults: while the session channel opens", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 1545, "test exec", "timed_out", "", kTimeoutAdvice},
      {"cut_down", 1545, "test exec", "stream_ended", "exit", kEndedAdvice},
      {"cut_up", 2270, "test exec", "stream_ended", "last arrived|exit", kEndedAdvice},  // the exec request
      {"exit", 1545, "test exec", "proxy_exited", "exit", kExitAdvice},
      {"flip_down", 1545, "test exec", "data_altered", "integrity", kAlteredAdvice},
  });
}

TEST_CASE("doctor faults: while the test command runs", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 1650, "test exec", "timed_out", "", kTimeoutAdvice},
      {"cut_down", 1650, "test exec", "stream_ended", "exit", kEndedAdvice},
      {"exit", 1650, "test exec", "proxy_exited", "exit", kExitAdvice},
      {"flip_down", 1650, "test exec", "data_altered", "integrity", kAlteredAdvice},
  });
}
