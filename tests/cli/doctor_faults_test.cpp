// `coder-runtime doctor` against a workspace behind tests/support/fault_relay.py: one fault per
// phase of the connection, each pinned on the step it broke, with the class its evidence shows,
// that evidence, and the advice of that class; each run done within 12 s: a stall in the
// handshake is named within the stall budget (2 s here), one after the login at the --timeout
// (6 s). The offsets are the Go server's (server to client, "down") and ours ("up"), as a clean
// run through the relay lays them out (kLayout checks that first):
//
//   down  0-12 its version line, 12-588 its KEXINIT, 588-1212 its key exchange reply, 1212-1228
//         NEWKEYS, 1228-1456 (encrypted from here) EXT_INFO, 1456-1528 SERVICE_ACCEPT and
//         USERAUTH_SUCCESS, 1528-1572 the session channel's confirmation, 1572-1776 the command's
//         replies, its exit status and end, 1776-1804 the keepalive's reply
//   up    0-27 our version line, 27-851 KEXINIT, 851-2083 the guessed key exchange packet,
//         2083-2131 the one the server chose, 2131-2147 NEWKEYS, 2147-2251 (encrypted from here)
//         the auth requests, 2251-2303 the channel open behind them, 2303-2441 the exec request
//         and what follows it before the server answers, 2441-2591 the channel's close after the
//         command's end, the keepalive and the disconnect
//
// A cut of our side is placed where we have sent all we will until the server answers, as far as
// can be: in authentication and at the channel open a few writes follow each other (SERVICE_REQUEST,
// "none" and the channel open; the exec request and what follows it), and whether the next of those
// or our next read sees the end first is a race. Those rows take either's evidence. After the
// login we write without waiting for the server (the exec request, and what follows it), so a
// cut of the server's side there may meet a write (the far side stopped taking our data) rather
// than a read (it closed the stream, after what arrived last): either way the ProxyCommand's exit
// is in the evidence. A stall of our side is one of the server's, seen from here: it answers
// nothing it has not been sent.

#include <algorithm>
#include <chrono>
#include <functional>
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
  std::string step;      // that fails, or one of several apart by '|'
  std::string fault_class;
  std::string evidence;  // a label the step's evidence has, or one of several apart by '|' (a timeout has none)
  std::string remedy;    // words of that class's advice
};

// A stall after the login is no handshake's: only the whole check's time (the --timeout) ends it.
constexpr auto kTimeout = "6";
constexpr auto kStallBudget = "2";
constexpr auto kFinishesWithin = std::chrono::seconds(12);

// What the offsets assume, as fault_relay.py records a clean run: where each direction's version
// line and cleartext packets end (by message number), and the bytes relayed each way. It follows
// go_sshd's algorithm choices (curve25519-sha256, chacha20-poly1305, an RSA host key, our wrong
// first key exchange guess) and the messages of the login and the command; the login carries the
// local user's name, whose length moves what we send after NEWKEYS.
const nlohmann::json kLayout = nlohmann::json::parse(R"({
  "down": [[12, "version"], [588, 20], [1212, 31], [1228, 21]],
  "up": [[27, "version"], [851, 20], [2083, 30], [2131, 30], [2147, 21]],
  "relayed": {"down": 1804, "up": 2591}
})");

test::Ran run_doctor() {
  return test::run_cli({"doctor", "--json", "--timeout", kTimeout, "--stall-budget", kStallBudget, "--coder",
                        test::CoderStandin::program().string(), "-o", "ControlMaster=no", "ws"});
}

// Once per process, before any fault: offsets placed on another layout would fail rows for the
// wrong reason, or pass them in the wrong phase.
void require_the_assumed_layout() {
  static const bool checked = [] {
    test::RelayedWorkspace relayed;
    test::CoderStandin standin(relayed.scenario());
    nlohmann::json seen;
    {
      const auto ran = run_doctor();
      INFO(ran.out << ran.err);
      REQUIRE(ran.status == 0);
      const auto records = relayed.records();
      REQUIRE(records.size() == 1);
      seen = {{"down", records[0]["layout"]["down"]},
              {"up", records[0]["layout"]["up"]},
              {"relayed", records[0]["relayed"]}};
    }
    if (seen != kLayout) {
      FAIL("a clean connection through the relay is laid out as "
           << seen.dump() << ", not as " << kLayout.dump()
           << ", which this file's fault offsets assume: the Go server's algorithms or messages changed (or the "
              "local user's name, which the login carries, has another length), so place the offsets anew and "
              "update kLayout");
    }
    return true;
  }();
  REQUIRE(checked);
}

nlohmann::json relay_control(const Fault& fault) {
  return {{"rate", 1}, {"kinds", {fault.kind}}, {"min_offset", fault.offset}, {"max_offset", fault.offset}};
}

// `alternatives` apart by '|': whether any one of them matches.
bool any_of(const std::string& alternatives, const std::function<bool(const std::string&)>& matches) {
  bool found = false;
  for (std::size_t at = 0; at <= alternatives.size();) {
    const auto bar = std::min(alternatives.find('|', at), alternatives.size());
    found = found || matches(alternatives.substr(at, bar - at));
    at = bar + 1;
  }
  return found;
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
  const auto ran = run_doctor();
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
  const auto name = step["step"].get<std::string>();
  INFO("failed step: " << name);
  CHECK(any_of(fault.step, [&name](const std::string& one) { return name == one; }));
  CHECK(step["class"] == fault.fault_class);
  if (!fault.evidence.empty()) {
    CHECK(any_of(fault.evidence, [&step](const std::string& label) { return step["evidence"].contains(label); }));
  }
  CHECK_THAT(step["remedy"].get<std::string>(), Catch::Contains(fault.remedy));
}

void check_each(const std::vector<Fault>& faults) {
  require_the_assumed_layout();
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
      // Our first bytes wait in the pipe before the relay starts the server, so the cut comes before
      // the server's version line as a rule; a server that has it relayed first fails the key
      // exchange instead, on the same evidence of an ended stream.
      {"cut_up", 4, "SSH banner|key exchange", "stream_ended", "received before that|server version", kEndedAdvice},
      // The server sends its version line, then waits for ours.
      {"stall_up", 4, "key exchange", "stall", "stalled", kStallAdvice},
  });
}

TEST_CASE("doctor faults: in the key exchange", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 100, "key exchange", "stall", "last arrived", kStallAdvice},
      {"cut_down", 100, "key exchange", "stream_ended", "server version", kEndedAdvice},
      {"cut_up", 2100, "key exchange", "stream_ended", "server version", kEndedAdvice},
      {"stall_up", 2100, "key exchange", "stall", "stalled", kStallAdvice},  // the packet the server chose
      {"exit", 100, "key exchange", "proxy_exited", "exit", kExitAdvice},
      {"flip_down", 20, "key exchange", "data_altered", "integrity", kAlteredAdvice},  // KEXINIT's cookie
  });
}

TEST_CASE("doctor faults: in authentication", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 1470, "auth", "stall", "stalled", kStallAdvice},
      {"cut_down", 1470, "auth", "stream_ended", "last arrived", kEndedAdvice},
      {"cut_up", 2151, "auth", "stream_ended", "last arrived|exit", kEndedAdvice},
      {"stall_up", 2151, "auth", "stall", "stalled", kStallAdvice},  // SERVICE_REQUEST
      {"exit", 1470, "auth", "proxy_exited", "exit", kExitAdvice},
      {"flip_down", 1300, "auth", "data_altered", "integrity", kAlteredAdvice},  // EXT_INFO
  });
}

TEST_CASE("doctor faults: while the session channel opens", "[cli][doctor][faults]") {
  check_each({
      {"stall_down", 1545, "test exec", "timed_out", "", kTimeoutAdvice},
      {"cut_down", 1545, "test exec", "stream_ended", "exit", kEndedAdvice},
      {"cut_up", 2270, "test exec", "stream_ended", "last arrived|exit", kEndedAdvice},  // the channel open
      {"stall_up", 2270, "test exec", "timed_out", "", kTimeoutAdvice},
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
      {"cut_up", 2310, "test exec", "stream_ended", "last arrived|exit", kEndedAdvice},  // the exec request
      {"stall_up", 2310, "test exec", "timed_out", "", kTimeoutAdvice},
      // Our close of the channel, after the command's end: the keepalive behind it meets the fault.
      {"cut_up", 2460, "round trip", "stream_ended", "last arrived|exit", kEndedAdvice},
      {"stall_up", 2460, "round trip", "timed_out", "", kTimeoutAdvice},
  });
}
