#pragma once

#include <string_view>

namespace drf {

/// Why a value cannot be written as one inert assignment line of the
/// application's .env file (`actuator.activate.env`, checked at config load
/// and again before any write).
enum class EnvValueProblem {
  kNone,
  /// A newline, carriage return or NUL byte: any of them would let a value
  /// add lines of its own to the file.
  kMultiLine,
  /// Both a ' and a `: no quoting keeps such a value literal for phpdotenv
  /// and a shell alike (ssh::QuoteEnvValue).
  kBothQuotes,
};

/// The first problem of `value`, kNone when it may be written. Pure.
EnvValueProblem CheckEnvValue(std::string_view value);

/// How the config reports it: "must be a single line", "must not hold both
/// ' and `"; "" for kNone.
std::string_view EnvValueProblemText(EnvValueProblem problem);

}  // namespace drf
