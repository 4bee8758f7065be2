#include "actuator/journal/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "actuator/intake/time.h"

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
  EventQuery two;
  two.limit = 2;
  EXPECT_EQ(
      j.Events(two).lines,
      (std::vector<std::string>{R"({"seq":3,"x":3})", R"({"seq":2,"x":2})"}));
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
  EventQuery one;
  one.limit = 1;
  EXPECT_EQ(j.Events(one).lines, (std::vector<std::string>{"{\"seq\":3}"}));
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

// ------------------------------------------------------------ disk faults

// A disk that fills up on demand: the next write stores only its first
// half, then fails with ENOSPC, as write(2) on a full file system does.
struct FullDisk {
  std::atomic<int> short_writes{0};  // writes to cut short
  std::atomic<int> failing_truncates{0};
  std::atomic<int> failing_syncs{0};
  std::atomic<int> writes{0};
  bool failing_next = false;  // writer thread only

  Journal::FileOps Ops() {
    Journal::FileOps ops;
    ops.write = [this](int fd, const void* data, std::size_t size) -> ssize_t {
      ++writes;
      if (failing_next) {
        failing_next = false;
        errno = ENOSPC;
        return -1;
      }
      if (short_writes > 0 && size > 1) {
        --short_writes;
        failing_next = true;
        return ::write(fd, data, size / 2);
      }
      return ::write(fd, data, size);
    };
    ops.fdatasync = [this](int fd) {
      if (failing_syncs > 0) {
        --failing_syncs;
        errno = EIO;
        return -1;
      }
      return ::fdatasync(fd);
    };
    ops.ftruncate = [this](int fd, off_t length) {
      if (failing_truncates > 0) {
        --failing_truncates;
        errno = EIO;
        return -1;
      }
      return ::ftruncate(fd, length);
    };
    return ops;
  }
};

TEST_F(JournalTest, FailedWriteIsCutAwaySoTheNextLineReplaysIntact) {
  FullDisk disk;
  {
    Journal::Options o;
    o.ops = disk.Ops();
    Journal j(dir_, o);
    ASSERT_TRUE(j.Append(R"({"x":1})"));
    disk.short_writes = 1;
    EXPECT_FALSE(j.Append(R"({"x":2})"));  // half a line, then ENOSPC
    EXPECT_EQ(File("journal.jsonl"), "{\"seq\":1,\"x\":1}\n");
    ASSERT_TRUE(j.Append(R"({"x":3})"));  // space freed
  }
  Journal j(dir_);
  EXPECT_EQ(j.replay(), (std::vector<std::string>{R"({"seq":1,"x":1})",
                                                  R"({"seq":3,"x":3})"}));
  EXPECT_EQ(j.unreadable_lines(), 0u);
}

TEST_F(JournalTest, FailedSyncIsCutAwayAndNotAcknowledged) {
  FullDisk disk;
  {
    Journal::Options o;
    o.ops = disk.Ops();
    Journal j(dir_, o);
    ASSERT_TRUE(j.Append(R"({"x":1})"));
    disk.failing_syncs = 1;
    EXPECT_FALSE(j.Append(R"({"x":2})"));
    EXPECT_EQ(File("journal.jsonl"), "{\"seq\":1,\"x\":1}\n");
    ASSERT_TRUE(j.Append(R"({"x":3})"));
  }
  Journal j(dir_);
  EXPECT_EQ(j.replay(), (std::vector<std::string>{R"({"seq":1,"x":1})",
                                                  R"({"seq":3,"x":3})"}));
}

TEST_F(JournalTest, AppendsAreRefusedUntilAFailedWriteIsCutAway) {
  FullDisk disk;
  {
    Journal::Options o;
    o.ops = disk.Ops();
    Journal j(dir_, o);
    ASSERT_TRUE(j.Append(R"({"x":1})"));
    disk.short_writes = 1;
    disk.failing_truncates = 3;  // the cut after the write, then 2 retries
    EXPECT_FALSE(j.Append(R"({"x":2})"));
    const std::string torn = File("journal.jsonl");
    EXPECT_NE(torn, "{\"seq\":1,\"x\":1}\n");  // the half line is still there
    const int writes = disk.writes;
    EXPECT_FALSE(j.Append(R"({"x":3})"));
    EXPECT_FALSE(j.Append(R"({"x":4})"));
    EXPECT_EQ(disk.writes, writes);  // nothing was written after it
    EXPECT_EQ(File("journal.jsonl"), torn);
    ASSERT_TRUE(j.Append(R"({"x":5})"));  // the cut succeeds first
    EXPECT_EQ(File("journal.jsonl"),
              "{\"seq\":1,\"x\":1}\n{\"seq\":5,\"x\":5}\n");
  }
  Journal j(dir_);
  EXPECT_EQ(j.replay(), (std::vector<std::string>{R"({"seq":1,"x":1})",
                                                  R"({"seq":5,"x":5})"}));
  EXPECT_EQ(j.unreadable_lines(), 0u);
}

// ------------------------------------------------------- unreadable lines

TEST_F(JournalTest, UnreadableLinesAreSkippedCountedAndNeverReturned) {
  {
    std::ofstream out(dir_ + "/journal.jsonl", std::ios::binary);
    out << "{\"seq\":1,\"type\":\"a\"}\n"
        << "{\"seq\":2,\"ty{\"seq\":3,\"type\":\"b\"}\n"  // glued to a torn one
        << "{\"seq\":4,\"type\":\"c\"}\n"
        << "{\"seq\":5,\"ty";  // torn last line
  }
  Journal j(dir_);
  EXPECT_EQ(j.unreadable_lines(), 2u);
  EXPECT_EQ(j.replay(), (std::vector<std::string>{R"({"seq":1,"type":"a"})",
                                                  R"({"seq":4,"type":"c"})"}));
  std::vector<std::string> applied;
  j.Replay([&](const std::string& l) {
    applied.push_back(l);
    return true;
  });
  EXPECT_EQ(applied, j.replay());
  EventPage page = j.Events({});
  EXPECT_EQ(page.unreadable_lines, 2u);
  EXPECT_EQ(page.lines, (std::vector<std::string>{R"({"seq":4,"type":"c"})",
                                                  R"({"seq":1,"type":"a"})"}));
  // Numbering continues after the garbled line's seq, never reusing one.
  ASSERT_TRUE(j.Append("{}"));
  EXPECT_EQ(j.Events({}).lines.front(), "{\"seq\":5}");
  EXPECT_FALSE(j.Append("{\"x\":}"));  // never written, so never returned
}

TEST_F(JournalTest, LinesThatAreNotJsonObjectsAreUnreadable) {
  {
    std::ofstream out(dir_ + "/journal.jsonl", std::ios::binary);
    out << "{\"seq\":1}\n[1,2]\n{\"seq\":2} trailing\n\"text\"\n{\"seq\":3}\n";
  }
  Journal j(dir_);
  EXPECT_EQ(j.unreadable_lines(), 3u);
  EXPECT_EQ(j.Events({}).lines,
            (std::vector<std::string>{"{\"seq\":3}", "{\"seq\":1}"}));
}

TEST_F(JournalTest, UnreadableArchiveLinesAreSkippedCountedAndCutAway) {
  {
    std::ofstream out(dir_ + "/audit.jsonl", std::ios::binary);
    out << "{\"seq\":1,\"type\":\"a\"}\nnot json\n{\"seq\":2,\"type\":\"b\"}\n"
        << "{\"seq\":3,\"ty";
  }
  {
    Journal j(dir_);
    EXPECT_EQ(j.unreadable_lines(), 2u);
    EXPECT_EQ(j.Events({}).lines,
              (std::vector<std::string>{R"({"seq":2,"type":"b"})",
                                        R"({"seq":1,"type":"a"})"}));
    ASSERT_TRUE(j.Append(R"({"type":"c"})"));
    EXPECT_EQ(LineSeq(j.Events({}).lines.front()), 3u);
    ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
  }
  EXPECT_EQ(File("audit.jsonl"),
            "{\"seq\":1,\"type\":\"a\"}\nnot json\n{\"seq\":2,\"type\":\"b\"}\n"
            "{\"seq\":3,\"type\":\"c\"}\n");
}

// ------------------------------------------------------------ audit trail

std::string Ts(std::chrono::system_clock::time_point t) {
  return FormatRfc3339(t);
}

std::string Event(const std::string& type,
                  std::chrono::system_clock::time_point ts) {
  return "{\"ts\":\"" + Ts(ts) + "\",\"type\":\"" + type + "\"}";
}

bool IsWebhook(const std::string& line) {
  return line.find("\"type\":\"webhook\"") != std::string::npos;
}

// Webhooks change nothing here: they never matter.
bool MattersUnlessWebhook(const std::string& line) { return !IsWebhook(line); }

// Fast: the fdatasync of every line is not what these tests are about.
Journal::Options NoSync() {
  Journal::Options o;
  o.ops.fdatasync = [](int) { return 0; };
  return o;
}

TEST_F(JournalTest, AWebhookStormDoesNotEraseTheAuditTrail) {
  const auto now = std::chrono::system_clock::now();
  EventQuery switches;
  switches.types = {"switch_started"};
  std::string started;
  {
    Journal j(dir_, NoSync());
    j.Replay(MattersUnlessWebhook);
    j.SetApply(MattersUnlessWebhook);
    ASSERT_TRUE(j.Append(Event("switch_started", now)));
    started = j.Events({}).lines.front();
    for (int i = 0; i < 100000; ++i) {
      ASSERT_TRUE(j.Append(Event("webhook", now)));
      if (i % 20000 == 19999) {
        ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
      }
    }
    EXPECT_EQ(j.Events(switches).lines, std::vector<std::string>{started});
    EXPECT_EQ(File("journal.jsonl.1").find("switch_started"),
              std::string::npos);
    // Every line is recent or archived: the newest are the webhooks.
    EventQuery newest;
    newest.limit = 3;
    EventPage page = j.Events(newest);
    ASSERT_EQ(page.lines.size(), 3u);
    EXPECT_EQ(LineSeq(page.lines.front()), 100001u);
    EXPECT_TRUE(IsWebhook(page.lines.back()));
  }
  // Only what matters went to the archive.
  EXPECT_EQ(File("audit.jsonl"), started + "\n");
  Journal j(dir_, NoSync());
  j.Replay(MattersUnlessWebhook);
  EXPECT_EQ(j.Events(switches).lines, std::vector<std::string>{started});
  EXPECT_EQ(j.unreadable_lines(), 0u);
}

TEST_F(JournalTest, ReplayedLinesThatMatterAreArchivedAtTheNextCompaction) {
  const auto now = std::chrono::system_clock::now();
  std::string paused;
  {
    Journal j(dir_);
    ASSERT_TRUE(j.Append(Event("paused", now)));
    ASSERT_TRUE(j.Append(Event("webhook", now)));
    paused = j.Events({}).lines.back();
  }
  {
    Journal j(dir_);
    std::vector<std::string> applied;
    j.Replay([&](const std::string& l) {
      applied.push_back(l);
      return MattersUnlessWebhook(l);
    });
    EXPECT_EQ(applied, j.replay());
    j.SetApply(MattersUnlessWebhook);
    for (int i = 0; i < 3; ++i) {  // paused goes out of journal.jsonl.1
      ASSERT_TRUE(j.Append(Event("webhook", now)));
      ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
    }
  }
  EXPECT_EQ(File("audit.jsonl"), paused + "\n");
  Journal j(dir_);
  EXPECT_TRUE(j.replay().empty());
  EventQuery q;
  q.types = {"paused"};
  EXPECT_EQ(j.Events(q).lines, std::vector<std::string>{paused});
}

TEST_F(JournalTest, ArchivedLinesReplayedAfterACrashAreKeptOnce) {
  const auto now = std::chrono::system_clock::now();
  {
    Journal j(dir_);
    ASSERT_TRUE(j.Append(Event("paused", now)));
    ASSERT_TRUE(j.Append(Event("resumed", now)));
  }
  // As if compaction archived both and died before writing the snapshot.
  { std::ofstream(dir_ + "/audit.jsonl") << File("journal.jsonl"); }
  {
    Journal j(dir_);
    EXPECT_EQ(j.replay().size(), 2u);
    j.Replay([](const std::string&) { return true; });
    EventQuery all;
    all.limit = 10;
    EXPECT_EQ(j.Events(all).lines.size(), 2u);
    ASSERT_TRUE(j.Append(Event("paused", now)));
    ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
    EXPECT_EQ(j.Events(all).lines.size(), 3u);
  }
  std::istringstream lines(File("audit.jsonl"));
  std::string line;
  std::vector<std::uint64_t> seqs;
  while (std::getline(lines, line)) seqs.push_back(LineSeq(line));
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(JournalTest, LinesOfAJournalFromBeforeTheArchiveAreKept) {
  const auto now = std::chrono::system_clock::now();
  {
    Journal j(dir_);
    ASSERT_TRUE(j.Append(Event("switch_started", now)));
  }
  // An older actuator compacted it: a snapshot, no archive.
  fs::rename(dir_ + "/journal.jsonl", dir_ + "/journal.jsonl.1");
  std::ofstream(dir_ + "/snapshot.json") << R"({"seq":1,"state":{}})";
  const std::string started = File("journal.jsonl.1");
  {
    Journal j(dir_);
    j.Replay(MattersUnlessWebhook);
    j.SetApply(MattersUnlessWebhook);
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(j.Append(Event("webhook", now)));
      ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
    }
  }
  EXPECT_EQ(File("audit.jsonl"), started);
}

struct Clock {
  std::atomic<std::int64_t> seconds{1'800'000'000};
  std::chrono::system_clock::time_point Now() const {
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(seconds.load()));
  }
};

constexpr auto kDay = std::chrono::hours(24);

TEST_F(JournalTest, TheAuditTrailKeepsTheLast10000LinesThatMatter) {
  Clock clock;
  Journal::Options o = NoSync();
  o.keep_in_memory = 10;
  o.now = [&] { return clock.Now(); };
  EventQuery everything;
  everything.limit = 100000;
  {
    Journal j(dir_, o);
    j.Replay(MattersUnlessWebhook);
    j.SetApply(MattersUnlessWebhook);
    // Five old lines, then 10,000 recent ones.
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(j.Append(Event("paused", clock.Now() - 100 * kDay)));
    }
    for (int i = 0; i < 9995; ++i) {
      ASSERT_TRUE(j.Append(Event("decision", clock.Now() - kDay)));
    }
    // 10,000 so far: the old ones stay, however old.
    EXPECT_EQ(j.Events(everything).lines.size(), 10000u);
    ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(j.Append(Event("decision", clock.Now() - kDay)));
    }
    EventPage page = j.Events(everything);
    ASSERT_EQ(page.lines.size(), 10000u);
    EXPECT_EQ(LineSeq(page.lines.back()), 6u);
    ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
    ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
  }
  Journal j(dir_, o);
  j.Replay(MattersUnlessWebhook);
  EventPage page = j.Events(everything);
  ASSERT_EQ(page.lines.size(), 10000u);
  EXPECT_EQ(LineSeq(page.lines.back()), 6u);
  EXPECT_EQ(LineSeq(page.lines.front()), 10005u);
}

TEST_F(JournalTest, TheAuditTrailKeepsEveryLineThatMattersFor90Days) {
  Clock clock;
  Journal::Options o = NoSync();
  o.keep_in_memory = 10;
  o.now = [&] { return clock.Now(); };
  EventQuery everything;
  everything.limit = 100000;
  {
    Journal j(dir_, o);
    j.Replay(MattersUnlessWebhook);
    j.SetApply(MattersUnlessWebhook);
    ASSERT_TRUE(j.Append(Event("paused", clock.Now() - 89 * kDay)));
    for (int i = 0; i < 10005; ++i) {
      ASSERT_TRUE(j.Append(Event("decision", clock.Now())));
    }
    ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
    EXPECT_EQ(j.Events(everything).lines.size(), 10006u);
  }
  {
    Journal j(dir_, o);
    j.Replay(MattersUnlessWebhook);
    EXPECT_EQ(j.Events(everything).lines.size(), 10006u);
  }
  // Two days later, the oldest line is past 90 days and beyond 10,000.
  clock.seconds += 2 * 24 * 3600;
  Journal j(dir_, o);
  j.Replay(MattersUnlessWebhook);
  EventPage page = j.Events(everything);
  ASSERT_EQ(page.lines.size(), 10005u);
  EXPECT_EQ(LineSeq(page.lines.back()), 2u);
}

TEST_F(JournalTest, TheArchiveIsRewrittenOnceItHoldsTwiceWhatIsRetained) {
  Clock clock;
  Journal::Options o = NoSync();
  o.keep_in_memory = 5;
  o.audit_lines = 10;
  o.now = [&] { return clock.Now(); };
  auto lines_in = [&](const std::string& name) {
    const std::string f = File(name);
    return static_cast<std::size_t>(std::count(f.begin(), f.end(), '\n'));
  };
  {
    Journal j(dir_, o);
    j.Replay(MattersUnlessWebhook);
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(j.Append(Event("decision", clock.Now() - 100 * kDay)));
      }
      ASSERT_TRUE(j.Compact([] { return std::string("{}"); }));
      EXPECT_LE(lines_in("audit.jsonl"), 20u) << "round " << round;
    }
    EXPECT_FALSE(fs::exists(dir_ + "/audit.jsonl.tmp"));
  }
  Journal j(dir_, o);
  EventQuery everything;
  everything.limit = 1000;
  EventPage page = j.Events(everything);
  ASSERT_EQ(page.lines.size(), 10u);
  EXPECT_EQ(LineSeq(page.lines.front()), 80u);
  EXPECT_EQ(LineSeq(page.lines.back()), 71u);
}

// --------------------------------------------------------------- queries

TEST_F(JournalTest, EventsFiltersByTypeAndSinceNewestFirst) {
  const auto t0 = std::chrono::system_clock::now() - std::chrono::hours(10);
  Journal j(dir_);
  j.Replay(MattersUnlessWebhook);
  j.SetApply(MattersUnlessWebhook);
  const std::vector<std::string> types = {"paused",  "webhook", "resumed",
                                          "webhook", "paused",  "decision"};
  for (std::size_t i = 0; i < types.size(); ++i) {
    ASSERT_TRUE(j.Append(
        Event(types[i], t0 + std::chrono::hours(static_cast<int>(i)))));
  }
  auto seqs = [&](const EventQuery& q) {
    std::vector<std::uint64_t> out;
    for (const std::string& l : j.Events(q).lines) out.push_back(LineSeq(l));
    return out;
  };
  EXPECT_EQ(seqs({}), (std::vector<std::uint64_t>{6, 5, 4, 3, 2, 1}));
  EventQuery by_type;
  by_type.types = {"paused", "resumed"};
  EXPECT_EQ(seqs(by_type), (std::vector<std::uint64_t>{5, 3, 1}));
  by_type.types = {"webhook"};
  EXPECT_EQ(seqs(by_type), (std::vector<std::uint64_t>{4, 2}));
  by_type.types = {"pause"};  // exact match only
  EXPECT_TRUE(seqs(by_type).empty());
  EventQuery since;
  since.since = t0 + std::chrono::hours(3);  // inclusive
  EXPECT_EQ(seqs(since), (std::vector<std::uint64_t>{6, 5, 4}));
  since.types = {"paused"};
  EXPECT_EQ(seqs(since), (std::vector<std::uint64_t>{5}));
  EventQuery limited;
  limited.limit = 2;
  limited.types = {"paused", "webhook"};
  EXPECT_EQ(seqs(limited), (std::vector<std::uint64_t>{5, 4}));
}

}  // namespace
}  // namespace drf::actuator
