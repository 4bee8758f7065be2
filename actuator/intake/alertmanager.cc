#include "actuator/intake/alertmanager.h"

#include <rapidjson/document.h>

#include <utility>

#include "actuator/intake/json_fields.h"

namespace drf::actuator {
namespace {

using intake_json::Join;
using intake_json::Printable;
using rapidjson::Document;
using rapidjson::SizeType;
using rapidjson::Value;

// Walks the parsed document; the first problem wins and is kept in *error.
class Validator : public intake_json::FieldReader {
 public:
  using FieldReader::FieldReader;

  bool ReadStatus(const Value& obj, const std::string& path, AlertStatus* out) {
    std::string s;
    if (!ReadString(obj, "status", path, true, kMaxFieldBytes, &s)) {
      return false;
    }
    if (s == "firing") {
      *out = AlertStatus::kFiring;
    } else if (s == "resolved") {
      *out = AlertStatus::kResolved;
    } else {
      return Fail(Join(path, "status"), "must be \"firing\" or \"resolved\"");
    }
    return true;
  }

  bool ReadAlert(const Value& v, const std::string& path, Alert* out) {
    if (!v.IsObject()) return Fail(path, "must be an object");
    if (!NoDuplicateKeys(v, path)) return false;
    if (!ReadStatus(v, path, &out->status)) return false;
    const Value* labels = Find(v, "labels");
    if (labels == nullptr) return Fail(Join(path, "labels"), "missing");
    if (!ReadStringMap(*labels, Join(path, "labels"), kMaxLabelValueBytes,
                       &out->labels)) {
      return false;
    }
    std::map<std::string, std::string> annotations;
    if (!ReadOptionalStringMap(v, "annotations", path, kMaxAnnotationValueBytes,
                               &annotations)) {
      return false;
    }
    if (auto it = annotations.find("summary"); it != annotations.end()) {
      out->summary = it->second;
    }
    if (!ReadTime(v, "startsAt", path, &out->starts_at) ||
        !ReadTime(v, "endsAt", path, &out->ends_at)) {
      return false;
    }
    std::string generator_url;
    return ReadString(v, "generatorURL", path, false, kMaxFieldBytes,
                      &generator_url) &&
           ReadString(v, "fingerprint", path, false, kMaxFieldBytes,
                      &out->fingerprint);
  }

  bool ReadNotification(const Value& root, Notification* out) {
    if (!root.IsObject()) return Fail("body", "must be a JSON object");
    if (!NoDuplicateKeys(root, "")) return false;
    std::string version;
    if (!ReadString(root, "version", "", true, kMaxFieldBytes, &version)) {
      return false;
    }
    if (version != "4") {
      return Fail("version",
                  "must be \"4\", got \"" + Printable(version) + "\"");
    }
    if (!ReadString(root, "groupKey", "", true, kMaxFieldBytes,
                    &out->group_key) ||
        !ReadStatus(root, "", &out->status) ||
        !ReadString(root, "receiver", "", true, kMaxFieldBytes,
                    &out->receiver) ||
        !ReadString(root, "externalURL", "", false, kMaxFieldBytes,
                    &out->external_url) ||
        !ReadOptionalStringMap(root, "groupLabels", "", kMaxLabelValueBytes,
                               nullptr) ||
        !ReadOptionalStringMap(root, "commonLabels", "", kMaxLabelValueBytes,
                               nullptr) ||
        !ReadOptionalStringMap(root, "commonAnnotations", "",
                               kMaxAnnotationValueBytes, nullptr)) {
      return false;
    }
    if (const Value* t = Find(root, "truncatedAlerts")) {
      if (!t->IsInt64() || t->GetInt64() < 0) {
        return Fail("truncatedAlerts", "must be a non-negative integer");
      }
      out->truncated_alerts = t->GetInt64();
    }
    const Value* alerts = Find(root, "alerts");
    if (alerts == nullptr) return Fail("alerts", "missing");
    if (!alerts->IsArray()) return Fail("alerts", "must be an array");
    if (alerts->Size() > kMaxAlerts) {
      return Fail("alerts", "more than " + std::to_string(kMaxAlerts) +
                                " alerts (" + std::to_string(alerts->Size()) +
                                ")");
    }
    out->alerts.clear();
    out->alerts.reserve(alerts->Size());
    for (SizeType i = 0; i < alerts->Size(); ++i) {
      Alert alert;
      if (!ReadAlert((*alerts)[i], "alerts[" + std::to_string(i) + "]",
                     &alert)) {
        return false;
      }
      out->alerts.push_back(std::move(alert));
    }
    return true;
  }
};

}  // namespace

std::string_view AlertStatusName(AlertStatus status) {
  return status == AlertStatus::kFiring ? "firing" : "resolved";
}

bool ParseNotification(std::string_view body, Notification* out,
                       std::string* error) {
  Validator v(error);
  if (out == nullptr) return v.Fail("body", "no output");
  *out = Notification{};
  Document doc;
  if (!intake_json::ParseBody(body, kMaxNotificationBytes, &doc, error)) {
    return false;
  }
  if (!v.ReadNotification(doc, out)) {
    *out = Notification{};
    return false;
  }
  return true;
}

bool IsDrAlert(const Alert& alert) {
  auto action = alert.labels.find(std::string(kDrActionLabel));
  if (action == alert.labels.end() || action->second != kDrActionValue) {
    return false;
  }
  auto site = alert.labels.find(std::string(kSiteLabel));
  return site != alert.labels.end() && !site->second.empty();
}

}  // namespace drf::actuator
