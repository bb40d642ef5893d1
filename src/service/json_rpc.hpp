#pragma once
// JSON-RPC 2.0 as the service protocol uses it (docs/protocol.md): requests and notifications in,
// responses and notifications out, errors with the library's Error in their data.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "runtime/error.hpp"

namespace cr::service {

inline constexpr int kProtocolVersion = 1;

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kOperationFailed = -32000;

struct ReplyError {
  int code = kOperationFailed;
  std::string message;
  nlohmann::json data = nullptr;  // none
};
// What a method answers: its result, or an error.
using Reply = std::variant<nlohmann::json, ReplyError>;

struct Request {
  std::optional<nlohmann::json> id;  // none: a notification
  std::string method;
  nlohmann::json params = nlohmann::json::object();
};

struct RequestError {
  nlohmann::json id;  // null when it could not be read
  int code;
  std::string message;
};

// One message's text as a request or notification; what is wrong with it otherwise.
tl::expected<Request, RequestError> parse_request(std::string_view text);

std::string response(const nlohmann::json& id, Reply reply);
std::string error_response(const nlohmann::json& id, int code, std::string_view message, nlohmann::json data = nullptr);
std::string notification(std::string_view method, nlohmann::json params);

// The library's error as a JSON-RPC error's data: layer, code, message, evidence, context.
nlohmann::json error_data(const runtime::Error& error);
// And back, for clients: an error a peer described (its layer and code names read back).
runtime::Error error_from_data(const nlohmann::json& data, std::string_view fallback_message);
// A response's error member, for clients: the peer's own error for a failed operation, else a
// runtime protocol_error naming the JSON-RPC code (a request the peer refused).
runtime::Error error_from_response(const nlohmann::json& error);

// Typed access to params: a missing or mistyped member is an invalid-params error naming it.
tl::expected<std::string, ReplyError> string_param(const nlohmann::json& params, std::string_view name);
tl::expected<std::uint64_t, ReplyError> unsigned_param(const nlohmann::json& params, std::string_view name,
                                                       std::uint64_t max);

// Bytes that need not be UTF-8 (a command line, an argv word, a path, a variable's value): a JSON
// string when they are UTF-8, else {"base64": "..."}; and back, accepting either form.
nlohmann::json bytes_value(std::string_view bytes);
tl::expected<std::string, ReplyError> bytes_param(const nlohmann::json& value, std::string_view name);

long current_process_id();

}  // namespace cr::service
