#include "ssh/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "runtime/paths.hpp"
#include "ssh/pattern.hpp"

namespace cr::ssh {
namespace {

using runtime::Errc;
using runtime::Layer;
namespace fs = std::filesystem;

constexpr int kMaxIncludeDepth = 16;  // OpenSSH's READCONF_MAX_DEPTH
constexpr std::uintmax_t kMaxFileSize = 1 << 20;

// Every keyword of OpenSSH 9's ssh_config(5), its deprecated spellings that ssh still reads, the
// GSSAPI key exchange options Debian's ssh adds and Apple's UseKeychain (common in macOS files).
// We read all of them so a user's file works; what we do with each is the client's business.
constexpr std::array kKnownKeywords = {
    "addkeystoagent",
    "addressfamily",
    "batchmode",
    "bindaddress",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "casignaturealgorithms",
    "certificatefile",
    "challengeresponseauthentication",
    "channeltimeout",
    "checkhostip",
    "cipher",
    "ciphers",
    "clearallforwardings",
    "compression",
    "compressionlevel",
    "connectionattempts",
    "connecttimeout",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dynamicforward",
    "enableescapecommandline",
    "enablesshkeysign",
    "escapechar",
    "exitonforwardfailure",
    "fallbacktorsh",
    "fingerprinthash",
    "forkafterauthentication",
    "forwardagent",
    "forwardx11",
    "forwardx11timeout",
    "forwardx11trusted",
    "gatewayports",
    "globalknownhostsfile",
    "globalknownhostsfile2",
    "gssapiauthentication",
    "gssapiclientidentity",
    "gssapidelegatecredentials",
    "gssapikexalgorithms",
    "gssapikeyexchange",
    "gssapirenewalforcesrekey",
    "gssapiserveridentity",
    "gssapitrustdns",
    "hashknownhosts",
    "host",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedkeytypes",
    "hostkeyalgorithms",
    "hostkeyalias",
    "hostname",
    "identitiesonly",
    "identityagent",
    "identityfile",
    "identityfile2",
    "ignoreunknown",
    "include",
    "ipqos",
    "kbdinteractiveauthentication",
    "kbdinteractivedevices",
    "kexalgorithms",
    "knownhostscommand",
    "localcommand",
    "localforward",
    "loglevel",
    "logverbose",
    "macs",
    "match",
    "nohostauthenticationforlocalhost",
    "numberofpasswordprompts",
    "obscurekeystroketiming",
    "passwordauthentication",
    "permitlocalcommand",
    "permitremoteopen",
    "pkcs11provider",
    "port",
    "preferredauthentications",
    "protocol",
    "proxycommand",
    "proxyjump",
    "proxyusefdpass",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "rekeylimit",
    "remotecommand",
    "remoteforward",
    "requesttty",
    "requiredrsasize",
    "revokedhostkeys",
    "rhostsrsaauthentication",
    "rsaauthentication",
    "securitykeyprovider",
    "sendenv",
    "serveraliveinterval",
    "serveralivecountmax",
    "sessiontype",
    "setenv",
    "smartcarddevice",
    "stdinnull",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "stricthostkeychecking",
    "syslogfacility",
    "tag",
    "tcpkeepalive",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "usekeychain",
    "useprivilegedport",
    "user",
    "userknownhostsfile",
    "userknownhostsfile2",
    "useroaming",
    "usersh",
    "verifyhostkeydns",
    "visualhostkey",
    "xauthlocation",
};

// Keywords whose every occurrence counts, in order; all others keep the first value obtained.
constexpr std::array kListKeywords = {"certificatefile", "dynamicforward", "identityfile",
                                      "localforward",    "remoteforward",  "sendenv"};

// Keywords whose value is the rest of the line as written (quotes and all): a command for a shell.
constexpr std::array kCommandKeywords = {"knownhostscommand", "localcommand", "proxycommand", "remotecommand"};

template <std::size_t N>
bool among(const std::array<const char*, N>& names, std::string_view keyword) {
  return std::any_of(names.begin(), names.end(), [&](const char* name) { return keyword == name; });
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

runtime::Error config_error(std::string_view origin, std::string message, std::string_view line = {}) {
  runtime::Error error(Errc::invalid_argument, Layer::config, fmt::format("{}: {}", origin, message));
  if (!line.empty()) error.with("line", runtime::printable(line));
  return error;
}

// OpenSSH's argument splitting: blanks separate arguments, double or single quotes group them
// (a backslash escapes the quote or itself inside), and '#' at the start of an argument ends the
// line.
tl::expected<std::vector<std::string>, std::string> split_arguments(std::string_view text) {
  std::vector<std::string> args;
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && is_blank(text[i])) ++i;
    if (i == text.size() || text[i] == '#') return args;
    std::string arg;
    while (i < text.size() && !is_blank(text[i])) {
      const char c = text[i++];
      if (c != '"' && c != '\'') {
        arg += c;
        continue;
      }
      bool closed = false;
      while (i < text.size()) {
        const char q = text[i++];
        if (q == c) {
          closed = true;
          break;
        }
        if (q == '\\' && i < text.size() && (text[i] == c || text[i] == '\\')) {
          arg += text[i++];
        } else {
          arg += q;
        }
      }
      if (!closed) return tl::unexpected(std::string("unterminated quoted argument"));
    }
    args.push_back(std::move(arg));
  }
}

struct ParsedLine {
  std::string keyword;    // lower case; empty for a blank or comment line
  std::string_view rest;  // after the keyword and its separator
};

ParsedLine parse_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_blank(line[i])) ++i;
  if (i == line.size() || line[i] == '#') return {};
  const std::size_t start = i;
  while (i < line.size() && !is_blank(line[i]) && line[i] != '=') ++i;
  ParsedLine parsed{lowercase(line.substr(start, i - start)), {}};
  while (i < line.size() && is_blank(line[i])) ++i;
  if (i < line.size() && line[i] == '=') ++i;
  while (i < line.size() && is_blank(line[i])) ++i;
  std::size_t end = line.size();
  while (end > i && is_blank(line[end - 1])) --end;
  parsed.rest = line.substr(i, end - i);
  return parsed;
}

bool has_wildcard(std::string_view text) { return text.find_first_of("*?") != std::string_view::npos; }

class Reader {
 public:
  explicit Reader(SshConfig& config) : config_(config) {}

  runtime::Result<void> read_option(std::string_view text, const std::string& origin) {
    const auto parsed = parse_line(text);
    if (parsed.keyword == "host" || parsed.keyword == "match" || parsed.keyword == "include") {
      return runtime::fail(config_error(origin, fmt::format("{} is not allowed as an option", parsed.keyword), text));
    }
    bool active = true;
    return apply(parsed, text, origin, active, {}, 0);
  }

  runtime::Result<void> read_file(const fs::path& path, const fs::path& include_base, int depth) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return {};  // as ssh: a missing file is no configuration
    const auto size = fs::file_size(path, ec);
    if (ec || size > kMaxFileSize) {
      return runtime::fail(
          config_error(path.string(), ec ? ec.message() : fmt::format("larger than {} bytes", kMaxFileSize)));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return runtime::fail(config_error(path.string(), "cannot be read"));
    std::string line;
    bool active = true;  // lines before the first Host or Match apply to every host
    for (int number = 1; std::getline(in, line); ++number) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto origin = fmt::format("{}:{}", path.string(), number);
      auto applied = apply(parse_line(line), line, origin, active, include_base, depth);
      if (!applied) return applied;
    }
    return {};
  }

 private:
  runtime::Result<void> apply(const ParsedLine& parsed, std::string_view line, const std::string& origin, bool& active,
                              const fs::path& include_base, int depth) {
    if (parsed.keyword.empty()) return {};
    std::vector<std::string> args;
    if (among(kCommandKeywords, parsed.keyword)) {
      if (!parsed.rest.empty()) args.emplace_back(parsed.rest);
    } else {
      auto split = split_arguments(parsed.rest);
      if (!split) return runtime::fail(config_error(origin, split.error(), line));
      args = std::move(*split);
    }
    if (parsed.keyword == "host") {
      active = match_host_line(args);
      return {};
    }
    if (parsed.keyword == "match") {
      auto matched = match_line(args, origin, line);
      if (!matched) return runtime::fail(matched.error());
      active = *matched;
      return {};
    }
    if (!among(kKnownKeywords, parsed.keyword)) {
      const auto ignored = config_.text("ignoreunknown");
      if (ignored && match_pattern_list(parsed.keyword, *ignored)) return {};
      return runtime::fail(config_error(origin, fmt::format("Bad configuration option: {}", parsed.keyword), line));
    }
    if (args.empty()) return runtime::fail(config_error(origin, fmt::format("{} needs a value", parsed.keyword), line));
    if (!active) return {};
    if (parsed.keyword == "include") return include(args, origin, include_base, depth);
    if (!among(kListKeywords, parsed.keyword) && config_.find(parsed.keyword)) return {};
    if (parsed.keyword == "hostname") {
      // %h in HostName is the host as given, fixed when the line is read (as ssh does).
      auto expanded = config_.expand(args.front(), "HostName");
      if (!expanded) return runtime::fail(config_error(origin, expanded.error().message, line));
      args.front() = std::move(*expanded);
    }
    config_.add({parsed.keyword, std::move(args), origin});
    return {};
  }

  // Host patterns match the host as given; a matching negated pattern rules the block out.
  bool match_host_line(const std::vector<std::string>& patterns) const {
    bool matched = false;
    for (const auto& pattern : patterns) {
      const bool negated = pattern.starts_with('!');
      if (!match_pattern_list(config_.context().host, negated ? pattern.substr(1) : pattern)) continue;
      if (negated) return false;
      matched = true;
    }
    return matched;
  }

  // Every criterion must hold. Those that need what we do not do (canonicalization, network
  // interfaces) are errors rather than guesses.
  runtime::Result<bool> match_line(const std::vector<std::string>& args, const std::string& origin,
                                   std::string_view line) {
    if (args.empty()) return runtime::fail(config_error(origin, "Match needs criteria", line));
    const auto& context = config_.context();
    bool result = true;
    for (std::size_t i = 0; i < args.size(); ++i) {
      std::string criterion = lowercase(args[i]);
      const bool negated = criterion.starts_with('!');
      if (negated) criterion.erase(0, 1);
      if (criterion == "all" || criterion == "final") {
        // One pass, which is the final one.
        if (negated) result = false;
        continue;
      }
      if (criterion == "canonical") {
        if (!negated) result = false;  // we never canonicalize host names
        continue;
      }
      if (i + 1 == args.size()) {
        return runtime::fail(config_error(origin, fmt::format("Match {} needs an argument", criterion), line));
      }
      const std::string& argument = args[++i];
      bool holds = false;
      if (criterion == "host") {
        holds = match_pattern_list(config_.text("hostname").value_or(context.host), argument);
      } else if (criterion == "originalhost") {
        holds = match_pattern_list(context.host, argument);
      } else if (criterion == "user") {
        holds = match_pattern_list(config_.text("user").value_or(context.local_user), argument);
      } else if (criterion == "localuser") {
        holds = match_pattern_list(context.local_user, argument);
      } else if (criterion == "tagged") {
        holds = match_pattern_list(config_.text("tag").value_or(""), argument);
      } else if (criterion == "exec") {
        if (!result) continue;  // as ssh: no command runs once the line cannot match
        if (!context.run_exec) {
          return runtime::fail(config_error(origin, "Match exec cannot run commands here", line));
        }
        auto command = config_.expand(argument, "Match exec");
        if (!command) return runtime::fail(config_error(origin, command.error().message, line));
        holds = context.run_exec(*command);
      } else {
        return runtime::fail(config_error(origin, fmt::format("unsupported Match criterion '{}'", criterion), line));
      }
      if (holds == negated) result = false;
    }
    return result;
  }

  runtime::Result<void> include(const std::vector<std::string>& patterns, const std::string& origin,
                                const fs::path& include_base, int depth) {
    if (depth + 1 >= kMaxIncludeDepth) {
      return runtime::fail(config_error(origin, fmt::format("Include nested more than {} deep", kMaxIncludeDepth)));
    }
    for (const auto& pattern : patterns) {
      auto expanded = config_.expand(pattern, "Include");
      if (!expanded) return runtime::fail(config_error(origin, expanded.error().message));
      fs::path path(*expanded);
      if (path.is_relative()) path = include_base / path;
      if (has_wildcard(path.parent_path().string())) {
        return runtime::fail(config_error(origin, "Include takes wildcards only in the file name"));
      }
      std::vector<fs::path> files;
      if (!has_wildcard(path.filename().string())) {
        files.push_back(path);
      } else {
        std::error_code ec;
        for (fs::directory_iterator it(path.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
          if (match_pattern(it->path().filename().string(), path.filename().string())) files.push_back(it->path());
        }
        std::sort(files.begin(), files.end());  // glob(3) order
      }
      for (const auto& file : files) {
        auto read = read_file(file, include_base, depth + 1);
        if (!read) return read;
      }
    }
    return {};
  }

  SshConfig& config_;
};

}  // namespace

void SshConfig::add(Value value) { values_.push_back(std::move(value)); }

const SshConfig::Value* SshConfig::first(std::string_view keyword) const {
  const auto lower = lowercase(keyword);
  const auto it = std::find_if(values_.begin(), values_.end(), [&](const Value& v) { return v.keyword == lower; });
  return it == values_.end() ? nullptr : &*it;
}

const std::vector<std::string>* SshConfig::find(std::string_view keyword) const {
  const auto* value = first(keyword);
  return value ? &value->args : nullptr;
}

std::optional<std::string> SshConfig::text(std::string_view keyword) const {
  const auto* args = find(keyword);
  if (!args || args->empty()) return std::nullopt;
  return args->front();
}

std::string SshConfig::first_given(std::initializer_list<std::string_view> keywords) const {
  for (const auto& value : values_) {
    for (const auto keyword : keywords) {
      if (value.keyword == lowercase(keyword)) return value.keyword;
    }
  }
  return {};
}

std::vector<std::string> SshConfig::all(std::string_view keyword) const {
  const auto lower = lowercase(keyword);
  std::vector<std::string> out;
  for (const auto& value : values_) {
    if (value.keyword == lower) out.insert(out.end(), value.args.begin(), value.args.end());
  }
  return out;
}

std::vector<SshConfig::Value> SshConfig::lines(std::string_view keyword) const {
  const auto lower = lowercase(keyword);
  std::vector<Value> out;
  for (const auto& value : values_) {
    if (value.keyword == lower) out.push_back(value);
  }
  return out;
}

std::string SshConfig::origin(std::string_view keyword) const {
  const auto* value = first(keyword);
  return value ? value->origin : "default";
}

runtime::Result<std::optional<bool>> SshConfig::flag(std::string_view keyword) const {
  const auto value = text(keyword);
  if (!value) return std::optional<bool>();
  const auto lower = lowercase(*value);
  if (lower == "yes" || lower == "true") return std::optional<bool>(true);
  if (lower == "no" || lower == "false") return std::optional<bool>(false);
  return runtime::fail(config_error(origin(keyword), fmt::format("{} takes yes or no, not '{}'", keyword, *value)));
}

runtime::Result<std::optional<long>> SshConfig::number(std::string_view keyword, long low, long high) const {
  const auto value = text(keyword);
  if (!value) return std::optional<long>();
  long parsed = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), parsed);
  if (ec != std::errc() || end != value->data() + value->size() || parsed < low || parsed > high) {
    return runtime::fail(config_error(
        origin(keyword), fmt::format("{} takes a whole number from {} to {}, not '{}'", keyword, low, high, *value)));
  }
  return std::optional<long>(parsed);
}

runtime::Result<std::string> SshConfig::expand(std::string_view value, std::string_view keyword) const {
  const auto& context = context_;
  std::string out;
  if (value == "~" || value.starts_with("~/")) {
    out = runtime::path_to_utf8(context.home);
    value.remove_prefix(1);
  } else if (value.starts_with('~')) {
    return runtime::fail(Errc::invalid_argument, Layer::config,
                         fmt::format("{}: '~user' paths are not supported in '{}'", keyword, value));
  }
  const auto host = text("hostname").value_or(context.host);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    const char token = i + 1 < value.size() ? value[++i] : '\0';
    switch (token) {
      case '%':
        out += '%';
        break;
      case 'd':
        out += runtime::path_to_utf8(context.home);
        break;
      case 'h':
        out += host;
        break;
      case 'n':
        out += context.host;
        break;
      case 'p':
        out += text("port").value_or("22");
        break;
      case 'r':
        out += text("user").value_or(context.local_user);
        break;
      case 'u':
        out += context.local_user;
        break;
      default:
        return runtime::fail(Errc::invalid_argument, Layer::config,
                             fmt::format("{}: unknown or unsupported token %{} in '{}'", keyword,
                                         token ? std::string(1, token) : std::string("(end)"), value));
    }
  }
  return out;
}

runtime::Result<SshConfig> read_config(const ConfigInput& input, ConfigContext context) {
  const auto home = context.home;
  SshConfig config(std::move(context));
  Reader reader(config);
  for (const auto& option : input.command_line) {
    auto read = reader.read_option(option, "command line");
    if (!read) return runtime::fail(read.error());
  }
  const auto system_dir = default_config_files(home).back().parent_path();
  for (const auto& file : input.files) {
    // Relative Include paths: /etc/ssh (Windows: %PROGRAMDATA%\ssh) for the system file, ~/.ssh
    // for the user's (and -F) files.
    const auto base = file.parent_path() == system_dir ? system_dir : home / ".ssh";
    auto read = reader.read_file(file, base, 0);
    if (!read) return runtime::fail(read.error());
  }
  return config;
}

std::vector<fs::path> default_config_files(const fs::path& home) {
#ifdef _WIN32
  // OpenSSH for Windows: the system-wide file is %PROGRAMDATA%\ssh\ssh_config.
  const auto program_data = runtime::environment_variable(L"PROGRAMDATA");
  fs::path system = program_data ? runtime::utf8_to_path(*program_data) : fs::path(L"C:\\ProgramData");
  return {home / ".ssh" / "config", system / "ssh" / "ssh_config"};
#else
  return {home / ".ssh" / "config", "/etc/ssh/ssh_config"};
#endif
}

}  // namespace cr::ssh
