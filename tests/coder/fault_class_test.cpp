// Faults classed by their evidence, and each class's advice quoting that evidence: errors shaped
// as the layers that produce them shape them (ssh/stall.cpp, ssh/integrity.cpp,
// proxy/process_common.hpp, ssh/algorithms.cpp, ssh/client_auth.cpp, ssh/channel_state.cpp).

#include <catch2/catch.hpp>

#include "coder/fault_class.hpp"
#include "proxy/process_stream.hpp"
#include "ssh/integrity.hpp"
#include "ssh/version_exchange.hpp"

using namespace cr;
using coder::FaultClass;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

Error proxy_ended(std::string exit) {
  return std::move(Error(Errc::end_of_stream, Layer::proxy, "coder " + exit)
                       .with(proxy::kExitEvidence, exit)
                       .with("stderr", "error: agent went away"));
}

}  // namespace

TEST_CASE("fault class: a proxy that exits with a failure, and one that exits 0", "[coder][doctor]") {
  const auto failed = proxy_ended("exited with status 3");
  CHECK(coder::classify_fault(failed) == FaultClass::proxy_exited);
  CHECK_THAT(coder::fault_remedy(FaultClass::proxy_exited, failed),
             Catch::Contains("exited with status 3") && Catch::Contains("stderr"));
  CHECK(coder::classify_fault(proxy_ended("was killed by signal 9 (SIGKILL)")) == FaultClass::proxy_exited);
  auto clean = proxy_ended("exited with status 0");
  clean.with("last arrived", "SSH_MSG_KEXINIT (20)");
  CHECK(coder::classify_fault(clean) == FaultClass::stream_ended);
  CHECK_THAT(coder::fault_remedy(FaultClass::stream_ended, clean),
             Catch::Contains("closed the stream") && Catch::Contains("SSH_MSG_KEXINIT (20)"));
}

TEST_CASE("fault class: altered data is a security warning, whatever step saw it", "[coder][doctor]") {
  const auto mac = ssh::mark_altered(Error(Errc::protocol_error, Layer::transport, "message authentication failed"),
                                     "the packet's MAC does not match its contents");
  CHECK(coder::classify_fault(mac) == FaultClass::data_altered);
  CHECK_THAT(coder::fault_remedy(FaultClass::data_altered, mac),
             Catch::StartsWith("SECURITY WARNING") && Catch::Contains("MAC"));
  const auto signature =
      ssh::mark_altered(Error(Errc::protocol_error, Layer::kex, "rsa-sha2-256 signature does not verify"),
                        "the host key's signature over the exchange hash does not verify");
  CHECK(coder::classify_fault(signature) == FaultClass::data_altered);
}

TEST_CASE("fault class: a stall, algorithms in common, auth refused, a refusal, a banner that is not SSH",
          "[coder][doctor]") {
  auto stall = std::move(Error(Errc::timed_out, Layer::transport, "the server stopped sending")
                             .with("stalled", "no data for 2 s after 1234 bytes")
                             .with("last arrived", "SSH_MSG_KEXINIT (20)"));
  CHECK(coder::classify_fault(stall) == FaultClass::stall);
  CHECK_THAT(coder::fault_remedy(FaultClass::stall, stall),
             Catch::Contains("after 1234 bytes") && Catch::Contains("SSH_MSG_KEXINIT"));

  const auto algorithms = std::move(Error(Errc::protocol_error, Layer::kex, "no cipher algorithm in common")
                                        .with("we offered", "aes128-gcm@openssh.com")
                                        .with("server offered", "3des-cbc"));
  CHECK(coder::classify_fault(algorithms) == FaultClass::no_common_algorithms);
  CHECK_THAT(coder::fault_remedy(FaultClass::no_common_algorithms, algorithms),
             Catch::Contains("aes128-gcm@openssh.com") && Catch::Contains("3des-cbc"));

  const auto auth = std::move(Error(Errc::invalid_argument, Layer::auth, "permission denied")
                                  .with("methods tried", "none")
                                  .with("server accepts", "publickey,password"));
  CHECK(coder::classify_fault(auth) == FaultClass::auth_refused);
  CHECK_THAT(coder::fault_remedy(FaultClass::auth_refused, auth), Catch::Contains("publickey,password"));

  const auto refused = std::move(Error(Errc::refused, Layer::channel, "the server refused the channel: prohibited")
                                     .with("server said", "no sessions"));
  CHECK(coder::classify_fault(refused) == FaultClass::refused);
  CHECK_THAT(coder::fault_remedy(FaultClass::refused, refused), Catch::Contains("no sessions"));

  const auto banner =
      std::move(Error(Errc::protocol_error, Layer::banner, "binary data").with("received", "HTTP/1.1 400"));
  CHECK(coder::classify_fault(banner) == FaultClass::not_ssh);
  CHECK_THAT(coder::fault_remedy(FaultClass::not_ssh, banner), Catch::Contains("HTTP/1.1 400"));
  // Lines may come before the version line; a stream that ends after some and no version line
  // did not come from an SSH server.
  auto lines = proxy_ended("exited with status 0");
  lines.with("received before that", "Welcome!\r\n");
  CHECK(coder::classify_fault(lines) == FaultClass::not_ssh);
  CHECK_THAT(coder::fault_remedy(FaultClass::not_ssh, lines), Catch::Contains("Welcome!"));
}

TEST_CASE("fault class: a timeout with no other evidence, and what has no class of advice", "[coder][doctor]") {
  const Error late(Errc::timed_out, Layer::channel, "the test command did not finish within 6 s");
  CHECK(coder::classify_fault(late) == FaultClass::timed_out);
  CHECK_THAT(coder::fault_remedy(FaultClass::timed_out, late), Catch::Contains("within 6 s"));
  const Error odd(Errc::protocol_error, Layer::transport, "the server sent invalid padding");
  CHECK(coder::classify_fault(odd) == FaultClass::other);
  CHECK(coder::fault_remedy(FaultClass::other, odd).empty());
  CHECK(coder::to_string(FaultClass::no_common_algorithms) == "no_common_algorithms");
}

TEST_CASE("fault class: a server's DISCONNECT, an SSH-1 server, and a refusal that is no agent's", "[coder][doctor]") {
  // As ssh/transport.cpp builds a DISCONNECT's error.
  auto disconnect = std::move(Error(Errc::end_of_stream, Layer::transport, "the server disconnected: protocol error")
                                  .with("reason code", "2")
                                  .with("server said", "too many authentication failures")
                                  .with("last arrived", "SSH_MSG_USERAUTH_FAILURE (51)"));
  CHECK(coder::classify_fault(disconnect) == FaultClass::disconnected);
  CHECK_THAT(coder::fault_remedy(FaultClass::disconnected, disconnect),
             Catch::Contains("on purpose") && Catch::Contains("too many authentication failures") &&
                 !Catch::Contains("ProxyCommand's output"));

  auto ssh1 = std::move(Error(Errc::protocol_error, Layer::banner, "the server speaks SSH protocol version '1.5'")
                            .with(std::string(ssh::kServerProtocolEvidence), "1.5"));
  CHECK(coder::classify_fault(ssh1) == FaultClass::old_ssh);
  CHECK_THAT(coder::fault_remedy(FaultClass::old_ssh, ssh1),
             Catch::Contains("1.5") && !Catch::Contains("login message"));

  // The Coder CLI's own failures are Errc::refused at Layer::coder (cli_driver.cpp): no agent's.
  const Error whoami(Errc::refused, Layer::coder, "`coder whoami` exited with status 1");
  CHECK(coder::classify_fault(whoami) == FaultClass::other);
}
