#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.h"
#include "core/http/server.h"
#include "core/linode/client.h"
#include "exporter/collectors/dns.h"
#include "tests/unit/test_server.h"

namespace drf::linode {
namespace {

using namespace std::chrono_literals;
using drf::testing::FreePort;
using drf::testing::LocalServer;

constexpr const char* kRecord = R"({
  "id": 123456, "type": "A", "name": "app", "target": "192.0.2.10",
  "priority": 0, "weight": 0, "port": 0, "service": null, "protocol": null,
  "tag": null, "ttl_sec": 30, "created": "2018-01-01T00:01:01",
  "updated": "2018-01-01T00:01:01"})";

std::string RecordJson(std::int64_t id, const std::string& name,
                       const std::string& target,
                       const std::string& type = "A") {
  return R"({"id": )" + std::to_string(id) + R"(, "type": ")" + type +
         R"(", "name": ")" + name + R"(", "target": ")" + target +
         R"(", "ttl_sec": 30})";
}

std::string PageJson(const std::vector<std::string>& items, long page,
                     long pages, long results) {
  std::string data;
  for (const std::string& i : items) data += (data.empty() ? "" : ",") + i;
  return R"({"data": [)" + data + R"(], "page": )" + std::to_string(page) +
         R"(, "pages": )" + std::to_string(pages) + R"(, "results": )" +
         std::to_string(results) + "}";
}

// ---------------------------------------------------------------- records

TEST(LinodeParseTest, RecordIsTheResponseObjectItself) {
  Result<Record> r = ParseRecord(kRecord);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r.value().id, 123456);
  EXPECT_EQ(r.value().type, "A");
  EXPECT_EQ(r.value().name, "app");
  EXPECT_EQ(r.value().target, "192.0.2.10");
  EXPECT_EQ(r.value().ttl_sec, 30);
}

TEST(LinodeParseTest, RecordWrappedInDataIsRefused) {
  // The seed article's bug: reading data.target. Linode never wraps it.
  Result<Record> r = ParseRecord(std::string(R"({"data": )") + kRecord + "}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kParse);
  EXPECT_EQ(r.error().reason, "id: missing");
}

TEST(LinodeParseTest, RecordNullNameAndTargetReadAsEmpty) {
  Result<Record> r = ParseRecord(
      R"({"id": 1, "type": "MX", "name": null, "target": null, "ttl_sec": 0})");
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r.value().name, "");
  EXPECT_EQ(r.value().target, "");
}

TEST(LinodeParseTest, RecordWrongTypesAreParseErrors) {
  const std::map<std::string, std::string> cases = {
      {R"({"id": "x", "type": "A", "name": "", "target": "", "ttl_sec": 0})",
       "id: expected an integer"},
      {R"({"id": -1, "type": "A", "name": "", "target": "", "ttl_sec": 0})",
       "id: expected an integer"},
      {R"({"id": 0, "type": "A", "name": "", "target": "", "ttl_sec": 0})",
       "id: expected an integer"},
      {R"({"id": 1.5, "type": "A", "name": "", "target": "", "ttl_sec": 0})",
       "id: expected an integer"},
      {R"({"id": 1e400, "type": "A", "name": "", "target": "", "ttl_sec": 0})",
       "invalid JSON"},
      {R"({"id": 99999999999999999999, "type": "A", "name": "", "target": "",
           "ttl_sec": 0})",
       "id: expected an integer"},
      {R"({"id": true, "type": "A", "name": "", "target": "", "ttl_sec": 0})",
       "id: expected an integer"},
      {R"({"id": 1, "type": null, "name": "", "target": "", "ttl_sec": 0})",
       "type: expected a string"},
      {R"({"id": 1, "type": "A", "name": 7, "target": "", "ttl_sec": 0})",
       "name: expected a string"},
      {R"({"id": 1, "type": "A", "name": "", "target": ["x"], "ttl_sec": 0})",
       "target: expected a string"},
      {R"({"id": 1, "type": "A", "name": "", "target": "", "ttl_sec": "30"})",
       "ttl_sec: expected an integer"},
      {R"({"id": 1, "type": "A", "name": "", "target": "", "ttl_sec": -30})",
       "ttl_sec: expected an integer"},
      {R"({"id": 1, "type": "A", "name": "", "target": "",
           "ttl_sec": 4294967296})",
       "ttl_sec: expected an integer"},
      {R"({"id": 1, "type": "A", "name": "", "target": ""})",
       "ttl_sec: missing"},
      {R"({"id": 1, "name": "", "target": "", "ttl_sec": 0})", "type: missing"},
      {R"({"id": 1, "type": "A", "name": "", "target": "1.2.3.4\u0000x",
           "ttl_sec": 0})",
       "target: holds a NUL character"},
      {"[]", "response is not a JSON object"},
      {"null", "response is not a JSON object"},
      {R"("192.0.2.10")", "response is not a JSON object"},
      {"", "empty response"},
      {"   ", "invalid JSON"},
      {"{} {}", "invalid JSON"},
  };
  for (const auto& [body, want] : cases) {
    Result<Record> r = ParseRecord(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::kParse) << body;
    EXPECT_NE(r.error().reason.find(want), std::string::npos)
        << body << " -> " << r.error().reason;
  }
}

TEST(LinodeParseTest, NulByteInBodyIsRefused) {
  // rapidjson would take the NUL for the end of input and ignore the rest.
  std::string body = std::string(kRecord) + std::string(1, '\0') + "garbage";
  Result<Record> r = ParseRecord(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "response holds a NUL byte");
}

TEST(LinodeParseTest, InvalidUtf8IsRefused) {
  Result<Record> r = ParseRecord(
      "{\"id\": 1, \"type\": \"A\", \"name\": \"\xff\xfe\", \"target\": \"\", "
      "\"ttl_sec\": 0}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().reason.find("invalid JSON"), std::string::npos);
}

TEST(LinodeParseTest, EveryTruncationOfAPageIsACleanError) {
  std::string body = PageJson(
      {RecordJson(1, "app", "192.0.2.10"), RecordJson(2, "www", "192.0.2.11")},
      1, 1, 2);
  ASSERT_TRUE(ParseRecordPage(body).ok());
  for (std::size_t n = 0; n < body.size(); ++n) {
    Result<Page<Record>> r = ParseRecordPage(body.substr(0, n));
    EXPECT_FALSE(r.ok()) << "accepted a truncation at " << n;
  }
}

TEST(LinodeParseTest, OversizedBodyIsRefused) {
  std::string body = PageJson({}, 0, 0, 0);
  body.append(kMaxBodyBytes, ' ');
  Result<Page<Record>> r = ParseRecordPage(body);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().reason.find("larger than"), std::string::npos);
}

TEST(LinodeParseTest, DeepNestingNeitherCrashesNorPasses) {
  constexpr int kDepth = 200000;
  std::string open(kDepth, '['), close(kDepth, ']');
  EXPECT_FALSE(ParseRecordPage(open).ok());
  EXPECT_FALSE(ParseRecordPage(open + close).ok());
  Result<Page<Record>> r =
      ParseRecordPage(R"({"page": 1, "pages": 1, "results": 1, "data": [)" +
                      open + close + "]}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "data[0]: expected an object");
  std::string objects;
  for (int i = 0; i < kDepth / 10; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kDepth / 10, '}');
  EXPECT_FALSE(ParseErrorReasons(objects).size());
  EXPECT_FALSE(ParseRecord(objects).ok());
}

// ---------------------------------------------------------------- pages

TEST(LinodeParseTest, RecordPageReadsEnvelopeAndItems) {
  Result<Page<Record>> r = ParseRecordPage(
      PageJson({kRecord, RecordJson(7, "", "198.51.100.10")}, 2, 3, 1002));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r.value().page, 2);
  EXPECT_EQ(r.value().pages, 3);
  EXPECT_EQ(r.value().results, 1002);
  ASSERT_EQ(r.value().data.size(), 2u);
  EXPECT_EQ(r.value().data[1].name, "");
  EXPECT_EQ(r.value().data[1].target, "198.51.100.10");
}

TEST(LinodeParseTest, EmptyCollectionIsPageZeroOfZero) {
  Result<Page<Record>> r =
      ParseRecordPage(R"({"data": [], "page": 0, "pages": 0, "results": 0})");
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_TRUE(r.value().data.empty());
}

TEST(LinodeParseTest, PageWrongTypesAreParseErrors) {
  const std::map<std::string, std::string> cases = {
      {R"({"data": [], "page": 1, "pages": "2", "results": 0})",
       "pages: expected an integer"},
      {R"({"data": {}, "page": 1, "pages": 1, "results": 0})",
       "data: expected an array"},
      {R"({"data": null, "page": 1, "pages": 1, "results": 0})",
       "data: expected an array"},
      {R"({"data": [1], "page": 1, "pages": 1, "results": 1})",
       "data[0]: expected an object"},
      {R"({"data": [], "page": -1, "pages": 1, "results": 0})",
       "page: expected an integer"},
      {R"({"data": [], "page": 1, "pages": 1.5, "results": 0})",
       "pages: expected an integer"},
      {R"({"data": [], "page": 1, "pages": 1})", "results: missing"},
      {R"({"page": 1, "pages": 1, "results": 0})", "data: missing"},
      {R"({"errors": [{"reason": "Not found"}]})", "page: missing"},
  };
  for (const auto& [body, want] : cases) {
    Result<Page<Record>> r = ParseRecordPage(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::kParse);
    EXPECT_NE(r.error().reason.find(want), std::string::npos)
        << body << " -> " << r.error().reason;
  }
  Result<Page<Record>> bad_item = ParseRecordPage(
      PageJson({kRecord, R"({"id": "x", "type": "A", "name": "", "target": "",
                   "ttl_sec": 0})"},
               1, 1, 2));
  ASSERT_FALSE(bad_item.ok());
  EXPECT_EQ(bad_item.error().reason,
            "data[1].id: expected an integer in [1, 9223372036854775807]");
}

TEST(LinodeParseTest, DomainPage) {
  Result<Page<Domain>> r = ParseDomainPage(
      R"({"data": [{"id": 1234, "domain": "example.com", "type": "master",
                    "soa_email": "admin@example.com", "tags": []}],
          "page": 1, "pages": 1, "results": 1})");
  ASSERT_TRUE(r.ok()) << r.error().reason;
  ASSERT_EQ(r.value().data.size(), 1u);
  EXPECT_EQ(r.value().data[0].id, 1234);
  EXPECT_EQ(r.value().data[0].domain, "example.com");
  EXPECT_FALSE(ParseDomainPage(R"({"data": [{"id": 1, "domain": 5}],
                                   "page": 1, "pages": 1, "results": 1})")
                   .ok());
  EXPECT_FALSE(ParseDomainPage(R"({"data": [{"domain": "example.com"}],
                                   "page": 1, "pages": 1, "results": 1})")
                   .ok());
}

// ---------------------------------------------------------------- errors

TEST(LinodeParseTest, ErrorReasonsJoinReasonAndField) {
  EXPECT_EQ(ParseErrorReasons(R"({"errors": [{"reason": "Invalid Token"}]})"),
            "Invalid Token");
  EXPECT_EQ(ParseErrorReasons(R"({"errors": [
                {"reason": "Must be a valid IPv4 address", "field": "target"},
                {"reason": "ttl_sec must be an integer", "field": null},
                {"field": "x"}, 7, {"reason": 5},
                {"reason": "Too many", "field": ""}]})"),
            "target: Must be a valid IPv4 address; ttl_sec must be an "
            "integer; Too many");
}

TEST(LinodeParseTest, ErrorReasonsOfNonErrorBodiesAreEmpty) {
  for (const char* body :
       {"", "<html>502 Bad Gateway</html>", "{}", R"({"errors": {}})",
        R"({"errors": "boom"})", "[]", R"({"errors": [)"}) {
    EXPECT_EQ(ParseErrorReasons(body), "") << body;
  }
}

TEST(LinodeParseTest, ErrorReasonsAreTidiedAndBounded) {
  std::string reasons = ParseErrorReasons(
      R"({"errors": [{"reason": "line1\nline2\u0000\u001b[31m"}]})");
  EXPECT_EQ(reasons.find('\n'), std::string::npos);
  EXPECT_EQ(reasons.find('\0'), std::string::npos);
  EXPECT_EQ(reasons.find('\x1b'), std::string::npos);
  std::string long_reason(5000, 'x');
  EXPECT_LT(
      ParseErrorReasons(R"({"errors": [{"reason": ")" + long_reason + R"("}]})")
          .size(),
      300u);
  std::string many = R"({"errors": [)";
  for (int i = 0; i < 1000; ++i) {
    many += std::string(i ? "," : "") + R"({"reason": "r"})";
  }
  many += "]}";
  EXPECT_EQ(ParseErrorReasons(many), "r; r; r; r; r; ...");
}

http::Response StatusResponse(long status, std::string body = "") {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(LinodeErrorTest, StatusesMapToKinds) {
  const std::map<long, ErrorKind> cases = {
      {401, ErrorKind::kUnauthorized}, {403, ErrorKind::kUnauthorized},
      {404, ErrorKind::kNotFound},     {429, ErrorKind::kRateLimited},
      {500, ErrorKind::kServer},       {502, ErrorKind::kServer},
      {503, ErrorKind::kServer},       {400, ErrorKind::kClient},
      {405, ErrorKind::kClient},       {409, ErrorKind::kClient},
      {302, ErrorKind::kClient},
  };
  for (const auto& [status, kind] : cases) {
    std::optional<Error> e = ErrorFromResponse(StatusResponse(status), "t");
    ASSERT_TRUE(e.has_value()) << status;
    EXPECT_EQ(e->kind, kind) << status;
    EXPECT_EQ(e->http_status, status);
    EXPECT_EQ(e->reason, "HTTP " + std::to_string(status));
  }
  EXPECT_FALSE(ErrorFromResponse(StatusResponse(200), "t").has_value());
  EXPECT_FALSE(ErrorFromResponse(StatusResponse(204), "t").has_value());
}

TEST(LinodeErrorTest, TransportFailuresMapToKinds) {
  const std::map<http::Failure, ErrorKind> cases = {
      {http::Failure::kTimeout, ErrorKind::kTimeout},
      {http::Failure::kConnect, ErrorKind::kConnect},
      {http::Failure::kDns, ErrorKind::kDns},
      {http::Failure::kTls, ErrorKind::kTls},
      {http::Failure::kTooLarge, ErrorKind::kParse},
  };
  for (const auto& [failure, kind] : cases) {
    http::Response r;
    r.curl_code = CURLE_RECV_ERROR;
    r.failure = failure;
    r.error = "some libcurl text";
    std::optional<Error> e = ErrorFromResponse(r, "tok-secret");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->kind, kind) << http::FailureName(failure);
    EXPECT_EQ(e->reason, "some libcurl text");
  }
}

TEST(LinodeErrorTest, ReasonCarriesLinodeTextAndRetryAfterButNeverToken) {
  http::Response r = StatusResponse(
      429, R"({"errors": [{"reason": "Too many requests for tok-123"}]})");
  r.retry_after = 7;
  std::optional<Error> e = ErrorFromResponse(r, "tok-123");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, ErrorKind::kRateLimited);
  EXPECT_EQ(e->reason, "HTTP 429: Too many requests for <redacted>");
  ASSERT_TRUE(e->retry_after.has_value());
  EXPECT_EQ(*e->retry_after, 7s);
}

TEST(LinodeErrorTest, KindNamesAreMetricLabels) {
  EXPECT_EQ(ErrorKindName(ErrorKind::kUnauthorized), "unauthorized");
  EXPECT_EQ(ErrorKindName(ErrorKind::kNotFound), "not_found");
  EXPECT_EQ(ErrorKindName(ErrorKind::kRateLimited), "rate_limited");
  EXPECT_EQ(ErrorKindName(ErrorKind::kServer), "server");
  EXPECT_EQ(ErrorKindName(ErrorKind::kClient), "client");
  EXPECT_EQ(ErrorKindName(ErrorKind::kTimeout), "timeout");
  EXPECT_EQ(ErrorKindName(ErrorKind::kConnect), "connect");
  EXPECT_EQ(ErrorKindName(ErrorKind::kDns), "dns");
  EXPECT_EQ(ErrorKindName(ErrorKind::kTls), "tls");
  EXPECT_EQ(ErrorKindName(ErrorKind::kParse), "parse");
}

// ---------------------------------------------------------------- builders

TEST(LinodeFilterTest, DomainFilterIsExactJson) {
  EXPECT_EQ(DomainFilter("example.com"), R"({"domain":"example.com"})");
}

TEST(LinodeFilterTest, HostileDomainCannotInjectATerm) {
  const std::string hostile =
      R"(x.com", "+or": [{"domain": "victim.com"}], "a": "\)"
      "\r\nX-Injected: 1\x01";
  std::string filter = DomainFilter(hostile);
  ASSERT_FALSE(filter.empty());
  EXPECT_EQ(filter.find('\r'), std::string::npos);
  EXPECT_EQ(filter.find('\n'), std::string::npos);
  for (char c : filter) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
  rapidjson::Document doc;
  doc.Parse(filter.c_str(), filter.size());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc.MemberCount(), 1u);
  ASSERT_TRUE(doc.HasMember("domain"));
  EXPECT_EQ(
      std::string(doc["domain"].GetString(), doc["domain"].GetStringLength()),
      hostile);
}

TEST(LinodeFilterTest, NonAsciiIsEscapedAndInvalidUtf8Refused) {
  EXPECT_EQ(DomainFilter("b\xc3\xbc"
                         "cher.de"),
            R"({"domain":"b\u00FCcher.de"})");
  EXPECT_EQ(DomainFilter("bad\xff"), "");
}

TEST(LinodeFilterTest, UpdateBodyHasTargetAndTtl) {
  std::string body = RecordUpdateBody("198.51.100.10", 30);
  EXPECT_EQ(body, R"({"target":"198.51.100.10","ttl_sec":30})");
  std::string odd = RecordUpdateBody(R"(1.2.3.4", "name": "x)", 0);
  rapidjson::Document doc;
  doc.Parse(odd.c_str(), odd.size());
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc.MemberCount(), 2u);
  EXPECT_STREQ(doc["target"].GetString(), R"(1.2.3.4", "name": "x)");
}

// ---------------------------------------------------------------- token

class LinodeTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("linode_token_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    const char* old = getenv("LINODE_TOKEN");
    if (old != nullptr) saved_ = old;
    unsetenv("LINODE_TOKEN");
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    if (saved_) {
      setenv("LINODE_TOKEN", saved_->c_str(), 1);
    } else {
      unsetenv("LINODE_TOKEN");
    }
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  static std::string ErrorOf(const DnsConfig& dns) {
    try {
      LoadToken(dns);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  std::filesystem::path dir_;
  std::optional<std::string> saved_;
  DnsConfig dns_;
};

TEST_F(LinodeTokenTest, FileTokenIsTrimmed) {
  dns_.token_file = Write("t", "s3cr3t-token\n");
  EXPECT_EQ(LoadToken(dns_), "s3cr3t-token");
  dns_.token_file = Write("t2", "s3cr3t-token\r\n\n");
  EXPECT_EQ(LoadToken(dns_), "s3cr3t-token");
}

TEST_F(LinodeTokenTest, FileWinsOverEnvironment) {
  setenv("LINODE_TOKEN", "from-env", 1);
  dns_.token_file = Write("t", "from-file");
  EXPECT_EQ(LoadToken(dns_), "from-file");
}

TEST_F(LinodeTokenTest, EnvironmentWhenNoFile) {
  setenv("LINODE_TOKEN", "from-env", 1);
  EXPECT_EQ(LoadToken(dns_), "from-env");
}

TEST_F(LinodeTokenTest, MissingEverywhereIsAClearError) {
  EXPECT_EQ(ErrorOf(dns_),
            "no Linode API token: set dns.token_file or the LINODE_TOKEN "
            "environment variable");
  setenv("LINODE_TOKEN", "", 1);
  EXPECT_NE(ErrorOf(dns_), "");
}

TEST_F(LinodeTokenTest, EmptyFileIsAnErrorNamingTheFile) {
  setenv("LINODE_TOKEN", "from-env", 1);  // no silent fallback
  dns_.token_file = Write("empty", "\n");
  EXPECT_EQ(ErrorOf(dns_), "dns.token_file " + dns_.token_file + ": empty");
}

TEST_F(LinodeTokenTest, UnreadableFileIsAnErrorNamingTheFile) {
  dns_.token_file = (dir_ / "absent").string();
  EXPECT_EQ(ErrorOf(dns_), "dns.token_file " + dns_.token_file +
                               ": cannot open: No such file or directory");
  dns_.token_file = dir_.string();
  EXPECT_EQ(ErrorOf(dns_), "dns.token_file " + dns_.token_file +
                               ": cannot read: Is a directory");
}

TEST_F(LinodeTokenTest, BadCharactersAreRefusedWithoutEchoingTheToken) {
  dns_.token_file = Write("t", "abc\r\nX-Evil: topsecret\n");
  std::string err = ErrorOf(dns_);
  EXPECT_NE(err, "");
  EXPECT_EQ(err.find("topsecret"), std::string::npos) << err;
  dns_.token_file.clear();
  setenv("LINODE_TOKEN", "top secret", 1);
  err = ErrorOf(dns_);
  EXPECT_NE(err, "");
  EXPECT_EQ(err.find("secret"), std::string::npos) << err;
  dns_.token_file = Write("big", std::string(100000, 'a'));
  err = ErrorOf(dns_);
  EXPECT_NE(err.find("larger than"), std::string::npos) << err;
  EXPECT_EQ(err.find("aaaa"), std::string::npos);
}

TEST(LinodeClientCtorTest, RefusesAHeaderBreakingToken) {
  EXPECT_THROW(LinodeClient("http://127.0.0.1:1", "a\r\nb", 1s),
               std::invalid_argument);
  EXPECT_THROW(LinodeClient("http://127.0.0.1:1", "", 1s),
               std::invalid_argument);
}

// ---------------------------------------------------------------- client

// What the local server answers to one request.
struct Answer {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};
};

Answer Reply(int status, std::string body,
             std::vector<std::pair<std::string, std::string>> headers = {},
             std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  return Answer{status, std::move(body), std::move(headers), delay};
}

// One local server for the suite (CivetWeb takes a while to stop). Each
// path answers from a script the test sets.
class LinodeClientTest : public ::testing::Test {
 protected:
  struct Seen {
    std::string method, path, query, body, authorization, content_type;
  };

  static void SetUpTestSuite() {
    http::GlobalInit();
    local_ = new LocalServer(1 << 20);
    for (const char* path : {"/v4/domains", "/v4/domains/10/records",
                             "/v4/domains/10/records/5"}) {
      for (const char* method : {"GET", "PUT"}) {
        local_->server->Handle(method, path, &Serve);
      }
    }
    local_->server->Start();
  }
  static void TearDownTestSuite() {
    delete local_;
    local_ = nullptr;
  }
  void SetUp() override {
    std::lock_guard<std::mutex> lock(mu_);
    script_.clear();
    fallback_ = Reply(500, R"({"errors": [{"reason": "no script"}]})");
    seen_.clear();
  }

  static http::ServerResponse Serve(const http::ServerRequest& r) {
    Answer a;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(
          {r.method, r.path, r.query, r.body, r.authorization, r.content_type});
      if (r.authorization != "Bearer tok") {
        a = Reply(401, R"({"errors": [{"reason": "Invalid Token"}]})");
      } else if (!script_.empty()) {
        a = script_.front();
        script_.erase(script_.begin());
      } else {
        a = fallback_;
      }
    }
    if (a.delay.count() > 0) std::this_thread::sleep_for(a.delay);
    http::ServerResponse resp = http::ServerResponse::Json(a.status, a.body);
    resp.headers = a.headers;
    return resp;
  }

  static void Script(std::vector<Answer> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(answers);
  }
  static void Fallback(Answer a) {
    std::lock_guard<std::mutex> lock(mu_);
    fallback_ = std::move(a);
  }
  static std::vector<Seen> SeenRequests() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  static LinodeClient Client(std::string token = "tok", Duration timeout = 2s) {
    RetryPolicy fast;
    fast.base = 1ms;
    fast.cap = 5ms;
    return LinodeClient(local_->Url("/v4"), std::move(token), timeout, fast);
  }

  static inline LocalServer* local_ = nullptr;
  static inline std::mutex mu_;
  static inline std::vector<Answer> script_;
  static inline Answer fallback_;
  static inline std::vector<Seen> seen_;
};

TEST_F(LinodeClientTest, GetRecordSendsBearerAndParsesTheObject) {
  Script({Reply(200, kRecord)});
  LinodeClient c = Client();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(5s));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r.value().target, "192.0.2.10");
  auto seen = SeenRequests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/v4/domains/10/records/5");
  EXPECT_EQ(seen[0].authorization, "Bearer tok");
}

TEST_F(LinodeClientTest, UnauthorizedIsNotRetriedAndHidesTheToken) {
  LinodeClient c = Client("wrong-token");
  Result<Record> r = c.GetRecord(10, 5, Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_EQ(r.error().reason, "HTTP 401: Invalid Token");
  EXPECT_EQ(SeenRequests().size(), 1u);
}

TEST_F(LinodeClientTest, NotFoundAndBadRequestReturnAtOnce) {
  Script({Reply(404, R"({"errors": [{"reason": "Not found"}]})"),
          Reply(400,
                R"({"errors": [{"reason": "Must be a valid IPv4 address",
                           "field": "target"}]})")});
  LinodeClient c = Client();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  r = c.UpdateRecord(10, 5, "not-an-ip", 30, Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kClient);
  EXPECT_EQ(r.error().reason, "HTTP 400: target: Must be a valid IPv4 address");
  EXPECT_EQ(SeenRequests().size(), 2u);
}

TEST_F(LinodeClientTest, ServerErrorsAreRetriedUntilSuccess) {
  Script({Reply(500, R"({"errors": [{"reason": "oops"}]})"),
          Reply(502, "<html>bad gateway</html>"), Reply(200, kRecord)});
  LinodeClient c = Client();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(5s));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(SeenRequests().size(), 3u);
}

TEST_F(LinodeClientTest, PersistentServerErrorsEndAtTheDeadline) {
  Fallback(Reply(503, R"({"errors": [{"reason": "maintenance"}]})"));
  RetryPolicy slow;
  slow.base = 100ms;
  slow.cap = 100ms;
  slow.max_attempts = 1000;
  LinodeClient c(local_->Url("/v4"), "tok", 2s, slow);
  auto start = std::chrono::steady_clock::now();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(600ms));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kServer);
  EXPECT_EQ(r.error().reason, "HTTP 503: maintenance");
  EXPECT_LT(took, 1s);
  EXPECT_GE(SeenRequests().size(), 2u);
}

TEST_F(LinodeClientTest, MaxAttemptsBoundsRetries) {
  Fallback(Reply(500, "{}"));
  RetryPolicy p;
  p.base = 1ms;
  p.cap = 1ms;
  p.max_attempts = 3;
  LinodeClient c(local_->Url("/v4"), "tok", 2s, p);
  EXPECT_FALSE(c.GetRecord(10, 5, Call::Within(10s)).ok());
  EXPECT_EQ(SeenRequests().size(), 3u);
}

TEST_F(LinodeClientTest, RateLimitWaitsForRetryAfter) {
  Script({Reply(429, R"({"errors": [{"reason": "Too Many Requests"}]})",
                {{"Retry-After", "1"}}),
          Reply(200, kRecord)});
  LinodeClient c = Client();
  auto start = std::chrono::steady_clock::now();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(5s));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_GE(took, 1s);
  EXPECT_EQ(SeenRequests().size(), 2u);
}

TEST_F(LinodeClientTest, RateLimitBeyondTheDeadlineReturnsTheWait) {
  Script({Reply(429, R"({"errors": [{"reason": "Too Many Requests"}]})",
                {{"Retry-After", "5"}})});
  LinodeClient c = Client();
  auto start = std::chrono::steady_clock::now();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(1s));
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(r.error().kind, ErrorKind::kRateLimited);
  ASSERT_TRUE(r.error().retry_after.has_value());
  EXPECT_EQ(*r.error().retry_after, 5s);
  EXPECT_EQ(SeenRequests().size(), 1u);
}

TEST_F(LinodeClientTest, SlowAnswersTimeOut) {
  Fallback(Reply(200, kRecord, {}, 1500ms));
  LinodeClient c = Client("tok", 200ms);
  auto start = std::chrono::steady_clock::now();
  Result<Record> r = c.GetRecord(10, 5, Call::Within(500ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(LinodeClientTest, RefusedConnectionsAreConnectErrors) {
  RetryPolicy fast;
  fast.base = 1ms;
  fast.cap = 5ms;
  LinodeClient c("http://127.0.0.1:" + std::to_string(FreePort()) + "/v4",
                 "tok", 1s, fast);
  Result<Record> r = c.GetRecord(10, 5, Call::Within(200ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConnect);
}

TEST_F(LinodeClientTest, StopInterruptsABackoffWait) {
  Fallback(Reply(500, "{}"));
  RetryPolicy slow;
  slow.base = 10s;
  slow.cap = 10s;
  LinodeClient c(local_->Url("/v4"), "tok", 2s, slow);
  Stopper stop;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(200ms);
    stop.Stop();
  });
  auto start = std::chrono::steady_clock::now();
  // The first backoff is uniform in [0, 10s]; a short one may be followed
  // by another: either way Stop ends the call.
  Result<Record> r = c.GetRecord(10, 5, Call::Within(60s, &stop));
  auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_LT(took, 3s);
}

TEST_F(LinodeClientTest, DeadlinePassedSendsNothing) {
  LinodeClient c = Client();
  Result<Record> r =
      c.GetRecord(10, 5, Call{std::chrono::steady_clock::now() - 1s, nullptr});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTimeout);
  EXPECT_EQ(SeenRequests().size(), 0u);
}

TEST_F(LinodeClientTest, ListRecordsFollowsEveryPage) {
  std::vector<std::string> p1, p2, p3;
  for (int i = 1; i <= 3; ++i) p1.push_back(RecordJson(i, "a", "192.0.2.1"));
  for (int i = 4; i <= 6; ++i) p2.push_back(RecordJson(i, "b", "192.0.2.2"));
  // Page 3 repeats id 6, as a deletion between two pages would cause.
  p3.push_back(RecordJson(6, "b", "192.0.2.2"));
  p3.push_back(RecordJson(7, "c", "192.0.2.3"));
  Script({Reply(200, PageJson(p1, 1, 3, 8)), Reply(200, PageJson(p2, 2, 3, 8)),
          Reply(200, PageJson(p3, 3, 3, 8))});
  LinodeClient c = Client();
  Result<std::vector<Record>> r = c.ListRecords(10, Call::Within(5s));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  ASSERT_EQ(r.value().size(), 7u);
  EXPECT_EQ(r.value()[6].name, "c");
  auto seen = SeenRequests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].query, "page=1&page_size=500");
  EXPECT_EQ(seen[2].query, "page=3&page_size=500");
}

TEST_F(LinodeClientTest, ListRecordsOfAnEmptyDomain) {
  Script({Reply(200, PageJson({}, 0, 0, 0))});
  LinodeClient c = Client();
  Result<std::vector<Record>> r = c.ListRecords(10, Call::Within(5s));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_TRUE(r.value().empty());
  EXPECT_EQ(SeenRequests().size(), 1u);
}

TEST_F(LinodeClientTest, ListRecordsRefusesAPageThatDoesNotAdvance) {
  Fallback(Reply(200, PageJson({RecordJson(1, "a", "192.0.2.1")}, 1, 3, 3)));
  LinodeClient c = Client();
  Result<std::vector<Record>> r = c.ListRecords(10, Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kParse);
  EXPECT_EQ(r.error().reason, "asked for page 2 of records, got page 1");
  EXPECT_EQ(SeenRequests().size(), 2u);
}

TEST_F(LinodeClientTest, ListRecordsRefusesAbsurdPageCounts) {
  Fallback(Reply(
      200, PageJson({RecordJson(1, "a", "192.0.2.1")}, 1, 1000000, 500000000)));
  LinodeClient c = Client();
  Result<std::vector<Record>> r = c.ListRecords(10, Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kParse);
  EXPECT_NE(r.error().reason.find("more than 100"), std::string::npos);
  EXPECT_EQ(SeenRequests().size(), 1u);
}

TEST_F(LinodeClientTest, ListRecordsMalformedPageIsAParseError) {
  Script({Reply(200, R"({"data": {}, "page": 1, "pages": 1, "results": 0})")});
  LinodeClient c = Client();
  Result<std::vector<Record>> r = c.ListRecords(10, Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kParse);
}

TEST_F(LinodeClientTest, FindDomainMatchesExactlyAcrossPages) {
  Script(
      {Reply(200, PageJson({R"({"id": 1, "domain": "other.com"})"}, 1, 2, 2)),
       Reply(200,
             PageJson({R"({"id": 10, "domain": "Example.COM"})"}, 2, 2, 2))});
  LinodeClient c = Client();
  Result<std::int64_t> r = c.FindDomain("example.com", Call::Within(5s));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r.value(), 10);
  EXPECT_EQ(SeenRequests().size(), 2u);
}

TEST_F(LinodeClientTest, FindDomainNotInAccountIsNotFound) {
  Script({Reply(200, PageJson({}, 0, 0, 0))});
  LinodeClient c = Client();
  Result<std::int64_t> r = c.FindDomain("example.com", Call::Within(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.error().reason, "domain example.com is not in the account");
}

TEST_F(LinodeClientTest, UpdateRecordPutsJsonAndReturnsStoredRecord) {
  std::string stored = RecordJson(5, "app", "198.51.100.10");
  Script({Reply(200, stored)});
  LinodeClient c = Client();
  Result<Record> r =
      c.UpdateRecord(10, 5, "198.51.100.10", 30, Call::Within(5s));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r.value().target, "198.51.100.10");
  auto seen = SeenRequests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[0].body, R"({"target":"198.51.100.10","ttl_sec":30})");
}

}  // namespace
}  // namespace drf::linode

// ---------------------------------------------------------------- collector

namespace drf::exporter {
namespace {

using namespace std::chrono_literals;
using linode::Error;
using linode::ErrorKind;
using linode::Record;
using linode::Result;

constexpr const char* kConfig = R"(
sites:
  - name: a
    address: 192.0.2.10
    health_url: http://127.0.0.11:1/health.php
    aws_region: us-east-1
  - name: b
    address: 198.51.100.10
    health_url: http://127.0.0.12:1/health.php
    aws_region: eu-west-1
probe:
  interval: 1s
  timeout: 500ms
dns:
  api_url: http://127.0.0.1:1/v4
  domain: example.com
  records: [app, "", www]
)";

// A scripted DnsApi: each call takes the next answer.
class FakeApi : public linode::DnsApi {
 public:
  std::vector<Result<std::int64_t>> domains;
  std::vector<Result<std::vector<Record>>> lists;
  int find_calls = 0;
  int list_calls = 0;
  std::vector<std::int64_t> listed_ids;

  Result<std::int64_t> FindDomain(std::string_view,
                                  const linode::Call&) override {
    ++find_calls;
    if (domains.empty()) return std::int64_t{10};
    auto r = domains.front();
    domains.erase(domains.begin());
    return r;
  }
  Result<std::vector<Record>> ListRecords(std::int64_t id,
                                          const linode::Call&) override {
    ++list_calls;
    listed_ids.push_back(id);
    if (lists.empty()) return Error{ErrorKind::kServer, 500, "empty", {}};
    auto r = lists.front();
    lists.erase(lists.begin());
    return r;
  }
  Result<Record> GetRecord(std::int64_t, std::int64_t,
                           const linode::Call&) override {
    return Error{ErrorKind::kClient, 0, "unused", {}};
  }
  Result<Record> UpdateRecord(std::int64_t, std::int64_t, std::string_view, int,
                              const linode::Call&) override {
    return Error{ErrorKind::kClient, 0, "unused", {}};
  }
};

Record A(std::int64_t id, std::string name, std::string target) {
  return Record{id, "A", std::move(name), std::move(target), 30};
}

class DnsCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = LoadConfigText(kConfig, "test.yml");
    counters_ = std::make_shared<ExporterCounters>();
    auto api = std::make_unique<FakeApi>();
    api_ = api.get();
    collector_ =
        std::make_unique<DnsCollector>(config_, counters_, std::move(api));
  }

  // The value of the one sample of `family` with `labels`, or nullopt.
  std::optional<double> Sample(
      const std::string& family,
      const std::map<std::string, std::string>& labels) const {
    for (const auto& f : collector_->Collect()) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) {
        std::map<std::string, std::string> have;
        for (const auto& l : m.label) have[l.name] = l.value;
        if (have == labels) return m.gauge.value;
      }
    }
    return std::nullopt;
  }
  std::optional<double> Serving(const std::string& record,
                                const std::string& site) const {
    return Sample("dr_dns_serving_site", {{"record", record}, {"site", site}});
  }
  std::optional<double> ApiUp() const { return Sample("dr_dns_api_up", {}); }
  double Errors(const std::string& reason) const {
    return counters_->collector_errors.Value({"dns", reason});
  }

  std::shared_ptr<const Config> config_;
  std::shared_ptr<ExporterCounters> counters_;
  FakeApi* api_ = nullptr;
  std::unique_ptr<DnsCollector> collector_;
};

TEST_F(DnsCollectorTest, ExportsNothingBeforeTheFirstRead) {
  EXPECT_FALSE(collector_->Ready());
  EXPECT_FALSE(ApiUp().has_value());
  EXPECT_FALSE(Serving("app", "a").has_value());
  EXPECT_EQ(Errors("unauthorized"), 0);  // touched: exported at 0
}

TEST_F(DnsCollectorTest, MapsEachRecordToItsSiteAsAStateSet) {
  api_->lists.push_back(std::vector<Record>{
      A(1, "app", "192.0.2.10"), A(2, "", "198.51.100.10"),
      A(3, "WWW", "192.0.2.10"), A(4, "other", "203.0.113.1"),
      Record{5, "AAAA", "app", "2001:db8::1", 30}});
  EXPECT_EQ(collector_->ReadOnce(nullptr), 0ms);
  EXPECT_TRUE(collector_->Ready());
  EXPECT_EQ(ApiUp(), 1);
  EXPECT_EQ(Serving("app", "a"), 1);
  EXPECT_EQ(Serving("app", "b"), 0);
  EXPECT_EQ(Serving("app", "unknown"), 0);
  EXPECT_EQ(Serving("@", "b"), 1);
  EXPECT_EQ(Serving("@", "a"), 0);
  EXPECT_EQ(Serving("www", "a"), 1);  // names compare case-insensitively
}

TEST_F(DnsCollectorTest, UnknownTargetMissingRecordAndDisagreementAreUnknown) {
  api_->lists.push_back(std::vector<Record>{
      A(1, "app", "203.0.113.7"),                              // no site
      A(2, "www", "192.0.2.10"), A(3, "www", "198.51.100.10")  // disagree
  });                                                          // apex absent
  ASSERT_EQ(collector_->ReadOnce(nullptr), 0ms);
  for (const char* record : {"app", "@", "www"}) {
    EXPECT_EQ(Serving(record, "unknown"), 1) << record;
    EXPECT_EQ(Serving(record, "a"), 0) << record;
    EXPECT_EQ(Serving(record, "b"), 0) << record;
  }
  EXPECT_EQ(ApiUp(), 1);
}

TEST_F(DnsCollectorTest, AgreeingDuplicateRecordsNameTheirSite) {
  api_->lists.push_back(std::vector<Record>{A(1, "app", "198.51.100.10"),
                                            A(2, "app", "198.51.100.10")});
  ASSERT_EQ(collector_->ReadOnce(nullptr), 0ms);
  EXPECT_EQ(Serving("app", "b"), 1);
}

TEST_F(DnsCollectorTest, FailedReadKeepsLastValuesAndMarksApiDown) {
  api_->lists.push_back(std::vector<Record>{A(1, "app", "192.0.2.10")});
  api_->lists.push_back(Error{ErrorKind::kServer, 503, "HTTP 503", {}});
  api_->lists.push_back(std::vector<Record>{A(1, "app", "198.51.100.10")});
  collector_->ReadOnce(nullptr);
  EXPECT_EQ(Serving("app", "a"), 1);

  collector_->ReadOnce(nullptr);
  EXPECT_EQ(ApiUp(), 0);
  EXPECT_EQ(Serving("app", "a"), 1);  // stale but kept
  EXPECT_EQ(Serving("app", "unknown"), 0);
  EXPECT_EQ(Errors("server"), 1);

  collector_->ReadOnce(nullptr);
  EXPECT_EQ(ApiUp(), 1);
  EXPECT_EQ(Serving("app", "a"), 0);
  EXPECT_EQ(Serving("app", "b"), 1);
}

TEST_F(DnsCollectorTest, FirstReadFailingExportsApiDownOnly) {
  api_->domains.push_back(
      Error{ErrorKind::kUnauthorized, 401, "HTTP 401: Invalid Token", {}});
  collector_->ReadOnce(nullptr);
  EXPECT_TRUE(collector_->Ready());
  EXPECT_EQ(ApiUp(), 0);
  EXPECT_FALSE(Serving("app", "a").has_value());
  EXPECT_FALSE(Serving("app", "unknown").has_value());
  EXPECT_EQ(Errors("unauthorized"), 1);
}

TEST_F(DnsCollectorTest, DomainIdIsCachedAndLookedUpAgainAfter404) {
  api_->domains = {std::int64_t{10}, std::int64_t{20}};
  api_->lists.push_back(std::vector<Record>{A(1, "app", "192.0.2.10")});
  api_->lists.push_back(Error{ErrorKind::kNotFound, 404, "HTTP 404", {}});
  api_->lists.push_back(std::vector<Record>{A(9, "app", "198.51.100.10")});
  collector_->ReadOnce(nullptr);
  collector_->ReadOnce(nullptr);
  EXPECT_EQ(api_->find_calls, 2);
  EXPECT_EQ(api_->listed_ids, (std::vector<std::int64_t>{10, 10, 20}));
  EXPECT_EQ(ApiUp(), 1);
  EXPECT_EQ(Serving("app", "b"), 1);
  EXPECT_EQ(Errors("not_found"), 0);
}

TEST_F(DnsCollectorTest, RateLimitHoldsTheNextReadForRetryAfter) {
  api_->lists.push_back(Error{ErrorKind::kRateLimited, 429, "HTTP 429", 7s});
  EXPECT_EQ(collector_->ReadOnce(nullptr), 7s);
  EXPECT_EQ(Errors("rate_limited"), 1);
  EXPECT_EQ(ApiUp(), 0);
}

TEST_F(DnsCollectorTest, ReadCutShortByStopIsNotCounted) {
  Stopper stop;
  stop.Stop();
  api_->lists.push_back(Error{ErrorKind::kTimeout, 0, "interrupted", {}});
  collector_->ReadOnce(&stop);
  EXPECT_EQ(Errors("timeout"), 0);
}

TEST(DnsFactoryTest, MissingTokenRefusesToStart) {
  const char* old = getenv("LINODE_TOKEN");
  std::optional<std::string> saved;
  if (old != nullptr) saved = old;
  unsetenv("LINODE_TOKEN");
  auto config = LoadConfigText(kConfig, "test.yml");
  auto counters = std::make_shared<ExporterCounters>();
  try {
    NewDnsCollector(config, counters);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("LINODE_TOKEN"), std::string::npos);
  }
  setenv("LINODE_TOKEN", "abc", 1);
  auto c = NewDnsCollector(config, counters);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Name(), "dns");
  if (saved) {
    setenv("LINODE_TOKEN", saved->c_str(), 1);
  } else {
    unsetenv("LINODE_TOKEN");
  }
}

}  // namespace
}  // namespace drf::exporter
