#include "coder/fault_class.hpp"

#include <fmt/format.h>

#include "proxy/process_stream.hpp"
#include "ssh/integrity.hpp"
#include "ssh/stall.hpp"
#include "ssh/version_exchange.hpp"

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

std::string evidence_or(const Error& error, std::string_view label, std::string_view otherwise) {
  const auto* found = error.find_evidence(label);
  return found ? runtime::printable(found->text, 200) : std::string(otherwise);
}

// What the server had sent when its side ended: the last message, or the start of its version line.
std::string what_arrived(const Error& error) {
  if (const auto* last = error.find_evidence("last arrived")) return last->text;
  if (const auto* before = error.find_evidence("received before that")) {
    return before->text == "nothing" ? "nothing from the server"
                                     : fmt::format("\"{}\"", runtime::printable(before->text, 200));
  }
  return "an unknown part of the handshake";
}

// Whole lines came before the stream ended, and none was an SSH version line.
bool ended_before_a_version_line(const Error& error) {
  const auto* before = error.find_evidence("received before that");
  return error.code == Errc::end_of_stream && before != nullptr && before->text.find('\n') != std::string::npos;
}

std::string proxy_exited_remedy(const Error& error) {
  const auto* stderr_tail = error.find_evidence("stderr");
  return fmt::format(
      "the ProxyCommand {} mid-connection{}: run it by hand to see it fail, and check the workspace agent",
      evidence_or(error, proxy::kExitEvidence, "ended"),
      stderr_tail ? "; its stderr (in the evidence) says why" : ", saying nothing on stderr");
}

std::string stream_ended_remedy(const Error& error) {
  const bool output_ended = error.code == Errc::end_of_stream;
  const auto* exit = error.find_evidence(proxy::kExitEvidence);
  return fmt::format(
      "the far side {} after {}{}; no check failed on what arrived, so the tunnel, the network path or the agent "
      "dropped the connection: check the agent's log, and run the ProxyCommand by hand",
      output_ended ? "closed the stream (the ProxyCommand's output ended)"
                   : "stopped taking our data (the ProxyCommand's input closed)",
      what_arrived(error), exit ? fmt::format(", and the ProxyCommand {}", exit->text) : "");
}

std::string stall_remedy(const Error& error) {
  return fmt::format(
      "the server's side went quiet mid-handshake ({}; last arrived: {}): a relay, tunnel or the network path "
      "stopped passing data, or the agent stopped answering; check that path, and the agent's log",
      evidence_or(error, "stalled", "no data"), evidence_or(error, "last arrived", "unknown"));
}

std::string data_altered_remedy(const Error& error) {
  return fmt::format(
      "SECURITY WARNING: {}, so bytes were altered between the server and here: a broken relay, tunnel or proxy "
      "corrupts data, or someone is in the middle; do not use this path until you know which (try another network, "
      "run the ProxyCommand by hand)",
      evidence_or(error, "integrity", "a check of the server's data failed"));
}

std::string no_common_algorithms_remedy(const Error& error) {
  return fmt::format(
      "{}: we offered {}; the server offered {}. Allow one the server offers in the client's algorithm options, or "
      "upgrade the side that offers only old ones",
      error.message, evidence_or(error, "we offered", "?"), evidence_or(error, "server offered", "?"));
}

std::string auth_refused_remedy(const Error& error) {
  return fmt::format(
      "the server refused the login (tried: {}; it accepts: {}); a Coder workspace agent accepts 'none', so "
      "something else answers behind the ProxyCommand",
      evidence_or(error, "methods tried", "?"), evidence_or(error, "server accepts", "nothing"));
}

std::string refused_remedy(const Error& error) {
  const auto* said = error.find_evidence("server said");
  return fmt::format("the agent declined: {}{}; the login worked, so check the agent's log and the workspace",
                     error.message, said ? fmt::format(" (it said \"{}\")", runtime::printable(said->text, 200)) : "");
}

std::string disconnected_remedy(const Error& error) {
  return fmt::format(
      "the server ended the connection on purpose after {}: {} (it said \"{}\"); its words are the reason, so "
      "check the agent's log for the same moment",
      what_arrived(error), error.message, evidence_or(error, "server said", ""));
}

std::string old_ssh_remedy(const Error& error) {
  return fmt::format(
      "an SSH server answered, but speaks protocol {} only: this client speaks SSH 2.0, as the Coder agent does, so "
      "something other than the agent answers behind the ProxyCommand",
      evidence_or(error, ssh::kServerProtocolEvidence, "?"));
}

std::string not_ssh_remedy(const Error& error) {
  return fmt::format(
      "what came back is not an SSH server's version line (received: {}): something else writes to the "
      "ProxyCommand's output (a login message, a shell's startup text, another service); run it by hand: it must "
      "print SSH-2.0-... first",
      evidence_or(error, "received", evidence_or(error, "received before that", "nothing")));
}

std::string timed_out_remedy(const Error& error) {
  return fmt::format(
      "{}, and nothing else shows where it stuck: give it a longer --timeout, or run with -v to see the last "
      "thing that arrived",
      error.message);
}

}  // namespace

std::string_view to_string(FaultClass fault) {
  switch (fault) {
    case FaultClass::none:
      return "none";
    case FaultClass::proxy_exited:
      return "proxy_exited";
    case FaultClass::stream_ended:
      return "stream_ended";
    case FaultClass::disconnected:
      return "disconnected";
    case FaultClass::old_ssh:
      return "old_ssh";
    case FaultClass::stall:
      return "stall";
    case FaultClass::data_altered:
      return "data_altered";
    case FaultClass::not_ssh:
      return "not_ssh";
    case FaultClass::no_common_algorithms:
      return "no_common_algorithms";
    case FaultClass::auth_refused:
      return "auth_refused";
    case FaultClass::refused:
      return "refused";
    case FaultClass::timed_out:
      return "timed_out";
    case FaultClass::other:
      break;
  }
  return "other";
}

FaultClass classify_fault(const Error& error) {
  // The specific evidence first: a stall or a failed check says more than the code it came with.
  if (ssh::data_altered(error)) return FaultClass::data_altered;
  if (ssh::stalled(error)) return FaultClass::stall;
  if (proxy::exited_with_failure(error)) return FaultClass::proxy_exited;
  if (error.find_evidence("we offered") && error.find_evidence("server offered"))
    return FaultClass::no_common_algorithms;
  if (error.layer == Layer::auth && error.find_evidence("server accepts")) return FaultClass::auth_refused;
  if (error.find_evidence(ssh::kServerProtocolEvidence)) return FaultClass::old_ssh;
  if ((error.layer == Layer::banner && error.code == Errc::protocol_error) || ended_before_a_version_line(error))
    return FaultClass::not_ssh;
  if (error.find_evidence("reason code") && error.find_evidence("server said")) return FaultClass::disconnected;
  switch (error.code) {
    case Errc::end_of_stream:
      return FaultClass::stream_ended;
    case Errc::io_error:  // a write to a ProxyCommand that closed its input
      return error.layer == Layer::proxy ? FaultClass::stream_ended : FaultClass::other;
    case Errc::refused:  // a channel or a request: the CLI's own refusals are no agent's
      return error.layer == Layer::channel ? FaultClass::refused : FaultClass::other;
    case Errc::timed_out:
      return FaultClass::timed_out;
    default:
      return FaultClass::other;
  }
}

std::string fault_remedy(FaultClass fault, const Error& error) {
  switch (fault) {
    case FaultClass::proxy_exited:
      return proxy_exited_remedy(error);
    case FaultClass::stream_ended:
      return stream_ended_remedy(error);
    case FaultClass::disconnected:
      return disconnected_remedy(error);
    case FaultClass::old_ssh:
      return old_ssh_remedy(error);
    case FaultClass::stall:
      return stall_remedy(error);
    case FaultClass::data_altered:
      return data_altered_remedy(error);
    case FaultClass::not_ssh:
      return not_ssh_remedy(error);
    case FaultClass::no_common_algorithms:
      return no_common_algorithms_remedy(error);
    case FaultClass::auth_refused:
      return auth_refused_remedy(error);
    case FaultClass::refused:
      return refused_remedy(error);
    case FaultClass::timed_out:
      return timed_out_remedy(error);
    case FaultClass::none:
    case FaultClass::other:
      break;
  }
  return {};
}

}  // namespace cr::coder
