#include "actuator/journal/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace drf::actuator {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dr-journal-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string File(const std::string& name) {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};

TEST_F(JournalTest, LinesAreNumberedDurableAndAppliedWhenAppendReturns) {
  Journal j(dir_);
  std::vector<std::string> applied;
  j.SetApply([&](const std::string& l) {
    applied.push_back(l);
    return true;
  });
  ASSERT_TRUE(j.Append(R"({"type":"a"})"));
  ASSERT_TRUE(j.Append("{}"));
  EXPECT_EQ(File("journal.jsonl"), "{\"seq\":1,\"type\":\"a\"}\n{\"seq\":2}\n");
  EXPECT_EQ(applied, (std::vector<std::string>{R"({"seq":1,"type":"a"})",
                                               R"({"seq":2})"}));
  EXPECT_FALSE(j.Append("not an object"));
}

TEST_F(JournalTest, ReopenReplaysAndContinuesTheNumbering) {
  {
    Journal j(dir_);
    j.Append(R"({"x":1})");
    j.Append(R"({"x":2})");
  }
  Journal j(dir_);
  EXPECT_EQ(j.replay(), (std::vector<std::string>{R"({"seq":1,"x":1})",
                                                  R"({"seq":2,"x":2})"}));
  ASSERT_TRUE(j.Append(R"({"x":3})"));
  EXPECT_EQ(j.Recent(2), (std::vector<std::string>{R"({"seq":3,"x":3})",
                                                   R"({"seq":2,"x":2})"}));
}

TEST_F(JournalTest, TornLastLineIsDroppedAndCutAway) {
  {
    std::ofstream out(dir_ + "/journal.jsonl", std::ios::binary);
    out << "{\"seq\":1}\n{\"seq\":2,\"ty";  // crash mid-write
  }
  Journal j(dir_);
  EXPECT_EQ(j.replay(), (std::vector<std::string>{"{\"seq\":1}"}));
  ASSERT_TRUE(j.Append("{}"));
  EXPECT_EQ(File("journal.jsonl"), "{\"seq\":1}\n{\"seq\":2}\n");
}

TEST_F(JournalTest, ConcurrentAppendsAreWholeAndInSeqOrder) {
  Journal j(dir_);
  std::vector<std::uint64_t> applied;
  j.SetApply([&](const std::string& l) {
    applied.push_back(LineSeq(l));
    return true;
  });
  constexpr int kThreads = 8;
  constexpr int kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&j, t] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(j.Append("{\"t\":" + std::to_string(t) + "}"));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::istringstream lines(File("journal.jsonl"));
  std::string line;
  std::uint64_t expected = 0;
  while (std::getline(lines, line)) EXPECT_EQ(LineSeq(line), ++expected);
  EXPECT_EQ(expected, static_cast<std::uint64_t>(kThreads * kEach));
  ASSERT_EQ(applied.size(), expected);
  for (std::size_t i = 0; i < applied.size(); ++i) {
    EXPECT_EQ(applied[i], i + 1);
  }
}

TEST_F(JournalTest, CompactionIsASeqBoundaryEvenUnderLoad) {
  {
    Journal j(dir_);
    std::atomic<std::uint64_t> applied{0};
    j.SetApply([&](const std::string&) {
      ++applied;
      return true;
    });
    std::atomic<bool> done{false};
    std::thread writer([&] {
      while (!done) j.Append("{}");
    });
    while (applied < 10) std::this_thread::yield();
    std::uint64_t snapshot_at = 0;
    ASSERT_TRUE(j.Compact([&] {
      snapshot_at = applied;
      return std::string("{\"n\":") + std::to_string(snapshot_at) + "}";
    }));
    done = true;
    writer.join();
    j.Append("{}");
    // Every line after the snapshot is in the new file, none before.
    std::istringstream lines(File("journal.jsonl"));
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(LineSeq(line), snapshot_at + 1);
  }
  Journal j(dir_);
  EXPECT_EQ(j.replay().empty(), false);
  EXPECT_EQ(LineSeq(j.replay().front()), j.snapshot_seq() + 1);
  EXPECT_EQ(j.snapshot(), "{\"n\":" + std::to_string(j.snapshot_seq()) + "}");
  EXPECT_FALSE(File("journal.jsonl.1").empty());
}

TEST_F(JournalTest, CrashBetweenSnapshotAndRotationReplaysNothingTwice) {
  {
    Journal j(dir_);
    j.Append("{}");
    j.Append("{}");
  }
  // As if the snapshot was written and the process died before rotating.
  std::ofstream(dir_ + "/snapshot.json") << R"({"seq":2,"state":{}})";
  Journal j(dir_);
  EXPECT_TRUE(j.replay().empty());
  ASSERT_TRUE(j.Append("{}"));
  EXPECT_EQ(j.Recent(1), (std::vector<std::string>{"{\"seq\":3}"}));
}

TEST_F(JournalTest, UnusableDirectoryThrowsNamingIt) {
  std::ofstream(dir_ + "/file") << "x";
  try {
    Journal j(dir_ + "/file/sub");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_ + "/file/sub"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace drf::actuator
