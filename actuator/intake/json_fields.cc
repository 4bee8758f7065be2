#include "actuator/intake/json_fields.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include "actuator/intake/alertmanager.h"

namespace drf::actuator::intake_json {
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

}  // namespace

bool ParseBody(std::string_view body, std::size_t max_bytes, Document* doc,
               std::string* error) {
  FieldReader r(error);
  if (body.size() > max_bytes) {
    return r.Fail("body",
                  "larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (body.empty()) return r.Fail("body", "empty");
  // rapidjson reads a NUL as the end of the input and would ignore whatever
  // follows it.
  if (std::memchr(body.data(), '\0', body.size()) != nullptr) {
    return r.Fail("body", "holds a NUL byte");
  }
  DepthLimitedHandler handler(doc);
  rapidjson::MemoryStream stream(body.data(), body.size());
  rapidjson::Reader reader;
  auto generate = [&](Document&) {
    return !reader.Parse<kParseFlags>(stream, handler).IsError();
  };
  doc->Populate(generate);
  if (handler.too_deep()) {
    return r.Fail("body", "nested deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels");
  }
  if (reader.HasParseError()) {
    return r.Fail("body",
                  "invalid JSON at offset " +
                      std::to_string(reader.GetErrorOffset()) + ": " +
                      rapidjson::GetParseError_En(reader.GetParseErrorCode()));
  }
  return true;
}

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

bool FieldReader::Fail(const std::string& path, std::string_view what) {
  if (error_ != nullptr) {
    *error_ =
        path.empty() ? std::string(what) : path + ": " + std::string(what);
  }
  return false;
}

bool FieldReader::NoDuplicateKeys(const Value& obj, const std::string& path) {
  std::set<std::string_view> seen;
  for (const auto& m : obj.GetObject()) {
    if (!seen.insert(View(m.name)).second) {
      return Fail(path.empty() ? "body" : path,
                  "duplicate key \"" + Printable(View(m.name)) + "\"");
    }
  }
  return true;
}

const Value* FieldReader::Find(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

bool FieldReader::ReadString(const Value& obj, const char* name,
                             const std::string& path, bool required,
                             std::size_t max_bytes, std::string* out) {
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

bool FieldReader::ReadTime(const Value& obj, const char* name,
                           const std::string& path, TimePoint* out) {
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

bool FieldReader::ReadStringMap(const Value& v, const std::string& path,
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
      return Fail(field,
                  "longer than " + std::to_string(max_value_bytes) + " bytes");
    }
    if (out != nullptr) {
      out->emplace(std::string(name), std::string(View(m.value)));
    }
  }
  return true;
}

bool FieldReader::ReadOptionalStringMap(
    const Value& obj, const char* name, const std::string& path,
    std::size_t max_value_bytes, std::map<std::string, std::string>* out) {
  const Value* v = Find(obj, name);
  if (v == nullptr) return true;
  return ReadStringMap(*v, Join(path, name), max_value_bytes, out);
}

}  // namespace drf::actuator::intake_json
