#include "actuator/intents.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace drf::actuator {
namespace {

using namespace std::chrono_literals;
using Queue = IntentQueue<int, std::string>;

TEST(IntentQueueTest, RequestsAreDecidedInOrderAndEachGetsItsAnswer) {
  Queue q;
  std::atomic<int> woken{0};
  std::vector<std::thread> submitters;
  std::vector<std::optional<std::string>> answers(5);
  for (int i = 0; i < 5; ++i) {
    submitters.emplace_back(
        [&, i] { answers[i] = q.Submit(i, 10s, [&] { ++woken; }); });
    // One at a time, so that the queue's order is known.
    while (woken < i + 1) std::this_thread::yield();
  }
  std::vector<int> order;
  q.Serve([&](const int& r) {
    order.push_back(r);
    return "answer " + std::to_string(r);
  });
  for (auto& t : submitters) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(answers[i]) << i;
    EXPECT_EQ(*answers[i], "answer " + std::to_string(i));
  }
}

TEST(IntentQueueTest, ARequestNotTakenUpInTimeIsWithdrawnAndNeverDecided) {
  Queue q;
  EXPECT_FALSE(q.Submit(1, 50ms, [] {}));
  int decided = 0;
  q.Serve([&](const int&) {
    ++decided;
    return std::string("late");
  });
  EXPECT_EQ(decided, 0);
}

TEST(IntentQueueTest, ATakenRequestIsAnsweredEvenAfterItsBound) {
  Queue q;
  std::optional<std::string> answer;
  std::atomic<bool> queued{false};
  std::thread submitter(
      [&] { answer = q.Submit(7, 100ms, [&] { queued = true; }); });
  while (!queued) std::this_thread::yield();
  q.Serve([&](const int& r) {
    std::this_thread::sleep_for(300ms);  // longer than the bound
    return "decided " + std::to_string(r);
  });
  submitter.join();
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "decided 7");
}

TEST(IntentQueueTest, CloseAnswersTheQueuedAndRefusesNewOnes) {
  Queue q;
  std::optional<std::string> answer;
  std::atomic<bool> queued{false};
  std::thread submitter(
      [&] { answer = q.Submit(1, 10s, [&] { queued = true; }); });
  while (!queued) std::this_thread::yield();
  q.Close("stopping");
  submitter.join();
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "stopping");
  EXPECT_FALSE(q.Submit(2, 10s, [] {}));
  int decided = 0;
  q.Serve([&](const int&) {
    ++decided;
    return std::string();
  });
  EXPECT_EQ(decided, 0);
}

}  // namespace
}  // namespace drf::actuator
