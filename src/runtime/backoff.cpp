#include "runtime/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace cr::runtime {

BackoffSchedule BackoffSchedule::exponential(Millis initial, double factor, Millis cap, Millis max_total_wait) {
  BackoffSchedule s;
  s.table = {initial};
  s.growth = factor;
  s.cap = cap;
  s.max_total_wait = max_total_wait;
  return s;
}

Millis BackoffSchedule::nominal_delay(std::size_t failures) const {
  const std::size_t index = std::max<std::size_t>(failures, 1) - 1;
  double ms = 0;
  if (table.empty()) {
    ms = static_cast<double>(cap.count());
  } else if (index < table.size()) {
    ms = static_cast<double>(table[index].count());
  } else {
    const double past_table = static_cast<double>(index - table.size() + 1);
    ms = static_cast<double>(table.back().count()) * std::pow(growth, past_table);
  }
  return Millis(static_cast<Millis::rep>(std::min(ms, static_cast<double>(cap.count()))));
}

Millis BackoffSchedule::jittered_delay(std::size_t failures, std::mt19937_64& random) const {
  const double nominal = static_cast<double>(nominal_delay(failures).count());
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0 + jitter);
  return Millis(static_cast<Millis::rep>(std::llround(nominal * factor(random))));
}

}  // namespace cr::runtime
