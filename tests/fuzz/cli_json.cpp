// The Coder CLI's JSON output as this library reads it: `coder list --output json` (a workspace's
// build status, transition and agents) and `coder version --output json`, and the version mismatch warning on stderr;
// with notices before the document, documents that are not JSON, and fields of the wrong type or missing.

#include "coder/versions.hpp"
#include "coder/workspace.hpp"

using namespace cr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& workspace : {coder::WorkspaceRef{"", "dev"}, coder::WorkspaceRef{"alice", "dev"}}) {
    auto found = coder::find_workspace(text, workspace);
    if (found && *found) (void)(*found)->summary();
  }
  (void)coder::parse_version_output(text);
  (void)coder::parse_version(text);
  // The same bytes as the stderr of a command that talked to the server: the mismatch warning.
  const coder::Version client{2, 31, 6, "v2.31.6"};
  (void)coder::judge_versions(client, text, coder::MismatchPolicy::warn);
  return 0;
}
