// RFC 4251 section 5 encodings, including the examples the RFC gives for mpint.

#include <catch2/catch.hpp>

#include "ssh/wire.hpp"
#include "support/kat.hpp"

using namespace cr;
using ssh::Reader;
using ssh::Writer;

using test::from_hex;

TEST_CASE("mpint encodes as RFC 4251 section 5 shows", "[wire]") {
  const std::vector<std::pair<std::string, std::string>> examples{
      {"", "00000000"},
      {"09a378f9b2e332a7", "0000000809a378f9b2e332a7"},
      {"80", "000000020080"},
      {"000080", "000000020080"},  // leading zeros of the magnitude are dropped
  };
  for (const auto& [magnitude, encoded] : examples) {
    Writer w;
    w.mpint(from_hex(magnitude));
    CHECK(w.bytes() == from_hex(encoded));
  }
}

TEST_CASE("a message written is read back field by field", "[wire]") {
  Writer w;
  w.byte(20);
  w.boolean(true);
  w.uint32(0xdeadbeef);
  w.uint64(0x0102030405060708ULL);
  w.string("ssh-userauth");
  w.name_list({"curve25519-sha256", "ext-info-c"});
  w.name_list({});
  w.mpint(from_hex("ff01"));
  const auto bytes = w.take();
  Reader r(bytes, "test message");
  CHECK(r.byte() == 20);
  CHECK(r.boolean());
  CHECK(r.uint32() == 0xdeadbeef);
  CHECK(r.uint64() == 0x0102030405060708ULL);
  CHECK(r.text() == "ssh-userauth");
  CHECK(r.name_list() == std::vector<std::string>{"curve25519-sha256", "ext-info-c"});
  CHECK(r.name_list().empty());
  const auto magnitude = r.mpint();
  CHECK(std::vector<std::uint8_t>(magnitude.begin(), magnitude.end()) == from_hex("ff01"));
  CHECK(r.finish(true));
}

TEST_CASE("truncation, negative mpints, empty names and trailing bytes are errors with the offset", "[wire]") {
  SECTION("a string longer than the message") {
    const auto bytes = from_hex("0000ffff4142");
    Reader r(bytes, "KEXINIT");
    CHECK(r.string().empty());
    CHECK(r.uint32() == 0);  // reads after the first error return empty values
    auto done = r.finish();
    REQUIRE_FALSE(done);
    CHECK(done.error().code == runtime::Errc::protocol_error);
    CHECK(done.error().message == "malformed KEXINIT: a string of 65535 bytes at offset 4 runs past the end (6 bytes)");
  }
  SECTION("a negative mpint") {
    const auto bytes = from_hex("0000000180");
    Reader r(bytes);
    r.mpint();
    CHECK_THAT(r.finish().error().message, Catch::Contains("negative mpint"));
  }
  SECTION("an empty name in a name-list") {
    const auto bytes = from_hex("00000004612c2c62");  // "a,,b"
    Reader r(bytes);
    r.name_list();
    CHECK_FALSE(r.finish());
  }
  SECTION("bytes left over") {
    const auto bytes = from_hex("0000000100");
    Reader r(bytes);
    r.byte();
    CHECK(r.finish());
    CHECK_FALSE(r.finish(true));
  }
}
