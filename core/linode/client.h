#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/config/duration.h"
#include "core/http/client.h"
#include "core/util/result.h"
#include "core/util/stopper.h"

namespace drf::linode {

/// Why a Linode API call failed. The names (ErrorKindName) are the `reason`
/// label values of dr_collector_errors_total.
enum class ErrorKind {
  kUnauthorized,  // 401, 403
  kNotFound,      // 404, or the domain is not in the account
  kRateLimited,   // 429
  kServer,        // 5xx
  kClient,        // any other 4xx (and unexpected 1xx/3xx answers)
  kTimeout,       // the request or the caller's deadline ran out
  kConnect,       // refused, reset, or closed without an answer
  kDns,           // the API host name did not resolve
  kTls,           // certificate or handshake failure
  kParse,         // an answer that is not what the API documents
};

std::string_view ErrorKindName(ErrorKind kind);

/// A failed call. `reason` is human text for logs: Linode's errors[].reason
/// (with the field), or the transport error. It never holds the token.
struct Error {
  ErrorKind kind = ErrorKind::kParse;
  long http_status = 0;  // 0 when no answer arrived
  std::string reason;
  /// The server's Retry-After, when it sent one: no request may be sent
  /// before it has passed.
  std::optional<std::chrono::seconds> retry_after;
};

/// A value or the Error that prevented it.
template <class T>
using Result = drf::Result<T, Error>;

/// A DNS Manager domain (only the fields dr-failover reads).
struct Domain {
  std::int64_t id = 0;
  std::string domain;
};

/// A domain record, as GET .../records/{id} answers it (the object itself,
/// not wrapped). `name` is relative to the domain; "" is the apex.
struct Record {
  std::int64_t id = 0;
  std::string type;
  std::string name;
  std::string target;
  int ttl_sec = 0;
};

/// One page of a paginated collection: {"data", "page", "pages", "results"}.
template <class T>
struct Page {
  std::vector<T> data;
  std::int64_t page = 0;
  std::int64_t pages = 0;
  std::int64_t results = 0;
};

// ---------------------------------------------------------------- parsing
// Pure functions over a response body: no I/O. Each rejects bodies above
// kMaxBodyBytes, NUL bytes, invalid UTF-8, truncated JSON, missing fields
// and wrong types with an ErrorKind::kParse error; none throws or recurses
// on the input's nesting depth.

inline constexpr std::size_t kMaxBodyBytes = 16 << 20;
/// Pages of one collection followed at most; a provider that reports more
/// is treated as broken rather than followed for minutes.
inline constexpr std::int64_t kMaxPages = 100;
/// Records per page asked for (the API's maximum).
inline constexpr int kPageSize = 500;

Result<Page<Domain>> ParseDomainPage(std::string_view body);
Result<Page<Record>> ParseRecordPage(std::string_view body);
Result<Record> ParseRecord(std::string_view body);

/// Joins the errors[] of a Linode error body as "field: reason; reason".
/// Returns "" when the body is not one (the caller then names the status).
std::string ParseErrorReasons(std::string_view body);

/// The X-Filter header value selecting `domain`: {"domain": "<domain>"},
/// escaped by rapidjson and ASCII-only, so no name can inject a filter
/// term or a header line. Returns "" for invalid UTF-8.
std::string DomainFilter(std::string_view domain);

/// The PUT body {"target": ..., "ttl_sec": ...}; "" for invalid UTF-8.
std::string RecordUpdateBody(std::string_view target, int ttl_sec);

/// Turns one HTTP exchange into an Error (transport failure or non-2xx
/// status), or nullopt when it succeeded with a 2xx. `token` is scrubbed
/// from the reason.
std::optional<Error> ErrorFromResponse(const http::Response& response,
                                       std::string_view token);

// ---------------------------------------------------------------- token

/// Reads the API token: from dns.token_file when set (trailing whitespace
/// trimmed), else from the environment variable LINODE_TOKEN. Throws
/// std::runtime_error when there is none, the file is unreadable or empty,
/// or the token holds characters a header cannot carry. Messages name the
/// file or variable, never the token.
std::string LoadToken(const DnsConfig& dns);

// ---------------------------------------------------------------- client

/// Bounds one API call, its retries included.
struct Call {
  std::chrono::steady_clock::time_point deadline;
  /// When set, Stop() ends waits and transfers early (the call then fails).
  const Stopper* stop = nullptr;

  static Call Within(Duration budget, const Stopper* stop = nullptr) {
    return Call{std::chrono::steady_clock::now() + budget, stop};
  }
};

/// How a call retries. 429 waits for Retry-After (never sends earlier; if
/// that is past the deadline the call fails with the wait in
/// Error::retry_after); 5xx, timeouts and dropped or refused connections
/// retry after a full-jitter exponential backoff (drf::Backoff), uniform in
/// [0, min(cap, base * 2^attempt)); any other error returns at once.
struct RetryPolicy {
  Duration base = std::chrono::milliseconds(250);
  Duration cap = std::chrono::seconds(8);
  int max_attempts = 8;
  /// Retry-After values above this are clamped (a broken header must not
  /// park a daemon for a day).
  std::chrono::seconds max_retry_after = std::chrono::minutes(5);
};

/// The Linode API v4 DNS operations dr-failover uses: the exporter reads,
/// the actuator writes. An interface so tests of its users can fake it.
class DnsApi {
 public:
  virtual ~DnsApi() = default;

  /// The id of `domain` in the account (GET /domains, X-Filter, all pages).
  /// kNotFound when the account has no such domain.
  virtual Result<std::int64_t> FindDomain(std::string_view domain,
                                          const Call& call) = 0;
  /// Every record of the domain, all pages followed (page_size 500, at most
  /// kMaxPages), duplicates across pages dropped.
  virtual Result<std::vector<Record>> ListRecords(std::int64_t domain_id,
                                                  const Call& call) = 0;
  /// GET /domains/{id}/records/{rid}: the response is the record itself.
  virtual Result<Record> GetRecord(std::int64_t domain_id,
                                   std::int64_t record_id,
                                   const Call& call) = 0;
  /// PUT {"target", "ttl_sec"}; returns the record as Linode stored it
  /// (ttl_sec rounded). Idempotent, so retried like a read.
  virtual Result<Record> UpdateRecord(std::int64_t domain_id,
                                      std::int64_t record_id,
                                      std::string_view target, int ttl_sec,
                                      const Call& call) = 0;
};

/// The one adapter to the Linode API v4 DNS Manager. Sends
/// `Authorization: Bearer <token>` over one reused libcurl handle (HTTPS
/// verifies certificates), parses answers with the functions above and
/// retries per RetryPolicy within the caller's Call. Owns its handle and a
/// copy of the token; the token never reaches an Error or a log line.
/// Never throws after construction. Not thread-safe: one per thread.
class LinodeClient final : public DnsApi {
 public:
  /// `api_url` without a trailing slash (https://api.linode.com/v4).
  /// Throws std::invalid_argument for a token a header cannot carry, and
  /// std::runtime_error when libcurl cannot make a handle.
  LinodeClient(std::string api_url, std::string token, Duration request_timeout,
               RetryPolicy policy = {});
  LinodeClient(const LinodeClient&) = delete;
  LinodeClient& operator=(const LinodeClient&) = delete;

  Result<std::int64_t> FindDomain(std::string_view domain,
                                  const Call& call) override;
  Result<std::vector<Record>> ListRecords(std::int64_t domain_id,
                                          const Call& call) override;
  Result<Record> GetRecord(std::int64_t domain_id, std::int64_t record_id,
                           const Call& call) override;
  Result<Record> UpdateRecord(std::int64_t domain_id, std::int64_t record_id,
                              std::string_view target, int ttl_sec,
                              const Call& call) override;

 private:
  /// One request with retries; the answer is a 2xx response.
  Result<http::Response> Execute(http::Request request, const Call& call);
  /// One HTTP exchange, interruptible through call.stop.
  http::Response Perform(const http::Request& request, const Call& call);
  Duration Backoff(int attempt);
  http::Request NewRequest(std::string method, std::string url) const;

  std::string api_url_;
  std::string token_;
  Duration request_timeout_;
  RetryPolicy policy_;
  http::EasyHandle easy_;
  std::mt19937_64 rng_;
};

}  // namespace drf::linode
