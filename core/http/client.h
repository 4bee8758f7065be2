#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/duration.h"

namespace drf::http {

/// Calls curl_global_init once; call from main before starting threads.
void GlobalInit();

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
/// Owns one CURL easy handle.
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

/// Creates an easy handle; throws std::runtime_error if libcurl cannot.
EasyHandle NewEasy();

/// Owns a curl_slist of headers. Not copyable.
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  HeaderList(HeaderList&& o) noexcept : list_(o.list_) { o.list_ = nullptr; }
  HeaderList& operator=(HeaderList&& o) noexcept;
  ~HeaderList() { curl_slist_free_all(list_); }

  /// Returns false when libcurl is out of memory; the list is unchanged.
  bool Append(const std::string& header);
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

/// Why a request got no usable answer. The names are the `reason` label
/// values of the probe metrics.
enum class Failure {
  kNone,
  kTimeout,
  kConnect,
  kDns,
  kTls,
  kTooLarge,
  kStatus
};

std::string_view FailureName(Failure f);

/// Maps a libcurl result to a failure kind.
Failure Classify(CURLcode code);

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;
  Duration timeout = std::chrono::seconds(10);
  Duration connect_timeout = std::chrono::seconds(5);
  /// CURLOPT_AWS_SIGV4 provider string, e.g. "aws:amz:us-east-1:dynamodb".
  std::string aws_sigv4;
  /// "user:password" for basic auth or the SigV4 key pair; never logged.
  std::string userpwd;
  std::size_t max_response_bytes = 4 << 20;
};

/// The outcome of one request: a transport result and, separately, the HTTP
/// status (0 when no response arrived).
struct Response {
  CURLcode curl_code = CURLE_OK;
  Failure failure = Failure::kNone;
  std::string error;  // libcurl's message; holds no credentials
  long status = 0;
  std::string body;
  /// Retry-After in seconds when the server sent one (delta-seconds form).
  std::optional<long> retry_after;
  double seconds = 0;
  /// Bodies beyond this many bytes abort the transfer (set by Prepare).
  std::size_t body_limit = 4 << 20;

  bool transport_ok() const { return curl_code == CURLE_OK; }
};

/// A blocking HTTP client over one reused easy handle, so connections are
/// kept alive between calls. Not thread-safe: one per thread.
class Client {
 public:
  Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Response Do(const Request& request);

 private:
  EasyHandle easy_;
};

/// Sets up `easy` for `request`, writing the body into `out`. Used by the
/// blocking client and by callers that drive many handles with curl multi.
/// `headers` must outlive the transfer.
void Prepare(CURL* easy, const Request& request, HeaderList* headers,
             Response* out);

/// Fills the status, timings and failure of `out` after a transfer ended.
void Finish(CURL* easy, CURLcode code, Response* out);

}  // namespace drf::http
