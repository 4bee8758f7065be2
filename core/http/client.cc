#include "core/http/client.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace drf::http {
namespace {

// Never throws: a C callback must not let an exception through.
std::size_t WriteBody(char* data, std::size_t size, std::size_t n,
                      void* userdata) noexcept {
  auto* ctx = static_cast<Response*>(userdata);
  std::size_t bytes = size * n;
  if (ctx->body.size() + bytes > ctx->body_limit) {
    ctx->failure = Failure::kTooLarge;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  try {
    ctx->body.append(data, bytes);
  } catch (...) {
    return 0;
  }
  return bytes;
}

std::size_t ReadHeader(char* data, std::size_t size, std::size_t n,
                       void* userdata) noexcept {
  auto* out = static_cast<Response*>(userdata);
  std::size_t bytes = size * n;
  std::string_view line(data, bytes);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string_view v = line.substr(kName.size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
      v.remove_prefix(1);
    }
    long seconds = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (ec == std::errc() && ptr != v.data() && seconds >= 0) {
      out->retry_after = seconds;
    }
  }
  return bytes;
}

}  // namespace

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

EasyHandle NewEasy() {
  EasyHandle h(curl_easy_init());
  if (!h) throw std::runtime_error("curl_easy_init failed");
  return h;
}

HeaderList& HeaderList::operator=(HeaderList&& o) noexcept {
  if (this != &o) {
    curl_slist_free_all(list_);
    list_ = o.list_;
    o.list_ = nullptr;
  }
  return *this;
}

bool HeaderList::Append(const std::string& header) {
  curl_slist* next = curl_slist_append(list_, header.c_str());
  if (next == nullptr) return false;
  list_ = next;
  return true;
}

std::string_view FailureName(Failure f) {
  switch (f) {
    case Failure::kNone:
      return "none";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kConnect:
      return "connect";
    case Failure::kDns:
      return "dns";
    case Failure::kTls:
      return "tls";
    case Failure::kTooLarge:
      return "too_large";
    case Failure::kStatus:
      return "status";
  }
  return "connect";
}

Failure Classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return Failure::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return Failure::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Failure::kDns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return Failure::kTls;
    default:
      // Refused, reset, closed without an answer, malformed answer: the
      // site could not be talked to.
      return Failure::kConnect;
  }
}

void Prepare(CURL* easy, const Request& request, HeaderList* headers,
             Response* out) {
  curl_easy_reset(easy);
  *out = Response{};
  out->body_limit = request.max_response_bytes;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(request.timeout.count()));
  curl_easy_setopt(
      easy, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(
          std::min(request.connect_timeout, request.timeout).count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &ReadHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, out);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "dr-failover");
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST" ||
      request.method == "PUT") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  *headers = HeaderList();
  for (const std::string& h : request.headers) headers->Append(h);
  // libcurl adds "Expect: 100-continue" to large bodies; it only adds a
  // round trip against our peers. Not on signed requests: libcurl before
  // 8.3.0 signs the removed header (curl issue #11664) and AWS then rejects
  // the request; their bodies are far below libcurl's threshold anyway.
  if (request.aws_sigv4.empty()) headers->Append("Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers->get());
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
  }
  if (!request.userpwd.empty()) {
    curl_easy_setopt(easy, CURLOPT_USERPWD, request.userpwd.c_str());
  }
}

void Finish(CURL* easy, CURLcode code, Response* out) {
  out->curl_code = code;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  out->status = status;
  double seconds = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &seconds);
  out->seconds = seconds;
  if (code != CURLE_OK) {
    if (out->failure != Failure::kTooLarge) out->failure = Classify(code);
    out->error = curl_easy_strerror(code);
    if (out->failure == Failure::kTooLarge) out->error = "response too large";
  }
}

Client::Client() : easy_(NewEasy()) {}

Response Client::Do(const Request& request) {
  HeaderList headers;
  Response out;
  Prepare(easy_.get(), request, &headers, &out);
  CURLcode code = curl_easy_perform(easy_.get());
  Finish(easy_.get(), code, &out);
  // Drop references to this call's buffers before they go away.
  curl_easy_setopt(easy_.get(), CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy_.get(), CURLOPT_POSTFIELDS, nullptr);
  return out;
}

}  // namespace drf::http
