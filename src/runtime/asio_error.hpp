#pragma once
// One mapping from the OS and Asio error codes of a stream operation to our Error.

#include <string_view>
#include <system_error>

#include "runtime/error.hpp"

namespace cr::runtime {

// eof -> end_of_stream, operation_aborted -> cancelled, anything else -> io_error carrying ec.
Error stream_error(std::error_code ec, Layer layer, std::string_view stream, std::string_view operation);

}  // namespace cr::runtime
