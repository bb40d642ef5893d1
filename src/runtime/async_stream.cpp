#include "runtime/async_stream.hpp"

namespace cr::runtime {

asio::awaitable<Result<void>> write_all(AsyncStream& stream, ConstBytes data) {
  while (!data.empty()) {
    auto written = co_await stream.write_some(data);
    if (!written) co_return fail(std::move(written.error()));
    data = data.subspan(*written);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> read_exact(AsyncStream& stream, Bytes buffer) {
  while (!buffer.empty()) {
    auto read = co_await stream.read_some(buffer);
    if (!read) co_return fail(std::move(read.error()));
    buffer = buffer.subspan(*read);
  }
  co_return Result<void>{};
}

}  // namespace cr::runtime
