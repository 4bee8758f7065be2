#pragma once

// Reading the actuator's own JSON (journal lines, the snapshot) with
// core/json's field-path Reader, through a cursor on one object so that the
// codecs read like the structs they fill. Missing and null optional fields
// keep their defaults; the first problem wins and names its path
// ("webhook.alerts[0].site: must be a string"). Internal to actuator/state.

#include <rapidjson/document.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actuator/intake/time.h"
#include "core/json/json.h"

namespace drf::actuator::state_json {

/// Bounds of a journal line or a snapshot (our own writing, but read back
/// from disk: a damaged file must not cost the stack).
inline constexpr json::Limits kLimits{64u << 20, 64, 0};

class Reader {
 public:
  using Value = rapidjson::Value;

  /// A cursor on `obj` whose errors start with `path` ("" at the top).
  Reader(const Value& obj, std::string path = "")
      : obj_(obj),
        path_(std::move(path)),
        r_(std::make_shared<json::Reader>(
            json::ReaderOptions{json::Wording::kMustBe, true})) {}

  bool ok() const { return r_->ok(); }
  const std::string& error() const { return r_->error(); }

  const Value* Find(const char* key) const {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  void Fail(const char* key, std::string_view what) {
    r_->Fail(json::Join(path_, key), what);
  }

  void String(const char* key, std::string* out, bool required = false) {
    r_->String(obj_, path_, key, Need(required), out);
  }

  void Bool(const char* key, bool* out) {
    r_->Bool(obj_, path_, key, json::Need::kOptional, out);
  }

  template <class Int>
  void Integer(const char* key, Int* out) {
    std::int64_t v = 0;
    if (r_->Int(obj_, path_, key, json::Need::kOptional,
                static_cast<std::int64_t>(std::numeric_limits<Int>::min()),
                static_cast<std::int64_t>(std::min<std::uint64_t>(
                    std::numeric_limits<Int>::max(),
                    std::numeric_limits<std::int64_t>::max())),
                &v) &&
        Find(key) != nullptr) {
      *out = static_cast<Int>(v);
    }
  }

  void Number(const char* key, std::optional<double>* out) {
    const Value* v = Find(key);
    if (v == nullptr || !ok()) return;
    if (!v->IsNumber()) return Fail(key, "must be a number");
    *out = v->GetDouble();
  }

  void Time(const char* key, TimePoint* out, bool required = false) {
    std::string s;
    String(key, &s, required);
    if (!ok() || s.empty()) return;
    auto t = ParseRfc3339(s);
    if (!t) return Fail(key, "not an RFC 3339 timestamp");
    *out = *t;
  }

  void Time(const char* key, std::optional<TimePoint>* out) {
    if (Find(key) == nullptr) return;
    TimePoint t;
    Time(key, &t, true);
    if (ok()) *out = t;
  }

  void Strings(const char* key, std::vector<std::string>* out) {
    const Value* list = r_->Array(obj_, path_, key, json::Need::kOptional);
    if (list == nullptr) return;
    for (rapidjson::SizeType i = 0; i < list->Size() && ok(); ++i) {
      std::string s;
      if (r_->String((*list)[i], json::Index(json::Join(path_, key), i), &s)) {
        out->push_back(std::move(s));
      }
    }
  }

  /// Calls `read(Reader&)` with a cursor on the object at `key`; returns
  /// false when it is absent (or not an object: check ok()).
  template <class F>
  bool Object(const char* key, F&& read) {
    const Value* v = r_->Object(obj_, path_, key, json::Need::kOptional);
    if (v == nullptr) return false;
    Reader sub(*v, json::Join(path_, key), r_);
    read(sub);
    return ok();
  }

  /// Calls `read(Reader&)` for each object of the array at `key`.
  template <class F>
  void Objects(const char* key, F&& read) {
    const Value* list = r_->Array(obj_, path_, key, json::Need::kOptional);
    if (list == nullptr) return;
    const std::string field = json::Join(path_, key);
    for (rapidjson::SizeType i = 0; i < list->Size() && ok(); ++i) {
      const std::string at = json::Index(field, i);
      if (!r_->IsObject((*list)[i], at)) return;
      Reader sub((*list)[i], at, r_);
      read(sub);
    }
  }

 private:
  Reader(const Value& obj, std::string path, std::shared_ptr<json::Reader> r)
      : obj_(obj), path_(std::move(path)), r_(std::move(r)) {}

  static json::Need Need(bool required) {
    return required ? json::Need::kRequired : json::Need::kOptional;
  }

  const Value& obj_;
  std::string path_;
  // Shared with the cursors on nested objects: one error fails them all.
  std::shared_ptr<json::Reader> r_;
};

}  // namespace drf::actuator::state_json
