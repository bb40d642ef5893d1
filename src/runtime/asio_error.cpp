#include "runtime/asio_error.hpp"

#include <asio/error.hpp>
#include <fmt/format.h>

namespace cr::runtime {

Error stream_error(std::error_code ec, Layer layer, std::string_view stream, std::string_view operation) {
  if (ec == asio::error::eof) {
    return Error(Errc::end_of_stream, layer, fmt::format("{}: peer closed the stream", stream));
  }
  if (ec == asio::error::operation_aborted) {
    return Error(Errc::cancelled, layer, fmt::format("{}: {} cancelled", stream, operation));
  }
  return std::move(Error(Errc::io_error, layer, fmt::format("{}: {} failed", stream, operation)).with_system(ec));
}

}  // namespace cr::runtime
