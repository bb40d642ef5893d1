// -L's and -W's specs as ssh reads them: an optional bind address, IPv6 addresses in brackets,
// and a clear error for what is not a forward.

#include <catch2/catch.hpp>

#include "coder/forward.hpp"

using namespace cr;

TEST_CASE("forward specs: ssh's forms are read, and what is not one is refused with why", "[forward]") {
  auto plain = coder::parse_local_forward("8080:localhost:80");
  REQUIRE(plain);
  CHECK(plain->bind_address.empty());
  CHECK(plain->bind_port == 8080);
  CHECK(plain->host == "localhost");
  CHECK(plain->port == 80);

  auto bound = coder::parse_local_forward("[::1]:0:[fe80::1]:22");
  REQUIRE(bound);
  CHECK(bound->bind_address == "::1");
  CHECK(bound->bind_port == 0);
  CHECK(bound->host == "fe80::1");
  CHECK(bound->port == 22);

  auto everywhere = coder::parse_local_forward(":8080:h:80");
  REQUIRE(everywhere);
  CHECK(everywhere->bind_address == "*");

  auto target = coder::parse_host_port("db.internal:5432");
  REQUIRE(target);
  CHECK(target->host == "db.internal");
  CHECK(target->port == 5432);

  for (const char* bad :
       {"8080:host", "8080:host:0", "x:host:80", "70000:host:80", "8080::80", "[::1:80:h:1", "a:b:c:d:e"}) {
    INFO(bad);
    const auto refused = coder::parse_local_forward(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
    REQUIRE(refused.error().find_evidence("forward"));
    CHECK(refused.error().find_evidence("forward")->text == bad);
  }
  CHECK_FALSE(coder::parse_host_port("host"));
  CHECK_FALSE(coder::parse_host_port(":22"));
  CHECK_FALSE(coder::parse_host_port("host:"));
}
