#include "runtime/deadline.hpp"

namespace cr::runtime {

std::string describe_budget(Clock::duration budget) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(budget).count();
  if (ms % 1000 == 0) return fmt::format("{} s", ms / 1000);
  if (ms >= 1000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{} ms", ms);
}

}  // namespace cr::runtime
