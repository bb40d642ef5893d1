// The progress line's figures, as scp shows them.

#include <catch2/catch.hpp>

#include "cli/progress_line.hpp"

using namespace cr;
using namespace std::chrono_literals;

TEST_CASE("progress line: share, bytes, rate and time left fill the width", "[scp]") {
  const auto half = cli::format_progress("data.bin", 512 * 1024, 1024 * 1024, 1s, false, 60);
  CHECK(half.size() == 59);  // the last column stays empty, so the terminal does not wrap
  CHECK_THAT(half, Catch::StartsWith("data.bin "));
  CHECK_THAT(half, Catch::EndsWith(" 50%  512KB   512KB/s    00:01 ETA"));

  const auto done = cli::format_progress("data.bin", 5ull << 30, 5ull << 30, 125s, true, 60);
  CHECK_THAT(done, Catch::EndsWith("100%  5.0GB    41MB/s    02:05    "));

  const auto unknown = cli::format_progress("a-name-longer-than-the-room-it-gets", 10, std::nullopt, 0s, false, 50);
  CHECK(unknown.size() == 49);
  CHECK_THAT(unknown, Catch::StartsWith("a-name"));
  CHECK_THAT(unknown, Catch::EndsWith("--:-- ETA"));
}
