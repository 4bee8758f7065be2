#include "core/dynamodb/client.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

#include "core/json/json.h"

namespace drf::dynamodb {
namespace {

constexpr std::array<std::string_view, 8> kTableStatuses = {
    "CREATING", "UPDATING", "DELETING", "ACTIVE",
    "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVING", "ARCHIVED",
    // Listed by the current AWS SDKs' TableStatus enum (multi-account
    // global tables); exported so that it is never reported as UNKNOWN.
    "REPLICATION_NOT_AUTHORIZED"};

constexpr std::array<std::string_view, 10> kReplicaStatuses = {
    "CREATING",
    "CREATION_FAILED",
    "UPDATING",
    "DELETING",
    "ACTIVE",
    "REGION_DISABLED",
    "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
    "ARCHIVING",
    "ARCHIVED",
    "REPLICATION_NOT_AUTHORIZED"};

// Bounds on what an answer may hold. DynamoDB's real answers are a few KiB
// with a nesting depth below 10 and one replica per region.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kMaxValues = 100000;
constexpr std::size_t kMaxReplicas = 64;
constexpr std::size_t kMaxRegionName = 32;
constexpr std::size_t kMaxRawStatus = 64;
constexpr std::size_t kMaxReason = 64;
constexpr std::size_t kMaxMessage = 1024;
constexpr std::size_t kMaxCredentialFile = 64 << 10;

using Json = rapidjson::Document;
using JsonValue = rapidjson::Value;

Error ParseError(std::string message) {
  return Error{"parse", std::move(message)};
}

// Line breaks and tabs become spaces and other bytes outside printable
// ASCII '?'; long text is cut with "...".
// Used for everything that came from the network and goes into a log line
// or an error message.
std::string Printable(std::string_view s, std::size_t max) {
  std::string out;
  std::size_t n = std::min(s.size(), max);
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out.push_back(' ');
    } else {
      out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// Removes every occurrence of each of `secrets` (before cutting, so that no
// part of one survives at the cut), then makes `message` printable and
// bounded.
std::string RedactAndBound(std::string message,
                           std::span<const std::string> secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    constexpr std::string_view kMark = "[REDACTED]";
    for (std::size_t pos = message.find(secret); pos != std::string::npos;
         pos = message.find(secret, pos + kMark.size())) {
      message.replace(pos, secret.size(), kMark);
    }
  }
  return Printable(message, kMaxMessage);
}

// Parses `body` into `doc`; on failure returns the error.
std::optional<Error> ParseJson(std::string_view body, Json* doc) {
  auto err = json::Parse(body,
                         {.max_bytes = kMaxBodyBytes,
                          .max_depth = kMaxDepth,
                          .max_values = kMaxValues},
                         doc);
  if (!err) return std::nullopt;
  switch (err->failure) {
    case json::ParseFailure::kTooLarge:
      return Error{"too_large", "answer of " + std::to_string(body.size()) +
                                    " bytes exceeds the limit of " +
                                    std::to_string(kMaxBodyBytes)};
    case json::ParseFailure::kNulByte:
      return ParseError("answer holds a NUL byte");
    case json::ParseFailure::kTooDeep:
      return ParseError("answer nested deeper than " +
                        std::to_string(kMaxDepth));
    case json::ParseFailure::kTooManyValues:
      return ParseError("answer holds more than " + std::to_string(kMaxValues) +
                        " values");
    case json::ParseFailure::kEmpty:
    case json::ParseFailure::kSyntax:
      break;
  }
  return ParseError(std::string("malformed JSON: ") +
                    rapidjson::GetParseError_En(err->code) + " at offset " +
                    std::to_string(err->offset));
}

std::string_view StringOf(const JsonValue& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

// The member `name` of object `obj`, or nullptr.
const JsonValue* Member(const JsonValue& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool ValidRegionName(std::string_view s) {
  if (s.empty() || s.size() > kMaxRegionName) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Sets `status` to the known name equal to `raw`, else UNKNOWN with the
// raw value kept (bounded) for the log.
template <std::size_t N>
void Normalize(std::string_view raw,
               const std::array<std::string_view, N>& known,
               std::string* status, std::string* raw_out) {
  for (std::string_view k : known) {
    if (raw == k) {
      *status = std::string(k);
      raw_out->clear();
      return;
    }
  }
  *status = std::string(kUnknownStatus);
  *raw_out = Printable(raw, kMaxRawStatus);
}

std::optional<double> ParseTimestamp(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  // Seconds since the epoch, between 1970 and 5138.
  if (!std::isfinite(v) || v < 0 || v > 1e11) return std::nullopt;
  return v;
}

std::string Serialize(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

// ---------------------------------------------------------------- credentials

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' ||
                        s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

// Reads one credential from `name` or `name`_FILE. Messages name the
// variable and the file, never the value.
std::optional<std::string> ReadCredential(
    const AwsCredentials::EnvLookup& getenv, const std::string& name,
    bool required) {
  const std::string file_var = name + "_FILE";
  const char* direct = getenv(name.c_str());
  const char* file = getenv(file_var.c_str());
  bool has_direct = direct != nullptr && *direct != '\0';
  bool has_file = file != nullptr && *file != '\0';
  if (has_direct && has_file) {
    throw std::runtime_error("AWS credentials: both " + name + " and " +
                             file_var + " are set; set only one");
  }
  std::string value;
  std::string source = name;
  if (has_direct) {
    value = direct;
  } else if (has_file) {
    source = file_var + " (" + file + ")";
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      throw std::runtime_error("AWS credentials: " + file_var +
                               ": cannot read " + file + ": " +
                               std::strerror(errno));
    }
    std::string buf(kMaxCredentialFile + 1, '\0');
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.bad()) {
      throw std::runtime_error("AWS credentials: " + file_var +
                               ": cannot read " + file);
    }
    buf.resize(static_cast<std::size_t>(in.gcount()));
    if (buf.size() > kMaxCredentialFile) {
      throw std::runtime_error("AWS credentials: " + source +
                               ": file is larger than 64 KiB");
    }
    value = Trimmed(std::move(buf));
  } else {
    if (!required) return std::nullopt;
    throw std::runtime_error("AWS credentials: " + name +
                             " is not set (set it, or " + file_var +
                             " to a file holding it)");
  }
  if (value.empty()) {
    throw std::runtime_error("AWS credentials: " + source + " is empty");
  }
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      throw std::runtime_error("AWS credentials: " + source +
                               " holds a character other than printable "
                               "ASCII");
    }
  }
  return value;
}

}  // namespace

std::span<const std::string_view> KnownTableStatuses() {
  return kTableStatuses;
}

std::span<const std::string_view> KnownReplicaStatuses() {
  return kReplicaStatuses;
}

AwsCredentials AwsCredentials::FromEnv() {
  return FromEnv([](const char* name) { return std::getenv(name); });
}

AwsCredentials AwsCredentials::FromEnv(const EnvLookup& getenv) {
  AwsCredentials c;
  c.access_key_id = *ReadCredential(getenv, "AWS_ACCESS_KEY_ID", true);
  c.secret_access_key = *ReadCredential(getenv, "AWS_SECRET_ACCESS_KEY", true);
  c.session_token =
      ReadCredential(getenv, "AWS_SESSION_TOKEN", false).value_or("");
  // libcurl splits CURLOPT_USERPWD at the first colon.
  if (c.access_key_id.find(':') != std::string::npos) {
    throw std::runtime_error(
        "AWS credentials: AWS_ACCESS_KEY_ID holds a colon");
  }
  return c;
}

// ---------------------------------------------------------------- parsers

Result<TableDescription> ParseDescribeTable(std::string_view body) {
  Json doc;
  if (auto err = ParseJson(body, &doc)) return *err;
  const JsonValue* table = Member(doc, "Table");
  if (table == nullptr || !table->IsObject()) {
    return ParseError("DescribeTable answer has no Table object");
  }
  TableDescription out;
  const JsonValue* status = Member(*table, "TableStatus");
  if (status == nullptr || !status->IsString()) {
    return ParseError("DescribeTable answer has no TableStatus string");
  }
  Normalize(StringOf(*status), kTableStatuses, &out.status, &out.raw_status);
  const JsonValue* replicas = Member(*table, "Replicas");
  if (replicas == nullptr) return out;  // single-region table, or dynalite
  if (!replicas->IsArray()) {
    return ParseError("DescribeTable Replicas is not an array");
  }
  if (replicas->Size() > kMaxReplicas) {
    return ParseError("DescribeTable lists " +
                      std::to_string(replicas->Size()) +
                      " replicas, more than " + std::to_string(kMaxReplicas));
  }
  std::set<std::string> seen;
  for (const JsonValue& r : replicas->GetArray()) {
    if (!r.IsObject()) {
      return ParseError("DescribeTable replica is not an object");
    }
    const JsonValue* region = Member(r, "RegionName");
    if (region == nullptr || !region->IsString()) {
      return ParseError("DescribeTable replica has no RegionName string");
    }
    std::string_view name = StringOf(*region);
    if (!ValidRegionName(name)) {
      return ParseError("DescribeTable replica RegionName \"" +
                        Printable(name, kMaxRegionName) +
                        "\" is not a region name");
    }
    if (!seen.insert(std::string(name)).second) {
      return ParseError("DescribeTable lists replica " + std::string(name) +
                        " twice");
    }
    ReplicaDescription d;
    d.region_name = std::string(name);
    const JsonValue* rs = Member(r, "ReplicaStatus");
    if (rs == nullptr) {
      // Optional in the API model: an unreported status is not healthy.
      d.status = std::string(kUnknownStatus);
      d.raw_status = "(absent)";
    } else if (!rs->IsString()) {
      return ParseError("DescribeTable replica " + d.region_name +
                        " ReplicaStatus is not a string");
    } else {
      Normalize(StringOf(*rs), kReplicaStatuses, &d.status, &d.raw_status);
    }
    out.replicas.push_back(std::move(d));
  }
  return out;
}

Result<std::optional<double>> ParseGetHeartbeat(std::string_view body) {
  Json doc;
  if (auto err = ParseJson(body, &doc)) return *err;
  if (!doc.IsObject()) return ParseError("GetItem answer is not an object");
  const JsonValue* item = Member(doc, "Item");
  if (item == nullptr) return std::optional<double>();  // no such item
  if (!item->IsObject()) return ParseError("GetItem Item is not an object");
  const JsonValue* ts = Member(*item, "ts");
  const JsonValue* n = ts == nullptr ? nullptr : Member(*ts, "N");
  if (n == nullptr || !n->IsString()) {
    return ParseError("heartbeat item has no number attribute ts");
  }
  std::optional<double> v = ParseTimestamp(StringOf(*n));
  if (!v) {
    return ParseError("heartbeat ts \"" + Printable(StringOf(*n), 40) +
                      "\" is not a time in seconds");
  }
  return std::optional<double>(*v);
}

Error ParseAwsError(long status, std::string_view body,
                    std::span<const std::string> redact) {
  std::string fallback = "http_" + std::to_string(status);
  Json doc;
  const JsonValue* type = nullptr;
  if (!ParseJson(body, &doc)) type = Member(doc, "__type");
  if (type == nullptr || !type->IsString()) {
    return Error{fallback, RedactAndBound("HTTP " + std::to_string(status) +
                                              ": " + std::string(body),
                                          redact)};
  }
  // "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"; some
  // services append ":<doc url>".
  std::string_view code = StringOf(*type);
  if (auto hash = code.rfind('#'); hash != std::string_view::npos) {
    code.remove_prefix(hash + 1);
  }
  if (auto colon = code.find(':'); colon != std::string_view::npos) {
    code = code.substr(0, colon);
  }
  bool valid = !code.empty() && code.size() <= kMaxReason &&
               std::all_of(code.begin(), code.end(), [](char c) {
                 return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_';
               });
  Error e;
  e.reason = valid ? std::string(code) : "other";
  std::string text;
  for (const char* key : {"message", "Message"}) {
    const JsonValue* m = Member(doc, key);
    if (m != nullptr && m->IsString()) {
      text = std::string(StringOf(*m));
      break;
    }
  }
  e.message = "HTTP " + std::to_string(status) + " " +
              Printable(StringOf(*type), kMaxReason + 40);
  if (!text.empty()) e.message += ": " + text;
  e.message = RedactAndBound(std::move(e.message), redact);
  return e;
}

// ---------------------------------------------------------------- client

DynamoDbClient::DynamoDbClient(std::string endpoint_url, std::string region,
                               AwsCredentials credentials, Duration timeout)
    : endpoint_(std::move(endpoint_url)),
      region_(std::move(region)),
      credentials_(std::move(credentials)),
      timeout_(timeout) {
  for (const std::string* s :
       {&credentials_.secret_access_key, &credentials_.session_token,
        &credentials_.access_key_id}) {
    if (!s->empty()) secrets_.push_back(*s);
  }
}

std::string DynamoDbClient::Redact(std::string message) const {
  return RedactAndBound(std::move(message), secrets_);
}

Result<std::string> DynamoDbClient::Call(std::string_view op,
                                         const std::string& body) {
  try {
    http::Request request;
    request.method = "POST";
    request.url = endpoint_;
    request.headers = {"Content-Type: application/x-amz-json-1.0",
                       "X-Amz-Target: DynamoDB_20120810." + std::string(op)};
    if (!credentials_.session_token.empty()) {
      // Signed along with the other x-amz-* headers by libcurl.
      request.headers.push_back("X-Amz-Security-Token: " +
                                credentials_.session_token);
    }
    request.body = body;
    request.timeout = timeout_;
    request.connect_timeout = timeout_;
    request.aws_sigv4 = "aws:amz:" + region_ + ":dynamodb";
    request.userpwd =
        credentials_.access_key_id + ":" + credentials_.secret_access_key;
    request.max_response_bytes = kMaxBodyBytes;
    http::Response response = client_.Do(request);
    if (!response.transport_ok()) {
      return Error{std::string(http::FailureName(response.failure)),
                   std::string(op) + ": " + Redact(response.error)};
    }
    if (response.status != 200) {
      Error e = ParseAwsError(response.status, response.body, secrets_);
      e.message = std::string(op) + ": " + e.message;
      return e;
    }
    return std::move(response.body);
  } catch (const std::exception& e) {
    return Error{"internal", std::string(op) + ": " + e.what()};
  }
}

Result<TableDescription> DynamoDbClient::DescribeTable(
    const std::string& table) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("TableName");
  w.String(table);
  w.EndObject();
  Result<std::string> r = Call("DescribeTable", Serialize(buffer));
  if (!r.ok()) return r.error();
  Result<TableDescription> d = ParseDescribeTable(r.value());
  if (!d.ok())
    return Error{d.error().reason,
                 "DescribeTable: " + Redact(d.error().message)};
  return d;
}

Result<Done> DynamoDbClient::PutHeartbeat(const std::string& table,
                                          const std::string& pk,
                                          double ts_seconds) {
  if (!std::isfinite(ts_seconds) || ts_seconds < 0) {
    return Error{"internal", "PutItem: invalid timestamp"};
  }
  char ts[64];
  auto [end, ec] = std::to_chars(ts, ts + sizeof ts, ts_seconds,
                                 std::chars_format::fixed, 3);
  if (ec != std::errc()) return Error{"internal", "PutItem: invalid timestamp"};
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("TableName");
  w.String(table);
  w.Key("Item");
  w.StartObject();
  w.Key("pk");
  w.StartObject();
  w.Key("S");
  w.String(pk);
  w.EndObject();
  w.Key("ts");
  w.StartObject();
  w.Key("N");
  w.String(ts, static_cast<rapidjson::SizeType>(end - ts));
  w.EndObject();
  w.EndObject();
  w.EndObject();
  Result<std::string> r = Call("PutItem", Serialize(buffer));
  if (!r.ok()) return r.error();
  return Done{};
}

Result<std::optional<double>> DynamoDbClient::GetHeartbeat(
    const std::string& table, const std::string& pk) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("TableName");
  w.String(table);
  w.Key("Key");
  w.StartObject();
  w.Key("pk");
  w.StartObject();
  w.Key("S");
  w.String(pk);
  w.EndObject();
  w.EndObject();
  // The local replica's latest state, not a possibly older copy: the lag
  // measured is replication's, not read staleness.
  w.Key("ConsistentRead");
  w.Bool(true);
  w.EndObject();
  Result<std::string> r = Call("GetItem", Serialize(buffer));
  if (!r.ok()) return r.error();
  Result<std::optional<double>> v = ParseGetHeartbeat(r.value());
  if (!v.ok()) {
    return Error{v.error().reason, "GetItem: " + Redact(v.error().message)};
  }
  return v;
}

}  // namespace drf::dynamodb
