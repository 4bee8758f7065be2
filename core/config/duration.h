#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace drf {

using Duration = std::chrono::milliseconds;

/// Parses a Prometheus-style duration ("500ms", "5s", "1h30m", "0s").
/// Units: y, w, d, h, m, s, ms; each at most once, from largest to smallest.
/// Returns nullopt for anything else (empty, negative, fractional, overflow).
std::optional<Duration> ParseDuration(std::string_view text);

/// Formats a duration the way ParseDuration reads it ("1m30s", "500ms", "0s").
std::string FormatDuration(Duration d);

}  // namespace drf
