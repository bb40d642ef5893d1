#include "coder/versions.hpp"

#include <array>
#include <charconv>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "coder/cli_json.hpp"
#include "coder/cli_text.hpp"

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

std::optional<int> number(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Version> parse_version(std::string_view text) {
  std::string_view core = text;
  while (!core.empty() && (core.front() == ' ' || core.front() == '\t')) core.remove_prefix(1);
  while (!core.empty() && (core.back() == ' ' || core.back() == '\t' || core.back() == '\r' || core.back() == '\n')) {
    core.remove_suffix(1);
  }
  const std::string trimmed(core);
  if (core.starts_with('v') || core.starts_with('V')) core.remove_prefix(1);
  core = core.substr(0, core.find_first_of("-+"));
  std::array<int, 3> parts{0, 0, 0};
  std::size_t count = 0;
  while (count < parts.size()) {
    const auto dot = core.find('.');
    const auto value = number(core.substr(0, dot));
    if (!value) return std::nullopt;
    parts[count++] = *value;
    if (dot == std::string_view::npos) break;
    core.remove_prefix(dot + 1);
    if (count == parts.size()) return std::nullopt;  // a fourth component
  }
  if (count < 2) return std::nullopt;
  return Version{parts[0], parts[1], parts[2], trimmed};
}

runtime::Result<Version> parse_version_output(std::string_view json_text) {
  constexpr std::string_view what = "`coder version --output json`";
  auto parsed = parse_cli_json(json_text, what);
  if (!parsed) return runtime::fail(std::move(parsed.error()));
  auto text = required_string(*parsed, "version", what);
  if (!text) return runtime::fail(std::move(text.error()));
  auto version = parse_version(*text);
  if (!version) {
    return runtime::fail(
        std::move(Error(Errc::protocol_error, Layer::coder,
                        fmt::format("{}: \"{}\" is not a version", what, runtime::printable(*text, 64)))
                      .with("json", json_preview(*parsed))));
  }
  return *version;
}

std::optional<MismatchWarning> find_mismatch_warning(std::string_view stderr_text) {
  static const std::regex kWarning(R"(version mismatch:\s*client\s+(\S+?),?\s+server\s+(\S+?)[,.]?(\s|$))",
                                   std::regex::icase);
  const std::string plain = strip_ansi(stderr_text);
  std::smatch match;
  if (!std::regex_search(plain, match, kWarning)) return std::nullopt;
  return MismatchWarning{match[1].str(), match[2].str()};
}

bool versions_compatible(std::string_view client, std::string_view server) {
  if (client.find("v0.0.0") != std::string_view::npos || server.find("v0.0.0") != std::string_view::npos) return true;
  const auto a = parse_version(client);
  const auto b = parse_version(server);
  if (!a || !b) return false;
  return a->major == b->major && a->minor == b->minor;
}

bool meets_minimum(const Version& version, std::string_view minimum) {
  if (version.is_dev()) return true;
  const auto floor = parse_version(minimum);
  if (!floor) return false;
  const std::array mine{version.major, version.minor, version.patch};
  const std::array wanted{floor->major, floor->minor, floor->patch};
  return mine >= wanted;
}

std::string describe_mismatch(const MismatchWarning& mismatch) {
  return fmt::format(
      "the Coder CLI ({}) does not match the server ({}): install the CLI version the server serves "
      "(`coder` from <deployment URL>/bin, or the deployment's install.sh) so that workspace commands keep working",
      mismatch.client, mismatch.server);
}

runtime::Result<VersionReport> judge_versions(const Version& client, std::string_view server_stderr,
                                              MismatchPolicy policy) {
  if (!meets_minimum(client)) {
    return runtime::fail(
        std::move(Error(Errc::invalid_argument, Layer::coder,
                        fmt::format("the Coder CLI is {}, older than the {} this runtime needs: upgrade it",
                                    client.text, kMinimumCliVersion))
                      .with("client version", client.text)));
  }
  VersionReport report;
  report.client = client;
  const auto mismatch = find_mismatch_warning(server_stderr);
  if (!mismatch) return report;
  report.server = mismatch->server;
  // The CLI warns on its own rule; we apply ours too, so a dev build on either side is never an error.
  if (versions_compatible(mismatch->client, mismatch->server)) return report;
  const auto message = describe_mismatch(*mismatch);
  if (policy == MismatchPolicy::fail) {
    return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::coder, message)
                                       .with("client version", mismatch->client)
                                       .with("server version", mismatch->server)));
  }
  report.warning = message;
  return report;
}

asio::awaitable<runtime::Result<VersionReport>> check_versions(const CoderCli& cli, VersionCheckOptions options) {
  RunOptions version_run;
  version_run.deadline = runtime::Deadline::after(options.command_timeout);
  std::vector<std::string> version_args{"version", "--output", "json"};
  auto version_output = co_await cli.run(std::move(version_args), std::move(version_run));
  if (!version_output) co_return runtime::fail(std::move(version_output.error()));
  auto client = parse_version_output(version_output->out);
  if (!client) co_return runtime::fail(std::move(client.error()));

  RunOptions whoami_run;
  whoami_run.deadline = runtime::Deadline::after(options.command_timeout);
  std::vector<std::string> whoami_args{"whoami", "--output", "json"};
  auto whoami = co_await cli.run(std::move(whoami_args), std::move(whoami_run));
  if (!whoami)
    co_return runtime::fail(std::move(std::move(whoami.error()).while_("checking that the Coder CLI is logged in")));
  auto report = judge_versions(*client, whoami->err, options.policy);
  if (!report) co_return report;
  // whoami's JSON is an object (older CLIs) or an array of one; the user name is informative only.
  auto who = parse_cli_json(whoami->out, "`coder whoami --output json`");
  if (who) {
    const Json& user = who->is_array() && !who->empty() ? (*who)[0] : *who;
    report->username = optional_string(user, "username");
  }
  if (report->warning) cli.log().warning("{}", *report->warning);
  co_return report;
}

}  // namespace cr::coder
