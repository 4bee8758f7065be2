#include "core/http/daemon_endpoints.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "core/http/client.h"
#include "core/metrics/metrics.h"
#include "tests/unit/test_server.h"

namespace drf::http {
namespace {

using drf::testing::LocalServer;

// What the daemon under test reports; changed by the tests between calls.
struct FakeDaemon {
  std::mutex mu;
  std::optional<std::string> not_ready;  // Guarded by mu
  std::string reload_error;              // Guarded by mu
  std::atomic<int> reloads{0};
};

class DaemonEndpointsTest : public ::testing::Test {
 protected:
  // One server for the suite: CivetWeb takes about 2 s to stop.
  static void SetUpTestSuite() {
    GlobalInit();
    daemon_ = new FakeDaemon;
    local_ = new LocalServer(1024);
    RegisterDaemonEndpoints(
        *local_->server,
        {.name = "dr-actuator",
         .collect =
             [] {
               return std::vector<prometheus::MetricFamily>{
                   metrics::Gauge("dr_test_value", "A test gauge.")
                       .Add({{"site", "a"}}, 2)
                       .Build()};
             },
         .ready = []() -> std::optional<std::string> {
           std::lock_guard<std::mutex> lock(daemon_->mu);
           return daemon_->not_ready;
         },
         .reload = []() -> std::string {
           ++daemon_->reloads;
           std::lock_guard<std::mutex> lock(daemon_->mu);
           return daemon_->reload_error;
         }});
    local_->server->Start();
  }
  void SetUp() override {
    std::lock_guard<std::mutex> lock(daemon_->mu);
    daemon_->not_ready.reset();
    daemon_->reload_error.clear();
  }

  Response Send(const std::string& method, const std::string& path) {
    Request req;
    req.method = method;
    req.url = local_->Url(path);
    return client_.Do(req);
  }

  static inline LocalServer* local_ = nullptr;
  static inline FakeDaemon* daemon_ = nullptr;
  Client client_;
};

TEST_F(DaemonEndpointsTest, MetricsServesTheCollectedFamilies) {
  Response r = Send("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, metrics::SerializeFamilies(
                        {metrics::Gauge("dr_test_value", "A test gauge.")
                             .Add({{"site", "a"}}, 2)
                             .Build()}));
  EXPECT_NE(r.body.find("dr_test_value{site=\"a\"} 2"), std::string::npos)
      << r.body;
}

TEST_F(DaemonEndpointsTest, HealthyNamesTheDaemon) {
  Response r = Send("GET", "/-/healthy");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "dr-actuator is Healthy.\n");
}

TEST_F(DaemonEndpointsTest, ReadyOrTheReasonWhyNot) {
  Response r = Send("GET", "/-/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "dr-actuator is Ready.\n");
  {
    std::lock_guard<std::mutex> lock(daemon_->mu);
    daemon_->not_ready = "the DNS provider has not been read";
  }
  r = Send("GET", "/-/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "dr-actuator is not ready: the DNS provider has not been read.\n");
}

TEST_F(DaemonEndpointsTest, ReloadAnswersWithItsOutcome) {
  int before = daemon_->reloads;
  Response r = Send("POST", "/-/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "config reloaded\n");
  {
    std::lock_guard<std::mutex> lock(daemon_->mu);
    daemon_->reload_error = "config.yml:3: sites: missing";
  }
  r = Send("POST", "/-/reload");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "failed to reload config: config.yml:3: sites: missing\n");
  EXPECT_EQ(daemon_->reloads, before + 2);
}

TEST_F(DaemonEndpointsTest, ReloadIsPostOnly) {
  int before = daemon_->reloads;
  EXPECT_EQ(Send("GET", "/-/reload").status, 405);
  EXPECT_EQ(daemon_->reloads, before);
}

}  // namespace
}  // namespace drf::http
