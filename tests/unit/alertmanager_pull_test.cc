#include "actuator/intake/alertmanager_pull.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actuator/policy/alert_set.h"
#include "tests/fakes/free_port.h"
#include "tests/unit/test_server.h"

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;
using drf::http::ServerRequest;
using drf::http::ServerResponse;
using drf::testing::LocalServer;
using Sites = std::set<std::string>;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::filesystem::path(DRF_TESTDATA_DIR) / "alertmanager" /
                   name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One gettableAlert as Alertmanager 0.25 writes it.
std::string ListedAlert(const std::string& site, const std::string& state,
                        const std::string& silenced_by = "",
                        const std::string& inhibited_by = "") {
  return R"({"annotations":{"summary":")" + site +
         R"( down"},"endsAt":"2024-05-01T12:05:00.000Z","fingerprint":"fp-)" +
         site +
         R"(","receivers":[{"name":"dr"}],"startsAt":"2024-05-01T12:00:00.000Z",)"
         R"("status":{"inhibitedBy":[)" +
         inhibited_by + R"(],"silencedBy":[)" + silenced_by + R"(],"state":")" +
         state +
         R"("},"updatedAt":"2024-05-01T12:00:00.500Z",)"
         R"("generatorURL":"http://prometheus:9090/graph",)"
         R"("labels":{"alertname":"DrSiteDown","dr_action":"traffic_failover",)"
         R"("site":")" +
         site + R"("}})";
}

std::string ErrorOf(std::string_view body) {
  std::vector<Alert> alerts;
  std::string error;
  if (ParseAlertList(body, &alerts, &error)) return "";
  EXPECT_TRUE(alerts.empty());
  return error;
}

// -------------------------------------------------------------- parsing

TEST(ParseAlertListTest, ReadsTheListOfARealAlertmanager) {
  // Captured from prometheus-alertmanager 0.25 on loopback: two DR alerts
  // posted to /api/v2/alerts, one without an end (Alertmanager sets it from
  // resolve_timeout), then GET with the puller's query.
  std::vector<Alert> alerts;
  std::string error;
  ASSERT_TRUE(
      ParseAlertList(ReadTestdata("api_v2_alerts.json"), &alerts, &error))
      << error;
  ASSERT_EQ(alerts.size(), 2u);
  const Alert& a = alerts[0];
  EXPECT_EQ(a.status, AlertStatus::kFiring);
  EXPECT_EQ(a.fingerprint, "3389b2f9d9291607");
  EXPECT_EQ(a.labels.at("site"), "us-east");
  EXPECT_EQ(a.labels.at("alertname"), "DrSiteDown");
  EXPECT_EQ(a.labels.size(), 4u);
  EXPECT_EQ(a.summary, "us-east health probe failing");
  EXPECT_EQ(a.starts_at, *ParseRfc3339("2026-12-04T02:32:24Z"));
  EXPECT_EQ(a.ends_at, *ParseRfc3339("2026-12-04T02:37:24.932Z"));
  EXPECT_TRUE(IsDrAlert(a));
  EXPECT_EQ(alerts[1].labels.at("site"), "eu-central");
  EXPECT_EQ(alerts[1].ends_at, *ParseRfc3339("2099-01-01T00:00:00Z"));
}

TEST(ParseAlertListTest, DropsSilencedAlertsOfARealAlertmanager) {
  // The same two alerts with a silence on site="eu-central", listed without
  // the silenced=false filter: Alertmanager marks it suppressed.
  std::vector<Alert> alerts;
  std::string error;
  ASSERT_TRUE(ParseAlertList(ReadTestdata("api_v2_alerts_silenced.json"),
                             &alerts, &error))
      << error;
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].labels.at("site"), "us-east");
}

TEST(ParseAlertListTest, KeepsOnlyActiveUnsilencedUninhibitedAlerts) {
  std::vector<Alert> alerts;
  std::string error;
  const std::string body =
      "[" + ListedAlert("a", "active") + "," + ListedAlert("b", "suppressed") +
      "," + ListedAlert("c", "unprocessed") + "," +
      ListedAlert("d", "active", R"("silence-1")") + "," +
      ListedAlert("e", "active", "", R"("inhibit-1")") + "]";
  ASSERT_TRUE(ParseAlertList(body, &alerts, &error)) << error;
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].fingerprint, "fp-a");
}

TEST(ParseAlertListTest, EmptyListIsNoAlerts) {
  std::vector<Alert> alerts = {Alert{}};
  std::string error;
  ASSERT_TRUE(ParseAlertList("[]", &alerts, &error));
  EXPECT_TRUE(alerts.empty());
  ASSERT_TRUE(ParseAlertList(" [ ]\n", &alerts, &error));
}

TEST(ParseAlertListTest, OptionalFieldsMayBeAbsentOrNull) {
  std::vector<Alert> alerts;
  std::string error;
  ASSERT_TRUE(ParseAlertList(
      R"([{"labels":{"dr_action":"traffic_failover","site":"a"},)"
      R"("startsAt":"2024-05-01T12:00:00Z","endsAt":"2024-05-01T12:05:00Z",)"
      R"("status":{"state":"active"},"annotations":null,"receivers":null}])",
      &alerts, &error))
      << error;
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].fingerprint, "");
  EXPECT_EQ(alerts[0].summary, "");
}

TEST(ParseAlertListTest, MalformedBodiesNameTheProblem) {
  const std::string ok = ListedAlert("a", "active");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = ok;
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return "[" + s.replace(pos, from.size(), to) + "]";
  };
  EXPECT_EQ(ErrorOf(""), "body: empty");
  EXPECT_EQ(ErrorOf("{}"), "body: must be a JSON array");
  EXPECT_EQ(ErrorOf("null"), "body: must be a JSON array");
  EXPECT_EQ(ErrorOf("[1]"), "[0]: must be an object");
  EXPECT_EQ(ErrorOf("[" + ok.substr(0, 40)),
            "body: invalid JSON at offset 41: Missing a closing quotation "
            "mark in string.");
  EXPECT_EQ(ErrorOf("[] []"),
            "body: invalid JSON at offset 3: The document root must not be "
            "followed by other values.");
  EXPECT_EQ(ErrorOf("<html>502 Bad Gateway</html>"),
            "body: invalid JSON at offset 0: Invalid value.");
  EXPECT_EQ(ErrorOf(with(R"("labels":)", R"("labelz":)")),
            "[0].labels: missing");
  EXPECT_EQ(ErrorOf(with(R"("site":"a")", R"("site":1)")),
            "[0].labels.site: must be a string");
  EXPECT_EQ(ErrorOf(with(R"("state":"active")", R"("state":"firing")")),
            "[0].status.state: must be \"active\", \"suppressed\" or "
            "\"unprocessed\", got \"firing\"");
  EXPECT_EQ(ErrorOf(with(R"("state":"active")", R"("stat":"active")")),
            "[0].status.state: missing");
  EXPECT_EQ(ErrorOf(with(R"("status":{)", R"("statu":{)")),
            "[0].status: missing");
  EXPECT_EQ(ErrorOf(with(R"("silencedBy":[])", R"("silencedBy":"x")")),
            "[0].status.silencedBy: must be an array");
  EXPECT_EQ(ErrorOf(with(R"("inhibitedBy":[])", R"("inhibitedBy":[1])")),
            "[0].status.inhibitedBy[0]: must be a string");
  EXPECT_EQ(ErrorOf(with(R"("startsAt":"2024-05-01T12:00:00.000Z")",
                         R"("startsAt":"yesterday")")),
            "[0].startsAt: not an RFC 3339 timestamp: \"yesterday\"");
  EXPECT_EQ(ErrorOf(with(R"("endsAt":"2024-05-01T12:05:00.000Z",)", "")),
            "[0].endsAt: missing");
  EXPECT_EQ(ErrorOf(with(R"("updatedAt":"2024-05-01T12:00:00.500Z")",
                         R"("updatedAt":5)")),
            "[0].updatedAt: must be a string");
  EXPECT_EQ(ErrorOf(with(R"("receivers":[{"name":"dr"}])",
                         R"("receivers":[{"nam":"dr"}])")),
            "[0].receivers[0].name: missing");
  EXPECT_EQ(ErrorOf(with(R"("fingerprint":"fp-a")", R"("fingerprint":[])")),
            "[0].fingerprint: must be a string");
  EXPECT_EQ(ErrorOf(with(R"("annotations":{)",
                         R"("annotations":{"summary":"x","summary":"y",)")),
            "[0].annotations: duplicate key \"summary\"");
  EXPECT_EQ(ErrorOf("[" + ok + ",7]"), "[1]: must be an object");
}

TEST(ParseAlertListTest, HostileBodiesAreRefusedCheaply) {
  EXPECT_EQ(ErrorOf(std::string(kMaxAlertListBytes + 1, ' ')),
            "body: larger than 4194304 bytes");
  EXPECT_EQ(ErrorOf(std::string(100000, '[')),
            "body: nested deeper than 32 levels");
  EXPECT_EQ(ErrorOf(std::string("[]\0[1]", 6)), "body: holds a NUL byte");
  EXPECT_EQ(ErrorOf("[\"\xff\"]"),
            "body: invalid JSON at offset 2: Invalid encoding in string.");
  std::string many = "[";
  for (std::size_t i = 0; i <= kMaxAlerts; ++i) {
    many += (i ? "," : "") + std::string("{}");
  }
  EXPECT_EQ(ErrorOf(many + "]"), "body: more than 1000 alerts (1001)");
  std::string labels = R"([{"labels":{)";
  for (int i = 0; i <= 128; ++i) {
    labels +=
        (i ? "," : "") + std::string("\"l") + std::to_string(i) + "\":\"v\"";
  }
  EXPECT_EQ(ErrorOf(labels + "}}]"), "[0].labels: more than 128 entries");
  EXPECT_EQ(ErrorOf(R"([{"labels":{"a\u0000\n":1}}])"),
            "[0].labels.a\\x00\\x0a: must be a string");
}

// -------------------------------------------------------------- changes

const TimePoint kT0 = *ParseRfc3339("2024-05-01T12:00:00Z");

Alert DrAlert(const std::string& site, TimePoint ends_at = TimePoint{}) {
  Alert a;
  a.status = AlertStatus::kFiring;
  a.labels = {{"alertname", "DrSiteDown"},
              {"dr_action", "traffic_failover"},
              {"site", site}};
  a.starts_at = kT0;
  a.ends_at = ends_at;
  a.fingerprint = "fp-" + site;
  a.summary = site + " down";
  return a;
}

TEST(PullChangesTest, NewAlertIsAFiringChange) {
  AlertSet before;
  auto changes =
      PullChanges(before, {DrAlert("a", kT0 + 5min)}, {"a", "b"}, kT0 + 1min);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status, AlertStatus::kFiring);
  EXPECT_EQ(changes[0].fingerprint, "fp-a");
  EXPECT_EQ(changes[0].ends_at, kT0 + 5min);
}

TEST(PullChangesTest, AlertFiringAlreadyIsNoChangeUnlessItsEndMovesOut) {
  AlertSet before;
  before.Apply(DrAlert("a", kT0 + 5min), kT0);
  EXPECT_TRUE(PullChanges(before, {DrAlert("a", kT0 + 5min)}, {"a"}, kT0 + 1min)
                  .empty());
  EXPECT_TRUE(PullChanges(before, {DrAlert("a", kT0 + 4min)}, {"a"}, kT0 + 1min)
                  .empty());
  auto later =
      PullChanges(before, {DrAlert("a", kT0 + 6min)}, {"a"}, kT0 + 1min);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].ends_at, kT0 + 6min);

  // A webhook's firing alert has no end: a listed end is never later.
  AlertSet webhook;
  webhook.Apply(DrAlert("a"), kT0);
  EXPECT_TRUE(
      PullChanges(webhook, {DrAlert("a", kT0 + 9min)}, {"a"}, kT0 + 1min)
          .empty());
}

TEST(PullChangesTest, AlertThatEndedBeforeStoringIsFiringAgainIsAChange) {
  AlertSet before;
  before.Apply(DrAlert("a", kT0 + 1min), kT0);  // expired at kT0 + 1min
  auto changes =
      PullChanges(before, {DrAlert("a", kT0 + 6min)}, {"a"}, kT0 + 2min);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status, AlertStatus::kFiring);
}

TEST(PullChangesTest, FiringAlertMissingFromThePullIsResolvedNow) {
  AlertSet before;
  before.Apply(DrAlert("a"), kT0);
  before.Apply(DrAlert("b"), kT0);
  auto changes =
      PullChanges(before, {DrAlert("b", kT0 + 5min)}, {"a", "b"}, kT0 + 1min);
  ASSERT_EQ(changes.size(), 1u);
  const Alert& r = changes[0];
  EXPECT_EQ(r.status, AlertStatus::kResolved);
  EXPECT_EQ(r.fingerprint, "fp-a");
  EXPECT_EQ(r.labels, DrAlert("a").labels);
  EXPECT_EQ(r.starts_at, kT0);
  EXPECT_EQ(r.ends_at, kT0 + 1min);
  EXPECT_EQ(r.summary, "a down");
  EXPECT_EQ(AlertSet::KeyOf(r), "fp-a");

  AlertSet after = before;
  EXPECT_EQ(after.Apply(r, kT0 + 1min, AlertSource::kPull),
            ApplyResult::kResolved);
  EXPECT_EQ(after.FiringSites(kT0 + 1min), Sites{"b"});
}

TEST(PullChangesTest, EmptyPullResolvesEverythingFiring) {
  AlertSet before;
  before.Apply(DrAlert("a"), kT0);
  before.Apply(DrAlert("b", kT0 + 30s), kT0);  // ended: not firing any more
  auto changes = PullChanges(before, {}, {"a", "b"}, kT0 + 1min);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].fingerprint, "fp-a");
}

TEST(PullChangesTest, ResolutionOfAnAlertWithoutFingerprintKeepsItsKey) {
  AlertSet before;
  Alert a = DrAlert("a");
  a.fingerprint.clear();
  before.Apply(a, kT0);
  auto changes = PullChanges(before, {}, {"a"}, kT0 + 1min);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(AlertSet::KeyOf(changes[0]), AlertSet::KeyOf(a));
}

TEST(PullChangesTest, AlertAWebhookAddedAfterTheRequestIsNotResolved) {
  AlertSet set;
  const TimePoint request = kT0 + 1min;
  AlertSet before = set;                  // copied as the request goes out
  set.Apply(DrAlert("a"), request + 1s);  // webhook while it is under way
  auto changes = PullChanges(before, {}, {"a"}, request);
  EXPECT_TRUE(changes.empty());
  for (const Alert& c : changes) set.Apply(c, request, AlertSource::kPull);
  EXPECT_EQ(set.FiringSites(request + 2s), Sites{"a"});
}

TEST(PullChangesTest, AlertAWebhookRepeatedAfterTheRequestIsNotResolved) {
  AlertSet set;
  set.Apply(DrAlert("a"), kT0);
  const TimePoint request = kT0 + 1min;
  AlertSet before = set;
  set.Apply(DrAlert("a"), request + 1s);  // webhook repeat
  auto changes = PullChanges(before, {}, {"a"}, request);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(set.Apply(changes[0], request, AlertSource::kPull),
            ApplyResult::kIgnoredStale);
  EXPECT_EQ(set.FiringSites(request + 2s), Sites{"a"});
}

TEST(PullChangesTest, UnknownSitesAndNonDrAlertsAreIgnoredNotChanges) {
  AlertSet before;
  before.Apply(DrAlert("gone"), kT0);  // a site removed from the config
  Alert other = DrAlert("a");
  other.labels.erase("dr_action");
  other.fingerprint = "fp-other";
  std::vector<Alert> ignored;
  auto changes = PullChanges(before, {DrAlert("gone"), other, DrAlert("x")},
                             {"a", "b"}, kT0 + 1min, &ignored);
  EXPECT_TRUE(changes.empty());  // "gone" is listed: not resolved either
  ASSERT_EQ(ignored.size(), 3u);
  EXPECT_EQ(ignored[0].fingerprint, "fp-gone");
  EXPECT_EQ(ignored[1].fingerprint, "fp-other");
  EXPECT_EQ(ignored[2].fingerprint, "fp-x");
  EXPECT_TRUE(PullChanges(before, {DrAlert("x")}, {"a"}, kT0 + 1min).size() ==
              1u);  // "gone" resolved; "x" ignored without an out list
}

TEST(PullChangesTest, ListedAlertThatHasEndedIsNoChange) {
  AlertSet before;
  EXPECT_TRUE(PullChanges(before, {DrAlert("a", kT0 + 1min)}, {"a"}, kT0 + 1min)
                  .empty());
}

TEST(PullChangesTest, SilenceThenExpiryResolvesThenFiresAtOnce) {
  AlertSet set;
  set.Apply(DrAlert("a"), kT0);
  // Silenced: the pull does not list it.
  TimePoint t = kT0 + 1min;
  for (const Alert& c : PullChanges(set, {}, {"a"}, t)) {
    EXPECT_EQ(set.Apply(c, t, AlertSource::kPull), ApplyResult::kResolved);
  }
  EXPECT_TRUE(set.FiringSites(t).empty());
  // The silence expires: listed again with its original startsAt.
  t += 2min;
  auto changes = PullChanges(set, {DrAlert("a", t + 5min)}, {"a"}, t);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(set.Apply(changes[0], t, AlertSource::kPull), ApplyResult::kFiring);
  EXPECT_EQ(set.FiringSites(t), Sites{"a"});
}

// -------------------------------------------------------------- puller

const std::string kQuery =
    "active=true&silenced=false&inhibited=false&filter=dr_action%3D%22traffic_"
    "failover%22";

AlertmanagerPullConfig Config(std::vector<std::string> urls,
                              Duration timeout = 2s) {
  AlertmanagerPullConfig c;
  c.urls = std::move(urls);
  c.interval = 15s;
  c.timeout = timeout;
  return c;
}

std::string RefusedUrl() {
  return "http://127.0.0.1:" + std::to_string(drf::testing::FreePort());
}

// One server for the suite (CivetWeb takes a while to stop): /fail answers
// 500, /garbage a truncated list, /slow sleeps past the timeouts, /ok a
// valid list and records what it was asked.
class PullerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new LocalServer();
    server_->server->Handle(
        "GET", "/fail/api/v2/alerts",
        [](const ServerRequest&) { return ServerResponse::Text(500, "boom"); });
    server_->server->Handle("GET", "/garbage/api/v2/alerts",
                            [](const ServerRequest&) {
                              return ServerResponse::Json(200, "[{\"labels\":");
                            });
    server_->server->Handle("GET", "/slow/api/v2/alerts",
                            [](const ServerRequest&) {
                              std::this_thread::sleep_for(1500ms);
                              return ServerResponse::Json(200, "[]");
                            });
    server_->server->Handle("GET", "/ok/api/v2/alerts",
                            [](const ServerRequest& r) {
                              {
                                std::lock_guard<std::mutex> lock(mu_);
                                queries_.push_back(r.query);
                                authorizations_.push_back(r.authorization);
                              }
                              return ServerResponse::Json(
                                  200, "[" + ListedAlert("a", "active") + "]");
                            });
    server_->server->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    std::lock_guard<std::mutex> lock(mu_);
    queries_.clear();
    authorizations_.clear();
  }

  static std::string Url(const std::string& prefix) {
    return server_->Url("/" + prefix);
  }

  static inline LocalServer* server_ = nullptr;
  static inline std::mutex mu_;
  static inline std::vector<std::string> queries_;         // Guarded by mu_
  static inline std::vector<std::string> authorizations_;  // Guarded by mu_
};

TEST_F(PullerTest, FirstUrlThatAnswersWins) {
  AlertmanagerPuller puller(Config({Url("fail"), Url("ok"), Url("garbage")}));
  Stopper stop;
  PullResult r = puller.Pull(stop);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.source, Url("ok"));
  ASSERT_EQ(r.alerts.size(), 1u);
  EXPECT_EQ(r.alerts[0].fingerprint, "fp-a");
  EXPECT_EQ(r.error, Url("fail") + ": HTTP 500");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(queries_, std::vector<std::string>{kQuery});
  EXPECT_EQ(authorizations_, std::vector<std::string>{""});
}

TEST_F(PullerTest, GarbageRefusedAndTimeoutMoveOnToTheNext) {
  AlertmanagerPuller puller(
      Config({Url("garbage"), RefusedUrl(), Url("slow"), Url("ok")}, 300ms));
  Stopper stop;
  auto started = std::chrono::steady_clock::now();
  PullResult r = puller.Pull(stop);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.source, Url("ok"));
  EXPECT_NE(
      r.error.find(Url("garbage") + ": invalid alert list: body: invalid JSON"),
      std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find(": connect"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(Url("slow") + ": timeout"), std::string::npos)
      << r.error;
}

TEST_F(PullerTest, AllFailedIsNotOk) {
  AlertmanagerPuller puller(Config({Url("fail"), Url("missing")}));
  Stopper stop;
  PullResult r = puller.Pull(stop);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.source, "");
  EXPECT_TRUE(r.alerts.empty());
  EXPECT_EQ(r.error,
            Url("fail") + ": HTTP 500; " + Url("missing") + ": HTTP 404");
}

TEST_F(PullerTest, SendsTheBearerTokenFromItsFile) {
  const std::string file =
      ::testing::TempDir() + "/am-token-" + std::to_string(::getpid());
  std::ofstream(file) << "s3cret\n";
  AlertmanagerPullConfig config = Config({Url("ok")});
  config.bearer_token_file = file;
  AlertmanagerPuller puller(config);
  Stopper stop;
  ASSERT_TRUE(puller.Pull(stop).ok);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(authorizations_, std::vector<std::string>{"Bearer s3cret"});
  std::filesystem::remove(file);
}

TEST(PullerConfigTest, UnreadableTokenFileThrowsNamingTheSetting) {
  AlertmanagerPullConfig config = Config({"http://127.0.0.1:9"});
  config.bearer_token_file = "/nonexistent/am-token";
  try {
    AlertmanagerPuller puller(config);
    FAIL() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "actuator.alertmanager.bearer_token_file /nonexistent/am-token: "
              "cannot open: No such file or directory");
  }
}

TEST(PullerConfigTest, StoppedPullTriesNothing) {
  AlertmanagerPuller puller(Config({RefusedUrl()}));
  Stopper stop;
  stop.Stop();
  PullResult r = puller.Pull(stop);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not tried: stopping"), std::string::npos);
}

TEST(PullerConfigTest, AlertsUrlKeepsAPathPrefix) {
  EXPECT_EQ(AlertmanagerPuller::AlertsUrl("http://am:9093"),
            "http://am:9093/api/v2/alerts?" + kQuery);
  EXPECT_EQ(AlertmanagerPuller::AlertsUrl("https://h/alertmanager/"),
            "https://h/alertmanager/api/v2/alerts?" + kQuery);
}

}  // namespace
}  // namespace drf::actuator
