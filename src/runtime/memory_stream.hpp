#pragma once
// Two AsyncStreams joined back to back in memory: what one writes, the other reads. The test
// double for every layer above the transport (Beast's test::stream plays the same part).

#include <memory>
#include <utility>

#include "runtime/async_stream.hpp"

namespace cr::runtime {

struct MemoryStreamOptions {
  // Bytes a direction buffers before write_some waits for the reader: small values exercise
  // back-pressure the way a full pipe or socket buffer does.
  std::size_t capacity = 256 * 1024;
};

std::pair<std::unique_ptr<AsyncStream>, std::unique_ptr<AsyncStream>> make_memory_stream_pair(
    asio::any_io_executor executor, MemoryStreamOptions options = {});

}  // namespace cr::runtime
