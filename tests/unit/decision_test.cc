#include "actuator/policy/decision.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "actuator/intake/alertmanager.h"
#include "actuator/intake/time.h"
#include "actuator/policy/alert_set.h"
#include "core/config/config.h"

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = *ParseRfc3339("2024-05-01T12:00:00Z");

/// The only clock the tests use.
class FakeClock {
 public:
  TimePoint Now() const { return now_; }
  void Advance(TimePoint::duration d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_ = kT0;
};

Config MakeConfig(std::vector<std::string> names) {
  Config c;
  int i = 10;
  for (auto& n : names) {
    SiteConfig s;
    s.name = n;
    s.address = "192.0.2." + std::to_string(i++);
    c.sites.push_back(s);
  }
  ActuatorConfig a;
  a.mode = ActuatorMode::kAuto;
  a.failback = FailbackPolicy::kAuto;
  a.failback_after = 10min;
  a.cooldown = 10min;
  a.confirm.probes = 3;
  c.actuator = a;
  return c;
}

SiteHealth Up(std::optional<TimePoint> since = kT0 - 24h) {
  return SiteHealth{true, true, since};
}
SiteHealth Down() { return SiteHealth{false, true, std::nullopt}; }
SiteHealth Unprobed() { return SiteHealth{false, false, std::nullopt}; }

class DecisionTest : public ::testing::Test {
 protected:
  DecisionTest() : config_(MakeConfig({"us-east", "eu-central"})) {}

  ActuatorConfig& actuator() { return *config_.actuator; }

  // us-east serving and alerting, confirmed down; eu-central healthy.
  DecisionInput Outage() {
    DecisionInput in;
    in.config = &config_;
    in.now = clock_.Now();
    in.serving_site = "us-east";
    in.firing_sites = {"us-east"};
    in.health = {{"us-east", Down()}, {"eu-central", Up()}};
    return in;
  }

  // eu-central serving, no alert; us-east healthy for `healthy_for`.
  DecisionInput AfterOutage(TimePoint::duration healthy_for) {
    DecisionInput in;
    in.config = &config_;
    in.now = clock_.Now();
    in.serving_site = "eu-central";
    in.health = {{"us-east", Up(clock_.Now() - healthy_for)},
                 {"eu-central", Up()}};
    return in;
  }

  Config config_;
  FakeClock clock_;
};

TEST_F(DecisionTest, NamesAreSpecNames) {
  EXPECT_EQ(OutcomeName(Outcome::kSwitch), "switch");
  EXPECT_EQ(OutcomeName(Outcome::kFailback), "failback");
  EXPECT_EQ(OutcomeName(Outcome::kHoldUnconfirmed), "hold_unconfirmed");
  EXPECT_EQ(OutcomeName(Outcome::kHoldNoHealthyTarget),
            "hold_no_healthy_target");
  EXPECT_EQ(OutcomeName(Outcome::kHoldCooldown), "hold_cooldown");
  EXPECT_EQ(OutcomeName(Outcome::kHoldManualMode), "hold_manual_mode");
  EXPECT_EQ(OutcomeName(Outcome::kHoldPaused), "hold_paused");
  EXPECT_EQ(OutcomeName(Outcome::kNoop), "noop");
  EXPECT_EQ(TriggerName(Trigger::kAlert), "alert");
  EXPECT_EQ(TriggerName(Trigger::kFailback), "failback");
  EXPECT_EQ(TriggerName(Trigger::kManual), "manual");
  std::set<std::string_view> names;
  for (Outcome o : kAllOutcomes) names.insert(OutcomeName(o));
  EXPECT_EQ(names.size(), 8u);
}

TEST_F(DecisionTest, SwitchesWhenServingSiteIsConfirmedDown) {
  Decision d = Decide(Outage());
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_EQ(d.target, "eu-central");
  EXPECT_EQ(d.trigger, Trigger::kAlert);
  EXPECT_EQ(d.reason,
            "serving site us-east is down (alert firing, confirmed by the "
            "actuator's probes); switching to eu-central, the first healthy "
            "site in preference order");
}

TEST_F(DecisionTest, ServingUnknownIsNoop) {
  DecisionInput in = Outage();
  in.serving_site = "";
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_NE(d.reason.find("serving site unknown"), std::string::npos);
  EXPECT_NE(d.reason.find("not acting blind"), std::string::npos);
  in.serving_site = "mars";
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_EQ(d.reason,
            "serving site mars is not a configured site; not "
            "acting blind");
}

TEST_F(DecisionTest, HoldsUnconfirmedWhenProbesSeeServingHealthy) {
  DecisionInput in = Outage();
  in.health["us-east"] = Up();
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldUnconfirmed);
  EXPECT_EQ(d.reason,
            "serving site us-east has a firing DR alert but the actuator's "
            "confirmation probes see it healthy");
}

TEST_F(DecisionTest, HoldsUnconfirmedBeforeServingWasProbed) {
  DecisionInput in = Outage();
  in.health["us-east"] = Unprobed();
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldUnconfirmed);
  in.health.erase("us-east");
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldUnconfirmed);
  EXPECT_NE(d.reason.find("have not run yet"), std::string::npos);
}

TEST_F(DecisionTest, BothSitesDownHoldsNoHealthyTarget) {
  DecisionInput in = Outage();
  in.firing_sites = {"us-east", "eu-central"};
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldNoHealthyTarget);
  EXPECT_EQ(d.target, "");
  EXPECT_EQ(d.reason,
            "serving site us-east is down (alert firing, confirmed by the "
            "actuator's probes) and no other site is healthy: eu-central has "
            "a firing DR alert");
  // No alert on the other site, but its probes fail.
  in.firing_sites = {"us-east"};
  in.health["eu-central"] = Down();
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldNoHealthyTarget);
  EXPECT_NE(d.reason.find("eu-central failed its confirmation probes"),
            std::string::npos);
  // Never probed: not a target either.
  in.health.erase("eu-central");
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldNoHealthyTarget);
  EXPECT_NE(d.reason.find("eu-central has not been probed yet"),
            std::string::npos);
}

TEST_F(DecisionTest, ThreeSitesSecondDownSwitchesToThird) {
  config_ = MakeConfig({"us-east", "eu-central", "ap-south"});
  DecisionInput in = Outage();
  in.firing_sites = {"us-east", "eu-central"};
  in.health["ap-south"] = Up();
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_EQ(d.target, "ap-south");
  // Down by probes only, no alert: skipped too.
  in.firing_sites = {"us-east"};
  in.health["eu-central"] = Down();
  EXPECT_EQ(Decide(in).target, "ap-south");
}

TEST_F(DecisionTest, SwitchMayGoToAMorePreferredSite) {
  config_ = MakeConfig({"us-east", "eu-central", "ap-south"});
  DecisionInput in = Outage();
  in.serving_site = "ap-south";
  in.firing_sites = {"ap-south"};
  in.health = {
      {"us-east", Up(in.now - 1s)}, {"eu-central", Up()}, {"ap-south", Down()}};
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_EQ(d.target, "us-east");
  EXPECT_EQ(d.trigger, Trigger::kAlert);
}

TEST_F(DecisionTest, CooldownHoldsOneMsBeforeAndAllowsAtTheBoundary) {
  DecisionInput in = Outage();
  in.last_auto_switch = clock_.Now() - 10min + 1ms;
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldCooldown);
  EXPECT_EQ(d.target, "eu-central");
  EXPECT_EQ(d.reason,
            "serving site us-east is down (alert firing, confirmed by the "
            "actuator's probes); switch to eu-central held: last automatic "
            "switch 9m59s999ms ago, cooldown 10m, 1ms left");
  in.last_auto_switch = clock_.Now() - 10min;
  EXPECT_EQ(Decide(in).outcome, Outcome::kSwitch);
  // Same with the clock moving instead of the last switch.
  in.last_auto_switch = clock_.Now();
  clock_.Advance(10min - 1ms);
  in.now = clock_.Now();
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldCooldown);
  clock_.Advance(1ms);
  in.now = clock_.Now();
  EXPECT_EQ(Decide(in).outcome, Outcome::kSwitch);
}

TEST_F(DecisionTest, CooldownReasonSaysHowLongIsLeft) {
  DecisionInput in = Outage();
  in.last_auto_switch = clock_.Now() - 4min - 10s;
  Decision d = Decide(in);
  EXPECT_NE(d.reason.find("last automatic switch 4m10s ago, cooldown 10m, "
                          "5m50s left"),
            std::string::npos)
      << d.reason;
}

TEST_F(DecisionTest, LastSwitchInTheFutureHoldsCooldown) {
  DecisionInput in = Outage();
  in.last_auto_switch = clock_.Now() + 1h;
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldCooldown);
  EXPECT_NE(d.reason.find("clock moved back"), std::string::npos);
}

TEST_F(DecisionTest, ManualSwitchDoesNotHoldAnAlertSwitch) {
  DecisionInput in = Outage();
  in.last_manual_switch = clock_.Now() - 1s;
  EXPECT_EQ(Decide(in).outcome, Outcome::kSwitch);
}

TEST_F(DecisionTest, ManualModeHolds) {
  actuator().mode = ActuatorMode::kManual;
  Decision d = Decide(Outage());
  EXPECT_EQ(d.outcome, Outcome::kHoldManualMode);
  EXPECT_EQ(d.target, "eu-central");
  EXPECT_EQ(d.reason,
            "serving site us-east has a firing DR alert; mode is manual; "
            "eu-central would be the target");
}

TEST_F(DecisionTest, PausedHoldsAndComesFirst) {
  actuator().mode = ActuatorMode::kManual;
  DecisionInput in = Outage();
  in.paused = true;
  in.firing_sites = {"us-east", "eu-central"};
  in.last_auto_switch = clock_.Now();
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldPaused);
  EXPECT_EQ(d.reason,
            "serving site us-east has a firing DR alert; the actuator is "
            "paused; no healthy target");
}

TEST_F(DecisionTest, ManualModeComesBeforeConfirmation) {
  actuator().mode = ActuatorMode::kManual;
  DecisionInput in = Outage();
  in.health["us-east"] = Up();
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldManualMode);
}

TEST_F(DecisionTest, ConfirmationBeforeTargetBeforeCooldown) {
  DecisionInput in = Outage();
  in.health["us-east"] = Up();
  in.firing_sites.insert("eu-central");
  in.last_auto_switch = clock_.Now();
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldUnconfirmed);
  in.health["us-east"] = Down();
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldNoHealthyTarget);
  in.firing_sites.erase("eu-central");
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldCooldown);
}

TEST_F(DecisionTest, WithoutConfirmationProbesAlertsDecide) {
  actuator().confirm.probes = 0;
  DecisionInput in = Outage();
  in.health.clear();  // nothing probed at all
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_EQ(d.target, "eu-central");
  EXPECT_NE(d.reason.find("confirmation disabled"), std::string::npos);
  // Probe results are not consulted, even when they say "healthy".
  in.health["us-east"] = Up();
  in.health["eu-central"] = Down();
  EXPECT_EQ(Decide(in).outcome, Outcome::kSwitch);
  in.firing_sites.insert("eu-central");
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldNoHealthyTarget);
}

TEST_F(DecisionTest, MissingActuatorSectionUsesDefaults) {
  config_.actuator.reset();  // mode auto, failback manual, confirm 3
  Decision d = Decide(Outage());
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  d = Decide(AfterOutage(24h));
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_NE(d.reason.find("failback is manual"), std::string::npos);
}

TEST_F(DecisionTest, NoAlertOnServingIsNoop) {
  DecisionInput in = Outage();
  in.firing_sites = {"eu-central"};
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_EQ(d.reason,
            "serving us-east (the preferred site), no DR alert on "
            "it");
  // Alerts for sites that are not configured are ignored.
  in.firing_sites = {"mars"};
  EXPECT_EQ(Decide(in).outcome, Outcome::kNoop);
}

TEST_F(DecisionTest, FailbackAfterOneMsBeforeIsNoopAndAtIsFailback) {
  Decision d = Decide(AfterOutage(10min - 1ms));
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_EQ(d.reason,
            "serving eu-central, no DR alert on it; us-east healthy for "
            "9m59s999ms of 10m before failback");
  d = Decide(AfterOutage(10min));
  EXPECT_EQ(d.outcome, Outcome::kFailback);
  EXPECT_EQ(d.target, "us-east");
  EXPECT_EQ(d.trigger, Trigger::kFailback);
  EXPECT_EQ(d.reason,
            "failback to us-east due (healthy for 10m, failback_after 10m; "
            "serving eu-central)");
}

TEST_F(DecisionTest, FailbackWithAFakeClock) {
  // us-east turns healthy at kT0; the clock walks to the boundary.
  DecisionInput in = AfterOutage(0s);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Decide(in).outcome, Outcome::kNoop) << i;
    clock_.Advance(1min - (i == 9 ? 1ms : 0ms));
    in.now = clock_.Now();
  }
  EXPECT_EQ(Decide(in).outcome, Outcome::kNoop);
  clock_.Advance(1ms);
  in.now = clock_.Now();
  EXPECT_EQ(Decide(in).outcome, Outcome::kFailback);
}

TEST_F(DecisionTest, FailbackManualIsNoop) {
  actuator().failback = FailbackPolicy::kManual;
  Decision d = Decide(AfterOutage(24h));
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_EQ(d.reason,
            "serving eu-central, no DR alert on it; failback is "
            "manual (preferred site us-east)");
}

TEST_F(DecisionTest, FailbackNeedsAPreferredSiteThatIsHealthy) {
  DecisionInput in = AfterOutage(24h);
  in.firing_sites = {"us-east"};
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_NE(d.reason.find("us-east has a firing DR alert"), std::string::npos);
  in.firing_sites.clear();
  in.health["us-east"] = Down();
  EXPECT_EQ(Decide(in).outcome, Outcome::kNoop);
  in.health["us-east"] = SiteHealth{true, true, std::nullopt};
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_NE(d.reason.find("no health history"), std::string::npos);
}

TEST_F(DecisionTest, FailbackHeldByPauseModeAndCooldown) {
  DecisionInput in = AfterOutage(1h);
  in.paused = true;
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldPaused);
  EXPECT_EQ(d.trigger, Trigger::kFailback);
  EXPECT_EQ(d.target, "us-east");
  in.paused = false;

  actuator().mode = ActuatorMode::kManual;
  EXPECT_EQ(Decide(in).outcome, Outcome::kHoldManualMode);
  actuator().mode = ActuatorMode::kAuto;

  in.last_auto_switch = clock_.Now() - 10min + 1ms;
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldCooldown);
  EXPECT_EQ(d.trigger, Trigger::kFailback);
  EXPECT_NE(d.reason.find("1ms left"), std::string::npos) << d.reason;
  in.last_auto_switch = clock_.Now() - 10min;
  EXPECT_EQ(Decide(in).outcome, Outcome::kFailback);

  // A manual switch also holds failback for a cooldown.
  in.last_manual_switch = clock_.Now() - 10min + 1ms;
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kHoldCooldown);
  EXPECT_NE(d.reason.find("last manual switch"), std::string::npos);
  in.last_manual_switch = clock_.Now() - 10min;
  EXPECT_EQ(Decide(in).outcome, Outcome::kFailback);
}

TEST_F(DecisionTest, FailbackGoesToTheMostPreferredEligibleSite) {
  config_ = MakeConfig({"us-east", "eu-central", "ap-south"});
  DecisionInput in;
  in.config = &config_;
  in.now = clock_.Now();
  in.serving_site = "ap-south";
  in.health = {{"us-east", Up(in.now - 3min)},
               {"eu-central", Up(in.now - 20min)},
               {"ap-south", Up()}};
  Decision d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kFailback);
  EXPECT_EQ(d.target, "eu-central");
  in.health["us-east"] = Up(in.now - 10min);
  EXPECT_EQ(Decide(in).target, "us-east");
  // Serving the second site, the third is never a failback target.
  in.serving_site = "eu-central";
  in.firing_sites = {"us-east"};
  d = Decide(in);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
}

TEST_F(DecisionTest, SecondSwitchNeverFollowsTheFirst) {
  // Level-triggered: the same facts after the switch are a noop.
  DecisionInput in = Outage();
  Decision first = Decide(in);
  ASSERT_EQ(first.outcome, Outcome::kSwitch);
  in.serving_site = first.target;
  in.last_auto_switch = in.now;
  for (int i = 0; i < 100; ++i) {
    in.now += 1min;
    Decision d = Decide(in);
    EXPECT_FALSE(MovesTraffic(d.outcome)) << i << ": " << d.reason;
  }
}

// Replays notifications through the AlertSet into Decide, executing every
// switch it decides at once, as the actuator does.
class World {
 public:
  World(Config* config, FakeClock* clock) : config_(config), clock_(clock) {}

  void Notify(const Alert& a) { alerts_.Apply(a, clock_->Now()); }

  Decision Tick() {
    DecisionInput in;
    in.config = config_;
    in.now = clock_->Now();
    alerts_.Expire(in.now);
    in.serving_site = serving;
    in.firing_sites = alerts_.FiringSites(in.now);
    in.health = health;
    in.last_auto_switch = last_auto_switch;
    Decision d = Decide(in);
    if (MovesTraffic(d.outcome)) {
      ++switches;
      serving = d.target;
      last_auto_switch = in.now;
    }
    return d;
  }

  std::string serving = "us-east";
  std::map<std::string, SiteHealth> health;
  std::optional<TimePoint> last_auto_switch;
  int switches = 0;

 private:
  Config* config_;
  FakeClock* clock_;
  AlertSet alerts_;
};

Alert SiteDown(const std::string& site, AlertStatus status, TimePoint starts,
               TimePoint ends = TimePoint{}) {
  Alert a;
  a.status = status;
  a.labels = {{"alertname", "DRSiteDown"},
              {"dr_action", "traffic_failover"},
              {"site", site}};
  a.starts_at = starts;
  a.ends_at = ends;
  a.fingerprint = "fp-" + site;
  return a;
}

TEST_F(DecisionTest, NotificationStormCausesOneSwitch) {
  World w(&config_, &clock_);
  w.health = {{"us-east", Down()}, {"eu-central", Up()}};
  const TimePoint s1 = clock_.Now();
  for (int i = 0; i < 20; ++i) {  // duplicates and repeats
    w.Notify(SiteDown("us-east", AlertStatus::kFiring, s1));
    w.Tick();
    clock_.Advance(5s);
  }
  EXPECT_EQ(w.switches, 1);
  EXPECT_EQ(w.serving, "eu-central");
  // Resolved, then out of order the old firing again, then a re-fire.
  w.Notify(SiteDown("us-east", AlertStatus::kResolved, s1, clock_.Now()));
  w.Tick();
  w.Notify(SiteDown("us-east", AlertStatus::kFiring, s1));
  w.Tick();
  clock_.Advance(30s);
  w.Notify(SiteDown("us-east", AlertStatus::kFiring, clock_.Now()));
  for (int i = 0; i < 20; ++i) {
    w.Tick();
    clock_.Advance(1s);
  }
  EXPECT_EQ(w.switches, 1);
  EXPECT_EQ(w.serving, "eu-central");
}

TEST_F(DecisionTest, ExpiredAlertsNoLongerCount) {
  World w(&config_, &clock_);
  w.health = {{"us-east", Down()}, {"eu-central", Up()}};
  actuator().mode = ActuatorMode::kManual;  // watch the decision, not act
  w.Notify(SiteDown("us-east", AlertStatus::kFiring, clock_.Now() - 1min,
                    clock_.Now() + 4min));
  EXPECT_EQ(w.Tick().outcome, Outcome::kHoldManualMode);
  clock_.Advance(4min - 1ms);
  EXPECT_EQ(w.Tick().outcome, Outcome::kHoldManualMode);
  clock_.Advance(1ms);  // endsAt reached: the alert has ended
  EXPECT_EQ(w.Tick().outcome, Outcome::kNoop);
  actuator().mode = ActuatorMode::kAuto;
  EXPECT_EQ(w.Tick().outcome, Outcome::kNoop);
  EXPECT_EQ(w.switches, 0);
}

TEST_F(DecisionTest, FullOutageAndFailbackCycle) {
  World w(&config_, &clock_);
  w.health = {{"us-east", Down()}, {"eu-central", Up()}};
  w.Notify(SiteDown("us-east", AlertStatus::kFiring, clock_.Now()));
  EXPECT_EQ(w.Tick().outcome, Outcome::kSwitch);
  clock_.Advance(2min);
  w.Notify(SiteDown("us-east", AlertStatus::kResolved, kT0, clock_.Now()));
  w.health["us-east"] = Up(clock_.Now());
  EXPECT_EQ(w.Tick().outcome, Outcome::kNoop);
  clock_.Advance(10min - 1ms);
  EXPECT_EQ(w.Tick().outcome, Outcome::kNoop);
  clock_.Advance(1ms);
  Decision d = w.Tick();
  EXPECT_EQ(d.outcome, Outcome::kFailback);
  EXPECT_EQ(w.serving, "us-east");
  EXPECT_EQ(w.Tick().outcome, Outcome::kNoop);
  EXPECT_EQ(w.switches, 2);
}

// ------------------------------------------------------------ manual

TEST_F(DecisionTest, ManualSwitchToAHealthyTarget) {
  DecisionInput in = AfterOutage(0s);
  Decision d = DecideManual(in, "us-east", false);
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_EQ(d.trigger, Trigger::kManual);
  EXPECT_EQ(d.target, "us-east");
  EXPECT_EQ(d.reason,
            "manual switch from eu-central to us-east, us-east "
            "confirmed healthy by the actuator's probes");
}

TEST_F(DecisionTest, ManualSwitchRefusesAnUnhealthyTargetWithoutForce) {
  DecisionInput in = AfterOutage(0s);
  in.health["us-east"] = Down();
  Decision d = DecideManual(in, "us-east", false);
  EXPECT_EQ(d.outcome, Outcome::kHoldNoHealthyTarget);
  EXPECT_EQ(d.trigger, Trigger::kManual);
  EXPECT_EQ(d.reason,
            "manual switch to us-east refused: us-east failed its "
            "confirmation probes; force overrides");
  d = DecideManual(in, "us-east", true);
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_EQ(d.reason,
            "forced manual switch from eu-central to us-east "
            "although us-east failed its confirmation probes");

  in.health["us-east"] = Up();
  in.firing_sites = {"us-east"};
  EXPECT_EQ(DecideManual(in, "us-east", false).outcome,
            Outcome::kHoldNoHealthyTarget);
  EXPECT_EQ(DecideManual(in, "us-east", true).outcome, Outcome::kSwitch);

  in.firing_sites.clear();
  in.health.erase("us-east");
  d = DecideManual(in, "us-east", false);
  EXPECT_EQ(d.outcome, Outcome::kHoldNoHealthyTarget);
  EXPECT_NE(d.reason.find("has not been probed yet"), std::string::npos);
}

TEST_F(DecisionTest, ManualSwitchSkipsModePauseAndCooldown) {
  actuator().mode = ActuatorMode::kManual;
  DecisionInput in = AfterOutage(0s);
  in.paused = true;
  in.last_auto_switch = in.now;
  in.last_manual_switch = in.now;
  EXPECT_EQ(DecideManual(in, "us-east", false).outcome, Outcome::kSwitch);
}

TEST_F(DecisionTest, ManualSwitchEdgeCases) {
  DecisionInput in = AfterOutage(0s);
  Decision d = DecideManual(in, "eu-central", false);
  EXPECT_EQ(d.outcome, Outcome::kNoop);
  EXPECT_EQ(d.reason, "manual switch: eu-central is already serving");
  d = DecideManual(in, "mars\n", true);
  EXPECT_EQ(d.outcome, Outcome::kHoldNoHealthyTarget);
  EXPECT_EQ(d.reason,
            "manual switch refused: \"mars?\" is not a configured site");
  // Unknown serving site: a manual switch is how records are repaired.
  in.serving_site = "";
  d = DecideManual(in, "eu-central", false);
  EXPECT_EQ(d.outcome, Outcome::kSwitch);
  EXPECT_NE(d.reason.find("from unknown"), std::string::npos);
  // Without probes, "healthy" is "no firing alert".
  actuator().confirm.probes = 0;
  in.health.clear();
  EXPECT_EQ(DecideManual(in, "us-east", false).outcome, Outcome::kSwitch);
  in.firing_sites = {"us-east"};
  EXPECT_EQ(DecideManual(in, "us-east", false).outcome,
            Outcome::kHoldNoHealthyTarget);
}

TEST_F(DecisionTest, NullConfigIsNoop) {
  DecisionInput in;
  in.serving_site = "us-east";
  EXPECT_EQ(Decide(in).outcome, Outcome::kNoop);
  EXPECT_EQ(DecideManual(in, "us-east", true).outcome,
            Outcome::kHoldNoHealthyTarget);
}

// ------------------------------------------------------------ the sweep

enum class HealthState { kUnprobed, kDown, kRecent, kLong };
enum class LastSwitch { kNone, kRecentAuto, kRecentManual, kOldAuto };

// One point of the sweep, decoded from an index.
struct Combo {
  int probes;
  ActuatorMode mode;
  FailbackPolicy failback;
  std::string serving;
  int firing_mask;  // bit i: site i has a firing alert
  int health_code;  // base 4, digit i: HealthState of site i
  bool paused;
  LastSwitch last;

  /// Combinations per value of `probes`.
  static constexpr long kCount = 2L * 2 * 4 * 8 * 64 * 2 * 4;

  static Combo Decode(long i, int probes) {
    auto take = [&i](long n) {
      long v = i % n;
      i /= n;
      return static_cast<int>(v);
    };
    Combo c;
    c.probes = probes;
    c.mode = take(2) == 0 ? ActuatorMode::kAuto : ActuatorMode::kManual;
    c.failback = take(2) == 0 ? FailbackPolicy::kAuto : FailbackPolicy::kManual;
    static const char* const kServing[] = {"", "us-east", "eu-central",
                                           "ap-south"};
    c.serving = kServing[take(4)];
    c.firing_mask = take(8);
    c.health_code = take(64);
    c.paused = take(2) == 1;
    c.last = static_cast<LastSwitch>(take(4));
    return c;
  }

  std::string Describe() const {
    return "probes=" + std::to_string(probes) +
           " manual_mode=" + std::to_string(mode == ActuatorMode::kManual) +
           " failback_auto=" +
           std::to_string(failback == FailbackPolicy::kAuto) +
           " serving=" + serving + " firing=" + std::to_string(firing_mask) +
           " health=" + std::to_string(health_code) +
           " paused=" + std::to_string(paused) +
           " last=" + std::to_string(static_cast<int>(last));
  }
};

class DecisionSweepTest : public ::testing::Test {
 protected:
  const std::vector<std::string> names_ = {"us-east", "eu-central", "ap-south"};
  const TimePoint now_ = kT0;
  std::map<std::tuple<int, ActuatorMode, FailbackPolicy>, Config> configs_;

  // The config of a combination, built once per (probes, mode, failback).
  const Config* ConfigFor(const Combo& c) {
    auto key = std::make_tuple(c.probes, c.mode, c.failback);
    auto it = configs_.find(key);
    if (it == configs_.end()) {
      Config config = MakeConfig(names_);
      config.actuator->confirm.probes = c.probes;
      config.actuator->mode = c.mode;
      config.actuator->failback = c.failback;
      it = configs_.emplace(key, std::move(config)).first;
    }
    return &it->second;
  }

  DecisionInput Build(const Combo& c) {
    DecisionInput in;
    in.config = ConfigFor(c);
    in.now = now_;
    in.serving_site = c.serving;
    in.paused = c.paused;
    int code = c.health_code;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (c.firing_mask & (1 << i)) in.firing_sites.insert(names_[i]);
      switch (static_cast<HealthState>(code % 4)) {
        case HealthState::kUnprobed:
          break;  // absent from the map
        case HealthState::kDown:
          in.health[names_[i]] = Down();
          break;
        case HealthState::kRecent:
          in.health[names_[i]] = Up(now_ - 10min + 1ms);
          break;
        case HealthState::kLong:
          in.health[names_[i]] = Up(now_ - 10min);
          break;
      }
      code /= 4;
    }
    switch (c.last) {
      case LastSwitch::kNone:
        break;
      case LastSwitch::kRecentAuto:
        in.last_auto_switch = now_ - 10min + 1ms;
        break;
      case LastSwitch::kRecentManual:
        in.last_manual_switch = now_ - 1s;
        break;
      case LastSwitch::kOldAuto:
        in.last_auto_switch = now_ - 10min;
        break;
    }
    return in;
  }

  int IndexOf(const std::string& site) const {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == site) return static_cast<int>(i);
    }
    return -1;
  }

  static bool ProbesPass(const DecisionInput& in, const std::string& site) {
    auto it = in.health.find(site);
    return it != in.health.end() && it->second.probed &&
           it->second.confirmed_healthy;
  }

  static bool ConfirmedDown(const DecisionInput& in, const std::string& site) {
    auto it = in.health.find(site);
    return it != in.health.end() && it->second.probed &&
           !it->second.confirmed_healthy;
  }

  static bool IsHealthy(const Combo& c, const DecisionInput& in,
                        const std::string& site) {
    return in.firing_sites.count(site) == 0 &&
           (c.probes == 0 || ProbesPass(in, site));
  }

  bool FailbackEligible(const Combo& c, const DecisionInput& in,
                        const std::string& site) const {
    auto it = in.health.find(site);
    return IsHealthy(c, in, site) && it != in.health.end() &&
           it->second.healthy_since &&
           *it->second.healthy_since <= now_ - 10min;
  }

  void CheckDecide(const Combo& c, const DecisionInput& in,
                   const Decision& d) const {
    const bool serving_firing = in.firing_sites.count(c.serving) > 0;
    const bool auto_cooldown = c.last == LastSwitch::kRecentAuto;
    const bool manual_cooldown = c.last == LastSwitch::kRecentManual;
    const bool automatic = !c.paused && c.mode == ActuatorMode::kAuto;

    EXPECT_FALSE(d.reason.empty());
    if (c.serving.empty()) {
      EXPECT_EQ(d.outcome, Outcome::kNoop);
    }
    if (MovesTraffic(d.outcome)) {
      // Never to a site with a firing alert or failing probes; never to the
      // serving site; never while the operator holds the wheel.
      EXPECT_NE(d.target, c.serving);
      EXPECT_GE(IndexOf(d.target), 0);
      EXPECT_EQ(in.firing_sites.count(d.target), 0u);
      if (c.probes > 0) {
        EXPECT_TRUE(ProbesPass(in, d.target));
      }
      EXPECT_TRUE(automatic);
      EXPECT_FALSE(auto_cooldown);
    }
    if (d.outcome == Outcome::kSwitch) {
      EXPECT_TRUE(serving_firing);
      EXPECT_EQ(d.trigger, Trigger::kAlert);
      if (c.probes > 0) {
        EXPECT_TRUE(ConfirmedDown(in, c.serving));
      }
      for (const auto& n : names_) {  // the first healthy site
        if (n == d.target) break;
        if (n != c.serving) {
          EXPECT_FALSE(IsHealthy(c, in, n)) << n;
        }
      }
    }
    if (d.outcome == Outcome::kFailback) {
      EXPECT_FALSE(serving_firing);
      EXPECT_EQ(c.failback, FailbackPolicy::kAuto);
      EXPECT_EQ(d.trigger, Trigger::kFailback);
      EXPECT_LT(IndexOf(d.target), IndexOf(c.serving));
      EXPECT_TRUE(FailbackEligible(c, in, d.target));
      EXPECT_FALSE(manual_cooldown);
      for (int i = 0; i < IndexOf(d.target); ++i) {  // the most preferred
        EXPECT_FALSE(FailbackEligible(c, in, names_[i])) << names_[i];
      }
    }
    // Serving not alerting: nothing but failback moves traffic.
    if (!serving_firing) {
      EXPECT_NE(d.outcome, Outcome::kSwitch);
      EXPECT_NE(d.outcome, Outcome::kHoldUnconfirmed);
      EXPECT_NE(d.outcome, Outcome::kHoldNoHealthyTarget);
      if (c.failback == FailbackPolicy::kManual) {
        EXPECT_EQ(d.outcome, Outcome::kNoop);
      }
    }
    // Liveness: it acts whenever everything says so.
    if (c.serving.empty()) return;
    if (serving_firing && automatic && !auto_cooldown &&
        (c.probes == 0 || ConfirmedDown(in, c.serving))) {
      bool any = false;
      for (const auto& n : names_) {
        if (n != c.serving && IsHealthy(c, in, n)) any = true;
      }
      EXPECT_EQ(d.outcome,
                any ? Outcome::kSwitch : Outcome::kHoldNoHealthyTarget);
    }
    if (!serving_firing && automatic && !auto_cooldown && !manual_cooldown &&
        c.failback == FailbackPolicy::kAuto) {
      bool eligible = false;
      for (int i = 0; i < IndexOf(c.serving); ++i) {
        if (FailbackEligible(c, in, names_[i])) eligible = true;
      }
      EXPECT_EQ(d.outcome, eligible ? Outcome::kFailback : Outcome::kNoop);
    }
  }

  void CheckManual(const Combo& c, const DecisionInput& in,
                   const std::string& target, bool force,
                   const Decision& m) const {
    EXPECT_EQ(m.trigger, Trigger::kManual);
    EXPECT_FALSE(m.reason.empty());
    if (target == c.serving) {
      EXPECT_EQ(m.outcome, Outcome::kNoop);
    } else if (force) {
      EXPECT_EQ(m.outcome, Outcome::kSwitch);
    } else {
      EXPECT_EQ(m.outcome, IsHealthy(c, in, target)
                               ? Outcome::kSwitch
                               : Outcome::kHoldNoHealthyTarget);
    }
  }

  // Every combination for one value of confirm.probes (split in two tests
  // to keep each quick under the sanitizers).
  void Sweep(int probes) {
    std::set<Outcome> seen;
    std::set<Outcome> seen_manual;
    for (long i = 0; i < Combo::kCount; ++i) {
      const Combo c = Combo::Decode(i, probes);
      const DecisionInput in = Build(c);
      const Decision d = Decide(in);
      seen.insert(d.outcome);
      CheckDecide(c, in, d);
      // Deterministic: a copy of the input decides the same.
      const DecisionInput copy = in;
      EXPECT_EQ(Decide(copy), d);

      // The manual API, for every target, with and without force (the last
      // switch does not matter to it: sweep it once).
      for (const auto& t : names_) {
        if (c.last != LastSwitch::kNone) break;
        for (bool force : {false, true}) {
          Decision m = DecideManual(in, t, force);
          seen_manual.insert(m.outcome);
          CheckManual(c, in, t, force, m);
        }
      }
      if (HasFailure()) {  // one failing combination is enough
        ADD_FAILURE() << "in combination " << i << ": " << c.Describe();
        break;
      }
    }
    for (Outcome o : kAllOutcomes) {
      // Without probes nothing is ever unconfirmed.
      bool reachable = probes > 0 || o != Outcome::kHoldUnconfirmed;
      EXPECT_EQ(seen.count(o) > 0, reachable) << OutcomeName(o);
    }
    EXPECT_EQ(seen_manual, (std::set<Outcome>{Outcome::kSwitch,
                                              Outcome::kHoldNoHealthyTarget,
                                              Outcome::kNoop}));
  }
};

TEST_F(DecisionSweepTest, AllCombinationsWithConfirmationProbes) { Sweep(3); }

TEST_F(DecisionSweepTest, AllCombinationsWithoutConfirmationProbes) {
  Sweep(0);
}

}  // namespace
}  // namespace drf::actuator
