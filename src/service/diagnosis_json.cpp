#include "service/diagnosis_json.hpp"

namespace cr::service {

nlohmann::json step_json(const coder::DiagnosisStep& step) {
  nlohmann::json evidence = nlohmann::json::object();
  for (const auto& e : step.evidence) evidence[e.label] = e.text;
  return {{"step", step.name},      {"passed", step.passed},
          {"detail", step.detail},  {"class", coder::to_string(step.fault)},
          {"remedy", step.remedy},  {"evidence", std::move(evidence)},
          {"ms", step.took.count()}};
}

nlohmann::json diagnosis_json(const coder::Diagnosis& diagnosis) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : diagnosis.steps()) steps.push_back(step_json(step));
  return {{"passed", diagnosis.passed()}, {"steps", std::move(steps)}};
}

}  // namespace cr::service
