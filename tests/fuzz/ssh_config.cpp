// ssh_config files as ssh reads them (keywords, '=' or blanks, quoting, Host and Match blocks,
// %-tokens, Include), then turned into a client's plan for a destination: every option's value
// parsed (numbers, flags, algorithm lists, StrictHostKeyChecking, durations). read_config reads
// files: the input is written to an in-memory file (a file on disk, rewritten each run, would be
// flushed to the disk at every close). Home is a scratch folder, so "~/" and relative Include
// paths stay in it. Match exec is refused here (the ssh layer runs no commands).

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "ssh/client_config.hpp"
#include "ssh/config.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

const fs::path& scratch_home() {
  static const fs::path home = [] {
    std::string templ = (fs::temp_directory_path() / "coder-runtime-fuzz-config-XXXXXX").string();
    if (!::mkdtemp(templ.data())) std::abort();
    fs::create_directories(fs::path(templ) / ".ssh");
    std::atexit([] { fs::remove_all(scratch_home()); });
    return fs::path(templ);
  }();
  return home;
}

// The input as a file read_config can open by name.
fs::path input_file(const std::uint8_t* data, std::size_t size) {
  static const int fd = ::memfd_create("fuzz_ssh_config", 0);
  if (fd < 0 || ::ftruncate(fd, 0) != 0) std::abort();
  for (std::size_t written = 0; written < size;) {
    const auto n = ::pwrite(fd, data + written, size - written, static_cast<off_t>(written));
    if (n <= 0) std::abort();
    written += static_cast<std::size_t>(n);
  }
  return fs::path("/proc/self/fd") / std::to_string(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = input_file(data, size);
  ssh::ConfigContext context{"fuzz.example", "fuzz", scratch_home(), {}};
  ssh::ConfigInput input{{"User=fuzz-user"}, {file}};
  auto config = ssh::read_config(input, std::move(context));
  if (!config) return 0;
  for (const auto* destination : {"fuzz.example", "ssh://other@fuzz.example:2222"}) {
    auto parsed = ssh::parse_destination(destination);
    if (parsed) (void)ssh::plan_connection(*config, *parsed);
  }
  return 0;
}
