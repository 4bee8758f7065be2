#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actuator/intake/time.h"
#include "actuator/policy/alert_set.h"
#include "actuator/policy/decision.h"
#include "actuator/state/events.h"

namespace drf::actuator {

/// A switch the actuator began and whose DNS step is not done yet.
struct SwitchAction {
  std::string id;
  std::string from;
  std::string to;
  Trigger trigger = Trigger::kAlert;
  std::string reason;
  bool force = false;
  TimePoint started;
  std::optional<double> rpo_estimate_seconds;
  std::optional<std::vector<std::string>> hosts;  // nullopt: every host
  /// The last dns_failed of this switch ("" if none), for the status.
  std::string last_error;

  bool operator==(const SwitchAction&) const = default;
};

/// The hosts of the site a switch moved to, from its DNS step until every
/// one is reconfigured (switch_completed).
struct HostWork {
  std::string id;
  std::string site;
  TimePoint started;  // the switch's
  /// When the last step was done: the DNS step, then each host.
  TimePoint done_at;
  std::optional<std::vector<std::string>> hosts;  // nullopt: every host
  std::set<std::string> done;
  /// Per host still pending, its last failure ("kind: message").
  std::map<std::string, std::string> errors;

  bool operator==(const HostWork&) const = default;
};

/// The last switch whose DNS step was done.
struct LastSwitch {
  std::string id;
  std::string from;
  std::string to;
  Trigger trigger = Trigger::kAlert;
  std::string reason;
  TimePoint started;
  TimePoint dns_at;
  std::optional<double> rpo_estimate_seconds;
  std::optional<double> seconds;  // set by switch_completed

  bool operator==(const LastSwitch&) const = default;
};

/// The last decision that differed from the one before it.
struct LastDecision {
  std::string decision;
  std::string serving;
  std::string target;
  std::string why;
  TimePoint at;

  bool operator==(const LastDecision&) const = default;
};

/// Everything the actuator remembers: exactly the fold of its journal
/// (Apply over every event, in seq order), and what its snapshot holds.
/// What SPEC.md §11 shares between replicas is the `shared` part: one
/// value, with the reducer as its one writer. A plain value.
struct State {
  /// The part replicas will share (SPEC.md §11).
  struct Shared {
    std::optional<SwitchAction> action;  // a switch before its DNS step
    std::optional<HostWork> hosts;       // its hosts, after it
    std::optional<TimePoint> last_auto_switch;
    std::optional<TimePoint> last_manual_switch;
    bool paused = false;
    std::string pause_reason;
    std::optional<TimePoint> paused_at;

    bool operator==(const Shared&) const = default;
  } shared;
  AlertSet alerts;
  std::optional<LastSwitch> last_switch;
  std::optional<LastDecision> last_decision;
  std::uint64_t seq = 0;             // of the last event applied
  std::optional<TimePoint> expired;  // when the alert set was last expired
};

/// The hosts of `work` still to do: its hosts (or, when nullopt, `all`,
/// the site's hosts from the config) minus the done ones. Pure.
std::vector<std::string> PendingHosts(const HostWork& work,
                                      const std::vector<std::string>& all);

/// THE reducer: the state after `entry`. Pure: no I/O, no clock (times come
/// from the entries), no locks. Events that do not fit the state (a
/// dns_updated for a switch that is not in progress, a host result for
/// other work) change nothing. `*news`, when given, is set to whether the
/// event changed anything an operator must keep in the audit trail: false
/// only for a webhook or alerts_pulled that changed no alert.
State Apply(State state, const Entry& entry, bool* news = nullptr);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// A switch as a JSON object: the form of the snapshot and of the status
/// (`action_in_progress`, `last_switch`), with `dns_done`.
void WriteJson(JsonWriter& w, const SwitchAction& action);
void WriteJson(JsonWriter& w, const LastSwitch& last);
/// The last decision as a JSON object (snapshot and status alike).
void WriteJson(JsonWriter& w, const LastDecision& decision);

/// The state as a JSON object (the snapshot), and back. DecodeState also
/// reads the snapshots of 0.1.0. On error returns false, *error naming the
/// field, and leaves *out unchanged.
std::string EncodeState(const State& state);
bool DecodeState(std::string_view json, State* out, std::string* error);

}  // namespace drf::actuator
