#include "actuator/state/state.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "actuator/state/events.h"

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = *ParseRfc3339("2026-12-01T10:00:00Z");

Entry At(std::uint64_t seq, TimePoint ts, Event e) {
  return Entry{seq, ts, std::move(e)};
}

event::AlertRecord Firing(const std::string& site, TimePoint starts) {
  event::AlertRecord r;
  r.fingerprint = "fp-" + site;
  r.alertname = "DRSiteDown";
  r.site = site;
  r.starts_at = starts;
  r.summary = site + " is down";
  return r;
}

event::SwitchStarted Started(const std::string& id, const std::string& from,
                             const std::string& to, Trigger trigger,
                             std::vector<std::string> hosts = {"h1", "h2"}) {
  event::SwitchStarted e;
  e.id = id;
  e.from = from;
  e.to = to;
  e.trigger = trigger;
  e.reason = "because";
  e.hosts = std::move(hosts);
  return e;
}

// Folds `events` (seq 1.., one second apart from kT0).
State Fold(const std::vector<Event>& events) {
  State s;
  std::uint64_t seq = 0;
  for (const Event& e : events) {
    ++seq;
    s = Apply(std::move(s), At(seq, kT0 + std::chrono::seconds(seq), e));
  }
  return s;
}

// ------------------------------------------------------------ the reducer

TEST(ReducerTest, WebhookFiresAndResolvesAlertsAndSaysWhetherItWasNews) {
  State s;
  bool news = false;
  event::Webhook w;
  w.alerts = {Firing("us-east", kT0 - 60s)};
  s = Apply(std::move(s), At(1, kT0, w), &news);
  EXPECT_TRUE(news);
  EXPECT_EQ(s.alerts.FiringSites(kT0), (std::set<std::string>{"us-east"}));
  EXPECT_EQ(s.seq, 1u);
  // The same again is a repeat: no news.
  s = Apply(std::move(s), At(2, kT0 + 1s, w), &news);
  EXPECT_FALSE(news);
  w.alerts[0].status = AlertStatus::kResolved;
  w.alerts[0].ends_at = kT0 + 2s;
  s = Apply(std::move(s), At(3, kT0 + 2s, w), &news);
  EXPECT_TRUE(news);
  EXPECT_TRUE(s.alerts.FiringSites(kT0 + 3s).empty());
}

TEST(ReducerTest, UnknownSiteAlertsAreNeverStored) {
  event::Webhook w;
  w.unknown_site_alerts = {Firing("mars", kT0)};
  bool news = true;
  State s = Apply(State(), At(1, kT0, w), &news);
  EXPECT_FALSE(news);
  EXPECT_EQ(s.alerts.size(), 0u);
}

TEST(ReducerTest, AlertsPulledResolveAtThePullTime) {
  event::Webhook w;
  w.alerts = {Firing("us-east", kT0 - 60s)};
  event::AlertsPulled p;
  p.source = "http://am-0:9093";
  p.pulled_at = kT0 + 10s;
  auto resolved = Firing("us-east", kT0 - 60s);
  resolved.status = AlertStatus::kResolved;
  resolved.ends_at = kT0 + 10s;
  p.changes = {resolved};
  State s = Fold({w});
  bool news = false;
  s = Apply(std::move(s), At(2, kT0 + 11s, p), &news);
  EXPECT_TRUE(news);
  EXPECT_TRUE(s.alerts.FiringSites(kT0 + 11s).empty());
  // Listed again by a later pull (a silence expired): it fires at once.
  p.pulled_at = kT0 + 30s;
  p.changes = {Firing("us-east", kT0 - 60s)};
  s = Apply(std::move(s), At(3, kT0 + 31s, p), &news);
  EXPECT_TRUE(news);
  EXPECT_EQ(s.alerts.FiringSites(kT0 + 31s),
            (std::set<std::string>{"us-east"}));
}

TEST(ReducerTest, ASwitchGoesFromStartedToDnsToHostsToCompleted) {
  State s = Fold({Started("a1", "us-east", "eu-central", Trigger::kAlert)});
  ASSERT_TRUE(s.shared.action);
  EXPECT_EQ(s.shared.action->to, "eu-central");
  EXPECT_EQ(s.shared.action->started, kT0 + 1s);
  EXPECT_EQ(s.shared.last_auto_switch, kT0 + 1s);
  EXPECT_FALSE(s.shared.last_manual_switch);
  EXPECT_FALSE(s.shared.hosts);

  s = Apply(std::move(s),
            At(2, kT0 + 2s, event::DnsFailed{"a1", "500", "server"}));
  ASSERT_TRUE(s.shared.action);
  EXPECT_EQ(s.shared.action->last_error, "server: 500");

  s = Apply(std::move(s),
            At(3, kT0 + 3s, event::DnsUpdated{"a1", "eu-central", 2}));
  EXPECT_FALSE(s.shared.action);
  ASSERT_TRUE(s.shared.hosts);
  EXPECT_EQ(s.shared.hosts->site, "eu-central");
  EXPECT_EQ(PendingHosts(*s.shared.hosts, {}),
            (std::vector<std::string>{"h1", "h2"}));
  ASSERT_TRUE(s.last_switch);
  EXPECT_EQ(s.last_switch->dns_at, kT0 + 3s);
  EXPECT_FALSE(s.last_switch->seconds);

  s = Apply(std::move(s), At(4, kT0 + 4s,
                             event::HostFailed{"a1", "eu-central", "h2",
                                               "connect", "refused", 1}));
  EXPECT_EQ(s.shared.hosts->errors.at("h2"), "connect: refused");
  s = Apply(
      std::move(s),
      At(5, kT0 + 5s, event::HostReconfigured{"a1", "eu-central", "h1", true}));
  s = Apply(std::move(s),
            At(6, kT0 + 6s,
               event::HostReconfigured{"a1", "eu-central", "h2", false}));
  EXPECT_TRUE(PendingHosts(*s.shared.hosts, {}).empty());
  EXPECT_TRUE(s.shared.hosts->errors.empty());
  EXPECT_EQ(s.shared.hosts->done_at, kT0 + 6s);  // the last host's
  s = Apply(std::move(s), At(7, kT0 + 7s, event::SwitchCompleted{"a1", 6.0}));
  EXPECT_FALSE(s.shared.hosts);
  EXPECT_EQ(s.last_switch->seconds, 6.0);
}

TEST(ReducerTest, ResultsForOtherWorkChangeNothing) {
  State s = Fold({Started("a1", "us-east", "eu-central", Trigger::kAlert),
                  event::DnsUpdated{"a1", "eu-central", 2}});
  const State before = s;
  for (const Event& e : std::vector<Event>{
           event::DnsUpdated{"zz", "us-east", 1},
           event::DnsFailed{"zz", "x", "client"},
           event::HostReconfigured{"zz", "eu-central", "h1", true},
           event::HostFailed{"zz", "eu-central", "h1", "k", "m", 1},
           event::SwitchCompleted{"zz", 1},
           event::SwitchAbandoned{"zz", "why"}}) {
    s = Apply(std::move(s), At(9, kT0 + 9s, e));
    EXPECT_EQ(s.shared, before.shared) << TypeName(e);
  }
}

TEST(ReducerTest, ANewSwitchSupersedesThePendingHostsOfTheLast) {
  State s =
      Fold({Started("a1", "us-east", "eu-central", Trigger::kAlert),
            event::DnsUpdated{"a1", "eu-central", 2},
            Started("a2", "eu-central", "us-west", Trigger::kManual, {"w1"}),
            event::DnsUpdated{"a2", "us-west", 2}});
  ASSERT_TRUE(s.shared.hosts);
  EXPECT_EQ(s.shared.hosts->id, "a2");
  EXPECT_EQ(PendingHosts(*s.shared.hosts, {}),
            (std::vector<std::string>{"w1"}));
  EXPECT_EQ(s.shared.last_manual_switch, kT0 + 3s);
  EXPECT_EQ(s.shared.last_auto_switch, kT0 + 1s);
}

TEST(ReducerTest, DrillsDoNotSetTheCooldown) {
  State s = Fold({Started("d1", "us-east", "eu-central", Trigger::kDrill)});
  EXPECT_FALSE(s.shared.last_auto_switch);
  EXPECT_FALSE(s.shared.last_manual_switch);
  EXPECT_TRUE(s.shared.action);
}

TEST(ReducerTest, HostsOfA010SwitchAreEveryHostOfTheSite) {
  auto e = Started("a1", "us-east", "eu-central", Trigger::kAlert);
  e.hosts.reset();
  State s = Fold({e, event::DnsUpdated{"a1", "eu-central", 2},
                  event::HostReconfigured{"a1", "eu-central", "x", true}});
  EXPECT_EQ(PendingHosts(*s.shared.hosts, {"x", "y"}),
            (std::vector<std::string>{"y"}));
}

TEST(ReducerTest, AbandonedSwitchEndsWithoutDns) {
  State s = Fold({Started("a1", "us-east", "mars", Trigger::kAlert),
                  event::SwitchAbandoned{"a1", "no longer configured"}});
  EXPECT_FALSE(s.shared.action);
  EXPECT_FALSE(s.shared.hosts);
  EXPECT_FALSE(s.last_switch);
}

TEST(ReducerTest, PauseAndResume) {
  State s = Fold({event::Paused{"maintenance"}});
  EXPECT_TRUE(s.shared.paused);
  EXPECT_EQ(s.shared.pause_reason, "maintenance");
  EXPECT_EQ(s.shared.paused_at, kT0 + 1s);
  s = Apply(std::move(s), At(2, kT0 + 2s, event::Resumed{}));
  EXPECT_FALSE(s.shared.paused);
  EXPECT_EQ(s.shared.pause_reason, "");
  EXPECT_FALSE(s.shared.paused_at);
}

TEST(ReducerTest, DecisionsAreRemembered) {
  State s = Fold({event::Decision{"hold_cooldown", "us-east", "eu-central",
                                  "cooldown", false, "standalone"}});
  ASSERT_TRUE(s.last_decision);
  EXPECT_EQ(s.last_decision->decision, "hold_cooldown");
  EXPECT_EQ(s.last_decision->at, kT0 + 1s);
}

TEST(ReducerTest, EventsThatCarryNoStateChangeNothing) {
  const State before = Fold({event::Paused{"x"}});
  for (const Event& e : std::vector<Event>{
           event::Started{"0.1.0", "abc", "standalone", false},
           event::ManualSwitchRefused{"eu-central", "", "noop", "serving"},
           event::Unknown{"leader_acquired"}}) {
    State s = Apply(before, At(5, kT0 + 5s, e));
    EXPECT_EQ(s.shared, before.shared) << TypeName(e);
    EXPECT_EQ(s.last_decision, before.last_decision);
  }
}

// -------------------------------------------------------------- the codec

TEST(EventCodecTest, EveryTypeRoundTrips) {
  auto pulled =
      event::AlertsPulled{"http://am:9093", {Firing("eu", kT0)}, kT0 + 3s};
  auto started = Started("a1", "", "eu-central", Trigger::kFailback);
  started.rpo_estimate_seconds = 1.5;
  started.force = true;
  event::Webhook w{
      "dr", "firing", "{}:{}", {Firing("us", kT0)}, {Firing("mars", kT0)}, 3};
  for (const Event& e : std::vector<Event>{
           event::Started{"0.2.0", "abc", "standalone", true}, w, pulled,
           event::Decision{"switch", "us", "eu", "why", true, "standalone"},
           started, event::DnsUpdated{"a1", "eu", 2},
           event::DnsFailed{"a1", "HTTP 400", "client"},
           event::HostReconfigured{"a1", "eu", "h", true},
           event::HostFailed{"a1", "eu", "h", "connect", "refused", 3},
           event::SwitchCompleted{"a1", 2.25},
           event::SwitchAbandoned{"a1", "gone"},
           event::ManualSwitchRefused{"eu", "drill", "noop", "serving"},
           event::Paused{"p"}, event::Resumed{}}) {
    const std::string line =
        "{\"seq\":7," + Encode(e, kT0).substr(1);  // as the journal writes
    Entry back;
    std::string error;
    ASSERT_TRUE(Decode(line, &back, &error)) << line << ": " << error;
    EXPECT_EQ(back.seq, 7u);
    EXPECT_EQ(back.ts, kT0);
    EXPECT_EQ(back.event, e) << line;
    EXPECT_NE(line.find("\"type\":\"" + std::string(TypeName(e)) + "\""),
              std::string::npos);
  }
}

TEST(EventCodecTest, ContractFieldsAreWritten) {
  const std::string s = Encode(Started("a1", "us", "eu", Trigger::kAlert), kT0);
  for (const char* f :
       {"\"id\":", "\"from\":", "\"to\":", "\"trigger\":", "\"reason\":",
        "\"force\":", "\"rpo_estimate_seconds\":null"}) {
    EXPECT_NE(s.find(f), std::string::npos) << f << " in " << s;
  }
  const std::string d = Encode(event::DnsFailed{"a1", "boom", "server"}, kT0);
  EXPECT_NE(d.find("\"error\":\"boom\""), std::string::npos);
  EXPECT_NE(d.find("\"reason\":\"boom\""), std::string::npos);  // 0.1.0 name
}

TEST(EventCodecTest, UnknownTypesDecodeAsUnknown) {
  Entry e;
  std::string error;
  ASSERT_TRUE(Decode(
      R"({"seq":3,"ts":"2026-12-01T10:00:00Z","type":"leader_acquired","term":4})",
      &e, &error));
  EXPECT_EQ(TypeName(e.event), "leader_acquired");
  EXPECT_TRUE(std::holds_alternative<event::Unknown>(e.event));
}

TEST(EventCodecTest, BadLinesAreRefusedWithTheField) {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"", "not JSON: empty"},
      {R"({"seq":1,"ts":"2026-12-01T10:00:00Z","type":"paused")",
       "not JSON: invalid JSON at offset 52: Missing a comma or '}' after an "
       "object member."},  // torn
      {R"({"seq":1,"type":"paused"})", "ts: missing"},
      {R"({"seq":1,"ts":"yesterday","type":"paused"})",
       "ts: not an RFC 3339 timestamp"},
      {R"({"seq":1,"ts":"2026-12-01T10:00:00Z"})", "type: missing"},
      {R"({"seq":"1","ts":"2026-12-01T10:00:00Z","type":"x"})",
       "seq: must be an integer in [0, 9223372036854775807]"},
      {R"({"ts":"2026-12-01T10:00:00Z","type":"switch_started","to":"eu"})",
       "switch_started.id: missing"},
      {R"({"ts":"2026-12-01T10:00:00Z","type":"webhook","alerts":[{"site":3}]})",
       "webhook.alerts[0].site: must be a string"},
      {R"({"ts":"2026-12-01T10:00:00Z","type":"switch_started","id":"a","to":"b","hosts":[1]})",
       "switch_started.hosts[0]: must be a string"},
      {"{\"ts\":\"2026-12-01T10:00:00Z\",\"type\":\"paused\",\"reason\":"
       "\"\xff\"}",
       "not JSON: invalid JSON at offset 55: Invalid encoding in string."},
      {"[1]", "not a JSON object"},
  };
  for (const Case& c : cases) {
    Entry e;
    std::string error;
    EXPECT_FALSE(Decode(c.line, &e, &error)) << c.line;
    EXPECT_EQ(error, c.error) << c.line;
  }
}

TEST(EventCodecTest, DeepNestingIsRefusedWithoutExhaustingTheStack) {
  std::string deep = R"({"ts":"2026-12-01T10:00:00Z","type":"paused","x":)";
  deep += std::string(200000, '[') + std::string(200000, ']') + "}";
  Entry e;
  std::string error;
  EXPECT_FALSE(Decode(deep, &e, &error));
  EXPECT_EQ(error, "not JSON: nested deeper than 64 levels");
}

// --------------------------------------------------- journals of 0.1.0

std::vector<std::string> Lines(const std::string& name,
                               const std::string& dir = "v0.1.0") {
  std::ifstream in(std::string(DRF_TESTDATA_DIR) + "/journal/" + dir + "/" +
                   name);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

State Replay(const std::vector<std::string>& lines) {
  State s;
  for (const std::string& line : lines) {
    Entry e;
    std::string error;
    EXPECT_TRUE(Decode(line, &e, &error)) << line << ": " << error;
    s = Apply(std::move(s), e);
  }
  return s;
}

TEST(JournalReplayTest, A010JournalWithTwoSwitchesAndAPauseReplays) {
  const auto lines = Lines("switch-pause-manual.jsonl");
  ASSERT_EQ(lines.size(), 15u);
  State s = Replay(lines);
  EXPECT_EQ(s.seq, 15u);
  EXPECT_FALSE(s.shared.paused);  // paused, then resumed
  EXPECT_FALSE(s.shared.action);
  ASSERT_TRUE(s.last_switch);
  EXPECT_EQ(s.last_switch->to, "us-east");
  EXPECT_EQ(s.last_switch->trigger, Trigger::kManual);
  EXPECT_EQ(s.last_switch->reason, "back home");
  EXPECT_TRUE(s.shared.last_auto_switch);
  EXPECT_TRUE(s.shared.last_manual_switch);
  EXPECT_LT(*s.shared.last_auto_switch, *s.shared.last_manual_switch);
  // 0.1.0 wrote no switch_completed: the hosts are done, nothing pending.
  ASSERT_TRUE(s.shared.hosts);
  EXPECT_TRUE(PendingHosts(*s.shared.hosts, {"root@127.0.0.1:60439"}).empty());
  // The alert fired and was resolved.
  EXPECT_TRUE(
      s.alerts.FiringSites(*ParseRfc3339("2026-12-04T02:33:19Z")).empty());
  ASSERT_TRUE(s.last_decision);
  EXPECT_EQ(s.last_decision->decision, "noop");
}

TEST(JournalReplayTest, A010JournalWithDnsAndHostFailuresReplays) {
  State s = Replay(Lines("dns-and-host-failures.jsonl"));
  EXPECT_FALSE(s.shared.action);
  ASSERT_TRUE(s.last_switch);
  EXPECT_EQ(s.last_switch->to, "eu-central");
  ASSERT_TRUE(s.shared.hosts);
  EXPECT_TRUE(s.shared.hosts->errors.empty());  // failed, then reconfigured
  EXPECT_EQ(s.shared.hosts->done.size(), 1u);
  // Replayed line by line up to the dns_failed: the switch is in progress
  // with its error.
  auto lines = Lines("dns-and-host-failures.jsonl");
  lines.resize(6);
  State mid = Replay(lines);
  ASSERT_TRUE(mid.shared.action);
  EXPECT_EQ(mid.shared.action->last_error, "client: HTTP 400: Bad Request");
}

TEST(JournalReplayTest, AJournalOfThisVersionReplaysToItsEnd) {
  // Written by this version: unknown-site alerts, a refused PUT, a host
  // down then back, switch_completed, a refused manual switch.
  const auto lines = Lines("switch-with-failures.jsonl", "current");
  ASSERT_EQ(lines.size(), 15u);
  for (const std::string& line : lines) {
    Entry e;
    std::string error;
    ASSERT_TRUE(Decode(line, &e, &error)) << error;
    EXPECT_FALSE(std::holds_alternative<event::Unknown>(e.event)) << line;
  }
  State s = Replay(lines);
  EXPECT_FALSE(s.shared.action);
  EXPECT_FALSE(s.shared.hosts);  // completed
  ASSERT_TRUE(s.last_switch);
  EXPECT_EQ(s.last_switch->to, "eu-central");
  ASSERT_TRUE(s.last_switch->seconds);
  EXPECT_GT(*s.last_switch->seconds, 0);
  EXPECT_FALSE(s.shared.paused);
  EXPECT_EQ(s.alerts.size(), 1u);  // us-east's; never the unknown "mars"
  EXPECT_TRUE(
      s.alerts.FiringSites(*ParseRfc3339("2026-12-04T03:31:51Z")).empty());
  // Re-encoding every line gives the line back (after its seq).
  for (const std::string& line : lines) {
    Entry e;
    ASSERT_TRUE(Decode(line, &e, nullptr));
    EXPECT_EQ("{\"seq\":" + std::to_string(e.seq) + "," +
                  Encode(e.event, e.ts).substr(1),
              line);
  }
}

// --------------------------------------------------------------- snapshot

TEST(SnapshotTest, TheEncodedStateDecodesToTheSameState) {
  State s = Replay(Lines("dns-and-host-failures.jsonl"));
  s = Apply(std::move(s), At(100, kT0, event::Paused{"why"}));
  s = Apply(
      std::move(s),
      At(101, kT0, Started("a9", "eu-central", "us-east", Trigger::kManual)));
  State back;
  std::string error;
  ASSERT_TRUE(DecodeState(EncodeState(s), &back, &error)) << error;
  EXPECT_EQ(back.shared, s.shared);
  EXPECT_EQ(back.last_switch, s.last_switch);
  EXPECT_EQ(back.last_decision, s.last_decision);
  EXPECT_EQ(back.seq, s.seq);
  EXPECT_EQ(back.alerts.ToJsonString(), s.alerts.ToJsonString());
  EXPECT_EQ(EncodeState(back), EncodeState(s));
}

TEST(SnapshotTest, A010SnapshotDecodes) {
  // As 0.1.0's SnapshotJson wrote it.
  const std::string old =
      R"({"alerts":{"version":1,"alerts":[],"quiet_since":{}},
    "paused":true,"pause_reason":"maint","last_auto_switch":"2026-12-01T09:00:00Z",
    "action":{"id":"a1","from":"us-east","to":"eu-central","trigger":"alert",
              "reason":"r","started":"2026-12-01T09:00:00Z","dns_done":false},
    "last_switch":{"id":"a0","from":"eu-central","to":"us-east","trigger":"manual",
              "reason":"r0","started":"2026-11-30T09:00:00Z","dns_done":true},
    "host_work":{"id":"a0","site":"us-east","pending":["root@h:22"]}})";
  State s;
  std::string error;
  ASSERT_TRUE(DecodeState(old, &s, &error)) << error;
  EXPECT_TRUE(s.shared.paused);
  EXPECT_EQ(s.shared.pause_reason, "maint");
  ASSERT_TRUE(s.shared.action);
  EXPECT_EQ(s.shared.action->to, "eu-central");
  EXPECT_EQ(s.last_switch->trigger, Trigger::kManual);
  ASSERT_TRUE(s.shared.hosts);
  EXPECT_EQ(PendingHosts(*s.shared.hosts, {}),
            (std::vector<std::string>{"root@h:22"}));
}

TEST(SnapshotTest, BadSnapshotsAreRefusedAndChangeNothing) {
  State s = Fold({event::Paused{"keep"}});
  for (const char* bad :
       {"", "[]", "{\"paused\":\"yes\"}", "{\"action\":{\"to\":\"eu\"}}",
        "{\"alerts\":{\"version\":99}}", "{\"last_auto_switch\":\"soon\"}"}) {
    std::string error;
    EXPECT_FALSE(DecodeState(bad, &s, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_TRUE(s.shared.paused);
  }
}

}  // namespace
}  // namespace drf::actuator
