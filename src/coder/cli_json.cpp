#include "coder/cli_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

constexpr std::size_t kPreviewBytes = 512;

// Where the document starts: the first line whose first non-blank character opens one.
std::size_t document_start(std::string_view text) {
  std::size_t line = 0;
  while (line < text.size()) {
    const auto first = text.find_first_not_of(" \t\r", line);
    if (first == std::string_view::npos) break;
    if (text[first] == '{' || text[first] == '[') return first;
    const auto newline = text.find('\n', line);
    if (newline == std::string_view::npos) break;
    line = newline + 1;
  }
  return 0;
}

}  // namespace

runtime::Result<Json> parse_cli_json(std::string_view text, std::string_view what) {
  const auto start = document_start(text);
  Json parsed = Json::parse(text.substr(start), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    auto error = Error(Errc::protocol_error, Layer::coder, fmt::format("{} printed output that is not JSON", what));
    if (text.empty()) return runtime::fail(std::move(error).with("stdout", "(empty)"));
    return runtime::fail(std::move(error).with("stdout", runtime::printable(text, kPreviewBytes)));
  }
  return parsed;
}

runtime::Result<std::string> required_string(const Json& object, std::string_view key, std::string_view what) {
  const auto field = object.is_object() ? object.find(key) : object.end();
  if (!object.is_object() || field == object.end() || !field->is_string()) {
    return runtime::fail(std::move(
        Error(Errc::protocol_error, Layer::coder, fmt::format("{}: the JSON has no string field \"{}\"", what, key))
            .with("json", json_preview(object))));
  }
  return field->get<std::string>();
}

std::string optional_string(const Json& object, std::string_view key) {
  if (!object.is_object()) return "";
  const auto field = object.find(key);
  return field != object.end() && field->is_string() ? field->get<std::string>() : "";
}

std::string json_preview(const Json& value) {
  // Replacement instead of an exception for invalid UTF-8 in strings.
  return runtime::printable(value.dump(-1, ' ', false, Json::error_handler_t::replace), kPreviewBytes);
}

}  // namespace cr::coder
