#include "actuator/intake/alertmanager.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

namespace drf::actuator {
namespace {

using rapidjson::Document;
using rapidjson::SizeType;
using rapidjson::Value;

// Iterative: the reader itself never recurses, whatever the nesting;
// ValidateEncoding: invalid UTF-8 is refused rather than passed on to the
// journal and the logs.
constexpr unsigned kParseFlags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

constexpr std::size_t kMaxQuotedKeyBytes = 64;

// Forwards SAX events to a Document and stops the parse once objects and
// arrays nest deeper than kMaxJsonDepth, so a hostile body of 10000 '['
// costs nothing.
class DepthLimitedHandler {
 public:
  explicit DepthLimitedHandler(Document* doc) : doc_(doc) {}

  bool too_deep() const { return too_deep_; }

  bool Null() { return doc_->Null(); }
  bool Bool(bool b) { return doc_->Bool(b); }
  bool Int(int i) { return doc_->Int(i); }
  bool Uint(unsigned u) { return doc_->Uint(u); }
  bool Int64(int64_t i) { return doc_->Int64(i); }
  bool Uint64(uint64_t u) { return doc_->Uint64(u); }
  bool Double(double d) { return doc_->Double(d); }
  bool RawNumber(const char* s, SizeType len, bool copy) {
    return doc_->RawNumber(s, len, copy);
  }
  bool String(const char* s, SizeType len, bool copy) {
    return doc_->String(s, len, copy);
  }
  bool Key(const char* s, SizeType len, bool copy) {
    return doc_->Key(s, len, copy);
  }
  bool StartObject() { return Enter() && doc_->StartObject(); }
  bool EndObject(SizeType members) {
    --depth_;
    return doc_->EndObject(members);
  }
  bool StartArray() { return Enter() && doc_->StartArray(); }
  bool EndArray(SizeType elements) {
    --depth_;
    return doc_->EndArray(elements);
  }

 private:
  bool Enter() {
    if (++depth_ > kMaxJsonDepth) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  Document* doc_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
};

// A key from the body, made safe to put into an error message: printable
// ASCII kept, everything else as \xNN, at most kMaxQuotedKeyBytes long.
std::string Printable(std::string_view key) {
  std::string out;
  std::size_t n = std::min(key.size(), kMaxQuotedKeyBytes);
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (key.size() > n) out += "...";
  return out;
}

std::string_view View(const Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

std::string Join(const std::string& path, std::string_view field) {
  if (path.empty()) return std::string(field);
  return path + "." + std::string(field);
}

// Walks the parsed document; the first problem wins and is kept in *error.
class Validator {
 public:
  explicit Validator(std::string* error) : error_(error) {}

  bool Fail(const std::string& path, std::string_view what) {
    if (error_ != nullptr) {
      *error_ =
          path.empty() ? std::string(what) : path + ": " + std::string(what);
    }
    return false;
  }

  bool NoDuplicateKeys(const Value& obj, const std::string& path) {
    std::set<std::string_view> seen;
    for (const auto& m : obj.GetObject()) {
      if (!seen.insert(View(m.name)).second) {
        return Fail(path.empty() ? "body" : path,
                    "duplicate key \"" + Printable(View(m.name)) + "\"");
      }
    }
    return true;
  }

  // Finds `name` in `obj`; a JSON null counts as absent.
  static const Value* Find(const Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  bool ReadString(const Value& obj, const char* name, const std::string& path,
                  bool required, std::size_t max_bytes, std::string* out) {
    const Value* v = Find(obj, name);
    std::string field = Join(path, name);
    if (v == nullptr) return required ? Fail(field, "missing") : true;
    if (!v->IsString()) return Fail(field, "must be a string");
    if (v->GetStringLength() > max_bytes) {
      return Fail(field, "longer than " + std::to_string(max_bytes) + " bytes");
    }
    out->assign(v->GetString(), v->GetStringLength());
    return true;
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
      return Fail(Join(path, "status"), "must be \"firing\" or \"resolved\"");
    }
    return true;
  }

  bool ReadTime(const Value& obj, const char* name, const std::string& path,
                TimePoint* out) {
    std::string s;
    if (!ReadString(obj, name, path, true, 64, &s)) return false;
    auto t = ParseRfc3339(s);
    if (!t) {
      return Fail(Join(path, name),
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
    if (!v.IsObject()) return Fail(path, "must be an object");
    if (v.MemberCount() > kMaxLabelsPerSet) {
      return Fail(path,
                  "more than " + std::to_string(kMaxLabelsPerSet) + " entries");
    }
    if (!NoDuplicateKeys(v, path)) return false;
    for (const auto& m : v.GetObject()) {
      std::string_view name = View(m.name);
      if (name.empty()) return Fail(path, "empty name");
      if (name.size() > kMaxLabelNameBytes) {
        return Fail(path, "name \"" + Printable(name) + "\" longer than " +
                              std::to_string(kMaxLabelNameBytes) + " bytes");
      }
      std::string field = path + "." + Printable(name);
      if (!m.value.IsString()) return Fail(field, "must be a string");
      if (m.value.GetStringLength() > max_value_bytes) {
        return Fail(
            field, "longer than " + std::to_string(max_value_bytes) + " bytes");
      }
      if (out != nullptr)
        out->emplace(std::string(name), std::string(View(m.value)));
    }
    return true;
  }

  bool ReadOptionalStringMap(const Value& obj, const char* name,
                             const std::string& path,
                             std::size_t max_value_bytes,
                             std::map<std::string, std::string>* out) {
    const Value* v = Find(obj, name);
    if (v == nullptr) return true;
    return ReadStringMap(*v, Join(path, name), max_value_bytes, out);
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

 private:
  std::string* error_;
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
  if (body.size() > kMaxNotificationBytes) {
    return v.Fail("body", "larger than " +
                              std::to_string(kMaxNotificationBytes) + " bytes");
  }
  if (body.empty()) return v.Fail("body", "empty");
  // rapidjson reads a NUL as the end of the input and would ignore whatever
  // follows it.
  if (std::memchr(body.data(), '\0', body.size()) != nullptr) {
    return v.Fail("body", "holds a NUL byte");
  }
  Document doc;
  DepthLimitedHandler handler(&doc);
  rapidjson::MemoryStream stream(body.data(), body.size());
  rapidjson::Reader reader;
  auto generate = [&](Document&) {
    return !reader.Parse<kParseFlags>(stream, handler).IsError();
  };
  doc.Populate(generate);
  if (handler.too_deep()) {
    return v.Fail("body", "nested deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels");
  }
  if (reader.HasParseError()) {
    return v.Fail("body",
                  "invalid JSON at offset " +
                      std::to_string(reader.GetErrorOffset()) + ": " +
                      rapidjson::GetParseError_En(reader.GetParseErrorCode()));
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
