#include <catch2/catch.hpp>

#include "runtime/error.hpp"

using namespace cr::runtime;

TEST_CASE("an error's summary names the layer, cause and evidence on one line", "[error]") {
  auto error = Error(Errc::end_of_stream, Layer::proxy, "ProxyCommand `coder ssh --stdio ws` exited with status 1")
                   .with("stderr", "error: workspace \"ws\" not found\n");
  CHECK(
      error.summary() ==
      "proxy: ProxyCommand `coder ssh --stdio ws` exited with status 1; stderr: error: workspace \"ws\" not found\\n");
  error.context.push_back("connecting to ws.coder");
  CHECK_THAT(error.detailed(), Catch::Contains("while:   connecting to ws.coder"));
  CHECK_THAT(error.detailed(), Catch::Contains("layer:   proxy"));
}

TEST_CASE("peer bytes are made printable and cut", "[error]") {
  CHECK(printable(std::string("SSH-2.0-x\r\n\x01\xff", 13)) == "SSH-2.0-x\\r\\n\\x01\\xff");
  CHECK(printable(std::string(600, 'a'), 512) == std::string(512, 'a') + "... (88 more bytes)");
}
