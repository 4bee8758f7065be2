#include "core/json/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

namespace drf::json {
namespace {

using rapidjson::Document;
using rapidjson::SizeType;
using rapidjson::Value;

// Iterative: the reader itself never recurses, whatever the nesting;
// ValidateEncoding: invalid UTF-8 is refused rather than passed on to the
// logs.
constexpr unsigned kParseFlags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

// Forwards SAX events to a Document and stops the parse once objects and
// arrays nest deeper than the limit or there are too many values.
class BoundedHandler {
 public:
  BoundedHandler(Document* doc, const Limits& limits)
      : doc_(doc), limits_(limits) {}

  bool too_deep() const { return too_deep_; }
  bool too_many() const { return too_many_; }
  bool surrogate() const { return surrogate_; }

  bool Null() { return Count() && doc_->Null(); }
  bool Bool(bool b) { return Count() && doc_->Bool(b); }
  bool Int(int i) { return Count() && doc_->Int(i); }
  bool Uint(unsigned u) { return Count() && doc_->Uint(u); }
  bool Int64(int64_t i) { return Count() && doc_->Int64(i); }
  bool Uint64(uint64_t u) { return Count() && doc_->Uint64(u); }
  bool Double(double d) { return Count() && doc_->Double(d); }
  bool RawNumber(const char* s, SizeType len, bool copy) {
    return Count() && doc_->RawNumber(s, len, copy);
  }
  bool String(const char* s, SizeType len, bool copy) {
    return Count() && Utf8(s, len) && doc_->String(s, len, copy);
  }
  bool Key(const char* s, SizeType len, bool copy) {
    return Count() && Utf8(s, len) && doc_->Key(s, len, copy);
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
  bool Count() {
    if (limits_.max_values != 0 && ++values_ > limits_.max_values) {
      too_many_ = true;
    }
    return !too_many_;
  }
  // rapidjson decodes a lone surrogate escape (U+D800 to U+DFFF without its
  // pair) into the three bytes of a surrogate code point, which is not
  // UTF-8: such a string could be neither logged as text nor written back.
  bool Utf8(const char* s, SizeType len) {
    for (SizeType i = 0; i + 1 < len; ++i) {
      if (static_cast<unsigned char>(s[i]) == 0xED &&
          (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0xA0) {
        surrogate_ = true;
        return false;
      }
    }
    return true;
  }
  bool Enter() {
    if (++depth_ > limits_.max_depth) {
      too_deep_ = true;
      return false;
    }
    return Count();
  }

  Document* doc_;
  const Limits& limits_;
  std::size_t depth_ = 0;
  std::size_t values_ = 0;
  bool too_deep_ = false;
  bool too_many_ = false;
  bool surrogate_ = false;
};

ParseError Refuse(ParseFailure failure, std::size_t limit,
                  std::string message) {
  ParseError e;
  e.failure = failure;
  e.limit = limit;
  e.message = std::move(message);
  return e;
}

std::string_view View(const Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

}  // namespace

std::optional<ParseError> Parse(std::string_view body, const Limits& limits,
                                rapidjson::Document* doc) {
  if (body.size() > limits.max_bytes) {
    return Refuse(ParseFailure::kTooLarge, limits.max_bytes,
                  "larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  if (body.empty()) {
    ParseError e = Refuse(ParseFailure::kEmpty, 0, "empty");
    e.code = rapidjson::kParseErrorDocumentEmpty;
    return e;
  }
  if (std::memchr(body.data(), '\0', body.size()) != nullptr) {
    return Refuse(ParseFailure::kNulByte, 0, "holds a NUL byte");
  }
  BoundedHandler handler(doc, limits);
  rapidjson::MemoryStream stream(body.data(), body.size());
  rapidjson::Reader reader;
  auto generate = [&](Document&) {
    return !reader.Parse<kParseFlags>(stream, handler).IsError();
  };
  doc->Populate(generate);
  if (handler.too_deep()) {
    return Refuse(
        ParseFailure::kTooDeep, limits.max_depth,
        "nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  if (handler.too_many()) {
    return Refuse(
        ParseFailure::kTooManyValues, limits.max_values,
        "holds more than " + std::to_string(limits.max_values) + " values");
  }
  if (handler.surrogate()) {
    ParseError e;
    e.failure = ParseFailure::kSyntax;
    e.offset = reader.GetErrorOffset();
    e.code = rapidjson::kParseErrorStringInvalidEncoding;
    e.message = "invalid JSON at offset " + std::to_string(e.offset) +
                ": a \\u escape is a lone surrogate (not UTF-8)";
    return e;
  }
  if (reader.HasParseError()) {
    ParseError e;
    e.failure = ParseFailure::kSyntax;
    e.offset = reader.GetErrorOffset();
    e.code = reader.GetParseErrorCode();
    e.message = "invalid JSON at offset " + std::to_string(e.offset) + ": " +
                rapidjson::GetParseError_En(e.code);
    return e;
  }
  return std::nullopt;
}

std::string Printable(std::string_view s, std::size_t max_bytes) {
  std::string out;
  std::size_t n = std::min(s.size(), max_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > n) out += "...";
  return out;
}

std::string Join(std::string_view path, std::string_view field) {
  if (path.empty()) return std::string(field);
  std::string out(path);
  out += '.';
  out += field;
  return out;
}

std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Reader::Reader(ReaderOptions options) : options_(options) {}

const std::string& Reader::error() const {
  static const std::string kNone;
  return error_ ? *error_ : kNone;
}

bool Reader::Fail(std::string_view path, std::string_view what) {
  if (error_) return false;
  if (path.empty()) {
    error_ = std::string(what);
  } else {
    error_ = std::string(path) + ": " + std::string(what);
  }
  return false;
}

bool Reader::WrongType(std::string_view path, std::string_view noun) {
  std::string what(options_.wording == Wording::kMustBe ? "must be "
                                                        : "expected ");
  what += noun;
  return Fail(path, what);
}

const Value* Reader::Member(const Value& obj, std::string_view path,
                            const char* name, Need need) {
  if (error_) return nullptr;
  if (!obj.IsObject()) {
    WrongType(path, "an object");
    return nullptr;
  }
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() ||
      (options_.null_is_absent && it->value.IsNull())) {
    if (need == Need::kRequired) Fail(Join(path, name), "missing");
    return nullptr;
  }
  return &it->value;
}

bool Reader::IsObject(const Value& v, std::string_view path) {
  if (error_) return false;
  return v.IsObject() || WrongType(path, "an object");
}

bool Reader::IsArray(const Value& v, std::string_view path) {
  if (error_) return false;
  return v.IsArray() || WrongType(path, "an array");
}

bool Reader::String(const Value& v, std::string_view path, std::string* out,
                    std::size_t max_bytes) {
  if (error_) return false;
  if (!v.IsString()) return WrongType(path, "a string");
  if (v.GetStringLength() > max_bytes) {
    return Fail(path, "longer than " + std::to_string(max_bytes) + " bytes");
  }
  out->assign(v.GetString(), v.GetStringLength());
  return true;
}

bool Reader::Int(const Value& v, std::string_view path, std::int64_t lo,
                 std::int64_t hi, std::int64_t* out) {
  if (error_) return false;
  if (!v.IsInt64() || v.GetInt64() < lo || v.GetInt64() > hi) {
    return WrongType(path, "an integer in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
  }
  *out = v.GetInt64();
  return true;
}

bool Reader::Bool(const Value& v, std::string_view path, bool* out) {
  if (error_) return false;
  if (!v.IsBool()) return WrongType(path, "a boolean");
  *out = v.GetBool();
  return true;
}

bool Reader::String(const Value& obj, std::string_view path, const char* name,
                    Need need, std::string* out, std::size_t max_bytes) {
  const Value* v = Member(obj, path, name, need);
  if (v == nullptr) return ok();
  return String(*v, Join(path, name), out, max_bytes);
}

bool Reader::Int(const Value& obj, std::string_view path, const char* name,
                 Need need, std::int64_t lo, std::int64_t hi,
                 std::int64_t* out) {
  const Value* v = Member(obj, path, name, need);
  if (v == nullptr) return ok();
  return Int(*v, Join(path, name), lo, hi, out);
}

bool Reader::Bool(const Value& obj, std::string_view path, const char* name,
                  Need need, bool* out) {
  const Value* v = Member(obj, path, name, need);
  if (v == nullptr) return ok();
  return Bool(*v, Join(path, name), out);
}

const Value* Reader::Object(const Value& obj, std::string_view path,
                            const char* name, Need need) {
  const Value* v = Member(obj, path, name, need);
  if (v == nullptr || !IsObject(*v, Join(path, name))) return nullptr;
  return v;
}

const Value* Reader::Array(const Value& obj, std::string_view path,
                           const char* name, Need need) {
  const Value* v = Member(obj, path, name, need);
  if (v == nullptr || !IsArray(*v, Join(path, name))) return nullptr;
  return v;
}

bool Reader::NoDuplicateKeys(const Value& obj, std::string_view path) {
  if (!IsObject(obj, path)) return false;
  std::set<std::string_view> seen;
  for (const auto& m : obj.GetObject()) {
    if (!seen.insert(View(m.name)).second) {
      return Fail(path, "duplicate key \"" + Printable(View(m.name)) + "\"");
    }
  }
  return true;
}

}  // namespace drf::json
