// The DynamoDB adapter (parsers, credentials, the signed client against a
// raw loopback server) and the DynamoDB collector (with a fake adapter).
#include "exporter/collectors/dynamodb.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.h"
#include "core/dynamodb/client.h"
#include "core/http/client.h"

namespace drf {
namespace {

using dynamodb::AwsCredentials;
using dynamodb::ParseAwsError;
using dynamodb::ParseDescribeTable;
using dynamodb::ParseGetHeartbeat;

std::string Testdata(const std::string& name) {
  std::ifstream in(std::string(DRF_TESTDATA_DIR) + "/dynamodb/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ------------------------------------------------------------- parsers

TEST(DynamoDbParseTest, GlobalTableReportsEveryReplicaStatus) {
  auto r = ParseDescribeTable(Testdata("describe_table_global.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().status, "ACTIVE");
  std::map<std::string, std::string> got;
  for (const auto& rep : r.value().replicas) {
    got[rep.region_name] = rep.status;
    EXPECT_EQ(rep.raw_status, "") << rep.region_name;
  }
  std::map<std::string, std::string> want = {
      {"eu-west-1", "ACTIVE"},
      {"us-east-2", "CREATING"},
      {"us-west-1", "CREATION_FAILED"},
      {"us-west-2", "UPDATING"},
      {"eu-west-2", "DELETING"},
      {"eu-south-1", "REGION_DISABLED"},
      {"eu-central-1", "INACCESSIBLE_ENCRYPTION_CREDENTIALS"},
      {"ap-southeast-1", "ARCHIVING"},
      {"ap-southeast-2", "ARCHIVED"},
      {"ap-northeast-1", "REPLICATION_NOT_AUTHORIZED"},
  };
  EXPECT_EQ(got, want);
  // The recorded answer covers every known replica status.
  EXPECT_EQ(dynamodb::KnownReplicaStatuses().size(), want.size());
}

TEST(DynamoDbParseTest, SingleRegionTableHasNoReplicas) {
  auto r = ParseDescribeTable(Testdata("describe_table_single_region.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().status, "ACTIVE");
  EXPECT_TRUE(r.value().replicas.empty());
}

TEST(DynamoDbParseTest, EveryKnownTableStatusIsRecognized) {
  for (std::string_view s : dynamodb::KnownTableStatuses()) {
    auto r = ParseDescribeTable(R"({"Table":{"TableStatus":")" +
                                std::string(s) + "\"}}");
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(r.value().status, s);
  }
}

TEST(DynamoDbParseTest, UnknownStatusesBecomeUnknownWithRawValueKept) {
  auto r = ParseDescribeTable(Testdata("describe_table_unknown_status.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().status, "UNKNOWN");
  EXPECT_EQ(r.value().raw_status, "RESTORING_FROM_THE_FUTURE");
  ASSERT_EQ(r.value().replicas.size(), 3u);
  EXPECT_EQ(r.value().replicas[0].status, "ACTIVE");
  EXPECT_EQ(r.value().replicas[1].status, "UNKNOWN");
  EXPECT_EQ(r.value().replicas[1].raw_status, "QUANTUM_ENTANGLED");
  EXPECT_EQ(r.value().replicas[2].status, "UNKNOWN");  // status absent
}

TEST(DynamoDbParseTest, HostileStatusIsBoundedAndPrintable) {
  std::string huge(100000, 'A');
  auto r = ParseDescribeTable(R"({"Table":{"TableStatus":"ACT\u0000IVE"}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().status, "UNKNOWN");  // NUL inside is not ACTIVE
  EXPECT_EQ(r.value().raw_status, "ACT?IVE");
  r = ParseDescribeTable(R"({"Table":{"TableStatus":")" + huge + "\"}}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, "UNKNOWN");
  EXPECT_LE(r.value().raw_status.size(), 70u);
  r = ParseDescribeTable(
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":"eu-west-1","ReplicaStatus":"\n\u001b[31mACTIVE"}]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().replicas[0].status, "UNKNOWN");
  EXPECT_EQ(r.value().replicas[0].raw_status.find('\n'), std::string::npos);
  EXPECT_EQ(r.value().replicas[0].raw_status.find('\x1b'), std::string::npos);
}

TEST(DynamoDbParseTest, MalformedAnswersAreParseErrors) {
  const std::vector<std::string> bodies = {
      "",
      "   ",
      "not json",
      "null",
      "[]",
      "{}",
      R"({"Table":null})",
      R"({"Table":[]})",
      R"({"Table":{}})",
      R"({"Table":{"TableStatus":5}})",
      R"({"Table":{"TableStatus":null}})",
      R"({"Table":{"TableStatus":["ACTIVE"]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":{}}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":"eu-west-1"}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[5]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{}]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":7}]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":"eu-west-1","ReplicaStatus":1}]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":"EU WEST"}]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":""}]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":"a\u0000b"}]}})",
      R"({"Table":{"TableStatus":"ACTIVE","Replicas":[{"RegionName":"eu-west-1"},{"RegionName":"eu-west-1"}]}})",
      R"({"Table":{"TableStatus":"ACTIVE"}} trailing)",
      "{\"Table\":{\"TableStatus\":\"\xff\xfe\"}}",  // invalid UTF-8
      Testdata("describe_table_truncated.json"),
  };
  for (const std::string& body : bodies) {
    auto r = ParseDescribeTable(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().reason, "parse") << body;
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(DynamoDbParseTest, RawNulBytesAreRejected) {
  const std::string valid = R"({"Table":{"TableStatus":"ACTIVE"}})";
  ASSERT_TRUE(ParseDescribeTable(valid).ok());
  for (std::size_t at : {std::size_t{5}, std::size_t{26}, valid.size()}) {
    std::string body = valid;
    body.insert(at, 1, '\0');
    auto r = ParseDescribeTable(body);
    ASSERT_FALSE(r.ok()) << at;
    EXPECT_EQ(r.error().reason, "parse");
  }
}

TEST(DynamoDbParseTest, DeepNestingIsRejectedWithoutRecursion) {
  // 500k levels would overflow the stack of a recursive parser.
  std::string deep = R"({"Table":{"TableStatus":"ACTIVE","X":)" +
                     std::string(500000, '[') + std::string(500000, ']') + "}}";
  auto r = ParseDescribeTable(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "parse");
  EXPECT_NE(r.error().message.find("nested"), std::string::npos);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  r = ParseDescribeTable(objects);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "parse");
}

TEST(DynamoDbParseTest, OversizedAnswerIsRejected) {
  std::string big = R"({"Table":{"TableStatus":"ACTIVE","Pad":")" +
                    std::string(dynamodb::kMaxBodyBytes, 'x') + "\"}}";
  auto r = ParseDescribeTable(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "too_large");
}

TEST(DynamoDbParseTest, HugeArraysAreRejected) {
  std::string many = R"({"Table":{"TableStatus":"ACTIVE","Replicas":[)";
  for (int i = 0; i < 65; ++i) {
    if (i) many += ",";
    many += R"({"RegionName":"r-)" + std::to_string(i) +
            R"(","ReplicaStatus":"ACTIVE"})";
  }
  many += "]}}";
  auto r = ParseDescribeTable(many);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "parse");
  // Within the size cap, but more values than any real answer holds.
  std::string zeros = R"({"Table":{"TableStatus":"ACTIVE","X":[0)";
  for (int i = 0; i < 300000; ++i) zeros += ",0";
  zeros += "]}}";
  ASSERT_LT(zeros.size(), dynamodb::kMaxBodyBytes);
  r = ParseDescribeTable(zeros);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "parse");
}

TEST(DynamoDbParseTest, HeartbeatItem) {
  auto r = ParseGetHeartbeat(Testdata("get_item_heartbeat.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r.value().has_value());
  EXPECT_DOUBLE_EQ(*r.value(), 1732540800.123);
}

TEST(DynamoDbParseTest, AbsentHeartbeatItemIsNotAnError) {
  auto r = ParseGetHeartbeat(Testdata("get_item_absent.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().has_value());
}

TEST(DynamoDbParseTest, MalformedHeartbeatItemsAreParseErrors) {
  for (const std::string& body : std::vector<std::string>{
           "[]",
           R"({"Item":5})",
           R"({"Item":{}})",
           R"({"Item":{"ts":{"S":"1"}}})",
           R"({"Item":{"ts":{"N":1}}})",
           R"({"Item":{"ts":{"N":"abc"}}})",
           R"({"Item":{"ts":{"N":"1e400"}}})",
           R"({"Item":{"ts":{"N":"-5"}}})",
           R"({"Item":{"ts":{"N":"nan"}}})",
           R"({"Item":{"ts":{"N":"12 "}}})",
           R"({"Item":{"ts":{"N":""}}})",
           R"({"Item":{"ts":"1"}})",
           R"({"Item":{"ts":{"N":"1"})",
       }) {
    auto r = ParseGetHeartbeat(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().reason, "parse") << body;
  }
}

TEST(DynamoDbParseTest, AwsErrorTypeIsTheReason) {
  auto e = ParseAwsError(400, Testdata("error_resource_not_found.json"));
  EXPECT_EQ(e.reason, "ResourceNotFoundException");
  EXPECT_NE(e.message.find("Requested resource not found"), std::string::npos);
  e = ParseAwsError(400, Testdata("error_unrecognized_client.json"));
  EXPECT_EQ(e.reason, "UnrecognizedClientException");
  e = ParseAwsError(400, Testdata("error_throttling.json"));
  EXPECT_EQ(e.reason, "ThrottlingException");
  e = ParseAwsError(400, R"({"__type":"ValidationException:http://x/"})");
  EXPECT_EQ(e.reason, "ValidationException");
}

TEST(DynamoDbParseTest, HostileAwsErrorTypesAreSanitized) {
  EXPECT_EQ(ParseAwsError(400, R"({"__type":"a#bad reason"})").reason, "other");
  EXPECT_EQ(ParseAwsError(400, R"({"__type":"a#"})").reason, "other");
  EXPECT_EQ(ParseAwsError(400, R"({"__type":"a#x\u0000y"})").reason, "other");
  EXPECT_EQ(
      ParseAwsError(400, R"({"__type":"a#)" + std::string(65, 'E') + "\"}")
          .reason,
      "other");
  EXPECT_EQ(
      ParseAwsError(400, R"({"__type":"a#)" + std::string(64, 'E') + "\"}")
          .reason,
      std::string(64, 'E'));
  auto e = ParseAwsError(
      400, R"({"__type":"a#X","message":")" + std::string(100000, 'm') + "\"}");
  EXPECT_EQ(e.reason, "X");
  EXPECT_LE(e.message.size(), 1100u);
}

TEST(DynamoDbParseTest, NonJsonErrorAnswersAreHttpStatus) {
  EXPECT_EQ(ParseAwsError(503, "<html>Service Unavailable</html>").reason,
            "http_503");
  EXPECT_EQ(ParseAwsError(500, "").reason, "http_500");
  EXPECT_EQ(ParseAwsError(403, R"({"Message":"no type"})").reason, "http_403");
  EXPECT_EQ(ParseAwsError(400, R"({"__type":5})").reason, "http_400");
  EXPECT_EQ(ParseAwsError(502, std::string(2 << 20, '{')).reason, "http_502");
}

TEST(DynamoDbParseTest, AwsErrorMessageIsRedacted) {
  // AWS quotes the canonical request, session token included, when a
  // signature does not match.
  std::vector<std::string> secrets = {"FwoGZXIvYXdzEXAMPLETOKEN"};
  auto e =
      ParseAwsError(400, Testdata("error_invalid_signature.json"), secrets);
  EXPECT_EQ(e.reason, "InvalidSignatureException");
  EXPECT_EQ(e.message.find("FwoGZXIvYXdzEXAMPLETOKEN"), std::string::npos);
}

// --------------------------------------------------------- credentials

class DynamoDbCredentialsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }
  AwsCredentials::EnvLookup Env() {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  std::string File(const std::string& content) {
    std::string path =
        (std::filesystem::temp_directory_path() / "drf-dynamodb-test-XXXXXX")
            .string();
    int fd = mkstemp(path.data());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, content.data(), content.size()),
              static_cast<ssize_t>(content.size()));
    close(fd);
    files_.push_back(path);
    return path;
  }
  // The message of the error FromEnv throws; "" if it does not throw.
  std::string Error() {
    try {
      AwsCredentials::FromEnv(Env());
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  std::map<std::string, std::string> env_;
  std::vector<std::string> files_;
};

TEST_F(DynamoDbCredentialsTest, FromVariables) {
  env_ = {
      {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
      {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};
  AwsCredentials c = AwsCredentials::FromEnv(Env());
  EXPECT_EQ(c.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(c.session_token, "");
  env_["AWS_SESSION_TOKEN"] = "tok/en+=";
  EXPECT_EQ(AwsCredentials::FromEnv(Env()).session_token, "tok/en+=");
  env_["AWS_SESSION_TOKEN"] = "";  // set but empty: no session token
  EXPECT_EQ(AwsCredentials::FromEnv(Env()).session_token, "");
}

TEST_F(DynamoDbCredentialsTest, FromFilesWithTrailingNewlineTrimmed) {
  env_ = {{"AWS_ACCESS_KEY_ID_FILE", File("AKIDFILE\n")},
          {"AWS_SECRET_ACCESS_KEY_FILE", File("s3cr3t/key\r\n")},
          {"AWS_SESSION_TOKEN_FILE", File("token")}};
  AwsCredentials c = AwsCredentials::FromEnv(Env());
  EXPECT_EQ(c.access_key_id, "AKIDFILE");
  EXPECT_EQ(c.secret_access_key, "s3cr3t/key");
  EXPECT_EQ(c.session_token, "token");
}

TEST_F(DynamoDbCredentialsTest, BothVariableAndFileIsAnErrorNamingIt) {
  env_ = {{"AWS_ACCESS_KEY_ID", "AKID"},
          {"AWS_SECRET_ACCESS_KEY", "topsecretvalue"},
          {"AWS_SECRET_ACCESS_KEY_FILE", File("othersecretvalue\n")}};
  std::string err = Error();
  EXPECT_NE(err.find("AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("topsecretvalue"), std::string::npos);
  EXPECT_EQ(err.find("othersecretvalue"), std::string::npos);
}

TEST_F(DynamoDbCredentialsTest, MissingIsAClearError) {
  std::string err = Error();
  EXPECT_NE(err.find("AWS_ACCESS_KEY_ID is not set"), std::string::npos) << err;
  env_ = {{"AWS_ACCESS_KEY_ID", "AKID"}};
  err = Error();
  EXPECT_NE(err.find("AWS_SECRET_ACCESS_KEY is not set"), std::string::npos)
      << err;
}

TEST_F(DynamoDbCredentialsTest, UnreadableEmptyOrMalformedFilesAreErrors) {
  env_ = {{"AWS_ACCESS_KEY_ID", "AKID"},
          {"AWS_SECRET_ACCESS_KEY_FILE", "/nonexistent/secret"}};
  std::string err = Error();
  EXPECT_NE(err.find("AWS_SECRET_ACCESS_KEY_FILE"), std::string::npos) << err;
  EXPECT_NE(err.find("/nonexistent/secret"), std::string::npos) << err;
  env_["AWS_SECRET_ACCESS_KEY_FILE"] = File("\n");
  EXPECT_NE(Error().find("is empty"), std::string::npos);
  env_["AWS_SECRET_ACCESS_KEY_FILE"] = File("line1secret\nline2secret\n");
  err = Error();
  EXPECT_NE(err.find("printable"), std::string::npos) << err;
  EXPECT_EQ(err.find("line1secret"), std::string::npos);
  env_.erase("AWS_SECRET_ACCESS_KEY_FILE");
  env_["AWS_SECRET_ACCESS_KEY"] = "s";
  env_["AWS_SESSION_TOKEN"] = "tok\r\nX-Injected: 1";
  err = Error();
  EXPECT_NE(err.find("AWS_SESSION_TOKEN"), std::string::npos) << err;
  EXPECT_EQ(err.find("Injected"), std::string::npos);
  env_.erase("AWS_SESSION_TOKEN");
  env_["AWS_ACCESS_KEY_ID"] = "AK:ID";
  EXPECT_NE(Error().find("colon"), std::string::npos);
}

// ------------------------------------------------------------- client

// A raw HTTP/1.1 server on 127.0.0.1 that records each request and answers
// with what `respond` returns; an empty answer leaves the connection open
// and unanswered (a hung endpoint). One connection at a time.
class RawServer {
 public:
  using Respond = std::function<std::string(const std::string& request)>;

  explicit RawServer(Respond respond) : respond_(std::move(respond)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~RawServer() {
    stop_ = true;
    thread_.join();
    for (int c : hung_) close(c);
    close(fd_);
  }

  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  static std::string Answer(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/x-amz-json-1.0\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string request = ReadRequest(c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      std::string answer = respond_(request);
      if (answer.empty()) {
        hung_.push_back(c);
        continue;
      }
      for (std::size_t off = 0; off < answer.size();) {
        ssize_t n =
            send(c, answer.data() + off, answer.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      close(c);
    }
  }

  static std::string ReadRequest(int c) {
    std::string data;
    char buf[4096];
    std::size_t want = std::string::npos;
    while (want == std::string::npos || data.size() < want) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) break;
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
      auto end = data.find("\r\n\r\n");
      if (want == std::string::npos && end != std::string::npos) {
        std::size_t length = 0;
        auto cl = data.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) {
          length = std::stoul(data.substr(cl + 16));
        }
        want = end + 4 + length;
      }
    }
    return data;
  }

  Respond respond_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> hung_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

std::string BodyOf(const std::string& request) {
  return request.substr(request.find("\r\n\r\n") + 4);
}

// The value of header `name` (case-sensitive, as libcurl sends ours).
std::string HeaderOf(const std::string& request, const std::string& name) {
  auto pos = request.find("\r\n" + name + ": ");
  if (pos == std::string::npos) return "";
  pos += name.size() + 4;
  return request.substr(pos, request.find("\r\n", pos) - pos);
}

AwsCredentials TestCredentials() {
  AwsCredentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
  c.session_token = "FwoGZXIvYXdzEXAMPLETOKEN";
  return c;
}

class DynamoDbClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { http::GlobalInit(); }
  dynamodb::DynamoDbClient Client(const std::string& url) {
    return dynamodb::DynamoDbClient(url, "eu-west-1", TestCredentials(),
                                    std::chrono::milliseconds(500));
  }
};

TEST_F(DynamoDbClientTest, DescribeTableSendsASignedJson10Request) {
  RawServer server([](const std::string&) {
    return RawServer::Answer(200, Testdata("describe_table_global.json"));
  });
  auto client = Client(server.Url());
  auto r = client.DescribeTable("user_profiles");
  ASSERT_TRUE(r.ok()) << r.error().reason << ": " << r.error().message;
  EXPECT_EQ(r.value().replicas.size(), 10u);
  ASSERT_EQ(server.Requests().size(), 1u);
  std::string req = server.Requests()[0];
  EXPECT_EQ(req.rfind("POST / HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_EQ(HeaderOf(req, "Content-Type"), "application/x-amz-json-1.0");
  EXPECT_EQ(HeaderOf(req, "X-Amz-Target"), "DynamoDB_20120810.DescribeTable");
  EXPECT_EQ(HeaderOf(req, "X-Amz-Security-Token"), "FwoGZXIvYXdzEXAMPLETOKEN");
  EXPECT_FALSE(HeaderOf(req, "X-Amz-Date").empty());
  std::string auth = HeaderOf(req, "Authorization");
  EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0u)
      << auth;
  EXPECT_NE(auth.find("/eu-west-1/dynamodb/aws4_request"), std::string::npos)
      << auth;
  EXPECT_NE(auth.find("x-amz-security-token"), std::string::npos) << auth;
  EXPECT_NE(auth.find("x-amz-target"), std::string::npos) << auth;
  // libcurl 7.88 signs a removed "Expect:" header, which AWS rejects.
  EXPECT_EQ(auth.find("expect"), std::string::npos) << auth;
  EXPECT_EQ(req.find("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"),
            std::string::npos);
  rapidjson::Document body;
  body.Parse(BodyOf(req).c_str());
  ASSERT_TRUE(body.IsObject());
  EXPECT_STREQ(body["TableName"].GetString(), "user_profiles");
}

TEST_F(DynamoDbClientTest, RequestBodiesAreJsonEvenForHostileNames) {
  RawServer server([](const std::string& req) {
    if (HeaderOf(req, "X-Amz-Target") == "DynamoDB_20120810.GetItem") {
      return RawServer::Answer(200, Testdata("get_item_heartbeat.json"));
    }
    return RawServer::Answer(200, "{}");
  });
  auto client = Client(server.Url());
  std::string pk = "site\"},\"x\":{\"S\":\"\\\n";
  auto put = client.PutHeartbeat("dr_heartbeat", pk, 1732540800.1234);
  ASSERT_TRUE(put.ok()) << put.error().message;
  auto get = client.GetHeartbeat("dr_heartbeat", pk);
  ASSERT_TRUE(get.ok()) << get.error().message;
  ASSERT_TRUE(get.value().has_value());
  EXPECT_DOUBLE_EQ(*get.value(), 1732540800.123);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(HeaderOf(requests[0], "X-Amz-Target"), "DynamoDB_20120810.PutItem");
  rapidjson::Document putBody;
  putBody.Parse(BodyOf(requests[0]).c_str());
  ASSERT_TRUE(putBody.IsObject()) << BodyOf(requests[0]);
  EXPECT_EQ(std::string(putBody["Item"]["pk"]["S"].GetString()), pk);
  EXPECT_STREQ(putBody["Item"]["ts"]["N"].GetString(), "1732540800.123");
  EXPECT_EQ(putBody["Item"].MemberCount(), 2u);
  rapidjson::Document getBody;
  getBody.Parse(BodyOf(requests[1]).c_str());
  ASSERT_TRUE(getBody.IsObject()) << BodyOf(requests[1]);
  EXPECT_EQ(std::string(getBody["Key"]["pk"]["S"].GetString()), pk);
  EXPECT_TRUE(getBody["ConsistentRead"].GetBool());
}

TEST_F(DynamoDbClientTest, AwsErrorsCarryTheirTypeAndNoSecrets) {
  RawServer server([](const std::string& req) {
    std::string target = HeaderOf(req, "X-Amz-Target");
    if (target == "DynamoDB_20120810.GetItem") {
      return RawServer::Answer(400, Testdata("error_invalid_signature.json"));
    }
    if (target == "DynamoDB_20120810.PutItem") {
      return RawServer::Answer(
          400,
          R"({"__type":"com.amazon.coral.service#InvalidSignatureException",)"
          R"("message":"host:x\nx-amz-security-token:FwoGZXIvYXdzEXAMPLETOKEN\n"})");
    }
    return RawServer::Answer(400, Testdata("error_resource_not_found.json"));
  });
  auto client = Client(server.Url());
  auto r = client.DescribeTable("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "ResourceNotFoundException");
  EXPECT_NE(r.error().message.find("DescribeTable"), std::string::npos);
  auto g = client.GetHeartbeat("x", "a");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().reason, "InvalidSignatureException");
  EXPECT_EQ(g.error().message.find("FwoGZXIvYXdzEXAMPLETOKEN"),
            std::string::npos)
      << g.error().message;
  auto p = client.PutHeartbeat("x", "a", 1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().reason, "InvalidSignatureException");
  EXPECT_EQ(p.error().message.find("FwoGZXIvYXdzEXAMPLETOKEN"),
            std::string::npos)
      << p.error().message;
  EXPECT_NE(p.error().message.find("x-amz-security-token:[REDACTED]"),
            std::string::npos)
      << p.error().message;
}

TEST_F(DynamoDbClientTest, TransportFailuresHaveShortReasons) {
  {
    RawServer server([](const std::string&) {
      return RawServer::Answer(503, "<html>busy</html>");
    });
    auto r = Client(server.Url()).DescribeTable("t");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "http_503");
  }
  {
    RawServer server([](const std::string&) {
      return RawServer::Answer(200, "{\"Table\":");
    });
    auto r = Client(server.Url()).DescribeTable("t");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "parse");
  }
  {
    RawServer server([](const std::string&) {
      return RawServer::Answer(
          200, "{\"x\":\"" + std::string(dynamodb::kMaxBodyBytes, 'x') + "\"}");
    });
    auto r = Client(server.Url()).DescribeTable("t");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "too_large");
  }
  {
    RawServer server([](const std::string&) { return std::string(); });
    auto start = std::chrono::steady_clock::now();
    auto r = Client(server.Url()).DescribeTable("t");
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "timeout");
    EXPECT_LT(took, std::chrono::seconds(2));
  }
  std::string closed;
  {
    RawServer server([](const std::string&) { return std::string(); });
    closed = server.Url();
  }
  auto r = Client(closed).DescribeTable("t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "connect");
  r = Client("http://nonexistent.invalid").DescribeTable("t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "dns");
}

// ---------------------------------------------------------- collector

// What one fake region holds and answers; shared by the test and the fake
// client of the site whose region it is.
struct FakeRegion {
  std::mutex mu;
  std::map<std::string, dynamodb::Result<dynamodb::TableDescription>> tables;
  std::map<std::string, double> items;  // heartbeat pk -> ts
  std::optional<dynamodb::Error> fail;  // every call fails with this
  int calls = 0;
};

class FakeApi : public dynamodb::Api {
 public:
  explicit FakeApi(std::shared_ptr<FakeRegion> region)
      : region_(std::move(region)) {}
  dynamodb::Result<dynamodb::TableDescription> DescribeTable(
      const std::string& table) override {
    std::lock_guard<std::mutex> lock(region_->mu);
    ++region_->calls;
    if (region_->fail) return *region_->fail;
    auto it = region_->tables.find(table);
    if (it == region_->tables.end()) {
      return dynamodb::Error{"ResourceNotFoundException", "no " + table};
    }
    return it->second;
  }
  dynamodb::Result<dynamodb::Done> PutHeartbeat(const std::string&,
                                                const std::string& pk,
                                                double ts) override {
    std::lock_guard<std::mutex> lock(region_->mu);
    ++region_->calls;
    if (region_->fail) return *region_->fail;
    region_->items[pk] = ts;
    return dynamodb::Done{};
  }
  dynamodb::Result<std::optional<double>> GetHeartbeat(
      const std::string&, const std::string& pk) override {
    std::lock_guard<std::mutex> lock(region_->mu);
    ++region_->calls;
    if (region_->fail) return *region_->fail;
    auto it = region_->items.find(pk);
    if (it == region_->items.end()) return std::optional<double>();
    return std::optional<double>(it->second);
  }

 private:
  std::shared_ptr<FakeRegion> region_;
};

constexpr const char* kConfig = R"(
sites:
  - { name: us-east, address: 10.0.0.1, health_url: "http://10.0.0.1/",
      aws_region: us-east-1 }
  - { name: eu-central, address: 10.0.0.2, health_url: "http://10.0.0.2/",
      aws_region: eu-west-1 }
probe: { interval: 100ms, timeout: 50ms }
dns: { domain: example.com, records: [app] }
dynamodb:
  tables: [user_profiles, orders]
  heartbeat: { table: dr_heartbeat, interval: 100ms }
)";

dynamodb::TableDescription Table(
    std::string status,
    std::vector<std::pair<std::string, std::string>> replicas = {}) {
  dynamodb::TableDescription d;
  d.status = std::move(status);
  for (auto& [region, s] : replicas) {
    d.replicas.push_back({region, s, ""});
  }
  return d;
}

// The sample values of `name` whose labels include `want`.
std::vector<double> Values(const std::vector<prometheus::MetricFamily>& fams,
                           const std::string& name,
                           const std::map<std::string, std::string>& want) {
  std::vector<double> out;
  for (const auto& f : fams) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      std::size_t matched = 0;
      for (const auto& l : m.label) {
        auto it = want.find(l.name);
        if (it != want.end() && it->second == l.value) ++matched;
      }
      if (matched == want.size()) {
        out.push_back(f.type == prometheus::MetricType::Counter
                          ? m.counter.value
                          : m.gauge.value);
      }
    }
  }
  return out;
}

class DynamoDbCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = LoadConfigText(kConfig, "test.yml");
    counters_ = std::make_shared<exporter::ExporterCounters>();
    regions_["us-east"] = std::make_shared<FakeRegion>();
    regions_["eu-central"] = std::make_shared<FakeRegion>();
    collector_ = std::make_unique<exporter::DynamoDbCollector>(
        config_, counters_, [this](const SiteConfig& site) {
          return std::make_unique<FakeApi>(regions_.at(site.name));
        });
  }
  void SetTable(const std::string& site, const std::string& table,
                dynamodb::Result<dynamodb::TableDescription> r) {
    std::lock_guard<std::mutex> lock(regions_[site]->mu);
    regions_[site]->tables.insert_or_assign(table, std::move(r));
  }
  double Errors(const std::string& reason) {
    return counters_->collector_errors.Value({"dynamodb", reason});
  }

  std::shared_ptr<const Config> config_;
  std::shared_ptr<exporter::ExporterCounters> counters_;
  std::map<std::string, std::shared_ptr<FakeRegion>> regions_;
  std::unique_ptr<exporter::DynamoDbCollector> collector_;
};

TEST_F(DynamoDbCollectorTest, NothingIsExportedBeforeTheFirstRound) {
  auto fams = collector_->CollectAt(1000);
  EXPECT_TRUE(Values(fams, "dr_dynamodb_up", {}).empty());
  EXPECT_TRUE(Values(fams, "dr_dynamodb_table_status", {}).empty());
  EXPECT_TRUE(Values(fams, "dr_dynamodb_replication_lag_seconds", {}).empty());
  EXPECT_FALSE(collector_->Ready());
}

TEST_F(DynamoDbCollectorTest, TableAndReplicaStatusAreStateSets) {
  SetTable(
      "us-east", "user_profiles",
      Table("ACTIVE", {{"eu-west-1", "ACTIVE"}, {"us-west-2", "CREATING"}}));
  SetTable("us-east", "orders", Table("UPDATING"));
  collector_->DescribeOnce(0);
  auto fams = collector_->CollectAt(1000);
  EXPECT_EQ(Values(fams, "dr_dynamodb_up",
                   {{"site", "us-east"}, {"region", "us-east-1"}}),
            std::vector<double>{1});
  auto all = Values(fams, "dr_dynamodb_table_status",
                    {{"site", "us-east"}, {"table", "user_profiles"}});
  EXPECT_EQ(all.size(), dynamodb::KnownTableStatuses().size() + 1);
  double sum = 0;
  for (double v : all) sum += v;
  EXPECT_EQ(sum, 1);
  EXPECT_EQ(Values(fams, "dr_dynamodb_table_status",
                   {{"table", "user_profiles"}, {"status", "ACTIVE"}}),
            std::vector<double>{1});
  EXPECT_EQ(Values(fams, "dr_dynamodb_table_status",
                   {{"table", "user_profiles"}, {"status", "UNKNOWN"}}),
            std::vector<double>{0});
  EXPECT_EQ(Values(fams, "dr_dynamodb_table_status",
                   {{"table", "orders"}, {"status", "UPDATING"}}),
            std::vector<double>{1});
  EXPECT_EQ(Values(fams, "dr_dynamodb_replica_status",
                   {{"replica_region", "us-west-2"}})
                .size(),
            dynamodb::KnownReplicaStatuses().size() + 1);
  EXPECT_EQ(Values(fams, "dr_dynamodb_replica_status",
                   {{"site", "us-east"},
                    {"table", "user_profiles"},
                    {"replica_region", "us-west-2"},
                    {"status", "CREATING"}}),
            std::vector<double>{1});
  EXPECT_EQ(Values(fams, "dr_dynamodb_replica_status",
                   {{"replica_region", "eu-west-1"}, {"status", "ACTIVE"}}),
            std::vector<double>{1});
  // The other site has not run a round yet.
  EXPECT_TRUE(Values(fams, "dr_dynamodb_up", {{"site", "eu-central"}}).empty());
}

TEST_F(DynamoDbCollectorTest, ReplicasNoLongerReportedDisappear) {
  SetTable(
      "us-east", "user_profiles",
      Table("ACTIVE", {{"eu-west-1", "ACTIVE"}, {"us-west-2", "DELETING"}}));
  SetTable("us-east", "orders", Table("ACTIVE"));
  collector_->DescribeOnce(0);
  SetTable("us-east", "user_profiles",
           Table("ACTIVE", {{"eu-west-1", "ACTIVE"}}));
  collector_->DescribeOnce(0);
  auto fams = collector_->CollectAt(1000);
  EXPECT_TRUE(Values(fams, "dr_dynamodb_replica_status",
                     {{"replica_region", "us-west-2"}})
                  .empty());
  EXPECT_FALSE(Values(fams, "dr_dynamodb_replica_status",
                      {{"replica_region", "eu-west-1"}})
                   .empty());
}

TEST_F(DynamoDbCollectorTest, UnknownStatusCountsAsUnknown) {
  dynamodb::TableDescription d = Table("UNKNOWN", {{"eu-west-1", "UNKNOWN"}});
  d.raw_status = "SOMETHING_NEW";
  d.replicas[0].raw_status = "ALSO_NEW";
  SetTable("us-east", "user_profiles", d);
  SetTable("us-east", "orders", Table("ACTIVE"));
  collector_->DescribeOnce(0);
  auto fams = collector_->CollectAt(1000);
  EXPECT_EQ(Values(fams, "dr_dynamodb_table_status",
                   {{"table", "user_profiles"}, {"status", "UNKNOWN"}}),
            std::vector<double>{1});
  EXPECT_EQ(Values(fams, "dr_dynamodb_table_status",
                   {{"table", "user_profiles"}, {"status", "ACTIVE"}}),
            std::vector<double>{0});
  EXPECT_EQ(Values(fams, "dr_dynamodb_replica_status",
                   {{"replica_region", "eu-west-1"}, {"status", "UNKNOWN"}}),
            std::vector<double>{1});
}

TEST_F(DynamoDbCollectorTest, AnErrorMakesTheSiteDownAndIsCounted) {
  SetTable("us-east", "user_profiles", Table("ACTIVE"));  // orders missing
  collector_->DescribeOnce(0);
  collector_->DescribeOnce(0);
  auto fams = collector_->CollectAt(1000);
  EXPECT_EQ(Values(fams, "dr_dynamodb_up", {{"site", "us-east"}}),
            std::vector<double>{0});
  EXPECT_EQ(Errors("ResourceNotFoundException"), 2);
  EXPECT_TRUE(
      Values(fams, "dr_dynamodb_table_status", {{"table", "orders"}}).empty());
  EXPECT_FALSE(
      Values(fams, "dr_dynamodb_table_status", {{"table", "user_profiles"}})
          .empty());
  SetTable("us-east", "orders", Table("ACTIVE"));
  collector_->DescribeOnce(0);
  fams = collector_->CollectAt(1000);
  EXPECT_EQ(Values(fams, "dr_dynamodb_up", {{"site", "us-east"}}),
            std::vector<double>{1});
}

TEST_F(DynamoDbCollectorTest, TransportFailureEndsTheRoundEarly) {
  regions_["eu-central"]->fail = dynamodb::Error{"timeout", "timed out"};
  collector_->DescribeOnce(1);
  collector_->HeartbeatOnce(1, 1000);
  EXPECT_EQ(regions_["eu-central"]->calls, 2);  // not 2 tables + put + get
  EXPECT_EQ(Errors("timeout"), 2);
  auto fams = collector_->CollectAt(1000);
  EXPECT_EQ(Values(fams, "dr_dynamodb_up", {{"site", "eu-central"}}),
            std::vector<double>{0});
  EXPECT_TRUE(Values(fams, "dr_dynamodb_table_status", {}).empty());
}

TEST_F(DynamoDbCollectorTest, LagIsNowMinusNewestHeartbeatRead) {
  // us-east writes in its region; "replication" copies it to eu-central's
  // region; eu-central reads it there.
  collector_->HeartbeatOnce(0, 1000.0);
  EXPECT_EQ(regions_["us-east"]->items.at("us-east"), 1000.0);
  collector_->HeartbeatOnce(1, 1000.5);
  auto fams = collector_->CollectAt(1001);
  EXPECT_TRUE(Values(fams, "dr_dynamodb_replication_lag_seconds", {}).empty())
      << "no series before a first item was read";
  regions_["eu-central"]->items["us-east"] = 1000.0;  // replicated
  collector_->HeartbeatOnce(1, 1002.0);
  fams = collector_->CollectAt(1003.25);
  EXPECT_EQ(Values(fams, "dr_dynamodb_replication_lag_seconds",
                   {{"table", "dr_heartbeat"},
                    {"source_site", "us-east"},
                    {"target_site", "eu-central"}}),
            std::vector<double>{3.25});
  // Replication stalls: the lag keeps growing with the scrape time.
  fams = collector_->CollectAt(1010);
  EXPECT_EQ(Values(fams, "dr_dynamodb_replication_lag_seconds",
                   {{"source_site", "us-east"}}),
            std::vector<double>{10});
  // An older item read later never moves the newest one back.
  regions_["eu-central"]->items["us-east"] = 990.0;
  collector_->HeartbeatOnce(1, 1011.0);
  fams = collector_->CollectAt(1011);
  EXPECT_EQ(Values(fams, "dr_dynamodb_replication_lag_seconds",
                   {{"source_site", "us-east"}}),
            std::vector<double>{11});
  // The reverse direction has had nothing to read.
  EXPECT_TRUE(Values(fams, "dr_dynamodb_replication_lag_seconds",
                     {{"source_site", "eu-central"}})
                  .empty());
  // A clock behind the writer's never gives a negative lag.
  fams = collector_->CollectAt(900);
  EXPECT_EQ(Values(fams, "dr_dynamodb_replication_lag_seconds",
                   {{"source_site", "us-east"}}),
            std::vector<double>{0});
}

TEST_F(DynamoDbCollectorTest, RunIsReadyAfterAFirstRoundAndStopsAtOnce) {
  for (const char* site : {"us-east", "eu-central"}) {
    SetTable(site, "user_profiles", Table("ACTIVE"));
    SetTable(site, "orders", Table("ACTIVE"));
  }
  Stopper stop;
  std::thread t([&] { collector_->Run(stop); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!collector_->Ready() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(collector_->Ready());
  // Both sites write and read: after a few rounds each has read the other.
  for (auto [region, pk] : {std::pair{"eu-central", "us-east"},
                            std::pair{"us-east", "eu-central"}}) {
    std::lock_guard<std::mutex> lock(regions_[region]->mu);
    regions_[region]->items[pk] = 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto start = std::chrono::steady_clock::now();
  stop.Stop();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(500));
  auto fams = collector_->Collect();
  EXPECT_EQ(Values(fams, "dr_dynamodb_up", {}), (std::vector<double>{1, 1}));
  EXPECT_EQ(Values(fams, "dr_dynamodb_replication_lag_seconds", {}).size(), 2u);
  EXPECT_GE(collector_->LastDuration(), 0);
  std::lock_guard<std::mutex> lock(regions_["us-east"]->mu);
  EXPECT_GT(regions_["us-east"]->calls, 6);  // several rounds ran
}

TEST(DynamoDbFactoryTest, NoDynamoDbSectionNoCollector) {
  auto config = LoadConfigText(R"(
sites:
  - { name: a, address: 10.0.0.1, health_url: "http://10.0.0.1/" }
  - { name: b, address: 10.0.0.2, health_url: "http://10.0.0.2/" }
dns: { domain: example.com, records: [app] }
)",
                               "test.yml");
  auto counters = std::make_shared<exporter::ExporterCounters>();
  EXPECT_EQ(exporter::NewDynamoDbCollector(config, counters), nullptr);
}

TEST(DynamoDbFactoryTest, MissingCredentialsRefuseToStart) {
  auto config = LoadConfigText(kConfig, "test.yml");
  auto counters = std::make_shared<exporter::ExporterCounters>();
  std::map<std::string, std::string> saved;
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY_FILE",
        "AWS_SESSION_TOKEN_FILE"}) {
    if (const char* v = getenv(name)) saved[name] = v;
    unsetenv(name);
  }
  try {
    exporter::NewDynamoDbCollector(config, counters);
    ADD_FAILURE() << "no error without credentials";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"),
              std::string::npos);
  }
  setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  http::GlobalInit();
  EXPECT_NE(exporter::NewDynamoDbCollector(config, counters), nullptr);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  for (const auto& [name, value] : saved)
    setenv(name.c_str(), value.c_str(), 1);
}

}  // namespace
}  // namespace drf
