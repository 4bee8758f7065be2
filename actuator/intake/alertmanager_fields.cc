#include "actuator/intake/alertmanager_fields.h"

#include <utility>

namespace drf::actuator::intake {
namespace {

using json::Join;
using json::Need;
using json::Printable;
using rapidjson::Value;

// Alertmanager writes RFC3339Nano: 35 bytes at the most.
constexpr std::size_t kMaxTimeBytes = 64;

}  // namespace

bool ReadTime(json::Reader& r, const Value& obj, std::string_view path,
              const char* name, Need need, TimePoint* out) {
  const Value* v = r.Member(obj, path, name, need);
  if (v == nullptr) return r.ok();
  std::string s;
  if (!r.String(*v, Join(path, name), &s, kMaxTimeBytes)) return false;
  auto t = ParseRfc3339(s);
  if (!t) {
    return r.Fail(Join(path, name),
                  "not an RFC 3339 timestamp: \"" + Printable(s) + "\"");
  }
  *out = *t;
  return true;
}

bool ReadStringMap(json::Reader& r, const Value& v, std::string_view path,
                   std::size_t max_value_bytes,
                   std::map<std::string, std::string>* out) {
  if (!r.IsObject(v, path)) return false;
  if (v.MemberCount() > kMaxLabelsPerSet) {
    return r.Fail(path,
                  "more than " + std::to_string(kMaxLabelsPerSet) + " entries");
  }
  if (!r.NoDuplicateKeys(v, path)) return false;
  for (const auto& m : v.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name.empty()) return r.Fail(path, "empty name");
    if (name.size() > kMaxLabelNameBytes) {
      return r.Fail(path, "name \"" + Printable(name) + "\" longer than " +
                              std::to_string(kMaxLabelNameBytes) + " bytes");
    }
    std::string value;
    if (!r.String(m.value, Join(path, Printable(name)), &value,
                  max_value_bytes)) {
      return false;
    }
    if (out != nullptr) out->emplace(std::string(name), std::move(value));
  }
  return true;
}

bool ReadStringMap(json::Reader& r, const Value& obj, std::string_view path,
                   const char* name, Need need, std::size_t max_value_bytes,
                   std::map<std::string, std::string>* out) {
  const Value* v = r.Member(obj, path, name, need);
  if (v == nullptr) return r.ok();
  return ReadStringMap(r, *v, Join(path, name), max_value_bytes, out);
}

bool CheckAlertCount(json::Reader& r, const Value& alerts,
                     std::string_view path) {
  if (alerts.Size() <= kMaxAlerts) return true;
  return r.Fail(path, "more than " + std::to_string(kMaxAlerts) + " alerts (" +
                          std::to_string(alerts.Size()) + ")");
}

bool ReadAlertContent(json::Reader& r, const Value& alert,
                      std::string_view path, Alert* out) {
  if (!ReadStringMap(r, alert, path, "labels", Need::kRequired,
                     kMaxLabelValueBytes, &out->labels)) {
    return false;
  }
  std::map<std::string, std::string> annotations;
  if (!ReadStringMap(r, alert, path, "annotations", Need::kOptional,
                     kMaxAnnotationValueBytes, &annotations)) {
    return false;
  }
  if (auto it = annotations.find("summary"); it != annotations.end()) {
    out->summary = it->second;
  }
  return ReadTime(r, alert, path, "startsAt", Need::kRequired,
                  &out->starts_at) &&
         ReadTime(r, alert, path, "endsAt", Need::kRequired, &out->ends_at);
}

bool ReadAlertOrigin(json::Reader& r, const Value& alert, std::string_view path,
                     Alert* out) {
  std::string generator_url;
  return r.String(alert, path, "generatorURL", Need::kOptional, &generator_url,
                  kMaxFieldBytes) &&
         r.String(alert, path, "fingerprint", Need::kOptional,
                  &out->fingerprint, kMaxFieldBytes);
}

}  // namespace drf::actuator::intake
