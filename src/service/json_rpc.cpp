#include "service/json_rpc.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace cr::service {

using nlohmann::json;

namespace {

// Text from a command or a peer need not be UTF-8: invalid bytes are replaced, never fatal.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

ReplyError invalid_param(std::string_view name, std::string_view what) {
  return ReplyError{kInvalidParams, fmt::format("params.{} must be {}", name, what), nullptr};
}

// The protocol's names for error codes (docs/protocol.md): identifiers a client compares, where
// runtime::to_string gives words for a person.
using runtime::Errc;
constexpr std::array<std::pair<Errc, std::string_view>, 14> kCodeNames{{
    {Errc::end_of_stream, "end_of_stream"},
    {Errc::timed_out, "timed_out"},
    {Errc::cancelled, "cancelled"},
    {Errc::io_error, "io_error"},
    {Errc::spawn_failed, "spawn_failed"},
    {Errc::resolve_failed, "resolve_failed"},
    {Errc::connect_failed, "connect_failed"},
    {Errc::invalid_argument, "invalid_argument"},
    {Errc::protocol_error, "protocol_error"},
    {Errc::stream_closed, "stream_closed"},
    {Errc::refused, "refused"},
    {Errc::not_found, "not_found"},
    {Errc::permission_denied, "permission_denied"},
    {Errc::internal_error, "internal_error"},
}};
static_assert(kCodeNames.size() == static_cast<std::size_t>(Errc::internal_error) + 1, "a name for every code");

std::string_view code_name(Errc code) {
  for (const auto& [known, name] : kCodeNames) {
    if (known == code) return name;
  }
  return "internal_error";
}

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xe  ? 3
                               : (lead >> 3) == 0x1e ? 4
                                                     : 0;
    if (length == 0 || i + length > text.size()) return false;
    std::uint32_t code = length == 1 ? lead : lead & (0x7f >> length);
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < least[length] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return false;
    i += length;
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 3; ++k) group = (group << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0U);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kBase64Alphabet[(group >> (18 - 6 * k)) & 0x3f] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++padding;
        group <<= 6;
        continue;
      }
      const auto found = kBase64Alphabet.find(c);
      if (found == std::string_view::npos || padding > 0) return std::nullopt;
      group = (group << 6) | static_cast<std::uint32_t>(found);
    }
    out += static_cast<char>((group >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((group >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(group & 0xff);
  }
  return out;
}

}  // namespace

json bytes_value(std::string_view bytes) {
  if (is_utf8(bytes)) return std::string(bytes);
  return json{{"base64", base64_encode(bytes)}};
}

tl::expected<std::string, ReplyError> bytes_param(const json& value, std::string_view name) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.size() == 1 && value.contains("base64") && value["base64"].is_string()) {
    if (auto decoded = base64_decode(value["base64"].get<std::string>())) return std::move(*decoded);
  }
  return tl::unexpected(invalid_param(name, "a string, or {\"base64\": \"...\"} for bytes that are not UTF-8"));
}

tl::expected<Request, RequestError> parse_request(std::string_view text) {
  json message = json::parse(text, nullptr, false);
  if (message.is_discarded()) return tl::unexpected(RequestError{nullptr, kParseError, "the message is not JSON"});
  if (!message.is_object()) {
    return tl::unexpected(RequestError{
        nullptr, kInvalidRequest, message.is_array() ? "batches are not supported" : "a request is a JSON object"});
  }
  json id = nullptr;
  const bool has_id = message.contains("id");
  if (has_id) {
    id = message["id"];
    if (!id.is_number_integer() && !id.is_string() && !id.is_null()) {
      return tl::unexpected(RequestError{nullptr, kInvalidRequest, "id must be a number or a string"});
    }
  }
  if (message.value("jsonrpc", json()) != "2.0")
    return tl::unexpected(RequestError{id, kInvalidRequest, "jsonrpc must be \"2.0\""});
  if (!message.contains("method") || !message["method"].is_string()) {
    return tl::unexpected(RequestError{id, kInvalidRequest, "method must be a string"});
  }
  Request request;
  if (has_id) request.id = id;
  request.method = message["method"].get<std::string>();
  if (message.contains("params")) {
    if (!message["params"].is_object())
      return tl::unexpected(RequestError{id, kInvalidParams, "params must be an object"});
    request.params = std::move(message["params"]);
  }
  return request;
}

std::string response(const json& id, Reply reply) {
  if (auto* error = std::get_if<ReplyError>(&reply))
    return error_response(id, error->code, error->message, std::move(error->data));
  return dump(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(std::get<json>(reply))}});
}

std::string error_response(const json& id, int code, std::string_view message, json data) {
  json error{{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = std::move(data);
  return dump(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}});
}

std::string notification(std::string_view method, json params) {
  return dump(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

json error_data(const runtime::Error& error) {
  json evidence = json::array();
  for (const auto& e : error.evidence) evidence.push_back({{"label", e.label}, {"text", e.text}});
  return json{{"layer", runtime::to_string(error.layer)},
              {"code", code_name(error.code)},
              {"message", error.message},
              {"evidence", std::move(evidence)},
              {"context", error.context}};
}

runtime::Error error_from_data(const json& data, std::string_view fallback_message) {
  const auto text = [&](std::string_view key) {
    return data.is_object() && data.contains(key) && data[key].is_string() ? data[key].get<std::string>()
                                                                           : std::string();
  };
  auto layer = runtime::Layer::runtime;
  for (int i = 0; i <= static_cast<int>(runtime::Layer::sftp); ++i) {
    if (runtime::to_string(static_cast<runtime::Layer>(i)) == text("layer")) layer = static_cast<runtime::Layer>(i);
  }
  auto code = runtime::Errc::protocol_error;
  // A holder started by an older coder-runtime (it outlives upgrades by ControlPersist) still
  // sends runtime::to_string's words.
  for (const auto& [known, name] : kCodeNames) {
    if (name == text("code") || runtime::to_string(known) == text("code")) code = known;
  }
  const auto message = text("message");
  runtime::Error error(code, layer, message.empty() ? std::string(fallback_message) : message);
  if (data.is_object() && data.contains("evidence") && data["evidence"].is_array()) {
    for (const auto& e : data["evidence"]) {
      if (e.is_object()) error.with(e.value("label", ""), e.value("text", ""));
    }
  }
  if (data.is_object() && data.contains("context") && data["context"].is_array()) {
    for (const auto& c : data["context"]) {
      if (c.is_string()) error.context.push_back(c.get<std::string>());
    }
  }
  return error;
}

runtime::Error error_from_response(const json& error) {
  const bool object = error.is_object();
  const int code = object && error.contains("code") && error["code"].is_number_integer() ? error["code"].get<int>() : 0;
  const auto message = object && error.contains("message") && error["message"].is_string()
                           ? error["message"].get<std::string>()
                           : std::string("the service refused the request");
  if (code == kOperationFailed && object && error.contains("data")) return error_from_data(error["data"], message);
  return runtime::Error(runtime::Errc::protocol_error, runtime::Layer::runtime,
                        fmt::format("{} (JSON-RPC error {})", message, code));
}

tl::expected<std::string, ReplyError> string_param(const json& params, std::string_view name) {
  const auto found = params.find(name);
  if (found == params.end() || !found->is_string()) return tl::unexpected(invalid_param(name, "a string"));
  return found->get<std::string>();
}

tl::expected<std::uint64_t, ReplyError> unsigned_param(const json& params, std::string_view name, std::uint64_t max) {
  const auto found = params.find(name);
  if (found == params.end() || !found->is_number_integer() || found->get<std::int64_t>() < 0 ||
      found->get<std::uint64_t>() > max) {
    return tl::unexpected(invalid_param(name, fmt::format("a whole number from 0 to {}", max)));
  }
  return found->get<std::uint64_t>();
}

long current_process_id() {
#ifdef _WIN32
  return static_cast<long>(GetCurrentProcessId());
#else
  return static_cast<long>(getpid());
#endif
}

}  // namespace cr::service
