#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "actuator/intake/time.h"

namespace drf::actuator::intake_json {

/// The defensive JSON reading shared by the Alertmanager parsers (the
/// webhook body, alertmanager.h; the API v2 alert list,
/// alertmanager_pull.h): a bounded, depth-limited, UTF-8-validating parse,
/// and field readers whose first failure is kept as one line naming the
/// field ("alerts[3].labels.site: must be a string"). Internal to the
/// intake; pure and thread-safe.

/// Parses `body` into `*doc`: refuses a body larger than `max_bytes`, an
/// empty body, a NUL byte, invalid UTF-8, nesting deeper than
/// kMaxJsonDepth (alertmanager.h) and anything after the value. On failure
/// returns false and sets *error to "body: ...".
bool ParseBody(std::string_view body, std::size_t max_bytes,
               rapidjson::Document* doc, std::string* error);

/// A key or value from the body, made safe to put into an error message:
/// printable ASCII kept, everything else as \xNN, at most 64 bytes long.
std::string Printable(std::string_view key);

std::string_view View(const rapidjson::Value& v);

/// "path.field", or "field" at the top.
std::string Join(const std::string& path, std::string_view field);

/// Reads fields of a parsed document; the first problem wins and is kept in
/// *error.
class FieldReader {
 public:
  explicit FieldReader(std::string* error) : error_(error) {}

  /// Sets *error to "path: what" (or "what" without a path); returns false.
  bool Fail(const std::string& path, std::string_view what);

  bool NoDuplicateKeys(const rapidjson::Value& obj, const std::string& path);

  /// Finds `name` in `obj`; a JSON null counts as absent.
  static const rapidjson::Value* Find(const rapidjson::Value& obj,
                                      const char* name);

  bool ReadString(const rapidjson::Value& obj, const char* name,
                  const std::string& path, bool required, std::size_t max_bytes,
                  std::string* out);

  /// A required RFC 3339 timestamp (ParseRfc3339).
  bool ReadTime(const rapidjson::Value& obj, const char* name,
                const std::string& path, TimePoint* out);

  /// An object of string values ("labels", "annotations", ...), at most
  /// kMaxLabelsPerSet entries. `out` may be null to only validate.
  bool ReadStringMap(const rapidjson::Value& v, const std::string& path,
                     std::size_t max_value_bytes,
                     std::map<std::string, std::string>* out);

  bool ReadOptionalStringMap(const rapidjson::Value& obj, const char* name,
                             const std::string& path,
                             std::size_t max_value_bytes,
                             std::map<std::string, std::string>* out);

 private:
  std::string* error_;
};

}  // namespace drf::actuator::intake_json
