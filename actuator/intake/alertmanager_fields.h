#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "actuator/intake/alertmanager.h"
#include "actuator/intake/time.h"
#include "core/json/json.h"

/// What the two Alertmanager parsers (the webhook body, alertmanager.h; the
/// API v2 alert list, alertmanager_pull.h) read alike, on top of core/json
/// and within the limits of alertmanager.h. Each reader keeps its first
/// problem in the json::Reader, as one line naming the field, and returns
/// false; `path` is the field path of `obj` (json::Join, json::Index).
/// Internal to the intake; pure; thread-safe as long as each thread has its
/// own json::Reader.
namespace drf::actuator::intake {

/// An RFC 3339 timestamp (ParseRfc3339) in the member `name`:
/// "path.name: not an RFC 3339 timestamp: \"...\"". An absent optional
/// member is a success that leaves `*out` alone.
bool ReadTime(json::Reader& r, const rapidjson::Value& obj,
              std::string_view path, const char* name, json::Need need,
              TimePoint* out);

/// An object of string values ("labels", "annotations", ...) at `path`: at
/// most kMaxLabelsPerSet entries, no duplicate or empty name, names at most
/// kMaxLabelNameBytes and values at most `max_value_bytes` long. `out` may
/// be null to only validate.
bool ReadStringMap(json::Reader& r, const rapidjson::Value& v,
                   std::string_view path, std::size_t max_value_bytes,
                   std::map<std::string, std::string>* out);
/// The same for the member `name` of `obj`; an absent optional member is a
/// success that leaves `*out` alone.
bool ReadStringMap(json::Reader& r, const rapidjson::Value& obj,
                   std::string_view path, const char* name, json::Need need,
                   std::size_t max_value_bytes,
                   std::map<std::string, std::string>* out);

/// Refuses an array of alerts (at `path`) holding more than kMaxAlerts:
/// "path: more than 1000 alerts (1001)".
bool CheckAlertCount(json::Reader& r, const rapidjson::Value& alerts,
                     std::string_view path);

/// What an alert holds in both APIs, in this order: `labels` (required),
/// `annotations` (optional; its "summary" into out->summary), `startsAt` and
/// `endsAt` (required, RFC 3339).
bool ReadAlertContent(json::Reader& r, const rapidjson::Value& alert,
                      std::string_view path, Alert* out);

/// The optional strings naming where an alert comes from: `generatorURL`
/// (checked, not kept) and `fingerprint`.
bool ReadAlertOrigin(json::Reader& r, const rapidjson::Value& alert,
                     std::string_view path, Alert* out);

}  // namespace drf::actuator::intake
