#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "actuator/intake/alertmanager.h"
#include "actuator/intake/time.h"
#include "actuator/policy/alert_set.h"
#include "core/config/config.h"
#include "core/http/client.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// The largest alert list read from Alertmanager. A listed alert carries
/// more than a webhook's (receivers, status, updatedAt), so this is four
/// times kMaxNotificationBytes; the count is bounded by kMaxAlerts as for a
/// notification, and the other limits of alertmanager.h apply per alert.
inline constexpr std::size_t kMaxAlertListBytes = 4 * kMaxNotificationBytes;

/// The query the puller sends (SPEC.md §10): active DR alerts that are
/// neither silenced nor inhibited.
inline constexpr std::string_view kAlertsQuery =
    "/api/v2/alerts?active=true&silenced=false&inhibited=false"
    "&filter=dr_action%3D%22traffic_failover%22";

/// Parses the body of Alertmanager's API v2 `GET /api/v2/alerts`: a JSON
/// array of gettableAlert objects
/// (https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml).
///
/// As strict as ParseNotification (size kMaxAlertListBytes, depth, UTF-8, no
/// NUL, no duplicate key, field limits): each alert needs `labels` (an
/// object of strings), `startsAt`, `endsAt` (RFC 3339) and `status` (an
/// object whose `state` is "active", "suppressed" or "unprocessed";
/// `silencedBy` and `inhibitedBy`, when present, arrays of strings);
/// `annotations`, `fingerprint`, `updatedAt`, `generatorURL` and `receivers`
/// (an array of objects with a string `name`) are optional but type-checked.
/// Unknown fields are ignored.
///
/// Every alert kept has status kFiring, its summary from the "summary"
/// annotation. Alerts whose state is not "active", or that a silence or an
/// inhibition names, are dropped (defence in depth: the query asks for none
/// of them).
///
/// On success fills *out (replacing its content) and returns true. On failure
/// returns false, clears *out and sets *error to one line naming the field
/// ("[2].status.state: must be ..."), safe to log. Pure; never throws;
/// thread-safe.
bool ParseAlertList(std::string_view body, std::vector<Alert>* out,
                    std::string* error);

/// The outcome of one Pull. A plain value.
struct PullResult {
  /// True when one URL answered 200 with a valid list.
  bool ok = false;
  /// The URL (as configured) that answered; "" when none did.
  std::string source;
  /// The active DR alerts it listed (ParseAlertList), in its order.
  std::vector<Alert> alerts;
  /// Why each URL tried before the answer failed, "URL: why" joined by "; "
  /// (so with ok true it names the members skipped). Holds no token.
  std::string error;
};

/// Pulls the active DR alerts from an Alertmanager cluster (SPEC.md §10):
/// `GET {url}/api/v2/alerts?...` on each configured URL in order, each with
/// the configured timeout; the first to answer 200 with a valid body wins.
/// A non-200 status, a transport failure (timeout, refused, ...) or a body
/// ParseAlertList refuses moves on to the next URL.
///
/// Owns one blocking HTTP client (connections are kept alive between pulls).
/// Not thread-safe: one thread calls Pull (the actuator's pull loop).
class AlertmanagerPuller {
 public:
  /// Reads the bearer token from config.bearer_token_file when it is set
  /// (LoadSecret; throws std::runtime_error naming
  /// actuator.alertmanager.bearer_token_file when unreadable): call at start
  /// and reload, never on the pull path.
  explicit AlertmanagerPuller(const AlertmanagerPullConfig& config);
  /// With the token given ("" for none); for tests and callers that loaded
  /// it already.
  AlertmanagerPuller(const AlertmanagerPullConfig& config,
                     std::string bearer_token);

  AlertmanagerPuller(const AlertmanagerPuller&) = delete;
  AlertmanagerPuller& operator=(const AlertmanagerPuller&) = delete;

  /// Tries the URLs in order until one answers. Returns early, ok false,
  /// when `stop` is stopped before a URL is tried. Blocks at most about
  /// urls.size() x timeout. Never throws.
  PullResult Pull(const Stopper& stop);

  const AlertmanagerPullConfig& config() const { return config_; }

  /// The request URL for the Alertmanager at `base` (no trailing slash).
  static std::string AlertsUrl(std::string_view base);

 private:
  AlertmanagerPullConfig config_;
  std::string token_;
  http::Client client_;
};

/// What a successful pull changes in the alert set, as Alerts to
/// AlertSet::Apply with AlertSource::kPull (and to journal as the
/// `alerts_pulled` event's changes[]).
///
/// `before` is the set as it was just before the request was sent, and
/// `now` the time of that copy (pass the same `now` to Apply): what a
/// webhook added or changed after the request is then never undone by this
/// pull, since the pull could not have seen it.
///
/// - firing: each DR alert of `pulled` (IsDrAlert) whose site is in `sites`
///   and that is not firing in `before` at `now` (AlertSet::Firing), or whose
///   endsAt is later than the stored one (an end of TimePoint{} is later than
///   any). A pulled alert that has already ended at `now` (endsAt set and not
///   after `now`: clock skew with Alertmanager) is no change, since it could
///   not count.
/// - resolved: each entry firing in `before` at `now` whose key
///   (AlertSet::KeyOf) no pulled alert has: an Alert with status kResolved,
///   ends_at `now`, and the entry's fingerprint (its key), labels, starts_at
///   and summary.
///
/// Pulled alerts that are not DR alerts, or whose site is not in `sites`,
/// are no change: they are appended to *ignored when it is not null, so the
/// caller can count or log them (they still count as listed: a firing entry
/// they match is not resolved).
///
/// Firing changes come first, in `pulled` order, then resolutions by key.
/// Pure; thread-safe.
std::vector<Alert> PullChanges(const AlertSet& before,
                               const std::vector<Alert>& pulled,
                               const std::set<std::string>& sites,
                               TimePoint now,
                               std::vector<Alert>* ignored = nullptr);

}  // namespace drf::actuator
