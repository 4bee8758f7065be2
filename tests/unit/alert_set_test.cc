#include "actuator/policy/alert_set.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "actuator/intake/alertmanager.h"
#include "actuator/intake/time.h"

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;
using Sites = std::set<std::string>;

const TimePoint kT0 = *ParseRfc3339("2024-05-01T12:00:00Z");

Alert DrAlert(std::string site, AlertStatus status, TimePoint starts_at,
              TimePoint ends_at = TimePoint{}, std::string fingerprint = "") {
  Alert a;
  a.status = status;
  a.labels = {{"alertname", "DRSiteDown"},
              {"dr_action", "traffic_failover"},
              {"site", site}};
  a.starts_at = starts_at;
  a.ends_at = ends_at;
  a.fingerprint = fingerprint.empty() ? "fp-" + site : std::move(fingerprint);
  a.summary = "Site " + site + " is down";
  return a;
}

Alert Firing(std::string site, TimePoint starts_at,
             TimePoint ends_at = TimePoint{}) {
  return DrAlert(std::move(site), AlertStatus::kFiring, starts_at, ends_at);
}

Alert Resolved(std::string site, TimePoint starts_at, TimePoint ends_at) {
  return DrAlert(std::move(site), AlertStatus::kResolved, starts_at, ends_at);
}

TEST(AlertSetTest, DuplicateNotificationsAreOneAlert) {
  AlertSet set;
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0), ApplyResult::kFiring);
  for (int i = 1; i < 20; ++i) {
    EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + i * 1s),
              ApplyResult::kRepeated);
  }
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.FiringSites(kT0 + 20s), Sites{"us-east"});
  ASSERT_EQ(set.Firing(kT0 + 20s).size(), 1u);
  EXPECT_EQ(set.Firing(kT0 + 20s)[0].last_seen, kT0 + 19s);
}

TEST(AlertSetTest, NonDrAlertsAreNotStored) {
  AlertSet set;
  Alert a = Firing("us-east", kT0);
  a.labels.erase("dr_action");
  EXPECT_EQ(set.Apply(a, kT0), ApplyResult::kNotDr);
  a.labels["dr_action"] = "traffic_failover";
  a.labels["site"] = "";
  EXPECT_EQ(set.Apply(a, kT0), ApplyResult::kNotDr);
  EXPECT_EQ(set.size(), 0u);
  EXPECT_TRUE(set.FiringSites(kT0).empty());
}

TEST(AlertSetTest, ResolvedThenOlderFiringStaysResolved) {
  AlertSet set;
  set.Apply(Firing("us-east", kT0), kT0 + 1s);
  EXPECT_EQ(set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 5min),
            ApplyResult::kResolved);
  EXPECT_TRUE(set.FiringSites(kT0 + 5min).empty());
  // A late firing of the same episode (an Alertmanager HA peer, a retry).
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 5min + 2s),
            ApplyResult::kIgnoredStale);
  EXPECT_TRUE(set.FiringSites(kT0 + 5min + 2s).empty());
}

TEST(AlertSetTest, ResolvedArrivingBeforeItsFiringStaysResolved) {
  AlertSet set;
  EXPECT_EQ(set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 5min),
            ApplyResult::kResolved);
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 5min + 1s),
            ApplyResult::kIgnoredStale);
  EXPECT_TRUE(set.FiringSites(kT0 + 5min + 1s).empty());
}

TEST(AlertSetTest, ResolvedThenRefiringWithNewStartFires) {
  AlertSet set;
  set.Apply(Firing("us-east", kT0), kT0);
  set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 5min);
  EXPECT_EQ(set.Apply(Firing("us-east", kT0 + 6min), kT0 + 6min),
            ApplyResult::kFiring);
  EXPECT_EQ(set.FiringSites(kT0 + 6min), Sites{"us-east"});
  // The late resolution of the first episode does not end the second.
  EXPECT_EQ(set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 6min + 1s),
            ApplyResult::kIgnoredStale);
  // Nor does a late firing of the first episode change anything.
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 6min + 2s),
            ApplyResult::kIgnoredStale);
  EXPECT_EQ(set.FiringSites(kT0 + 6min + 2s), Sites{"us-east"});
  ASSERT_EQ(set.Firing(kT0 + 7min).size(), 1u);
  EXPECT_EQ(set.Firing(kT0 + 7min)[0].starts_at, kT0 + 6min);
}

TEST(AlertSetTest, SameStartFiresAgainAfterTheReorderWindow) {
  // Alertmanager resolved the alert by resolve_timeout (Prometheus was
  // unreachable); Prometheus then sends it again with its original startsAt.
  AlertSetOptions options;
  options.reorder_window = 10min;
  AlertSet set(options);
  set.Apply(Firing("us-east", kT0), kT0);
  set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 5min);
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 15min - 1ms),
            ApplyResult::kIgnoredStale);
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 15min),
            ApplyResult::kFiring);
  EXPECT_EQ(set.FiringSites(kT0 + 15min), Sites{"us-east"});
}

TEST(AlertSetTest, RepeatedResolutionsAreRepeats) {
  AlertSet set;
  set.Apply(Firing("us-east", kT0), kT0);
  EXPECT_EQ(set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 5min),
            ApplyResult::kResolved);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 6min),
              ApplyResult::kRepeated);
  }
  EXPECT_TRUE(set.FiringSites(kT0 + 6min).empty());
}

TEST(AlertSetTest, ExpiresAtEndsAtBoundary) {
  AlertSet set;
  const TimePoint end = kT0 + 4min;
  set.Apply(Firing("us-east", kT0, end), kT0);
  EXPECT_EQ(set.FiringSites(end - 1ns), Sites{"us-east"});
  EXPECT_EQ(set.FiringSites(end - 1ms), Sites{"us-east"});
  EXPECT_TRUE(set.FiringSites(end).empty());
  EXPECT_EQ(set.Expire(end - 1ms), 0u);
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.Expire(end), 1u);
  EXPECT_EQ(set.size(), 0u);
  // A repeat with a later end extends it.
  set.Apply(Firing("us-east", kT0, end), kT0);
  set.Apply(Firing("us-east", kT0, end + 4min), end - 1s);
  EXPECT_EQ(set.FiringSites(end + 1min), Sites{"us-east"});
}

TEST(AlertSetTest, FiringWithEndInThePastDoesNotCount) {
  AlertSet set;
  set.Apply(Firing("us-east", kT0 - 10min, kT0 - 1s), kT0);
  EXPECT_TRUE(set.FiringSites(kT0).empty());
}

TEST(AlertSetTest, NoEndNeverExpiresUnlessStaleAfterIsSet) {
  AlertSet forever;
  forever.Apply(Firing("us-east", kT0), kT0);
  EXPECT_EQ(forever.FiringSites(kT0 + 24h * 365), Sites{"us-east"});
  EXPECT_EQ(forever.Expire(kT0 + 24h * 365), 0u);

  AlertSetOptions options;
  options.stale_after = 12h;
  AlertSet stale(options);
  stale.Apply(Firing("us-east", kT0), kT0);
  stale.Apply(Firing("us-east", kT0), kT0 + 4h);  // Alertmanager's repeat
  EXPECT_EQ(stale.FiringSites(kT0 + 16h - 1ms), Sites{"us-east"});
  EXPECT_TRUE(stale.FiringSites(kT0 + 16h).empty());
  EXPECT_EQ(stale.QuietSince("us-east", kT0 + 16h), kT0 + 16h);
  EXPECT_EQ(stale.Expire(kT0 + 16h), 1u);
}

TEST(AlertSetTest, ResolvedEntriesAreKeptForTheRetention) {
  AlertSetOptions options;
  options.resolved_retention = 1h;
  AlertSet set(options);
  set.Apply(Firing("us-east", kT0), kT0);
  set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 6min);
  EXPECT_EQ(set.Expire(kT0 + 6min + 1h - 1ms), 0u);
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.Expire(kT0 + 6min + 1h), 1u);
  EXPECT_EQ(set.size(), 0u);
}

TEST(AlertSetTest, SiteFiresWhileAnyOfItsAlertsFires) {
  AlertSet set;
  set.Apply(DrAlert("us-east", AlertStatus::kFiring, kT0, {}, "a"), kT0);
  set.Apply(DrAlert("us-east", AlertStatus::kFiring, kT0, {}, "b"), kT0);
  set.Apply(DrAlert("eu-central", AlertStatus::kFiring, kT0, {}, "c"), kT0);
  EXPECT_EQ(set.FiringSites(kT0), (Sites{"eu-central", "us-east"}));
  set.Apply(DrAlert("us-east", AlertStatus::kResolved, kT0, kT0 + 1min, "a"),
            kT0 + 1min);
  EXPECT_EQ(set.FiringSites(kT0 + 1min), (Sites{"eu-central", "us-east"}));
  set.Apply(DrAlert("us-east", AlertStatus::kResolved, kT0, kT0 + 2min, "b"),
            kT0 + 2min);
  EXPECT_EQ(set.FiringSites(kT0 + 2min), Sites{"eu-central"});
}

TEST(AlertSetTest, KeyFallsBackToAStableLabelHash) {
  Alert a = Firing("us-east", kT0);
  a.fingerprint.clear();
  Alert b = a;
  b.labels.clear();
  // Same labels, inserted in another order.
  b.labels["site"] = "us-east";
  b.labels["dr_action"] = "traffic_failover";
  b.labels["alertname"] = "DRSiteDown";
  EXPECT_EQ(AlertSet::KeyOf(a), AlertSet::KeyOf(b));
  EXPECT_EQ(AlertSet::KeyOf(a).rfind("labels:", 0), 0u);
  EXPECT_EQ(AlertSet::KeyOf(a).size(), 7u + 16u);
  Alert c = a;
  c.labels["site"] = "eu-central";
  EXPECT_NE(AlertSet::KeyOf(a), AlertSet::KeyOf(c));
  // Separators keep ("ab","c") and ("a","bc") apart.
  Alert d, e;
  d.labels = {{"ab", "c"}};
  e.labels = {{"a", "bc"}};
  EXPECT_NE(AlertSet::KeyOf(d), AlertSet::KeyOf(e));
  EXPECT_EQ(AlertSet::KeyOf(Firing("us-east", kT0)), "fp-us-east");

  AlertSet set;
  set.Apply(a, kT0);
  set.Apply(b, kT0 + 1s);
  EXPECT_EQ(set.size(), 1u);
}

TEST(AlertSetTest, QuietSinceTracksTheLastEnd) {
  AlertSet set;
  EXPECT_EQ(set.QuietSince("us-east", kT0), TimePoint{});
  set.Apply(Firing("us-east", kT0), kT0);
  EXPECT_EQ(set.QuietSince("us-east", kT0), std::nullopt);
  set.Apply(Resolved("us-east", kT0, kT0 + 5min), kT0 + 5min + 3s);
  EXPECT_EQ(set.QuietSince("us-east", kT0 + 6min), kT0 + 5min);
  // Survives the entry's removal.
  set.Expire(kT0 + 5h);
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(set.QuietSince("us-east", kT0 + 5h), kT0 + 5min);
  // An alert that ended by its endsAt.
  set.Apply(Firing("eu-central", kT0, kT0 + 2min), kT0);
  EXPECT_EQ(set.QuietSince("eu-central", kT0 + 1min), std::nullopt);
  EXPECT_EQ(set.QuietSince("eu-central", kT0 + 2min), kT0 + 2min);
  set.Expire(kT0 + 3min);
  EXPECT_EQ(set.QuietSince("eu-central", kT0 + 3min), kT0 + 2min);
}

TEST(AlertSetTest, EvictsResolvedEntriesFirstWhenFull) {
  AlertSetOptions options;
  options.max_entries = 3;
  AlertSet set(options);
  set.Apply(DrAlert("a", AlertStatus::kFiring, kT0, {}, "1"), kT0);
  set.Apply(DrAlert("b", AlertStatus::kResolved, kT0, kT0 + 1s, "2"), kT0 + 1s);
  set.Apply(DrAlert("c", AlertStatus::kFiring, kT0, {}, "3"), kT0 + 2s);
  set.Apply(DrAlert("d", AlertStatus::kFiring, kT0, {}, "4"), kT0 + 3s);
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(set.FiringSites(kT0 + 3s), (Sites{"a", "c", "d"}));
  set.Apply(DrAlert("e", AlertStatus::kFiring, kT0, {}, "5"), kT0 + 4s);
  EXPECT_EQ(set.FiringSites(kT0 + 4s), (Sites{"c", "d", "e"}));
}

TEST(AlertSetTest, PersistenceRoundTrip) {
  AlertSetOptions options;
  options.reorder_window = 10min;
  AlertSet set(options);
  set.Apply(Firing("us-east", kT0 + 123456789ns), kT0 + 1s);
  set.Apply(Firing("ap-south", kT0, kT0 + 1h), kT0 + 2s);
  set.Apply(DrAlert("eu-central", AlertStatus::kFiring, kT0, {}, "x"), kT0);
  set.Apply(DrAlert("eu-central", AlertStatus::kResolved, kT0, kT0 + 3min, "x"),
            kT0 + 3min);
  Alert no_fp = Firing("eu-west", kT0);
  no_fp.fingerprint.clear();
  no_fp.labels["quote\"and\\slash"] = "ünïcödé\n";
  set.Apply(no_fp, kT0);
  const std::string json = set.ToJsonString();

  AlertSet restored(options);
  std::string error;
  ASSERT_TRUE(restored.FromJsonString(json, &error)) << error;
  EXPECT_EQ(restored.ToJsonString(), json);
  EXPECT_EQ(restored.size(), set.size());
  for (TimePoint t : {kT0 + 4min, kT0 + 1h, kT0 + 2h}) {
    EXPECT_EQ(restored.FiringSites(t), set.FiringSites(t));
    EXPECT_EQ(restored.QuietSince("eu-central", t),
              set.QuietSince("eu-central", t));
  }
  // The out-of-order protection survives the restart.
  EXPECT_EQ(
      restored.Apply(DrAlert("eu-central", AlertStatus::kFiring, kT0, {}, "x"),
                     kT0 + 4min),
      ApplyResult::kIgnoredStale);
  // So does duplicate detection.
  EXPECT_EQ(restored.Apply(Firing("us-east", kT0 + 123456789ns), kT0 + 5min),
            ApplyResult::kRepeated);
  EXPECT_EQ(restored.Apply(no_fp, kT0 + 5min), ApplyResult::kRepeated);

  // Also through a rapidjson value.
  rapidjson::Document doc;
  set.ToJson(&doc, doc.GetAllocator());
  AlertSet from_value;
  ASSERT_TRUE(from_value.FromJson(doc, &error)) << error;
  EXPECT_EQ(from_value.ToJsonString(), json);
}

TEST(AlertSetTest, RefusesCorruptStateAndKeepsItsOwn) {
  AlertSet set;
  set.Apply(Firing("us-east", kT0), kT0);
  const std::string before = set.ToJsonString();
  struct Case {
    const char* json;
    const char* want;
  };
  const Case cases[] = {
      {"", "alert_set: invalid JSON"},
      {"[]", "alert_set: must be an object"},
      {"{\"version\":2,\"alerts\":[]}", "alert_set.version: must be 1"},
      {"{\"version\":1}", "alert_set.alerts: missing"},
      {"{\"version\":1,\"alerts\":{}}", "alert_set.alerts: must be an array"},
      {"{\"version\":1,\"alerts\":[1]}",
       "alert_set.alerts[0]: must be an "
       "object"},
      {R"({"version":1,"alerts":[{"key":"k","summary":"","labels":{"site":"a"},"firing":true,"starts_at":"2024-05-01T12:00:00Z","ends_at":"0001-01-01T00:00:00Z","last_seen":"2024-05-01T12:00:00Z"}]})",
       "alert_set.alerts[0].labels: not a DR alert"},
      {R"({"version":1,"alerts":[{"key":"k","summary":"","labels":{"site":"a","dr_action":"traffic_failover"},"firing":1,"starts_at":"2024-05-01T12:00:00Z","ends_at":"0001-01-01T00:00:00Z","last_seen":"2024-05-01T12:00:00Z"}]})",
       "alert_set.alerts[0].firing: must be a boolean"},
      {R"({"version":1,"alerts":[{"key":"k","summary":"","labels":{"site":"a","dr_action":"traffic_failover"},"firing":true,"starts_at":"noon","ends_at":"0001-01-01T00:00:00Z","last_seen":"2024-05-01T12:00:00Z"}]})",
       "alert_set.alerts[0].starts_at: not an RFC 3339 timestamp"},
      {R"({"version":1,"alerts":[],"quiet_since":{"a":5}})",
       "alert_set.quiet_since.a: must be a string"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(set.FromJsonString(c.json, &error)) << c.json;
    EXPECT_EQ(error.rfind(c.want, 0), 0u) << c.json << " -> " << error;
    EXPECT_EQ(set.ToJsonString(), before);
  }
}

// A silence on a firing DR alert: the pull resolves it (absent from the
// list); the silence expires and the pull lists it again with its original
// startsAt. A webhook with that startsAt inside the reorder window is
// stale; the pull is Alertmanager's word and fires at once.
TEST(AlertSetTest, PulledFiringAfterAPulledResolutionCountsAtOnce) {
  AlertSet set;
  ASSERT_EQ(set.Apply(Firing("us-east", kT0), kT0), ApplyResult::kFiring);
  Alert gone = Resolved("us-east", kT0, kT0 + 1min);
  ASSERT_EQ(set.Apply(gone, kT0 + 1min, AlertSource::kPull),
            ApplyResult::kResolved);
  EXPECT_TRUE(set.FiringSites(kT0 + 1min).empty());

  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 2min),
            ApplyResult::kIgnoredStale);
  EXPECT_TRUE(set.FiringSites(kT0 + 2min).empty());

  EXPECT_EQ(set.Apply(Firing("us-east", kT0, kT0 + 7min), kT0 + 2min,
                      AlertSource::kPull),
            ApplyResult::kFiring);
  EXPECT_EQ(set.FiringSites(kT0 + 2min), Sites{"us-east"});
  // Alertmanager's webhook repeats for it are repeats, not stale.
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 3min),
            ApplyResult::kRepeated);
  EXPECT_EQ(set.FiringSites(kT0 + 8min), Sites{"us-east"});
}

TEST(AlertSetTest, PulledFiringOverridesAStoredLaterStart) {
  AlertSet set;
  ASSERT_EQ(set.Apply(Firing("us-east", kT0 + 1min), kT0 + 1min),
            ApplyResult::kFiring);
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 2min),
            ApplyResult::kIgnoredStale);
  EXPECT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 2min, AlertSource::kPull),
            ApplyResult::kRepeated);
  EXPECT_EQ(set.Firing(kT0 + 2min)[0].starts_at, kT0);
}

// The pull's request went out at kT0 + 1min; a webhook touched the alert
// while it was under way: the pull's view is older and is not applied.
TEST(AlertSetTest, PullIgnoresWhatAWebhookChangedAfterItsRequest) {
  AlertSet set;
  ASSERT_EQ(set.Apply(Firing("us-east", kT0), kT0), ApplyResult::kFiring);
  ASSERT_EQ(set.Apply(Firing("us-east", kT0), kT0 + 1min + 1s),
            ApplyResult::kRepeated);
  EXPECT_EQ(set.Apply(Resolved("us-east", kT0, kT0 + 1min), kT0 + 1min,
                      AlertSource::kPull),
            ApplyResult::kIgnoredStale);
  EXPECT_EQ(set.FiringSites(kT0 + 2min), Sites{"us-east"});

  ASSERT_EQ(
      set.Apply(Resolved("eu-west", kT0, kT0 + 1min + 1s), kT0 + 1min + 1s),
      ApplyResult::kResolved);
  EXPECT_EQ(set.Apply(Firing("eu-west", kT0), kT0 + 1min, AlertSource::kPull),
            ApplyResult::kIgnoredStale);
  EXPECT_EQ(set.FiringSites(kT0 + 2min), Sites{"us-east"});
}

TEST(AlertSetTest, WebhookSourceIsThePlainApply) {
  AlertSet a, b;
  const Alert alerts[] = {Firing("x", kT0), Resolved("x", kT0, kT0 + 1min),
                          Firing("x", kT0)};
  TimePoint t = kT0;
  for (const Alert& alert : alerts) {
    EXPECT_EQ(a.Apply(alert, t), b.Apply(alert, t, AlertSource::kWebhook));
    t += 2min;
  }
  EXPECT_EQ(a.ToJsonString(), b.ToJsonString());
}

TEST(AlertSetTest, ApplyResultNames) {
  EXPECT_EQ(ApplyResultName(ApplyResult::kNotDr), "not_dr");
  EXPECT_EQ(ApplyResultName(ApplyResult::kFiring), "firing");
  EXPECT_EQ(ApplyResultName(ApplyResult::kRepeated), "repeated");
  EXPECT_EQ(ApplyResultName(ApplyResult::kResolved), "resolved");
  EXPECT_EQ(ApplyResultName(ApplyResult::kIgnoredStale), "ignored_stale");
}

}  // namespace
}  // namespace drf::actuator
