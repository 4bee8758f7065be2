#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actuator/state/observed.h"
#include "actuator/state/state.h"
#include "core/config/config.h"

namespace drf::actuator {

/// What GET /api/v1/status shows: read from the State (what the journal
/// says) and the Observed (what the reconcile thread last saw), nothing
/// else.
struct StatusInput {
  const Config& config;
  const State& state;
  const Observed& observed;
  bool dry_run = false;
  TimePoint now;
};

/// What --dry-run says of a switch it found in progress and does not
/// finish ("switch ID from A to B (DNS step, then hosts)"). Pure.
std::string WouldFinish(const SwitchAction& action);

/// GET /api/v1/status (SPEC.md §6). Pure.
std::string StatusJson(const StatusInput& in);

/// GET /api/v1/events: {"events":[lines...],"unreadable_lines":N}. Each of
/// `lines` must be a journal line (a JSON object). Pure.
std::string EventsJson(const std::vector<std::string>& lines,
                       std::uint64_t unreadable_lines);

/// The 202 answer to an operator's switch:
/// {"action": id, "to": site, "status": "started"}. Pure.
std::string SwitchStartedJson(const std::string& id, const std::string& to);

/// {"error": message} (the operator API's refusals). Pure.
std::string ErrorJson(std::string_view message);

}  // namespace drf::actuator
