#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "actuator/intake/alertmanager.h"
#include "actuator/intake/time.h"
#include "core/config/duration.h"

namespace drf::actuator {

/// Tuning of an AlertSet. The defaults suit Alertmanager's defaults
/// (group_interval 5m, repeat_interval 4h, resolve_timeout 5m).
struct AlertSetOptions {
  /// A resolved alert is kept this long after its resolution was recorded,
  /// to recognise late, out-of-order notifications about it.
  Duration resolved_retention = std::chrono::hours(1);
  /// A firing notification whose startsAt is not after the recorded
  /// resolution of the same alert is stale (an Alertmanager HA peer, a
  /// retry) and ignored -- for this long after the resolution was recorded.
  /// Past it, the same startsAt is taken as the alert firing again: that is
  /// what Alertmanager sends when it resolved an alert by resolve_timeout
  /// (Prometheus restarted or unreachable) and Prometheus later sends it again
  /// with its original startsAt.
  Duration reorder_window = std::chrono::minutes(10);
  /// A firing alert without an end that no notification repeated for this
  /// long stops counting (a lost "resolved" must not pin a site down
  /// forever). 0 disables it. When enabled, set it well above Alertmanager's
  /// repeat_interval for the DR route (e.g. 3x), since Alertmanager repeats a
  /// firing group only that often.
  Duration stale_after = Duration::zero();
  /// At most this many entries; beyond it, the oldest resolved entry (else
  /// the oldest firing one) is dropped.
  std::size_t max_entries = 10000;
};

/// What the set knows about one DR alert (one fingerprint).
struct AlertEntry {
  std::string key;  // the fingerprint, or "labels:<hash>" without one
  std::string site;
  std::map<std::string, std::string> labels;
  std::string summary;
  bool firing = false;
  TimePoint starts_at;
  TimePoint ends_at;    // TimePoint{}: no end
  TimePoint last_seen;  // `now` of the last Apply that changed or repeated it
  /// The end time of the last resolution of this alert, and when the set
  /// recorded it (the reorder window runs from there).
  std::optional<TimePoint> resolved_at;
  std::optional<TimePoint> resolution_recorded;
};

/// What Apply did with an alert (for the journal and the debug log).
enum class ApplyResult {
  kNotDr,         // not a DR alert: not stored
  kFiring,        // new, or firing again after a resolution
  kRepeated,      // already known in this state (duplicate, repeat)
  kResolved,      // now resolved
  kIgnoredStale,  // out of order: older than what the set already knows
};

std::string_view ApplyResultName(ApplyResult result);

/// Where an alert given to AlertSet::Apply comes from.
enum class AlertSource {
  /// A webhook notification (or its journal record): may be late, repeated
  /// or out of order, so the staleness rules apply.
  kWebhook,
  /// A change computed by PullChanges (actuator/intake/alertmanager_pull.h)
  /// from a successful pull: Alertmanager's word on what is active at the
  /// time of the request, so it counts at once, reorder window or not.
  kPull,
};

/// The set of DR alerts (SPEC.md §6), keyed by Alertmanager fingerprint: the
/// level the actuator converges on. Duplicates and repeats change nothing
/// but last_seen; a notification older than what the set already knows
/// about an alert is ignored; a re-fire after a resolution (a later
/// startsAt) fires again. The decision reads only FiringSites, a level, so
/// none of these can cause a second switch.
///
/// Pure state: no I/O, no clock (every call takes `now`). Not thread-safe:
/// the owner (the actuator's state) locks around it. Copyable.
class AlertSet {
 public:
  explicit AlertSet(AlertSetOptions options = {});

  /// Records one alert of a notification received at `now`. Non-DR alerts
  /// (IsDrAlert false) are not stored (kNotDr).
  /// - firing: stored as firing with its startsAt/endsAt, unless its startsAt
  ///   is not after the recorded resolution of the same alert and that
  ///   resolution was recorded less than reorder_window ago, or it is older
  ///   than the firing already stored (both kIgnoredStale).
  /// - resolved: marked resolved at its endsAt (at `now` if it has none),
  ///   unless the alert fires again with a startsAt after that end
  ///   (kIgnoredStale: a late resolution of an earlier firing).
  ApplyResult Apply(const Alert& alert, TimePoint now);

  /// Apply(alert, now) for kWebhook. For kPull, `now` is the time of the
  /// pull's request (when the caller copied the set PullChanges compared
  /// with), and:
  /// - an entry that an Apply at a later time than `now` touched (a webhook
  ///   that arrived while the request was under way) is left alone
  ///   (kIgnoredStale): the pull could not have seen it;
  /// - firing: stored as firing whatever the reorder window and the startsAt
  ///   of a stored firing say (a silence that expired lists the alert again
  ///   with its original startsAt: it fires at once); the earlier resolution
  ///   is forgotten, so that the notifications Alertmanager then repeats are
  ///   not taken as stale;
  /// - resolved: as for a webhook (PullChanges sets its end to `now`).
  ApplyResult Apply(const Alert& alert, TimePoint now, AlertSource source);

  /// Sites with at least one firing DR alert that has not expired at `now`:
  /// its end is TimePoint{} or strictly after `now` (an alert whose endsAt
  /// equals `now` has ended), and, with stale_after set, it was last seen
  /// less than stale_after ago.
  std::set<std::string> FiringSites(TimePoint now) const;

  /// The entries that count as firing at `now` (as FiringSites), sorted by
  /// site then key; for the status API.
  std::vector<AlertEntry> Firing(TimePoint now) const;

  /// Since when `site` has had no firing DR alert: nullopt while it has one;
  /// else the latest end of its known alerts (resolution, endsAt, or
  /// staleness), or TimePoint{} if it never had one as far as the set
  /// knows. An actuator that does not probe (confirm.probes 0) can feed
  /// this to the decision as the site's healthy_since.
  std::optional<TimePoint> QuietSince(std::string_view site,
                                      TimePoint now) const;

  /// Drops firing entries that ended (endsAt passed, or stale) and resolved
  /// entries recorded resolved_retention ago or more. Returns how many were
  /// dropped. FiringSites does not depend on it having been called.
  std::size_t Expire(TimePoint now);

  std::size_t size() const { return entries_.size(); }
  const AlertSetOptions& options() const { return options_; }

  /// The whole set as a JSON object (for the actuator's snapshot):
  /// {"version":1,"alerts":[...],"quiet_since":{"site":"RFC 3339",...}}.
  void ToJson(rapidjson::Value* out,
              rapidjson::Document::AllocatorType& allocator) const;
  std::string ToJsonString() const;

  /// Replaces the content with a ToJson object. On error returns false, sets
  /// *error (naming the field) and leaves the set unchanged. Options are not
  /// part of the JSON: they stay as constructed.
  bool FromJson(const rapidjson::Value& in, std::string* error);
  bool FromJsonString(std::string_view json, std::string* error);

  /// The key of an alert: its fingerprint, or "labels:" + a stable 64-bit
  /// FNV-1a hash of its sorted labels when it has none.
  static std::string KeyOf(const Alert& alert);

 private:
  // When a firing entry stops counting, if it ever does: the earlier of its
  // endsAt and last_seen + stale_after.
  std::optional<TimePoint> FiringEnd(const AlertEntry& e) const;
  bool CountsAsFiring(const AlertEntry& e, TimePoint now) const;
  void NoteQuiet(const std::string& site, TimePoint t);
  void MakeRoom();

  AlertSetOptions options_;
  std::map<std::string, AlertEntry> entries_;
  // Per site, the latest time an alert of it ended, kept past the entries'
  // expiry so that QuietSince survives Expire.
  std::map<std::string, TimePoint> quiet_since_;
};

}  // namespace drf::actuator
