#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actuator/intake/time.h"

namespace drf::actuator {

/// Limits of a webhook body. The HTTP layer answers 413 for a body larger
/// than kMaxNotificationBytes *before* calling ParseNotification (which
/// refuses it too, so that the parser is safe on its own); every other
/// violation is a 400.
inline constexpr std::size_t kMaxNotificationBytes = 1 << 20;
inline constexpr std::size_t kMaxAlerts = 1000;
inline constexpr std::size_t kMaxJsonDepth = 32;
/// Per labels/annotations object (alert, groupLabels, commonLabels, ...).
inline constexpr std::size_t kMaxLabelsPerSet = 128;
inline constexpr std::size_t kMaxLabelNameBytes = 256;
inline constexpr std::size_t kMaxLabelValueBytes = 4096;
inline constexpr std::size_t kMaxAnnotationValueBytes = 16384;
/// groupKey, receiver, externalURL, generatorURL, fingerprint.
inline constexpr std::size_t kMaxFieldBytes = 16384;

/// Alertmanager's status of an alert or of a whole notification.
enum class AlertStatus { kFiring, kResolved };

/// "firing" or "resolved".
std::string_view AlertStatusName(AlertStatus status);

/// One alert of a webhook notification: the fields dr-actuator uses. A
/// plain value; copy freely.
struct Alert {
  AlertStatus status = AlertStatus::kFiring;
  std::map<std::string, std::string> labels;
  TimePoint starts_at;
  /// TimePoint{} when Alertmanager sent "0001-01-01T00:00:00Z" (no end:
  /// Alertmanager hides the end of every alert that has not resolved yet).
  TimePoint ends_at;
  /// Alertmanager's hash of the labels; may be empty (old Alertmanagers).
  std::string fingerprint;
  /// The "summary" annotation, "" if none.
  std::string summary;
};

/// A parsed Alertmanager webhook notification (payload version 4). A plain
/// value; copy freely.
struct Notification {
  AlertStatus status = AlertStatus::kFiring;
  std::string group_key;
  std::string receiver;
  std::string external_url;
  /// How many alerts Alertmanager left out (webhook_config max_alerts); the
  /// actuator should warn when it is not 0, since it then sees only part of
  /// the group.
  std::int64_t truncated_alerts = 0;
  std::vector<Alert> alerts;
};

/// Parses and validates an Alertmanager webhook body (payload version 4,
/// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
///
/// Strict where it matters: the body is one JSON object and nothing after
/// it, valid UTF-8 (Alertmanager, written in Go, always sends valid UTF-8),
/// no NUL byte, no duplicate key in any object it reads; `version` is "4";
/// `groupKey`, `status`, `receiver` and `alerts` are required; each alert has
/// `status` ("firing"|"resolved"), `labels` (an object of strings),
/// `startsAt` and `endsAt` (RFC 3339); `annotations`, `generatorURL`,
/// `fingerprint`, `groupLabels`, `commonLabels`, `commonAnnotations`,
/// `externalURL` and `truncatedAlerts` (a non-negative integer) are optional
/// but type-checked when present. Unknown extra fields are ignored, since
/// Alertmanager adds fields over time. The limits above are enforced.
///
/// On success fills `*out` and returns true. On failure returns false, resets
/// `*out` to an empty Notification and sets `*error` to one line naming the
/// field
/// ("alerts[3].labels.site: must be a string"); keys quoted from the body are
/// shortened and escaped so the message is safe to log and to answer with.
/// Pure; never throws; thread-safe.
bool ParseNotification(std::string_view body, Notification* out,
                       std::string* error);

/// True for an alert dr-actuator acts on (SPEC.md §6): label
/// dr_action="traffic_failover" and a non-empty `site` label. Everything else
/// is recorded in the journal and otherwise ignored.
bool IsDrAlert(const Alert& alert);

/// The label dr-actuator reads the site from, and the selecting label.
inline constexpr std::string_view kSiteLabel = "site";
inline constexpr std::string_view kDrActionLabel = "dr_action";
inline constexpr std::string_view kDrActionValue = "traffic_failover";

}  // namespace drf::actuator
