#include "actuator/intake/alertmanager.h"

#include <rapidjson/document.h>

#include <map>
#include <string>
#include <utility>

#include "actuator/intake/alertmanager_fields.h"
#include "core/json/json.h"

namespace drf::actuator {
namespace {

using json::Join;
using json::Need;
using json::Printable;
using rapidjson::SizeType;
using rapidjson::Value;

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

  bool ReadAlert(const Value& v, const std::string& path, Alert* out) {
    return r_.NoDuplicateKeys(v, path) && ReadStatus(v, path, &out->status) &&
           intake::ReadAlertContent(r_, v, path, out) &&
           intake::ReadAlertOrigin(r_, v, path, out);
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
        !intake::ReadStringMap(r_, root, "", "groupLabels", Need::kOptional,
                               kMaxLabelValueBytes, nullptr) ||
        !intake::ReadStringMap(r_, root, "", "commonLabels", Need::kOptional,
                               kMaxLabelValueBytes, nullptr) ||
        !intake::ReadStringMap(r_, root, "", "commonAnnotations",
                               Need::kOptional, kMaxAnnotationValueBytes,
                               nullptr)) {
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
    if (!intake::CheckAlertCount(r_, *alerts, "alerts")) return false;
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
