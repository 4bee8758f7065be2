#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/duration.h"
#include "core/http/client.h"
#include "core/util/result.h"

namespace drf::dynamodb {

/// AWS access keys for request signing. Loaded once at start-up; never
/// printed: no error message or log line built here contains a value.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" when not using temporary credentials

  /// Looks up an environment variable; nullptr when unset.
  using EnvLookup = std::function<const char*(const char*)>;

  /// Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the optional
  /// AWS_SESSION_TOKEN, each either from the variable itself or from the
  /// file its *_FILE variant names (a Kubernetes secret; trailing newlines
  /// and blanks are dropped). An empty variable counts as unset. Throws
  /// std::runtime_error naming the variable when one is missing, empty,
  /// unreadable, not printable ASCII, or set both ways.
  static AwsCredentials FromEnv();
  static AwsCredentials FromEnv(const EnvLookup& getenv);
};

/// Why a call failed. `reason` is short and bounded, fit for a metric
/// label: the AWS error type ("ResourceNotFoundException"), a transport
/// failure ("timeout", "connect", "dns", "tls", "too_large"), "http_<code>"
/// for an error answer that is not AWS JSON, or "parse" for a malformed
/// answer. `message` is for humans (logs), bounded, with credentials
/// redacted.
struct Error {
  std::string reason;
  std::string message;
};

/// A value or an Error. Check ok() before value().
template <class T>
using Result = drf::Result<T, Error>;
using drf::Done;

/// The status names exported as state sets, and the one for anything else.
inline constexpr std::string_view kUnknownStatus = "UNKNOWN";
std::span<const std::string_view> KnownTableStatuses();
std::span<const std::string_view> KnownReplicaStatuses();

struct ReplicaDescription {
  std::string region_name;  // validated: [a-z0-9-], 1 to 32 characters
  std::string status;       // a known replica status or kUnknownStatus
  std::string raw_status;   // as received (bounded, printable) when unknown
};

struct TableDescription {
  std::string status;      // a known table status or kUnknownStatus
  std::string raw_status;  // as received (bounded, printable) when unknown
  std::vector<ReplicaDescription> replicas;  // empty for single-region tables
};

/// Largest answer body accepted (and parsed) from DynamoDB.
inline constexpr std::size_t kMaxBodyBytes = 1 << 20;

// Parsers of DynamoDB's JSON 1.0 answers: pure, no I/O, never throw. Any
// malformed, oversized, too deeply nested or wrongly typed body gives an
// Error with reason "parse" (or "too_large").

/// A DescribeTable answer (HTTP 200 body).
Result<TableDescription> ParseDescribeTable(std::string_view body);

/// A GetItem answer for a heartbeat item: the `ts` number attribute, or
/// nullopt when there is no such item.
Result<std::optional<double>> ParseGetHeartbeat(std::string_view body);

/// An error answer (any non-200 status): the reason from `__type`, else
/// "http_<status>". Every occurrence of a string in `redact` is removed
/// from the message (AWS quotes signed headers, such as a session token,
/// in signature errors) before the message is bounded.
Error ParseAwsError(long status, std::string_view body,
                    std::span<const std::string> redact = {});

/// The DynamoDB operations the exporter uses. Implementations need not be
/// thread-safe: each worker thread owns one.
class Api {
 public:
  virtual ~Api() = default;
  virtual Result<TableDescription> DescribeTable(const std::string& table) = 0;
  /// Writes the item {pk: {S: pk}, ts: {N: ts_seconds, ms precision}}.
  virtual Result<Done> PutHeartbeat(const std::string& table,
                                    const std::string& pk,
                                    double ts_seconds) = 0;
  /// Strongly consistent read of item `pk`'s `ts`; nullopt when absent.
  virtual Result<std::optional<double>> GetHeartbeat(const std::string& table,
                                                     const std::string& pk) = 0;
};

/// The DynamoDB adapter: JSON 1.0 protocol over one kept-alive libcurl
/// handle, requests signed by libcurl (CURLOPT_AWS_SIGV4) for one region.
/// Nobody else builds DynamoDB requests or parses DynamoDB JSON.
/// Owns its credentials and its HTTP client. Not thread-safe: one per
/// thread. Never throws after construction.
class DynamoDbClient : public Api {
 public:
  /// `endpoint_url` e.g. "https://dynamodb.us-east-1.amazonaws.com";
  /// `timeout` bounds every request. Throws if libcurl cannot start.
  DynamoDbClient(std::string endpoint_url, std::string region,
                 AwsCredentials credentials, Duration timeout);

  Result<TableDescription> DescribeTable(const std::string& table) override;
  Result<Done> PutHeartbeat(const std::string& table, const std::string& pk,
                            double ts_seconds) override;
  Result<std::optional<double>> GetHeartbeat(const std::string& table,
                                             const std::string& pk) override;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& region() const { return region_; }

 private:
  /// POSTs `body` as operation `op`; the answer body on HTTP 200.
  Result<std::string> Call(std::string_view op, const std::string& body);
  /// Removes credential values from a message and bounds its length.
  std::string Redact(std::string message) const;

  std::string endpoint_;
  std::string region_;
  AwsCredentials credentials_;
  std::vector<std::string> secrets_;  // credential values, for Redact
  Duration timeout_;
  http::Client client_;  // one reused handle, so connections are kept alive
};

}  // namespace drf::dynamodb
