#include <gtest/gtest.h>

#include "core/http/client.h"
#include "core/http/server.h"
#include "tests/unit/test_server.h"

namespace drf::http {
namespace {

using drf::testing::LocalServer;

class HttpServerTest : public ::testing::Test {
 protected:
  // One server for the suite: CivetWeb takes about 2 s to stop.
  static void SetUpTestSuite() {
    GlobalInit();
    local_ = new LocalServer(1024);
    local_->server->Handle("GET", "/hello", [](const ServerRequest& r) {
      return ServerResponse::Text(200, "hi " + r.QueryParam("name"));
    });
    local_->server->Handle("POST", "/echo", [](const ServerRequest& r) {
      if (r.body_too_large) return ServerResponse::Text(413, "too large");
      ServerResponse resp = ServerResponse::Json(200, r.body);
      resp.headers.emplace_back("X-Auth", r.authorization);
      return resp;
    });
    local_->server->Handle("GET", "/throws",
                           [](const ServerRequest&) -> ServerResponse {
                             throw std::runtime_error("boom");
                           });
    local_->server->Start();
  }

  Response Get(const std::string& path) {
    Request req;
    req.url = local_->Url(path);
    return client_.Do(req);
  }

  static inline LocalServer* local_ = nullptr;
  Client client_;
};

TEST_F(HttpServerTest, RoutesExactPathsAndQueryParameters) {
  Response r = Get("/hello?name=a%20b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi a b");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(Get("/hello/x").status, 404);
  EXPECT_EQ(Get("/nope").status, 404);
  EXPECT_EQ(Get("/echo").status, 405);
}

TEST_F(HttpServerTest, PassesBodyAndAuthorization) {
  Request req;
  req.method = "POST";
  req.url = local_->Url("/echo");
  req.body = "{\"a\":1}";
  req.headers = {"Authorization: Bearer t0ken"};
  Response r = client_.Do(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1}");
}

TEST_F(HttpServerTest, FlagsBodiesOverTheLimit) {
  Request req;
  req.method = "POST";
  req.url = local_->Url("/echo");
  req.body = std::string(1025, 'x');
  EXPECT_EQ(client_.Do(req).status, 413);
  req.body = std::string(1024, 'x');
  EXPECT_EQ(client_.Do(req).status, 200);
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  EXPECT_EQ(Get("/throws").status, 500);
  EXPECT_EQ(Get("/hello").status, 200);
}

TEST(HttpServerStartTest, BindFailureNamesTheAddress) {
  LocalServer a;
  a.server->Start();
  Server b("127.0.0.1:" + std::to_string(a.port), 1024);
  try {
    b.Start();
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(a.port)),
              std::string::npos);
  }
}

TEST(CivetListenPortTest, ConvertsPrometheusStyleAddresses) {
  EXPECT_EQ(CivetListenPort(":9731"), "9731");
  EXPECT_EQ(CivetListenPort("127.0.0.1:9731"), "127.0.0.1:9731");
  EXPECT_EQ(CivetListenPort("[::1]:9731"), "[::1]:9731");
  EXPECT_EQ(CivetListenPort("9731"), "");
  EXPECT_EQ(CivetListenPort("host:port"), "");
  EXPECT_EQ(CivetListenPort(":99999"), "");
  EXPECT_EQ(CivetListenPort("::1:9731"), "");
}

TEST(ClientTest, ResponseBodyOverTheLimitIsAFailure) {
  GlobalInit();
  LocalServer local;
  local.server->Handle("GET", "/big", [](const ServerRequest&) {
    return ServerResponse::Text(200, std::string(100000, 'x'));
  });
  local.server->Start();
  Client client;
  Request req;
  req.url = local.Url("/big");
  req.max_response_bytes = 1000;
  Response r = client.Do(req);
  EXPECT_FALSE(r.transport_ok());
  EXPECT_EQ(r.failure, Failure::kTooLarge);
}

TEST(ClientTest, RetryAfterHeaderIsRead) {
  GlobalInit();
  LocalServer local;
  local.server->Handle("GET", "/limited", [](const ServerRequest&) {
    ServerResponse r = ServerResponse::Text(429, "slow down");
    r.headers.emplace_back("Retry-After", "7");
    return r;
  });
  local.server->Start();
  Client client;
  Request req;
  req.url = local.Url("/limited");
  Response r = client.Do(req);
  EXPECT_TRUE(r.transport_ok());
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.retry_after, 7);
}

}  // namespace
}  // namespace drf::http
