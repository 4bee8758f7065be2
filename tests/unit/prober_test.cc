#include "core/probe/prober.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/unit/test_server.h"

namespace drf {
namespace {

using drf::testing::FreePort;
using drf::testing::LocalServer;

class ProberTest : public ::testing::Test {
 protected:
  // One server for the suite: CivetWeb takes about 2 s to stop.
  static void SetUpTestSuite() {
    http::GlobalInit();
    local_ = new LocalServer();
    local_->server->Handle("GET", "/ok", [](const http::ServerRequest&) {
      return http::ServerResponse::Text(200, "OK");
    });
    local_->server->Handle("GET", "/fail", [](const http::ServerRequest&) {
      return http::ServerResponse::Text(503, "down");
    });
    local_->server->Handle("GET", "/slow", [](const http::ServerRequest&) {
      int now = ++in_flight_;
      int seen = max_in_flight_;
      while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      --in_flight_;
      return http::ServerResponse::Text(200, "late");
    });
    local_->server->Start();
  }
  static void TearDownTestSuite() { delete local_; }
  void SetUp() override {
    config_.timeout = std::chrono::milliseconds(300);
    max_in_flight_ = 0;
  }

  static inline LocalServer* local_ = nullptr;
  static inline std::atomic<int> in_flight_{0};
  static inline std::atomic<int> max_in_flight_{0};
  ProbeConfig config_;
};

TEST_F(ProberTest, ClassifiesEachOutcome) {
  Prober prober(config_);
  auto results = prober.ProbeAll({
      local_->Url("/ok"),
      local_->Url("/fail"),
      local_->Url("/slow"),
      "http://127.0.0.1:" + std::to_string(FreePort()) + "/closed",
      "http://nonexistent.invalid/health",
  });
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].up);
  EXPECT_EQ(results[0].status, 200);
  EXPECT_FALSE(results[1].up);
  EXPECT_EQ(results[1].status, 503);
  EXPECT_EQ(results[1].failure, http::Failure::kStatus);
  EXPECT_FALSE(results[2].up);
  EXPECT_EQ(results[2].failure, http::Failure::kTimeout);
  EXPECT_EQ(results[2].status, 0);
  EXPECT_EQ(results[3].failure, http::Failure::kConnect);
  EXPECT_EQ(results[4].failure, http::Failure::kDns);
}

TEST_F(ProberTest, ProbesRunConcurrently) {
  // Three hung sites are all in flight at once (the server sees them
  // overlap), each times out on its own, and a healthy one is still up.
  Prober prober(config_);
  auto results = prober.ProbeAll({local_->Url("/slow"), local_->Url("/slow"),
                                  local_->Url("/slow"), local_->Url("/ok")});
  EXPECT_GE(max_in_flight_.load(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i].failure, http::Failure::kTimeout);
  }
  EXPECT_TRUE(results[3].up);
}

TEST_F(ProberTest, ExpectStatusOverridesAny2xx) {
  config_.expect_status = {503};
  Prober prober(config_);
  auto results = prober.ProbeAll({local_->Url("/ok"), local_->Url("/fail")});
  EXPECT_FALSE(results[0].up);
  EXPECT_EQ(results[0].failure, http::Failure::kStatus);
  EXPECT_TRUE(results[1].up);
}

TEST_F(ProberTest, SendsTheHostHeader) {
  LocalServer host_server;
  host_server.server->Handle("GET", "/h", [](const http::ServerRequest& r) {
    return http::ServerResponse::Text(r.host == "app.example.com" ? 200 : 400,
                                      "");
  });
  host_server.server->Start();
  config_.host_header = "app.example.com";
  Prober prober(config_);
  // Reused handles: a second round must work the same way.
  for (int round = 0; round < 2; ++round) {
    auto results = prober.ProbeAll({host_server.Url("/h")});
    EXPECT_TRUE(results[0].up) << results[0].error;
  }
  config_.host_header.clear();
  Prober plain(config_);
  EXPECT_EQ(plain.ProbeAll({host_server.Url("/h")})[0].status, 400);
}

}  // namespace
}  // namespace drf
