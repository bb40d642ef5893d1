#include "ssh/client_config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/packet_cipher.hpp"
#include "ssh/known_hosts.hpp"

namespace cr::ssh {
namespace {

using runtime::Errc;
using runtime::Layer;
namespace fs = std::filesystem;

runtime::Error value_error(const SshConfig& config, std::string_view keyword, std::string message) {
  return runtime::Error(Errc::invalid_argument, Layer::config, fmt::format("{}: {}", config.origin(keyword), message));
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

runtime::Result<std::vector<fs::path>> expanded_paths(const SshConfig& config, std::string_view keyword,
                                                      std::vector<std::string> values) {
  std::vector<fs::path> paths;
  for (const auto& value : values) {
    if (lowercase(value) == "none") continue;
    auto path = config.expand(value, keyword);
    if (!path) return runtime::fail(value_error(config, keyword, path.error().message));
    paths.emplace_back(std::move(*path));
  }
  return paths;
}

// The list a keyword names, or its default (several paths on one line, as ssh takes them).
std::vector<std::string> paths_or(const SshConfig& config, std::string_view keyword,
                                  std::vector<std::string> fallback) {
  const auto* values = config.find(keyword);
  return values ? *values : std::move(fallback);
}

runtime::Result<StrictHostKeyChecking> strict_host_key_checking(const SshConfig& config) {
  const auto value = lowercase(config.text("StrictHostKeyChecking").value_or("ask"));
  // "ask" would prompt a person on a terminal; we do not, so it refuses as "yes" does.
  if (value == "yes" || value == "true" || value == "ask") return StrictHostKeyChecking::yes;
  if (value == "accept-new") return StrictHostKeyChecking::accept_new;
  if (value == "no" || value == "false" || value == "off") return StrictHostKeyChecking::no;
  return runtime::fail(
      value_error(config, "StrictHostKeyChecking",
                  fmt::format("StrictHostKeyChecking takes yes, accept-new, no or ask, not '{}'", value)));
}

// As OpenSSH does when HostKeyAlgorithms is not set (order_hostkeyalgs): the algorithms whose key
// type known_hosts already has for this host go first, in their own order. Otherwise a server with
// an ed25519 key and the RSA key a user once accepted would show the ed25519 one, which
// StrictHostKeyChecking yes refuses as unknown. Files that cannot be read change nothing here:
// the verifier reports them at the key exchange.
void prefer_known_key_types(NameList& host_key_algorithms, const KnownHostsOptions& known, const std::string& host,
                            std::uint16_t port) {
  std::vector<fs::path> files = known.user_files;
  files.insert(files.end(), known.global_files.begin(), known.global_files.end());
  const auto loaded = load_known_hosts(files);
  if (!loaded) return;
  const auto types = known_key_types(*loaded, host, port);
  std::stable_partition(host_key_algorithms.begin(), host_key_algorithms.end(), [&](const std::string& algorithm) {
    return std::ranges::find(types, crypto::key_type_for(algorithm)) != types.end();
  });
}

runtime::Result<void> edit_algorithms(const SshConfig& config, AlgorithmPreferences& preferences) {
  std::vector<std::string> host_keys = crypto::supported_host_key_algorithms();
  host_keys.push_back("ssh-rsa");  // SHA-1: only when a user names it
  struct Edit {
    AlgorithmCategory category;
    NameList& list;
    std::vector<std::string> implemented;
  };
  const std::array edits{Edit{AlgorithmCategory::kex, preferences.kex, crypto::supported_kex()},
                         Edit{AlgorithmCategory::host_key, preferences.host_key, host_keys},
                         Edit{AlgorithmCategory::ciphers, preferences.ciphers, crypto::supported_ciphers()},
                         Edit{AlgorithmCategory::macs, preferences.macs, crypto::supported_macs()}};
  for (const auto& edit : edits) {
    const auto keyword = option_name(edit.category);
    const auto spec = config.text(keyword);
    if (!spec) continue;
    auto edited = edit_algorithm_list(edit.category, edit.list, *spec, edit.implemented);
    if (!edited) {
      auto error = value_error(config, keyword, edited.error().message);
      error.evidence = std::move(edited.error().evidence);
      return runtime::fail(std::move(error));
    }
    edit.list = std::move(*edited);
  }
  return {};
}

// PreferredAuthentications, less the methods a *Authentication keyword turns off.
runtime::Result<std::vector<std::string>> auth_methods(const SshConfig& config, std::vector<std::string> methods) {
  if (const auto preferred = config.text("PreferredAuthentications")) methods = split_names(*preferred);
  for (const auto& [keyword, method] :
       {std::pair{"PubkeyAuthentication", "publickey"}, std::pair{"PasswordAuthentication", "password"},
        std::pair{"KbdInteractiveAuthentication", "keyboard-interactive"}}) {
    auto enabled = config.flag(keyword);
    if (!enabled) return runtime::fail(std::move(enabled.error()));
    if (*enabled == false) std::erase(methods, method);
  }
  return methods;
}

// RekeyLimit: a byte count with an optional K, M or G, then optionally a time in seconds or with
// an s, m or h suffix; "default" and "none" keep ours.
runtime::Result<void> rekey_limit(const SshConfig& config, TransportOptions& transport) {
  const auto* values = config.find("RekeyLimit");
  if (!values) return {};
  const auto parse = [&](std::string_view text, std::string_view suffixes,
                         std::array<std::uint64_t, 3> scales) -> runtime::Result<std::optional<std::uint64_t>> {
    if (text == "default" || text == "none") return std::optional<std::uint64_t>();
    std::uint64_t scale = 1;
    if (const auto at = suffixes.find(
            static_cast<char>(std::toupper(static_cast<unsigned char>(text.empty() ? ' ' : text.back()))));
        !text.empty() && at != std::string_view::npos) {
      scale = scales[at];
      text.remove_suffix(1);
    }
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end != text.data() + text.size() || number == 0) {
      return runtime::fail(value_error(config, "RekeyLimit", fmt::format("RekeyLimit cannot read '{}'", text)));
    }
    return std::optional<std::uint64_t>(number * scale);
  };
  auto bytes = parse((*values)[0], "KMG", {1u << 10, 1u << 20, 1u << 30});
  if (!bytes) return runtime::fail(std::move(bytes.error()));
  if (*bytes) transport.rekey_after_bytes = **bytes;
  if (values->size() > 1) {
    auto seconds = parse((*values)[1], "SMH", {1, 60, 3600});
    if (!seconds) return runtime::fail(std::move(seconds.error()));
    if (*seconds) transport.rekey_after_time = std::chrono::seconds(static_cast<std::chrono::seconds::rep>(**seconds));
  }
  return {};
}

}  // namespace

std::optional<runtime::LogLevel> parse_log_level(std::string_view value) {
  const auto level = lowercase(value);
  if (level == "quiet") return runtime::LogLevel::off;
  if (level == "fatal" || level == "error") return runtime::LogLevel::error;
  if (level == "info") return runtime::LogLevel::warning;  // ssh's INFO shows what we log as warnings
  if (level == "verbose") return runtime::LogLevel::info;
  if (level == "debug" || level == "debug1" || level == "debug2") return runtime::LogLevel::debug;
  if (level == "debug3") return runtime::LogLevel::trace;
  return std::nullopt;
}

namespace {

// The part after "user@": "host", or with `with_port` also "host:port" and "[address]:port";
// what is wrong with it otherwise.
std::optional<std::string_view> read_host_and_port(std::string_view rest, bool with_port, Destination& destination) {
  if (with_port) {
    if (rest.ends_with('/')) rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    const auto bracket = rest.rfind(']');
    const bool bare_ipv6 = !rest.starts_with('[') && rest.find(':') != colon;
    if (colon != std::string_view::npos && !bare_ipv6 && (bracket == std::string_view::npos || colon > bracket)) {
      const auto port_text = rest.substr(colon + 1);
      unsigned port = 0;
      const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        return "the port is not a number from 1 to 65535";
      }
      destination.port = static_cast<std::uint16_t>(port);
      rest = rest.substr(0, colon);
    }
    if (rest.starts_with('[') && rest.ends_with(']')) rest = rest.substr(1, rest.size() - 2);
  }
  if (rest.empty()) return "no host name";
  if (rest.find_first_of(" \t\r\n'\"`$;&|<>") != std::string_view::npos)
    return "the host name has characters no host has";
  destination.host = std::string(rest);
  return std::nullopt;
}

// "[user@]host...": the user is up to the last '@'.
std::string_view read_user(std::string_view text, Destination& destination) {
  const auto at = text.rfind('@');
  if (at == std::string_view::npos) return text;
  destination.user = std::string(text.substr(0, at));
  return text.substr(at + 1);
}

}  // namespace

runtime::Result<Destination> parse_destination(std::string_view text) {
  Destination destination;
  const bool uri = text.starts_with("ssh://");
  const auto rest = read_user(uri ? text.substr(6) : text, destination);
  if (const auto wrong = read_host_and_port(rest, uri, destination)) {
    return runtime::fail(Errc::invalid_argument, Layer::config, fmt::format("destination '{}': {}", text, *wrong));
  }
  return destination;
}

runtime::Result<std::vector<Destination>> parse_jump_hosts(std::string_view text) {
  std::vector<Destination> hosts;
  for (std::size_t start = 0; start <= text.size();) {
    const auto comma = std::min(text.find(',', start), text.size());
    const auto hop = text.substr(start, comma - start);
    start = comma + 1;
    Destination destination;
    const auto rest = read_user(hop.starts_with("ssh://") ? hop.substr(6) : hop, destination);
    if (const auto wrong = read_host_and_port(rest, true, destination)) {
      return runtime::fail(Errc::invalid_argument, Layer::config, fmt::format("jump host '{}': {}", hop, *wrong));
    }
    hosts.push_back(std::move(destination));
  }
  return hosts;
}

runtime::Result<ClientPlan> plan_connection(const SshConfig& config, const Destination& destination,
                                            runtime::Logger log) {
  const auto& context = config.context();
  ClientPlan plan;
  plan.host_alias = destination.host;
  plan.hostname = config.text("HostName").value_or(destination.host);
  plan.user = !destination.user.empty() ? destination.user : config.text("User").value_or(context.local_user);
  auto port = config.number("Port", 1, 65535);
  if (!port) return runtime::fail(std::move(port.error()));
  plan.port = destination.port.value_or(static_cast<std::uint16_t>(port->value_or(22)));

  const auto proxy_keyword = config.first_given({"ProxyCommand", "ProxyJump"});
  if (auto proxy = config.text(proxy_keyword); proxy && lowercase(*proxy) != "none") {
    if (proxy_keyword == "proxycommand") {
      plan.proxy_command = std::move(proxy);
    } else {
      auto jumps = parse_jump_hosts(*proxy);
      if (!jumps) return runtime::fail(value_error(config, "ProxyJump", jumps.error().message));
      plan.proxy_jump = std::move(*jumps);
    }
  }
  auto timeout = config.number("ConnectTimeout", 0, 24 * 3600);
  if (!timeout) return runtime::fail(std::move(timeout.error()));
  if (timeout->value_or(0) > 0) plan.connect_timeout = std::chrono::seconds(**timeout);
  auto interval = config.number("ServerAliveInterval", 0, 24 * 3600);
  if (!interval) return runtime::fail(std::move(interval.error()));
  plan.server_alive_interval = std::chrono::seconds(interval->value_or(0));
  auto count = config.number("ServerAliveCountMax", 1, 1000);
  if (!count) return runtime::fail(std::move(count.error()));
  plan.server_alive_count_max = static_cast<int>(count->value_or(3));
  plan.options.connection.keepalive_interval = plan.server_alive_interval;
  plan.options.connection.keepalive_count_max = plan.server_alive_count_max;
  auto batch = config.flag("BatchMode");
  if (!batch) return runtime::fail(std::move(batch.error()));
  plan.batch_mode = batch->value_or(false);

  // ssh's default key names, among the types we read (security-key and DSA keys are not).
  auto configured = config.all("IdentityFile");
  plan.identity_files_configured = !configured.empty();
  if (configured.empty()) configured = {"~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519"};
  auto identities = expanded_paths(config, "IdentityFile", configured);
  if (!identities) return runtime::fail(std::move(identities.error()));
  plan.identity_files = std::move(*identities);
  auto only = config.flag("IdentitiesOnly");
  if (!only) return runtime::fail(std::move(only.error()));
  plan.identities_only = only->value_or(false);
  if (auto agent = config.text("IdentityAgent")) {
    const auto lower = lowercase(*agent);
    if (lower == "none" || *agent == "SSH_AUTH_SOCK") {
      plan.identity_agent = lower == "none" ? "none" : "";
    } else {
      auto path = config.expand(*agent, "IdentityAgent");
      if (!path) return runtime::fail(value_error(config, "IdentityAgent", path.error().message));
      plan.identity_agent = std::move(*path);
    }
  }
  if (auto forward = config.text("ForwardAgent")) {
    const auto lower = lowercase(*forward);
    if (lower == "yes" || lower == "true") {
      plan.forward_agent = "";
    } else if (lower != "no" && lower != "false") {
      // A socket's path, or "$NAME": the environment variable holding one.
      if (forward->starts_with("${")) {
        return runtime::fail(value_error(config, "ForwardAgent", "${...} is not read here: give $NAME or a path"));
      }
      const char* named = forward->starts_with('$') ? std::getenv(forward->c_str() + 1) : nullptr;
      if (forward->starts_with('$') && (!named || !*named)) {
        return runtime::fail(value_error(config, "ForwardAgent", fmt::format("{} is not set", *forward)));
      }
      auto path = named ? runtime::Result<std::string>(named) : config.expand(*forward, "ForwardAgent");
      if (!path) return runtime::fail(value_error(config, "ForwardAgent", path.error().message));
      plan.forward_agent = std::move(*path);
    }
  }
  plan.send_env = config.all("SendEnv");
  if (const auto* set_env = config.find("SetEnv")) {
    for (const auto& assignment : *set_env) {
      const auto equals = assignment.find('=');
      if (equals == std::string::npos || equals == 0) {
        return runtime::fail(
            value_error(config, "SetEnv", fmt::format("SetEnv takes NAME=VALUE, not '{}'", assignment)));
      }
      plan.set_env.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
    }
  }
  plan.request_tty = config.text("RequestTTY");
  if (const auto level = config.text("LogLevel")) {
    plan.log_level = parse_log_level(*level);
    if (!plan.log_level)
      return runtime::fail(value_error(config, "LogLevel", fmt::format("unknown LogLevel '{}'", *level)));
  }

  auto& transport = plan.options.transport;
  transport.log = log.child("transport");
  if (auto edited = edit_algorithms(config, transport.algorithms); !edited)
    return runtime::fail(std::move(edited.error()));
  if (auto limited = rekey_limit(config, transport); !limited) return runtime::fail(std::move(limited.error()));

  KnownHostsOptions known;
  auto strict = strict_host_key_checking(config);
  if (!strict) return runtime::fail(std::move(strict.error()));
  known.strict = *strict;
  auto user_files =
      expanded_paths(config, "UserKnownHostsFile",
                     paths_or(config, "UserKnownHostsFile", {"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}));
  if (!user_files) return runtime::fail(std::move(user_files.error()));
  known.user_files = std::move(*user_files);
  auto global_files = expanded_paths(
      config, "GlobalKnownHostsFile",
      paths_or(config, "GlobalKnownHostsFile", {"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}));
  if (!global_files) return runtime::fail(std::move(global_files.error()));
  known.global_files = std::move(*global_files);
  auto hash = config.flag("HashKnownHosts");
  if (!hash) return runtime::fail(std::move(hash.error()));
  known.hash_new_entries = hash->value_or(false);
  known.log = log.child("known_hosts");
  const auto known_name = config.text("HostKeyAlias").value_or(plan.hostname);
  if (!config.text("HostKeyAlgorithms"))
    prefer_known_key_types(transport.algorithms.host_key, known, known_name, plan.port);
  transport.verify_host_key = known_hosts_verifier(known_name, plan.port, std::move(known));

  auto& auth = plan.options.auth;
  auth.user = plan.user;
  auth.log = log.child("auth");
  plan.options.connection.log = log.child("connection");
  auto methods = auth_methods(config, auth.preferred);
  if (!methods) return runtime::fail(std::move(methods.error()));
  auth.preferred = std::move(*methods);
  return plan;
}

}  // namespace cr::ssh
