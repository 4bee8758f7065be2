#include "core/util/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <climits>

namespace drf {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, GrowsExponentiallyUpToTheCap) {
  // unit -> 1: the ceiling itself.
  EXPECT_EQ(Backoff(100ms, 1s, 1, 1.0), 100ms);
  EXPECT_EQ(Backoff(100ms, 1s, 2, 1.0), 200ms);
  EXPECT_EQ(Backoff(100ms, 1s, 3, 1.0), 400ms);
  EXPECT_EQ(Backoff(100ms, 1s, 4, 1.0), 800ms);
  EXPECT_EQ(Backoff(100ms, 1s, 5, 1.0), 1s);
  EXPECT_EQ(Backoff(100ms, 1s, 1000, 1.0), 1s);  // no overflow
  EXPECT_EQ(Backoff(100ms, 1s, INT_MAX, 1.0), 1s);
}

TEST(BackoffTest, FullJitterSpansZeroToTheCeiling) {
  EXPECT_EQ(Backoff(100ms, 1s, 3, 0.0), 0ms);
  EXPECT_EQ(Backoff(100ms, 1s, 3, 0.5), 200ms);
  EXPECT_EQ(Backoff(100ms, 1s, 3, -1), 0ms);  // clamped
  EXPECT_EQ(Backoff(100ms, 1s, 0, 1.0), 100ms);
  EXPECT_EQ(Backoff(100ms, 1s, INT_MIN, 1.0), 100ms);
}

TEST(BackoffTest, BelowTheCeilingForEveryUnitBelowOne) {
  // [0, ceiling): the largest unit below 1 stays under it.
  EXPECT_LT(Backoff(100ms, 1s, 3, 0.9999999), 400ms);
  EXPECT_EQ(Backoff(100ms, 1s, 3, 2.0), 400ms);  // clamped
}

TEST(BackoffTest, ZeroOrNegativeDurationsWaitNothing) {
  EXPECT_EQ(Backoff(0ms, 1s, 5, 0.9), 0ms);
  EXPECT_EQ(Backoff(100ms, 0ms, 5, 0.9), 0ms);
  EXPECT_EQ(Backoff(-100ms, 1s, 5, 0.9), 0ms);
}

}  // namespace
}  // namespace drf
