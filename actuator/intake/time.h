#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace drf::actuator {

/// The wall-clock instant used throughout the actuator's intake and policy.
/// `TimePoint{}` means "no time" (Alertmanager's "0001-01-01T00:00:00Z", an
/// alert without an end).
using TimePoint = std::chrono::system_clock::time_point;

/// Parses an RFC 3339 timestamp as Alertmanager (Go's RFC3339Nano) writes
/// it: "2024-05-01T12:00:03.123456789Z" or "...+02:00". The fraction (1 to 9
/// digits) is optional; 'T'/'t' and 'Z'/'z' are both accepted. Go's zero time
/// "0001-01-01T00:00:00Z" (with any all-zero fraction) reads as TimePoint{}.
/// Other dates must have a year in [1970, 2261] (what a nanosecond
/// system_clock holds). Returns nullopt for anything else, including
/// impossible dates (Feb 30), leap seconds (":60") and trailing text.
/// Pure; never throws.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

/// Formats `t` in UTC as RFC3339Nano does: the fraction with trailing zeros
/// trimmed, "Z" for the zone ("2024-05-01T12:00:03.5Z"). TimePoint{} formats
/// as "0001-01-01T00:00:00Z", so ParseRfc3339(FormatRfc3339(t)) == t for
/// every t ParseRfc3339 can produce. Pure; never throws.
std::string FormatRfc3339(TimePoint t);

}  // namespace drf::actuator
