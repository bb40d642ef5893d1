#include "cli/control_options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace cr::cli {
namespace {

using runtime::Errc;
using runtime::Layer;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

runtime::Result<std::chrono::milliseconds> parse_persist(const std::string& value) {
  // "yes" keeps connections for as long as the holder lives; a year stands for that.
  if (value == "yes") return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(24 * 365));
  if (value == "no") return std::chrono::milliseconds(0);
  std::uint64_t amount = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), amount);
  const std::string_view unit(end, static_cast<std::size_t>(value.data() + value.size() - end));
  const std::pair<std::string_view, std::uint64_t> units[] = {{"", 1},     {"s", 1},     {"m", 60},
                                                              {"h", 3600}, {"d", 86400}, {"w", 604800}};
  const auto found = std::find_if(std::begin(units), std::end(units), [&](const auto& u) { return u.first == unit; });
  if (ec != std::errc() || found == std::end(units) || amount > 10ULL * 365 * 86400 / found->second) {
    return runtime::fail(Errc::invalid_argument, Layer::config,
                         fmt::format("ControlPersist takes yes, no or a time such as 600, 10m or 1h, not '{}'", value));
  }
  return std::chrono::milliseconds(amount * found->second * 1000);
}

}  // namespace

runtime::Result<ControlOptions> parse_control_options(const std::vector<std::string>& options) {
  ControlOptions control;
  for (const auto& option : options) {
    const auto split = option.find_first_of("= ");
    const auto name = lower(option.substr(0, split));
    const auto value =
        split == std::string::npos ? std::string() : option.substr(option.find_first_not_of("= ", split));
    if (name == "controlmaster") {
      const auto choice = lower(value);
      // ask and autoask confirm each use of an OpenSSH master; the holder asks nothing.
      if (choice != "auto" && choice != "yes" && choice != "no" && choice != "ask" && choice != "autoask") {
        return runtime::fail(Errc::invalid_argument, Layer::config,
                             fmt::format("ControlMaster takes auto, yes, no, ask or autoask, not '{}'", value));
      }
      control.shared = choice != "no";
    } else if (name == "controlpersist") {
      auto persist = parse_persist(lower(value));
      if (!persist) return runtime::fail(std::move(persist.error()));
      control.persist = *persist;
    } else if (name == "controlpath") {
      if (value.empty())
        return runtime::fail(Errc::invalid_argument, Layer::config, "ControlPath needs a path, or none");
      if (lower(value) == "none") {
        control.shared = false;
      } else {
        control.path = value;
      }
    } else {
      return runtime::fail(Errc::invalid_argument, Layer::config,
                           fmt::format("-o takes ControlMaster, ControlPersist or ControlPath here, not '{}'", option));
    }
  }
  return control;
}

std::string persist_argument(std::chrono::milliseconds persist) {
  return fmt::format("{}s", std::chrono::duration_cast<std::chrono::seconds>(persist).count());
}

}  // namespace cr::cli
