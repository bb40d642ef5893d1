#pragma once
// A diagnosis as JSON, the same for `coder-runtime doctor --json` and serve's `doctor` method:
// {"passed", "steps": [{"step", "passed", "detail", "class", "remedy", "evidence": {label: text}, "ms"}]},
// "class" being the fault's (coder/fault_class.hpp): "none" for a step that passed.

#include <nlohmann/json.hpp>

#include "coder/doctor.hpp"

namespace cr::service {

nlohmann::json step_json(const coder::DiagnosisStep& step);
nlohmann::json diagnosis_json(const coder::Diagnosis& diagnosis);

}  // namespace cr::service
