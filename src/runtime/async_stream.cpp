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

}  // namespace cr::runtime
