#pragma once

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "actuator/intake/time.h"
#include "core/config/config.h"

namespace drf::actuator {

/// What the actuator decided (SPEC.md §6). OutcomeName gives the value of
/// the `decision` label of dr_actuator_decisions_total.
enum class Outcome {
  kSwitch,
  kFailback,
  kHoldUnconfirmed,
  kHoldNoHealthyTarget,
  kHoldCooldown,
  kHoldManualMode,
  kHoldPaused,
  kNoop,
};

/// Every Outcome, in declaration order (to pre-create metric series).
inline constexpr std::array<Outcome, 8> kAllOutcomes = {
    Outcome::kSwitch,          Outcome::kFailback,
    Outcome::kHoldUnconfirmed, Outcome::kHoldNoHealthyTarget,
    Outcome::kHoldCooldown,    Outcome::kHoldManualMode,
    Outcome::kHoldPaused,      Outcome::kNoop};

/// "switch", "failback", "hold_unconfirmed", "hold_no_healthy_target",
/// "hold_cooldown", "hold_manual_mode", "hold_paused", "noop".
std::string_view OutcomeName(Outcome outcome);

/// True for the outcomes that move traffic (kSwitch, kFailback).
bool MovesTraffic(Outcome outcome);

/// Why a switch happens: the `trigger` label of dr_actuator_switches_total.
enum class Trigger { kAlert, kFailback, kManual, kDrill };

/// Every Trigger, in declaration order (to pre-create metric series).
inline constexpr std::array<Trigger, 4> kAllTriggers = {
    Trigger::kAlert, Trigger::kFailback, Trigger::kManual, Trigger::kDrill};

/// "alert", "failback", "manual", "drill".
std::string_view TriggerName(Trigger trigger);

/// The Trigger named `name` (TriggerName's inverse); nullopt for others.
std::optional<Trigger> ParseTrigger(std::string_view name);

/// A site's health as the actuator's own confirmation probes last saw it
/// (not the exporters'). With confirm.probes 0 only `healthy_since` is read.
struct SiteHealth {
  /// The last confirmation round passed. Meaningful only when `probed`.
  bool confirmed_healthy = false;
  /// At least one confirmation round has completed for this site.
  bool probed = false;
  /// Since when the site has been continuously healthy (nullopt: not healthy
  /// now, or unknown). Drives failback_after. A caller that does not probe
  /// at all (confirm.probes 0) can use AlertSet::QuietSince(site).
  std::optional<TimePoint> healthy_since;
};

/// Everything the decision depends on. A plain value; the caller builds it
/// under its own lock and calls Decide without holding anything.
struct DecisionInput {
  /// Sites in preference order and the actuator section. Must not be null
  /// (null decides kNoop); a missing `actuator` section reads as its
  /// defaults. Not owned: it must outlive the call.
  const Config* config = nullptr;
  TimePoint now;
  /// The site the DNS records point to, "" when unknown (records disagree,
  /// provider unreadable, or no site's address matches).
  std::string serving_site;
  /// AlertSet::FiringSites(now). Names that are not configured sites are
  /// ignored.
  std::set<std::string> firing_sites;
  /// Per site name; a site missing here counts as never probed.
  std::map<std::string, SiteHealth> health;
  bool paused = false;
  /// The last switch triggered by an alert or by failback. `cooldown` is the
  /// least time between two automatic switches, so manual switches do not
  /// set it: an operator's move never delays the escape from a failed site.
  std::optional<TimePoint> last_auto_switch;
  /// The last manual switch. Failback (only failback) also waits `cooldown`
  /// after it, so automation does not undo an operator's move at once. (To
  /// keep traffic off the preferred site for longer, pause, or use
  /// mode: manual / failback: manual.)
  std::optional<TimePoint> last_manual_switch;
};

/// The result of a decision. A plain value.
struct Decision {
  Outcome outcome = Outcome::kNoop;
  /// The site to switch to for kSwitch / kFailback; for holds, the site that
  /// would have been chosen, if any; "" otherwise.
  std::string target;
  /// The switch's trigger for kSwitch (kAlert, or kManual from
  /// DecideManual) and kFailback (kFailback). For holds: the kind of switch
  /// that was held. For kNoop: kAlert, or kFailback when the failback rule
  /// explains it; not meaningful.
  Trigger trigger = Trigger::kAlert;
  /// One line for the log and the journal; names the sites, and the time
  /// left for cooldown and failback_after.
  std::string reason;

  bool operator==(const Decision&) const = default;
};

/// THE decision (SPEC.md §6): a pure function of its input. No I/O, no
/// clock, no state; deterministic; thread-safe; never throws.
///
/// "Healthy" below: a site with no firing DR alert whose last confirmation
/// round passed (probed && confirmed_healthy); with confirm.probes 0, a site
/// with no firing DR alert. "Down": the serving site's last confirmation
/// round failed (probed && !confirmed_healthy); with confirm.probes 0, a
/// firing alert is enough. The rules, first match wins:
///
///  1. serving_site unknown or not a configured site -> kNoop: the actuator
///     never acts blind.
///  2. The serving site has a firing DR alert (trigger kAlert):
///     a. paused                                   -> kHoldPaused
///     b. mode manual                              -> kHoldManualMode
///     c. confirm.probes > 0 and the serving site is not confirmed down
///        (its probes pass, or have not run yet)   -> kHoldUnconfirmed
///     d. no other site is healthy                 -> kHoldNoHealthyTarget
///     e. now - last_auto_switch < cooldown        -> kHoldCooldown
///     f. otherwise -> kSwitch to the first healthy site in preference order
///        (which may be more preferred than the serving one).
///  3. The serving site has no firing DR alert: failback is considered when
///     failback is auto and the serving site is not the first site. Eligible
///     sites: more preferred than the serving one, healthy, and healthy
///     since at least failback_after (healthy_since <= now - failback_after).
///     With none -> kNoop, the reason saying why (e.g. "us-east healthy for
///     3m12s of 10m before failback", "failback is manual"). With one:
///     a. paused                                   -> kHoldPaused
///     b. mode manual                              -> kHoldManualMode
///     c. now - last_auto_switch < cooldown, or
///        now - last_manual_switch < cooldown      -> kHoldCooldown
///     d. otherwise -> kFailback to the most preferred eligible site.
///
/// Boundaries: a switch exactly `cooldown` after the last one is allowed; a
/// site healthy for exactly `failback_after` is eligible. A last switch in
/// the future (the wall clock went back) holds, conservatively, until `now`
/// is `cooldown` past it.
///
/// Level-triggered: after a switch the new serving site has no alert, and
/// the old one, still firing, is not eligible for failback, so repeating
/// the same input yields kNoop -- never a second switch.
Decision Decide(const DecisionInput& input);

/// A manual POST /api/v1/switch to `target` (trigger kManual). Skips mode,
/// pause and cooldown (the operator is taking the wheel). Rules:
///  - `target` not a configured site -> kHoldNoHealthyTarget with a reason
///    (the API layer should have answered 400 before calling this);
///  - `target` is the serving site -> kNoop;
///  - force -> kSwitch, the reason noting any alert or failed probe;
///  - `target` has a firing DR alert, or (confirm.probes > 0) its last
///    confirmation round did not pass or never ran -> kHoldNoHealthyTarget
///    ("eu-central failed its confirmation probes; force overrides");
///  - otherwise kSwitch.
/// An unknown serving site does not block a manual switch: converging the
/// records on one site is how an operator repairs them. Pure, like Decide.
Decision DecideManual(const DecisionInput& input, const std::string& target,
                      bool force);

}  // namespace drf::actuator
