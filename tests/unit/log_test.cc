#include "core/log/log.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace drf::log {
namespace {

const auto kT0 = std::chrono::system_clock::from_time_t(1764100000) +
                 std::chrono::milliseconds(42);

TEST(LogTest, LogfmtQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(
      Render(Format::kLogfmt, Level::kWarn, "probe failed",
             {{"site", "us-east"}, {"err", "a \"b\"=c\n"}, {"e", ""}}, kT0),
      "ts=2025-11-25T19:46:40.042Z level=warn msg=\"probe failed\" "
      "site=us-east err=\"a \\\"b\\\"=c\\n\" e=\"\"");
}

TEST(LogTest, JsonIsValidAndEscaped) {
  std::string line = Render(Format::kJson, Level::kError, "x\"y",
                            {{"k", std::string_view("a\0b", 3)}}, kT0);
  rapidjson::Document d;
  d.Parse(line.c_str(), line.size());
  ASSERT_FALSE(d.HasParseError()) << line;
  EXPECT_STREQ(d["level"].GetString(), "error");
  EXPECT_STREQ(d["msg"].GetString(), "x\"y");
  EXPECT_EQ(std::string(d["k"].GetString(), d["k"].GetStringLength()),
            std::string("a\0b", 3));
  EXPECT_STREQ(d["ts"].GetString(), "2025-11-25T19:46:40.042Z");
}

TEST(LogTest, SetupRejectsUnknownNames) {
  EXPECT_FALSE(log::Setup("verbose", "logfmt"));
  EXPECT_FALSE(log::Setup("info", "xml"));
  EXPECT_TRUE(log::Setup("warn", "json"));
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  EXPECT_TRUE(log::Setup("info", "logfmt"));
}

TEST(RateLimiterTest, LetsOneThroughPerPeriodAndCountsTheRest) {
  RateLimiter limiter(std::chrono::hours(1));
  long suppressed = -1;
  EXPECT_TRUE(limiter.Allow("a", &suppressed));
  EXPECT_EQ(suppressed, 0);
  EXPECT_FALSE(limiter.Allow("a", &suppressed));
  EXPECT_FALSE(limiter.Allow("a", &suppressed));
  EXPECT_TRUE(limiter.Allow("b", &suppressed));
  RateLimiter fast(std::chrono::nanoseconds(0));
  EXPECT_TRUE(fast.Allow("a", &suppressed));
  EXPECT_TRUE(fast.Allow("a", &suppressed));
}

}  // namespace
}  // namespace drf::log
