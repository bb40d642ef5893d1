// Identity files: the passphrase is asked for only when the key is encrypted, asked again after a
// wrong one, and every error names the path (missing, unreadable, too open, wrong passphrase).

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "ssh/identity.hpp"
#include "support/files.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

struct KeyDirectory {
  test::TemporaryDirectory directory{"identity_test"};

  fs::path make(const std::string& name, const std::string& passphrase = "") const {
    const auto path = directory.path() / name;
    REQUIRE(test::run_command(fmt::format("ssh-keygen -q -t ed25519 -N '{}' -f {}", passphrase, path.string())) == 0);
    return path;
  }
};

// Answers with the given passphrases in turn, counting the questions.
struct Passphrases {
  std::vector<std::string> answers;
  int asked = 0;

  ssh::IdentityFileOptions options() {
    ssh::IdentityFileOptions options;
    options.passphrase = [this](const std::string&, int attempt) -> std::optional<std::string> {
      ++asked;
      CHECK(attempt == asked);
      if (static_cast<std::size_t>(attempt) > answers.size()) return std::nullopt;
      return answers[static_cast<std::size_t>(attempt - 1)];
    };
    return options;
  }
};

}  // namespace

TEST_CASE("identity files: an unencrypted key never asks for a passphrase", "[identity]") {
  KeyDirectory keys;
  const auto path = keys.make("id_ed25519");
  Passphrases passphrases;
  auto identity = ssh::load_identity_file(path, passphrases.options());
  INFO((identity ? "" : identity.error().summary()));
  REQUIRE(identity);
  CHECK(passphrases.asked == 0);
  CHECK(identity->source == path.string());
  CHECK(ssh::key_type(*identity->signer) == "ssh-ed25519");
}

TEST_CASE("identity files: an encrypted key asks, and asks again after a wrong passphrase", "[identity]") {
  KeyDirectory keys;
  const auto path = keys.make("id_encrypted", "right passphrase");
  Passphrases second_time{{"wrong", "right passphrase"}};
  auto identity = ssh::load_identity_file(path, second_time.options());
  REQUIRE(identity);
  CHECK(second_time.asked == 2);

  Passphrases never_right{{"wrong", "wrong again", "still wrong", "never asked"}};
  auto refused = ssh::load_identity_file(path, never_right.options());
  REQUIRE_FALSE(refused);
  CHECK(never_right.asked == 3);
  CHECK(refused.error().message == path.string() + ": wrong passphrase");

  Passphrases gives_up;
  auto abandoned = ssh::load_identity_file(path, gives_up.options());
  REQUIRE_FALSE(abandoned);
  CHECK(abandoned.error().message == path.string() + ": the key is encrypted and no passphrase was given");
}

TEST_CASE("identity files: missing, unreadable and too-open files are named with the reason", "[identity]") {
  KeyDirectory keys;
  const auto missing = keys.directory.path() / "id_missing";
  auto error = ssh::load_identity_file(missing);
  REQUIRE_FALSE(error);
  CHECK(error.error().layer == runtime::Layer::auth);
  CHECK(error.error().message ==
        fmt::format("cannot read identity file {}: No such file or directory", missing.string()));

  // A folder, or a FIFO that would block the open forever, is not read at all.
  const auto fifo = keys.directory.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const auto& path : {keys.directory.path(), fifo}) {
    auto refused = ssh::load_identity_file(path);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message == fmt::format("cannot read identity file {}: not a regular file", path.string()));
  }

  const auto open = keys.make("id_open");
  fs::permissions(open,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  auto too_open = ssh::load_identity_file(open);
  REQUIRE_FALSE(too_open);
  CHECK(too_open.error().message.starts_with(
      fmt::format("permissions 0644 for identity file {} are too open", open.string())));
  ssh::IdentityFileOptions unchecked;
  unchecked.check_permissions = false;
  CHECK(ssh::load_identity_file(open, unchecked));

  const auto not_a_key = keys.directory.path() / "notes.txt";
  test::write_text(not_a_key, "hello\n");
  fs::permissions(not_a_key, fs::perms::owner_read | fs::perms::owner_write);
  auto garbage = ssh::load_identity_file(not_a_key);
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().message.starts_with(not_a_key.string() + ": not a private key file"));
}
