#pragma once

// Reading the actuator's own JSON (journal lines, the snapshot): a field
// reader whose first problem wins and names the field's path. Missing or
// null optional fields keep their defaults. Internal to actuator/state.

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "actuator/intake/time.h"

namespace drf::actuator::state_json {

class Reader {
 public:
  using Value = rapidjson::Value;

  /// `path` prefixes every field named in an error ("" at the top).
  Reader(const Value& obj, std::string* error, std::string path = "")
      : obj_(obj), error_(error), path_(std::move(path)) {}

  bool ok() const { return *ok_; }

  const Value* Find(const char* key) const {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  std::string Path(const std::string& field) const {
    return path_.empty() ? field : path_ + "." + field;
  }

  void Fail(const std::string& field, const char* what) {
    if (*ok_ && error_ != nullptr) *error_ = Path(field) + ": " + what;
    *ok_ = false;
  }

  void String(const char* key, std::string* out, bool required = false) {
    const Value* v = Find(key);
    if (v == nullptr) {
      if (required) Fail(key, "missing");
      return;
    }
    if (!v->IsString()) return Fail(key, "must be a string");
    out->assign(v->GetString(), v->GetStringLength());
  }

  void Bool(const char* key, bool* out) {
    const Value* v = Find(key);
    if (v == nullptr) return;
    if (!v->IsBool()) return Fail(key, "must be a boolean");
    *out = v->GetBool();
  }

  template <class Int>
  void Integer(const char* key, Int* out) {
    const Value* v = Find(key);
    if (v == nullptr) return;
    if constexpr (std::is_signed_v<Int>) {
      if (!v->IsInt64()) return Fail(key, "must be an integer");
      const std::int64_t i = v->GetInt64();
      if (i < INT32_MIN || i > INT32_MAX) return Fail(key, "out of range");
      *out = static_cast<Int>(i);
    } else {
      if (!v->IsUint64()) return Fail(key, "must be a non-negative integer");
      *out = static_cast<Int>(v->GetUint64());
    }
  }

  void Number(const char* key, std::optional<double>* out) {
    const Value* v = Find(key);
    if (v == nullptr) return;
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
    TimePoint t;
    if (Find(key) == nullptr) return;
    Time(key, &t, true);
    if (ok()) *out = t;
  }

  void Strings(const char* key, std::vector<std::string>* out) {
    const Value* v = Find(key);
    if (v == nullptr) return;
    if (!v->IsArray()) return Fail(key, "must be an array");
    for (const Value& s : v->GetArray()) {
      if (!s.IsString()) return Fail(key, "must hold strings only");
      out->emplace_back(s.GetString(), s.GetStringLength());
    }
  }

  /// Calls `read(Reader&)` with a reader of the object at `key`; returns
  /// false when it is absent.
  template <class F>
  bool Object(const char* key, F&& read) {
    const Value* v = Find(key);
    if (v == nullptr || !ok()) return false;
    if (!v->IsObject()) {
      Fail(key, "must be an object");
      return false;
    }
    Reader sub(*v, error_, Path(key));
    sub.ok_ = ok_;
    read(sub);
    return ok();
  }

  /// Calls `read(Reader&)` for each object of the array at `key`.
  template <class F>
  void Objects(const char* key, F&& read) {
    const Value* v = Find(key);
    if (v == nullptr || !ok()) return;
    if (!v->IsArray()) return Fail(key, "must be an array");
    for (rapidjson::SizeType i = 0; i < v->Size() && ok(); ++i) {
      const std::string field =
          std::string(key) + "[" + std::to_string(i) + "]";
      if (!(*v)[i].IsObject()) return Fail(field, "must be an object");
      Reader sub((*v)[i], error_, Path(field));
      sub.ok_ = ok_;
      read(sub);
    }
  }

 private:
  const Value& obj_;
  std::string* error_;
  std::string path_;
  // Shared with the readers of nested objects: one failure fails all.
  std::shared_ptr<bool> ok_ = std::make_shared<bool>(true);
};

}  // namespace drf::actuator::state_json
