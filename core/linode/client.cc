#include "core/linode/client.h"

#include <errno.h>
#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/encodings.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/json/json.h"
#include "core/util/backoff.h"
#include "core/util/secret.h"

namespace drf::linode {
namespace {

using Clock = std::chrono::steady_clock;

// No depth limit: the parse is iterative, so a hostile nesting depth costs
// heap (bounded by kMaxBodyBytes), never stack, and the field checks refuse
// what is not a record.
constexpr std::size_t kMaxDepth = std::numeric_limits<std::size_t>::max();

// Limits on what Linode's own text may add to a log line.
constexpr std::size_t kMaxReasonBytes = 200;
constexpr std::size_t kMaxReasons = 5;

Error MakeError(ErrorKind kind, std::string reason, long status = 0) {
  Error e;
  e.kind = kind;
  e.http_status = status;
  e.reason = std::move(reason);
  return e;
}

Error ParseError(std::string reason) {
  return MakeError(ErrorKind::kParse, std::move(reason));
}

// Parses `body` into `doc` and checks that it is an object.
std::optional<Error> ParseObject(std::string_view body,
                                 rapidjson::Document* doc) {
  auto err = json::Parse(
      body, {.max_bytes = kMaxBodyBytes, .max_depth = kMaxDepth}, doc);
  if (err) {
    switch (err->failure) {
      case json::ParseFailure::kEmpty:
        return ParseError("empty response");
      case json::ParseFailure::kSyntax:
        return ParseError(err->message);
      default:
        return ParseError("response " + err->message);
    }
  }
  if (!doc->IsObject()) return ParseError("response is not a JSON object");
  return std::nullopt;
}

// Reads the members of one JSON object, remembering the first problem so a
// parser can read every field and check once.
class Fields {
 public:
  Fields(const rapidjson::Value& obj, std::string where)
      : obj_(obj), where_(std::move(where)) {
    r_.IsObject(obj_, where_);
  }

  // An integer in [lo, hi].
  std::int64_t Int(const char* name, std::int64_t lo, std::int64_t hi) {
    std::int64_t v = 0;
    r_.Int(obj_, where_, name, json::Need::kRequired, lo, hi, &v);
    return v;
  }

  // A string without NUL bytes; null reads as "" when `nullable`.
  std::string Str(const char* name, bool nullable = false) {
    const rapidjson::Value* v =
        r_.Member(obj_, where_, name, json::Need::kRequired);
    if (v == nullptr) return "";
    if (v->IsNull() && nullable) return "";
    std::string s;
    if (!r_.String(*v, json::Join(where_, name), &s)) return "";
    if (s.find('\0') != std::string::npos) {
      r_.Fail(json::Join(where_, name), "holds a NUL character");
      return "";
    }
    return s;
  }

  const rapidjson::Value* Array(const char* name) {
    return r_.Array(obj_, where_, name, json::Need::kRequired);
  }

  bool ok() const { return r_.ok(); }
  Error error() const { return ParseError(r_.error()); }

 private:
  const rapidjson::Value& obj_;
  std::string where_;
  json::Reader r_{{.wording = json::Wording::kExpected}};
};

constexpr std::int64_t kMaxId = std::numeric_limits<std::int64_t>::max();

Result<Record> RecordFrom(const rapidjson::Value& v, std::string where) {
  Fields f(v, std::move(where));
  Record r;
  r.id = f.Int("id", 1, kMaxId);
  r.type = f.Str("type");
  r.name = f.Str("name", /*nullable=*/true);
  r.target = f.Str("target", /*nullable=*/true);
  r.ttl_sec = static_cast<int>(f.Int("ttl_sec", 0, INT_MAX));
  if (!f.ok()) return f.error();
  return r;
}

Result<Domain> DomainFrom(const rapidjson::Value& v, std::string where) {
  Fields f(v, std::move(where));
  Domain d;
  d.id = f.Int("id", 1, kMaxId);
  d.domain = f.Str("domain");
  if (!f.ok()) return f.error();
  return d;
}

template <class T, class ItemFn>
Result<Page<T>> ParsePage(std::string_view body, ItemFn item) {
  rapidjson::Document doc;
  if (auto err = ParseObject(body, &doc)) return *err;
  Fields f(doc, "");
  Page<T> page;
  page.page = f.Int("page", 0, kMaxId);
  page.pages = f.Int("pages", 0, kMaxId);
  page.results = f.Int("results", 0, kMaxId);
  const rapidjson::Value* data = f.Array("data");
  if (!f.ok()) return f.error();
  page.data.reserve(data->Size());
  for (rapidjson::SizeType i = 0; i < data->Size(); ++i) {
    Result<T> one = item((*data)[i], "data[" + std::to_string(i) + "]");
    if (!one.ok()) return one.error();
    page.data.push_back(std::move(one).value());
  }
  return page;
}

// Replaces control characters and cuts at a UTF-8 boundary, so provider
// text is one tidy log line.
std::string Tidy(std::string_view s, std::size_t max_bytes) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  if (out.size() > max_bytes) {
    std::size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;
    out.resize(n);
    out += "...";
  }
  return out;
}

void Scrub(std::string* s, std::string_view secret) {
  if (secret.empty()) return;
  constexpr std::string_view kMask = "<redacted>";
  for (std::size_t at = s->find(secret); at != std::string::npos;
       at = s->find(secret, at + kMask.size())) {
    s->replace(at, secret.size(), kMask);
  }
}

// A libcurl progress callback: a stop request aborts the transfer. It
// must not throw into libcurl.
int AbortOnStop(void* userdata, curl_off_t, curl_off_t, curl_off_t,
                curl_off_t) noexcept {
  try {
    return static_cast<const Stopper*>(userdata)->stopped() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

bool Retryable(ErrorKind kind) {
  return kind == ErrorKind::kRateLimited || kind == ErrorKind::kServer ||
         kind == ErrorKind::kTimeout || kind == ErrorKind::kConnect;
}

}  // namespace

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnauthorized:
      return "unauthorized";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kRateLimited:
      return "rate_limited";
    case ErrorKind::kServer:
      return "server";
    case ErrorKind::kClient:
      return "client";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kDns:
      return "dns";
    case ErrorKind::kTls:
      return "tls";
    case ErrorKind::kParse:
      return "parse";
  }
  return "parse";
}

Result<Page<Domain>> ParseDomainPage(std::string_view body) {
  return ParsePage<Domain>(body, DomainFrom);
}

Result<Page<Record>> ParseRecordPage(std::string_view body) {
  return ParsePage<Record>(body, RecordFrom);
}

Result<Record> ParseRecord(std::string_view body) {
  rapidjson::Document doc;
  if (auto err = ParseObject(body, &doc)) return *err;
  return RecordFrom(doc, "");
}

std::string ParseErrorReasons(std::string_view body) {
  rapidjson::Document doc;
  if (ParseObject(body, &doc)) return "";
  auto it = doc.FindMember("errors");
  if (it == doc.MemberEnd() || !it->value.IsArray()) return "";
  std::string out;
  std::size_t n = 0;
  for (const rapidjson::Value& e : it->value.GetArray()) {
    if (!e.IsObject()) continue;
    auto reason = e.FindMember("reason");
    if (reason == e.MemberEnd() || !reason->value.IsString()) continue;
    if (n == kMaxReasons) {
      out += "; ...";
      break;
    }
    if (n++ > 0) out += "; ";
    auto field = e.FindMember("field");
    if (field != e.MemberEnd() && field->value.IsString() &&
        field->value.GetStringLength() > 0) {
      out += Tidy({field->value.GetString(), field->value.GetStringLength()},
                  kMaxReasonBytes);
      out += ": ";
    }
    out += Tidy({reason->value.GetString(), reason->value.GetStringLength()},
                kMaxReasonBytes);
  }
  return out;
}

std::string DomainFilter(std::string_view domain) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>,
                    rapidjson::ASCII<>>
      w(buf);
  bool ok = w.StartObject() && w.Key("domain") &&
            w.String(domain.data(),
                     static_cast<rapidjson::SizeType>(domain.size())) &&
            w.EndObject();
  if (!ok) return "";
  return std::string(buf.GetString(), buf.GetSize());
}

std::string RecordUpdateBody(std::string_view target, int ttl_sec) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>,
                    rapidjson::ASCII<>>
      w(buf);
  bool ok = w.StartObject() && w.Key("target") &&
            w.String(target.data(),
                     static_cast<rapidjson::SizeType>(target.size())) &&
            w.Key("ttl_sec") && w.Int(ttl_sec) && w.EndObject();
  if (!ok) return "";
  return std::string(buf.GetString(), buf.GetSize());
}

std::optional<Error> ErrorFromResponse(const http::Response& response,
                                       std::string_view token) {
  Error e;
  if (!response.transport_ok()) {
    switch (response.failure) {
      case http::Failure::kTimeout:
        e.kind = ErrorKind::kTimeout;
        break;
      case http::Failure::kDns:
        e.kind = ErrorKind::kDns;
        break;
      case http::Failure::kTls:
        e.kind = ErrorKind::kTls;
        break;
      case http::Failure::kTooLarge:
        e.kind = ErrorKind::kParse;
        break;
      default:
        e.kind = ErrorKind::kConnect;
        break;
    }
    if (response.curl_code == CURLE_ABORTED_BY_CALLBACK) {
      e.kind = ErrorKind::kTimeout;
      e.reason = "interrupted: stopping";
    } else {
      e.reason = response.error.empty() ? "transfer failed" : response.error;
    }
    e.http_status = response.status;
  } else if (response.status >= 200 && response.status < 300) {
    return std::nullopt;
  } else {
    long s = response.status;
    e.http_status = s;
    if (s == 401 || s == 403) {
      e.kind = ErrorKind::kUnauthorized;
    } else if (s == 404) {
      e.kind = ErrorKind::kNotFound;
    } else if (s == 429) {
      e.kind = ErrorKind::kRateLimited;
    } else if (s >= 500 && s < 600) {
      e.kind = ErrorKind::kServer;
    } else {
      e.kind = ErrorKind::kClient;
    }
    std::string reasons = ParseErrorReasons(response.body);
    e.reason = "HTTP " + std::to_string(s);
    if (!reasons.empty()) e.reason += ": " + reasons;
    if (response.retry_after) {
      e.retry_after = std::chrono::seconds(*response.retry_after);
    }
  }
  Scrub(&e.reason, token);
  return e;
}

std::string LoadToken(const DnsConfig& dns) {
  return LoadSecret(dns.token_file, "dns.token_file", "LINODE_TOKEN",
                    "Linode API token");
}

LinodeClient::LinodeClient(std::string api_url, std::string token,
                           Duration request_timeout, RetryPolicy policy)
    : api_url_(std::move(api_url)),
      token_(std::move(token)),
      request_timeout_(request_timeout),
      policy_(policy),
      easy_(http::NewEasy()),
      rng_(std::random_device{}()) {
  if (!HeaderSafe(token_)) {
    throw std::invalid_argument(
        "Linode API token is empty or holds characters an HTTP header "
        "cannot carry");
  }
  while (!api_url_.empty() && api_url_.back() == '/') api_url_.pop_back();
  if (policy_.max_attempts < 1) policy_.max_attempts = 1;
}

http::Request LinodeClient::NewRequest(std::string method,
                                       std::string url) const {
  http::Request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.headers = {"Authorization: Bearer " + token_, "Accept: application/json"};
  r.timeout = request_timeout_;
  r.max_response_bytes = kMaxBodyBytes;
  return r;
}

http::Response LinodeClient::Perform(const http::Request& request,
                                     const Call& call) {
  CURL* easy = easy_.get();
  http::HeaderList headers;
  http::Response out;
  http::Prepare(easy, request, &headers, &out);
  if (call.stop != nullptr) {
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &AbortOnStop);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA,
                     const_cast<Stopper*>(call.stop));
  }
  CURLcode code = curl_easy_perform(easy);
  http::Finish(easy, code, &out);
  // Drop references to this call's buffers before they go away.
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, nullptr);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 1L);
  return out;
}

Duration LinodeClient::Backoff(int attempt) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return drf::Backoff(policy_.base, policy_.cap, attempt + 1, unit(rng_));
}

Result<http::Response> LinodeClient::Execute(http::Request request,
                                             const Call& call) {
  std::optional<Error> last;
  for (int attempt = 0;; ++attempt) {
    if (call.stop != nullptr && call.stop->stopped()) {
      if (last) return *last;
      return MakeError(ErrorKind::kTimeout, "interrupted: stopping");
    }
    auto now = Clock::now();
    if (now >= call.deadline) {
      if (last) return *last;
      return MakeError(ErrorKind::kTimeout,
                       "deadline passed before the request was sent");
    }
    auto remaining = std::chrono::ceil<Duration>(call.deadline - now);
    request.timeout = std::min(request_timeout_, remaining);
    http::Response response = Perform(request, call);
    std::optional<Error> err = ErrorFromResponse(response, token_);
    if (!err) return response;
    if (err->retry_after) {
      err->retry_after = std::min(*err->retry_after, policy_.max_retry_after);
    }
    if (!Retryable(err->kind) || attempt + 1 >= policy_.max_attempts) {
      return *err;
    }
    // Never send before the server's Retry-After, whatever the status.
    Duration wait = Backoff(attempt);
    if (err->retry_after) {
      wait = err->kind == ErrorKind::kRateLimited
                 ? Duration(*err->retry_after)
                 : std::max(wait, Duration(*err->retry_after));
    }
    if (Clock::now() + wait >= call.deadline) return *err;
    if (call.stop != nullptr) {
      if (call.stop->WaitFor(wait)) return *err;
    } else {
      std::this_thread::sleep_for(wait);
    }
    last = std::move(err);
  }
}

Result<std::int64_t> LinodeClient::FindDomain(std::string_view domain,
                                              const Call& call) {
  std::string filter = DomainFilter(domain);
  if (filter.empty()) {
    return MakeError(ErrorKind::kClient, "domain name is not valid UTF-8");
  }
  for (std::int64_t page = 1; page <= kMaxPages; ++page) {
    http::Request req =
        NewRequest("GET", api_url_ + "/domains?page=" + std::to_string(page) +
                              "&page_size=" + std::to_string(kPageSize));
    req.headers.push_back("X-Filter: " + filter);
    Result<http::Response> resp = Execute(std::move(req), call);
    if (!resp.ok()) return resp.error();
    Result<Page<Domain>> parsed = ParseDomainPage(resp.value().body);
    if (!parsed.ok()) return parsed.error();
    const Page<Domain>& p = parsed.value();
    for (const Domain& d : p.data) {
      // Linode's filter is exact; compare again (case-insensitively, as
      // DNS does) so a sloppy filter never yields another domain's id.
      if (d.domain.size() == domain.size() &&
          std::equal(d.domain.begin(), d.domain.end(), domain.begin(),
                     [](char a, char b) {
                       return std::tolower(static_cast<unsigned char>(a)) ==
                              std::tolower(static_cast<unsigned char>(b));
                     })) {
        return d.id;
      }
    }
    if (p.pages > kMaxPages) {
      return ParseError("provider reports " + std::to_string(p.pages) +
                        " pages of domains (more than " +
                        std::to_string(kMaxPages) + ")");
    }
    if (p.pages != 0 && p.page != page) {
      return ParseError("asked for page " + std::to_string(page) +
                        " of domains, got page " + std::to_string(p.page));
    }
    if (page >= p.pages) break;
  }
  return MakeError(ErrorKind::kNotFound,
                   "domain " + Tidy(domain, 256) + " is not in the account");
}

Result<std::vector<Record>> LinodeClient::ListRecords(std::int64_t domain_id,
                                                      const Call& call) {
  std::vector<Record> out;
  std::set<std::int64_t> seen;
  const std::string base =
      api_url_ + "/domains/" + std::to_string(domain_id) + "/records";
  for (std::int64_t page = 1;; ++page) {
    Result<http::Response> resp = Execute(
        NewRequest("GET", base + "?page=" + std::to_string(page) +
                              "&page_size=" + std::to_string(kPageSize)),
        call);
    if (!resp.ok()) return resp.error();
    Result<Page<Record>> parsed = ParseRecordPage(resp.value().body);
    if (!parsed.ok()) return parsed.error();
    Page<Record>& p = parsed.value();
    if (p.pages > kMaxPages) {
      return ParseError("provider reports " + std::to_string(p.pages) +
                        " pages of records (more than " +
                        std::to_string(kMaxPages) + ")");
    }
    if (p.pages != 0 && p.page != page) {
      return ParseError("asked for page " + std::to_string(page) +
                        " of records, got page " + std::to_string(p.page));
    }
    // A record added or deleted between two pages shifts the rest; drop
    // the duplicates that causes.
    for (Record& r : p.data) {
      if (seen.insert(r.id).second) out.push_back(std::move(r));
    }
    if (page >= p.pages) break;
  }
  return out;
}

Result<Record> LinodeClient::GetRecord(std::int64_t domain_id,
                                       std::int64_t record_id,
                                       const Call& call) {
  Result<http::Response> resp = Execute(
      NewRequest("GET", api_url_ + "/domains/" + std::to_string(domain_id) +
                            "/records/" + std::to_string(record_id)),
      call);
  if (!resp.ok()) return resp.error();
  return ParseRecord(resp.value().body);
}

Result<Record> LinodeClient::UpdateRecord(std::int64_t domain_id,
                                          std::int64_t record_id,
                                          std::string_view target, int ttl_sec,
                                          const Call& call) {
  std::string body = RecordUpdateBody(target, ttl_sec);
  if (body.empty()) {
    return MakeError(ErrorKind::kClient, "target is not valid UTF-8");
  }
  http::Request req =
      NewRequest("PUT", api_url_ + "/domains/" + std::to_string(domain_id) +
                            "/records/" + std::to_string(record_id));
  req.headers.push_back("Content-Type: application/json");
  req.body = std::move(body);
  Result<http::Response> resp = Execute(std::move(req), call);
  if (!resp.ok()) return resp.error();
  return ParseRecord(resp.value().body);
}

}  // namespace drf::linode
