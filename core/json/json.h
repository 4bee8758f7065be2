#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/error.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace drf::json {

/// Bounds on a body Parse accepts. Whatever they are, the parse never
/// recurses: a body of 100000 '[' costs neither stack nor more than one
/// step past max_depth.
struct Limits {
  std::size_t max_bytes = 1 << 20;
  /// Objects and arrays nested deeper than this are refused. SIZE_MAX: no
  /// limit but the heap max_bytes bounds.
  std::size_t max_depth = 32;
  /// Values (keys, containers and scalars) in the whole body; 0: no limit.
  std::size_t max_values = 0;
};

/// Why Parse refused a body, checked in this order.
enum class ParseFailure {
  kTooLarge,
  kEmpty,
  kNulByte,
  kTooDeep,
  kTooManyValues,
  kSyntax,
};

/// What Parse found wrong. `message` is one line without a subject, for the
/// caller to prefix ("body: " + message):
///   "larger than 1048576 bytes", "empty", "holds a NUL byte",
///   "nested deeper than 32 levels", "holds more than 100000 values",
///   "invalid JSON at offset 3: The document is empty."
struct ParseError {
  ParseFailure failure = ParseFailure::kSyntax;
  /// kTooLarge, kTooDeep, kTooManyValues: the limit exceeded.
  std::size_t limit = 0;
  /// kSyntax, and kEmpty (as rapidjson reports an empty body: offset 0,
  /// kParseErrorDocumentEmpty), so that a caller may treat both alike.
  std::size_t offset = 0;
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  std::string message;
};

/// Parses `body` into `*doc`: one JSON value and nothing after it, valid
/// UTF-8, no raw NUL byte (rapidjson would take one for the end of the
/// input and ignore the rest), within `limits`. Returns the error, or
/// nullopt with `*doc` holding the value. Never throws; thread-safe.
std::optional<ParseError> Parse(std::string_view body, const Limits& limits,
                                rapidjson::Document* doc);

/// Text from a document made safe to quote in an error message: printable
/// ASCII but '"' and '\' kept, every other byte as \xNN, cut at `max_bytes`
/// with "...".
std::string Printable(std::string_view s, std::size_t max_bytes = 64);

/// "path.field", or "field" when `path` is empty.
std::string Join(std::string_view path, std::string_view field);
/// "path[i]".
std::string Index(std::string_view path, std::size_t i);

/// How type errors read: "must be a string" or "expected a string".
enum class Wording { kMustBe, kExpected };

struct ReaderOptions {
  Wording wording = Wording::kMustBe;
  /// A member whose value is null counts as absent (Alertmanager's Go
  /// encoder writes null for an empty map).
  bool null_is_absent = false;
};

/// Whether a member must be there.
enum class Need { kRequired, kOptional };

/// Reads values out of a parsed document by field path and keeps the first
/// problem as one line naming the field: "alerts[3].labels.site: must be a
/// string". Once an error is kept every read fails and changes nothing, so
/// a caller may read all fields and check ok() once, or stop at the first
/// false. Paths are the caller's (Join, Index); "" is the root, whose
/// errors have no prefix. One per parse; not thread-safe.
class Reader {
 public:
  explicit Reader(ReaderOptions options = {});

  bool ok() const { return !error_; }
  /// The first error; "" when ok().
  const std::string& error() const;

  /// Keeps "path: what" ("what" when `path` is empty) unless an error is
  /// already kept. Returns false.
  bool Fail(std::string_view path, std::string_view what);

  /// The member `name` of `obj` (an object), or nullptr when it is absent
  /// (or null, with null_is_absent); keeps "path.name: missing" when it is
  /// absent and required. nullptr after an earlier error.
  const rapidjson::Value* Member(const rapidjson::Value& obj,
                                 std::string_view path, const char* name,
                                 Need need);

  /// Type checks of a value at `path`; false (and the error kept) when `v`
  /// is not of the type.
  bool IsObject(const rapidjson::Value& v, std::string_view path);
  bool IsArray(const rapidjson::Value& v, std::string_view path);

  /// Value readers: `*out` is set only on success. A string longer than
  /// `max_bytes` is refused ("longer than N bytes"); an integer must be an
  /// int64 in [lo, hi] ("an integer in [lo, hi]").
  bool String(const rapidjson::Value& v, std::string_view path,
              std::string* out,
              std::size_t max_bytes = std::numeric_limits<std::size_t>::max());
  bool Int(const rapidjson::Value& v, std::string_view path, std::int64_t lo,
           std::int64_t hi, std::int64_t* out);
  bool Bool(const rapidjson::Value& v, std::string_view path, bool* out);

  /// Member readers: Member, then the value reader at "path.name". An
  /// absent optional member is a success that leaves `*out` alone.
  bool String(const rapidjson::Value& obj, std::string_view path,
              const char* name, Need need, std::string* out,
              std::size_t max_bytes = std::numeric_limits<std::size_t>::max());
  bool Int(const rapidjson::Value& obj, std::string_view path, const char* name,
           Need need, std::int64_t lo, std::int64_t hi, std::int64_t* out);
  bool Bool(const rapidjson::Value& obj, std::string_view path,
            const char* name, Need need, bool* out);
  /// The member if it is an object (an array); nullptr when absent or not
  /// one: check ok() to tell them apart.
  const rapidjson::Value* Object(const rapidjson::Value& obj,
                                 std::string_view path, const char* name,
                                 Need need);
  const rapidjson::Value* Array(const rapidjson::Value& obj,
                                std::string_view path, const char* name,
                                Need need);

  /// Refuses an object (at `path`) in which a key appears twice
  /// ("duplicate key \"site\""): rapidjson keeps both, and which one a
  /// lookup finds is not what the sender meant.
  bool NoDuplicateKeys(const rapidjson::Value& obj, std::string_view path);

 private:
  bool WrongType(std::string_view path, std::string_view noun);

  ReaderOptions options_;
  std::optional<std::string> error_;
};

}  // namespace drf::json
