#pragma once
// Reading the Coder CLI's JSON output. The output comes from another program (a newer or older
// CLI, a wrapper script, a CLI that printed a notice first), so nothing about it is trusted:
// a document that does not parse, or lacks a field we need, is a Layer::coder protocol_error
// that shows the offending text (cut short), never an exception or a crash.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "runtime/error.hpp"

namespace cr::coder {

using Json = nlohmann::json;

// `what` names the command in errors ("`coder list`"). Text before the first line that opens a
// JSON document ('{' or '[') is skipped: older CLIs printed notices on stdout before it.
runtime::Result<Json> parse_cli_json(std::string_view text, std::string_view what);

// object[key] as a string; missing or not a string is an error naming the key and showing the
// object. An absent optional field reads as "".
runtime::Result<std::string> required_string(const Json& object, std::string_view key, std::string_view what);
std::string optional_string(const Json& object, std::string_view key);

// The JSON (re-serialised, cut short) for evidence.
std::string json_preview(const Json& value);

}  // namespace cr::coder
