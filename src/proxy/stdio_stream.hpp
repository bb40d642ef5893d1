#pragma once
// This process's own stdin and stdout as one AsyncStream: how `coder-runtime serve --stdio` speaks
// to the host process that started it. Once they are taken, stdout (file descriptor 1, and the
// Windows standard handle) points at stderr, so that nothing else written there (a library's stray
// print) can corrupt the stream.

#include <memory>

#include "runtime/async_stream.hpp"

namespace cr::proxy {

// Errors: Layer::runtime, Errc::io_error with the OS reason.
runtime::Result<std::unique_ptr<runtime::AsyncStream>> take_stdio(asio::any_io_executor executor);

}  // namespace cr::proxy
