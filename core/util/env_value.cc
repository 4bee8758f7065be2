#include "core/util/env_value.h"

namespace drf {

EnvValueProblem CheckEnvValue(std::string_view value) {
  if (value.find_first_of(std::string_view("\n\r\0", 3)) !=
      std::string_view::npos) {
    return EnvValueProblem::kMultiLine;
  }
  if (value.find('\'') != std::string_view::npos &&
      value.find('`') != std::string_view::npos) {
    return EnvValueProblem::kBothQuotes;
  }
  return EnvValueProblem::kNone;
}

std::string_view EnvValueProblemText(EnvValueProblem problem) {
  switch (problem) {
    case EnvValueProblem::kNone:
      return "";
    case EnvValueProblem::kMultiLine:
      return "must be a single line";
    case EnvValueProblem::kBothQuotes:
      return "must not hold both ' and `";
  }
  return "";
}

}  // namespace drf
