// No secret reaches the log, even at trace level (the executable's -vvv), nor an error's text: not
// a password, not a private key's bytes, not the session keys. Real logins, everything logged.

#include <regex>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "ssh/client.hpp"
#include "support/files.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/ssh_client.hpp"

using namespace cr;

namespace {

// Every line of every component at trace level.
struct CapturedLog {
  std::shared_ptr<std::string> text = std::make_shared<std::string>();
  runtime::Logger logger() const {
    auto sink = text;
    return runtime::Logger(
        [sink](runtime::LogLevel level, std::string_view component, std::string_view message) {
          *sink += fmt::format("{} [{}] {}\n", runtime::to_string(level), component, message);
        },
        runtime::LogLevel::trace);
  }
  void attach(ssh::ClientOptions& options) const {
    options.transport.log = logger().child("transport");
    options.auth.log = logger().child("auth");
    options.connection.log = logger().child("connection");
  }
};

// Key material would appear as a long run of hex or base64 (evidence is hex_preview'd, keys are
// base64 in files). Public values print as "SHA256:" fingerprints; nothing else that long belongs
// in a log. Returns the first offending run, or "".
std::string long_binary_run(const std::string& text) {
  static const std::regex hex("[0-9a-fA-F]{32,}");
  static const std::regex base64("[A-Za-z0-9+/]{40,}={0,2}");
  std::smatch m;
  if (std::regex_search(text, m, hex)) return m.str();
  for (auto it = std::sregex_iterator(text.begin(), text.end(), base64); it != std::sregex_iterator(); ++it) {
    const auto at = static_cast<std::size_t>(it->position());
    if (at >= 7 && text.compare(at - 7, 7, "SHA256:") == 0) continue;
    return it->str();
  }
  return "";
}

// The base64 lines between the BEGIN and END lines of a private key file.
std::vector<std::string> key_body_lines(const std::string& file) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < file.size()) {
    const auto end = file.find('\n', at);
    const auto line = file.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!line.empty() && line.find("-----") == std::string::npos) lines.push_back(line);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return lines;
}

const std::string kGoPassword = "hunter2-go-server-secret";

std::string go_server(const std::string& flags) { return fmt::format("{} {}", CODER_RUNTIME_GO_SSHD, flags); }

}  // namespace

TEST_CASE("a key login to sshd logs nothing of the private key or the session keys at trace level", "[secrets][sshd]") {
  test::LoggedInSshd sshd;
  CapturedLog log;
  auto options = sshd.options();
  log.attach(options);
  auto result = test::run(test::exec_through(sshd.proxy_command(), std::move(options), "echo logged-in"));
  REQUIRE(result);
  CHECK(result->stdout_data == "logged-in\n");

  const auto& text = *log.text;
  INFO(text);
  CHECK_THAT(text, Catch::Contains("kex: "));  // the log is on and says what was negotiated
  const auto key_file = test::read_text(sshd.login.key_file());
  const auto body = key_body_lines(key_file);
  REQUIRE(body.size() >= 3);
  for (const auto& line : body) CHECK_THAT(text, !Catch::Contains(line));
  CHECK(long_binary_run(text).empty());
}

TEST_CASE("a password login to the Go server logs neither the password nor key material, nor does a refusal's error",
          "[secrets][go]") {
  const std::string given = GENERATE(as<std::string>{}, kGoPassword, "wrong-" + kGoPassword);
  CapturedLog log;
  auto options = test::as_user("coder");
  options.auth.preferred = {"password"};
  options.auth.password = [&](const std::string&, const std::string&) { return std::optional<std::string>(given); };
  log.attach(options);
  auto result = test::run(
      test::exec_through(go_server(fmt::format("-password '{}'", kGoPassword)), std::move(options), "echo logged-in"));
  std::string text = *log.text;
  if (given == kGoPassword) {
    REQUIRE(result);
    CHECK(result->stdout_data == "logged-in\n");
  } else {
    REQUIRE_FALSE(result);
    CHECK(result.error().layer == runtime::Layer::auth);
    text += result.error().detailed();
  }
  INFO(text);
  CHECK_THAT(text, Catch::Contains("kex: "));
  CHECK_THAT(text, !Catch::Contains(kGoPassword));
  CHECK(long_binary_run(text).empty());
}
