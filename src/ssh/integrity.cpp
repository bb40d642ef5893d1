#include "ssh/integrity.hpp"

namespace cr::ssh {
namespace {
constexpr const char* kIntegrity = "integrity";
}  // namespace

runtime::Error mark_altered(runtime::Error error, std::string check) {
  error.with(kIntegrity, std::move(check));
  return error;
}

bool data_altered(const runtime::Error& error) { return error.find_evidence(kIntegrity) != nullptr; }

}  // namespace cr::ssh
