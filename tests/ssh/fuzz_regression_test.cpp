// Inputs the fuzz targets found problems with (tests/data/fuzz/<target>/), replayed the way the
// target feeds them, as ordinary tests: each must come to an end, with an error, not a hang.

#include <filesystem>
#include <fstream>
#include <iterator>

#include <catch2/catch.hpp>

#include "fuzz/session_client.hpp"

using namespace cr;

namespace {

std::vector<std::filesystem::path> inputs(const std::string& target) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(CODER_RUNTIME_TEST_DATA) / "fuzz" / target)) {
    found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// A CHANNEL_OPEN_FAILURE cut short refused the channel and forgot it before its parsing failed,
// so the connection's failure never reached the open, which waited for good.
TEST_CASE("the session client comes to an end on each input the transport_messages fuzz target found", "[fuzz]") {
  const auto files = inputs("transport_messages");
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    INFO(file.filename().string());
    const auto bytes = read_bytes(file);
    REQUIRE_FALSE(bytes.empty());
    CHECK(fuzz::run_against_server_bytes(bytes, fuzz::authenticate_and_exec, fuzz::Pacing::packet_by_packet));
  }
}
