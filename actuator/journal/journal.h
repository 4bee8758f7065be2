#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace drf::actuator {

/// Which events GET /api/v1/events lists.
struct EventQuery {
  std::size_t limit = 100;
  std::set<std::string> types;  // empty: every type
  std::optional<std::chrono::system_clock::time_point> since;
};

/// The events found: journal lines (JSON objects), newest first.
struct EventPage {
  std::vector<std::string> lines;
  std::uint64_t unreadable_lines = 0;
};

/// The actuator's durable memory: an append-only journal of JSON lines
/// (journal.jsonl, one event per line) plus a compacted snapshot
/// (snapshot.json) in the state directory.
///
/// The journal numbers the lines: each is `{"seq":N,...}` with N assigned
/// under the same lock that queues the line, so file order is seq order.
/// Append() returns only once its line, and every line before it, is on
/// disk (write + fdatasync) and has been passed to the apply callback.
/// Concurrent appends are group-committed: one writer thread writes all
/// that is pending with one write() and one fdatasync(), then applies the
/// lines one by one in seq order, so the state that the callback builds is
/// always exactly "every line up to some seq", which is what a snapshot
/// records. Thread-safe.
class Journal {
 public:
  /// Called by the writer thread for each durable line, in seq order.
  /// Returns whether the line matters for the audit trail.
  using Apply = std::function<bool(const std::string& line)>;

  /// Opens (creating) `dir`, reads snapshot.json and the lines written
  /// after it (from journal.jsonl.1 and journal.jsonl). A torn last line (a
  /// crash mid-write) is dropped. Throws std::runtime_error naming the path
  /// when the directory cannot be used.
  explicit Journal(std::string dir, std::size_t keep_in_memory = 2000);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// The state saved by the last Compact() ("" if none), and its seq.
  const std::string& snapshot() const { return snapshot_; }
  std::uint64_t snapshot_seq() const { return snapshot_seq_; }
  /// Lines with a seq above snapshot_seq(), oldest first, as read at open.
  const std::vector<std::string>& replay() const { return replay_; }

  /// Feeds every line of replay() to `apply`, in order.
  void Replay(const Apply& apply) {
    for (const std::string& line : replay_) apply(line);
  }

  /// Sets the apply callback; call once, before the first Append.
  void SetApply(Apply apply) { apply_ = std::move(apply); }

  /// Appends one event. `object` is a JSON object ("{...}"); the journal
  /// puts "seq" first. Blocks until durable and applied. Returns false when
  /// it could not be written (disk full, I/O error): then it is not applied.
  bool Append(const std::string& object);

  /// Up to `limit` most recent lines, newest first (from memory).
  std::vector<std::string> Recent(std::size_t limit) const;
  EventPage Events(const EventQuery& query) const;

  /// Saves `state()` as the snapshot, atomically, at a seq boundary: new
  /// appends wait while every queued line is written and applied, then
  /// `state` is called (it must describe exactly what was applied), the
  /// snapshot is written, and journal.jsonl is rotated to journal.jsonl.1.
  bool Compact(const std::function<std::string()>& state);

  /// Bytes in the current journal file (to decide when to compact).
  std::uint64_t size() const;

 private:
  void WriterLoop();
  bool OpenJournalFile();

  const std::string dir_;
  const std::string journal_path_;
  const std::string snapshot_path_;
  const std::size_t keep_in_memory_;
  std::string snapshot_;
  std::uint64_t snapshot_seq_ = 0;
  std::vector<std::string> replay_;
  Apply apply_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // writer waits for pending lines
  std::condition_variable done_cv_;  // appenders wait for durability
  std::string pending_;              // lines not yet written
  std::uint64_t next_seq_ = 0;       // seq of the last queued line
  std::uint64_t done_seq_ = 0;       // every line up to this is settled
  // Recent batches that failed, as (first, last] seq ranges.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> failed_;
  std::uint64_t size_ = 0;
  std::deque<std::string> recent_;
  bool stopping_ = false;
  bool compacting_ = false;
  int fd_ = -1;
  std::thread writer_;
};

/// The seq of a journal line (its leading {"seq":N), 0 if it has none.
std::uint64_t LineSeq(const std::string& line);

}  // namespace drf::actuator
