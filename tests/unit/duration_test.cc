#include "core/config/duration.h"

#include <gtest/gtest.h>

namespace drf {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesPrometheusDurations) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("5s"), seconds(5));
  EXPECT_EQ(ParseDuration("10m"), minutes(10));
  EXPECT_EQ(ParseDuration("1h"), hours(1));
  EXPECT_EQ(ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(ParseDuration("1d"), hours(24));
  EXPECT_EQ(ParseDuration("1w"), hours(24 * 7));
  EXPECT_EQ(ParseDuration("1y"), hours(24 * 365));
  EXPECT_EQ(ParseDuration("2s500ms"), milliseconds(2500));
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
  EXPECT_EQ(ParseDuration("0"), milliseconds(0));
}

TEST(DurationTest, RejectsMalformed) {
  for (const char* bad : {"", "5", "s", "-5s", "1.5s", "5 s", " 5s", "5s ",
                          "5S", "5sec", "1m1h", "1s1s", "ms", "5ms5s", "1h30",
                          "99999999999999999999s", "9223372036854775807y"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseDuration(std::string(100, '1') + "s").has_value());
}

TEST(DurationTest, FormatsRoundTrip) {
  for (const char* d : {"500ms", "5s", "10m", "1h30m", "2s500ms", "0s"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(d)), d);
  }
}

}  // namespace
}  // namespace drf
