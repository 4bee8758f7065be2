#include "actuator/actions/site_probes.h"

#include <gtest/gtest.h>

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;

Config TwoSites() {
  Config c;
  c.sites.resize(2);
  c.sites[0].name = "us-east";
  c.sites[1].name = "eu-central";
  return c;
}

ProbeResult Up(bool up) {
  ProbeResult r;
  r.up = up;
  r.error = up ? "" : "connect: refused";
  return r;
}

TEST(SiteProbesTest, AConfirmationIsAStrictMajorityOfItsProbes) {
  const Config c = TwoSites();
  auto h = Confirmed(c, {2, 1}, 3, {});
  EXPECT_TRUE(h["us-east"].probed);
  EXPECT_TRUE(h["us-east"].confirmed_healthy);      // 2 of 3
  EXPECT_FALSE(h["eu-central"].confirmed_healthy);  // 1 of 3
  h = Confirmed(c, {2, 1}, 4, {});
  EXPECT_FALSE(h["us-east"].confirmed_healthy);  // 2 of 4 is no majority
  h = Confirmed(c, {0, 0}, 0, {});
  EXPECT_FALSE(h["us-east"].confirmed_healthy);
}

TEST(SiteProbesTest, AConfirmationKeepsWhatElseWasKnown) {
  const Config c = TwoSites();
  std::map<std::string, SiteHealth> base;
  const TimePoint since = TimePoint{} + 1000s;
  base["us-east"].healthy_since = since;
  auto h = Confirmed(c, {3, 3}, 3, base);
  EXPECT_EQ(h["us-east"].healthy_since, since);
}

TEST(SiteProbesTest, ARoundKeepsHealthySinceWhileUpAndResetsItOnFailure) {
  const Config c = TwoSites();
  Observed o;
  const TimePoint t0 = TimePoint{} + 1000s;
  NoteRound(c, {Up(true), Up(false)}, t0, &o);
  EXPECT_EQ(o.health["us-east"].healthy_since, t0);
  EXPECT_FALSE(o.health["eu-central"].healthy_since);
  EXPECT_EQ(o.last_probe["eu-central"].error, "connect: refused");
  NoteRound(c, {Up(true), Up(true)}, t0 + 5s, &o);
  EXPECT_EQ(o.health["us-east"].healthy_since, t0);  // still up since t0
  EXPECT_EQ(o.health["eu-central"].healthy_since, t0 + 5s);
  NoteRound(c, {Up(false), Up(true)}, t0 + 10s, &o);
  EXPECT_FALSE(o.health["us-east"].healthy_since);
  EXPECT_FALSE(o.health["us-east"].confirmed_healthy);
  EXPECT_TRUE(o.health["us-east"].probed);
}

}  // namespace
}  // namespace drf::actuator
