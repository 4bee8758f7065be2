#include "actuator/intake/alertmanager.h"

#include <rapidjson/document.h>

#include <map>
#include <string>
#include <utility>

#include "core/json/json.h"

namespace drf::actuator {
namespace {

using json::Join;
using json::Need;
using json::Printable;
using rapidjson::SizeType;
using rapidjson::Value;

std::string_view View(const Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

// Walks the parsed document; the first problem wins and is kept in the
// json::Reader.
class Validator {
 public:
  Validator() : r_({.null_is_absent = true}) {}

  json::Reader& reader() { return r_; }

  bool ReadString(const Value& obj, const char* name, const std::string& path,
                  bool required, std::size_t max_bytes, std::string* out) {
    return r_.String(obj, path, name,
                     required ? Need::kRequired : Need::kOptional, out,
                     max_bytes);
  }

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
      return r_.Fail(Join(path, "status"),
                     "must be \"firing\" or \"resolved\"");
    }
    return true;
  }

  bool ReadTime(const Value& obj, const char* name, const std::string& path,
                TimePoint* out) {
    std::string s;
    if (!ReadString(obj, name, path, true, 64, &s)) return false;
    auto t = ParseRfc3339(s);
    if (!t) {
      return r_.Fail(Join(path, name),
                     "not an RFC 3339 timestamp: \"" + Printable(s) + "\"");
    }
    *out = *t;
    return true;
  }

  // An object of string values ("labels", "annotations", ...). `out` may be
  // null to only validate.
  bool ReadStringMap(const Value& v, const std::string& path,
                     std::size_t max_value_bytes,
                     std::map<std::string, std::string>* out) {
    if (!r_.IsObject(v, path)) return false;
    if (v.MemberCount() > kMaxLabelsPerSet) {
      return r_.Fail(
          path, "more than " + std::to_string(kMaxLabelsPerSet) + " entries");
    }
    if (!r_.NoDuplicateKeys(v, path)) return false;
    for (const auto& m : v.GetObject()) {
      std::string_view name = View(m.name);
      if (name.empty()) return r_.Fail(path, "empty name");
      if (name.size() > kMaxLabelNameBytes) {
        return r_.Fail(path, "name \"" + Printable(name) + "\" longer than " +
                                 std::to_string(kMaxLabelNameBytes) + " bytes");
      }
      std::string value;
      if (!r_.String(m.value, path + "." + Printable(name), &value,
                     max_value_bytes)) {
        return false;
      }
      if (out != nullptr) out->emplace(std::string(name), std::move(value));
    }
    return true;
  }

  bool ReadOptionalStringMap(const Value& obj, const char* name,
                             const std::string& path,
                             std::size_t max_value_bytes,
                             std::map<std::string, std::string>* out) {
    const Value* v = r_.Member(obj, path, name, Need::kOptional);
    if (v == nullptr) return r_.ok();
    return ReadStringMap(*v, Join(path, name), max_value_bytes, out);
  }

  bool ReadAlert(const Value& v, const std::string& path, Alert* out) {
    if (!r_.NoDuplicateKeys(v, path)) return false;
    if (!ReadStatus(v, path, &out->status)) return false;
    const Value* labels = r_.Member(v, path, "labels", Need::kRequired);
    if (labels == nullptr) return false;
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
    if (!root.IsObject()) return r_.Fail("body", "must be a JSON object");
    if (!r_.NoDuplicateKeys(root, "body")) return false;
    std::string version;
    if (!ReadString(root, "version", "", true, kMaxFieldBytes, &version)) {
      return false;
    }
    if (version != "4") {
      return r_.Fail("version",
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
    if (const Value* t =
            r_.Member(root, "", "truncatedAlerts", Need::kOptional)) {
      if (!t->IsInt64() || t->GetInt64() < 0) {
        return r_.Fail("truncatedAlerts", "must be a non-negative integer");
      }
      out->truncated_alerts = t->GetInt64();
    }
    const Value* alerts = r_.Array(root, "", "alerts", Need::kRequired);
    if (alerts == nullptr) return false;
    if (alerts->Size() > kMaxAlerts) {
      return r_.Fail("alerts", "more than " + std::to_string(kMaxAlerts) +
                                   " alerts (" +
                                   std::to_string(alerts->Size()) + ")");
    }
    out->alerts.clear();
    out->alerts.reserve(alerts->Size());
    for (SizeType i = 0; i < alerts->Size(); ++i) {
      Alert alert;
      if (!ReadAlert((*alerts)[i], json::Index("alerts", i), &alert)) {
        return false;
      }
      out->alerts.push_back(std::move(alert));
    }
    return true;
  }

 private:
  json::Reader r_;
};

}  // namespace

std::string_view AlertStatusName(AlertStatus status) {
  return status == AlertStatus::kFiring ? "firing" : "resolved";
}

bool ParseNotification(std::string_view body, Notification* out,
                       std::string* error) {
  auto fail = [&](const std::string& message) {
    if (error != nullptr) *error = message;
    return false;
  };
  if (out == nullptr) return fail("body: no output");
  *out = Notification{};
  rapidjson::Document doc;
  if (auto err = json::Parse(
          body,
          {.max_bytes = kMaxNotificationBytes, .max_depth = kMaxJsonDepth},
          &doc)) {
    return fail("body: " + err->message);
  }
  Validator v;
  if (!v.ReadNotification(doc, out)) {
    *out = Notification{};
    return fail(v.reader().error());
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
