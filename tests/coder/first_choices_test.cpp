// Remembered server choices (coder/first_choices.hpp): across processes through the file, which is
// only a hint: what does not parse is dropped, and the file never grows past its bound.

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "coder/first_choices.hpp"
#include "runtime/async_stream.hpp"
#include "ssh/crypto/kex.hpp"
#include "support/files.hpp"

using namespace cr;

namespace {

std::string sha256_hex(const std::string& text) {
  std::string hex;
  for (const auto byte : ssh::crypto::hash("SHA-256", runtime::as_bytes(text))) hex += fmt::format("{:02x}", byte);
  return hex;
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("first choices: remembered in the file, hashed, and read back by a destination not yet seen",
          "[first-choices]") {
  test::TemporaryDirectory dir{"first_choices"};
  const auto file = dir.path() / "cache" / "server-first-choices";
  const runtime::Logger log;
  CHECK_FALSE(coder::recall_first_choice("alpha:22 proxy one", file, log));
  coder::remember_first_choice("alpha:22 proxy one", {"curve25519-sha256", "rsa-sha2-256"}, file, log);
  const auto text = test::read_text(file);
  CHECK(line_count(text) == 1);
  CHECK_THAT(text, !Catch::Contains("alpha"));
  CHECK_THAT(text, Catch::EndsWith(" curve25519-sha256 rsa-sha2-256\n"));

  coder::remember_first_choice("beta:22", {"ecdh-sha2-nistp256", ""}, file, log);
  CHECK(line_count(test::read_text(file)) == 2);
  CHECK_THAT(test::read_text(file), Catch::EndsWith(" ecdh-sha2-nistp256 -\n"));  // no host key to lead with
}

TEST_CASE("first choices: another process's line is read for a destination this one has not dialled",
          "[first-choices]") {
  test::TemporaryDirectory dir{"first_choices"};
  const auto file = dir.path() / "server-first-choices";
  const runtime::Logger log;
  const std::string destination = "epsilon:22 written by another process";
  test::write_text(file, fmt::format("{} curve25519-sha256 ssh-ed25519\n{} ecdh-sha2-nistp384 -\n",
                                     std::string(64, 'e'), sha256_hex(destination)));
  const auto recalled = coder::recall_first_choice(destination, file, log);
  REQUIRE(recalled);
  CHECK(recalled->kex == "ecdh-sha2-nistp384");
  CHECK(recalled->host_key.empty());
}

TEST_CASE("first choices: lines that do not parse are dropped, the file stays bounded", "[first-choices]") {
  test::TemporaryDirectory dir{"first_choices"};
  const auto file = dir.path() / "server-first-choices";
  const runtime::Logger log;
  test::write_text(file, std::string("garbage\n") + std::string(64, 'a') + " kex\n" + std::string(64, 'b') +
                             " bad;name rsa-sha2-256\n" + std::string(63, 'c') + " curve25519-sha256 ssh-ed25519\n" +
                             std::string(1000, '\xff') + "\n");
  CHECK_FALSE(coder::recall_first_choice("gamma:22", file, log));
  coder::remember_first_choice("gamma:22", {"curve25519-sha256", "ssh-ed25519"}, file, log);
  CHECK(line_count(test::read_text(file)) == 1);

  for (int k = 0; k < 300; ++k) {
    coder::remember_first_choice(fmt::format("host{}:22", k), {"curve25519-sha256", "ssh-ed25519"}, file, log);
  }
  CHECK(line_count(test::read_text(file)) == 256);
}

TEST_CASE("first choices: a file that cannot be written changes nothing but the file", "[first-choices]") {
  test::TemporaryDirectory dir{"first_choices"};
  test::write_text(dir.path() / "not-a-folder", "");
  const auto file = dir.path() / "not-a-folder" / "server-first-choices";
  const runtime::Logger log;
  coder::remember_first_choice("delta:22", {"curve25519-sha256", "ssh-ed25519"}, file, log);
  const auto recalled = coder::recall_first_choice("delta:22", file, log);  // from this process's memory
  REQUIRE(recalled);
  CHECK(recalled->kex == "curve25519-sha256");
}
