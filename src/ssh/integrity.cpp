#include "ssh/integrity.hpp"

namespace cr::ssh {
namespace {
constexpr const char* kIntegrity = "integrity";
}  // namespace

runtime::Error mark_altered(runtime::Error error, std::string failed_check) {
  error.with(kIntegrity, std::move(failed_check));
  return error;
}

bool data_altered(const runtime::Error& error) { return error.find_evidence(kIntegrity) != nullptr; }

}  // namespace cr::ssh
