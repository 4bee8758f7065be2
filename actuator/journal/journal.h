#pragma once

#include <sys/types.h>

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

/// What Journal::Events() selects.
struct EventQuery {
  std::size_t limit = 100;
  /// Exact matches on the line's "type"; empty: every type.
  std::set<std::string> types;
  /// Only lines whose "ts" is at or after this.
  std::optional<std::chrono::system_clock::time_point> since;
};

/// What Journal::Events() answers.
struct EventPage {
  /// Newest first; each one a valid JSON object line.
  std::vector<std::string> lines;
  /// Lines skipped at open because they are not a JSON object (a corrupted
  /// line, a torn last line).
  std::uint64_t unreadable_lines = 0;
};

/// The actuator's durable memory: an append-only journal of JSON lines
/// (journal.jsonl, one event per line), a compacted snapshot
/// (snapshot.json) and the audit archive (audit.jsonl) in the state
/// directory.
///
/// The journal numbers the lines: each is `{"seq":N,...}` with N assigned
/// under the same lock that queues the line, so file order is seq order.
/// Append() returns true only once its line, and every line before it, is
/// on disk (write + fdatasync) and has been passed to the apply callback.
/// Concurrent appends are group-committed: one writer thread writes all
/// that is pending with one write() and one fdatasync(), then applies the
/// lines one by one in seq order, so the state that the callback builds is
/// always exactly "every line up to some seq", which is what a snapshot
/// records. A batch that cannot be written (disk full) is cut off the file
/// again, back to its last complete line, so a line acknowledged later is
/// never glued to a partial one; until that cut succeeds, Append() fails.
///
/// The audit trail: the apply callback says whether a line *matters*
/// (everything but a repeated notification that changed nothing). Lines
/// that matter stay readable through Events() for `audit_days` days or the
/// last `audit_lines` of them, whichever is more: Compact() archives them
/// to audit.jsonl before it rotates journal.jsonl to journal.jsonl.1, the
/// only generation it keeps of the journal itself.
///
/// Start-up, by the owner: construct (reads the files, applies nothing),
/// restore snapshot(), call Replay() with the apply callback (it feeds each
/// line after the snapshot to it and records which matter), then
/// SetApply() for the live lines, then Append(). Thread-safe after that.
class Journal {
 public:
  /// Called for each durable line, in seq order: by Replay() for the lines
  /// read at open, then by the writer thread for each appended line.
  /// Returns whether the line matters for the audit trail.
  using Apply = std::function<bool(const std::string& line)>;

  /// File operations, replaceable to simulate a full or failing disk.
  struct FileOps {
    std::function<ssize_t(int fd, const void* data, std::size_t size)> write;
    std::function<int(int fd)> fdatasync;
    std::function<int(int fd, off_t length)> ftruncate;
  };

  struct Options {
    /// Lines of any type kept in memory for Events().
    std::size_t keep_in_memory = 2000;
    /// Audit retention: at least this many lines that matter...
    std::size_t audit_lines = 10000;
    /// ...and every one younger than this.
    std::chrono::hours audit_age = std::chrono::hours(24 * 90);
    /// The clock the retention is measured with (default: system clock).
    std::function<std::chrono::system_clock::time_point()> now;
    /// Default: the system calls.
    FileOps ops;
  };

  /// Opens (creating) `dir`, reads snapshot.json, audit.jsonl and the
  /// lines of journal.jsonl.1 and journal.jsonl; applies nothing (see
  /// Replay()). A line that is not a JSON object is skipped and counted; a
  /// torn last line of journal.jsonl (a crash mid-write) is also cut away.
  /// Throws std::runtime_error naming the path when the directory cannot
  /// be used.
  explicit Journal(std::string dir, std::size_t keep_in_memory = 2000);
  Journal(std::string dir, Options options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// The state saved by the last Compact() ("" if none), and its seq.
  const std::string& snapshot() const { return snapshot_; }
  std::uint64_t snapshot_seq() const { return snapshot_seq_; }
  /// Lines with a seq above snapshot_seq(), oldest first, as read at open.
  const std::vector<std::string>& replay() const { return replay_; }

  /// Feeds replay() to `apply`, in order, and keeps in the audit trail the
  /// lines it says matter. Call once, after restoring snapshot() and
  /// before SetApply() and the first Append().
  void Replay(const Apply& apply);

  /// Sets the callback for appended lines; call once, before the first
  /// Append. Without one, every appended line matters.
  void SetApply(Apply apply) { apply_ = std::move(apply); }

  /// Appends one event. `object` is a JSON object ("{...}"); the journal
  /// puts "seq" first. Blocks until durable and applied. Returns false when
  /// `object` is not a JSON object, or when it could not be written (disk
  /// full, I/O error): then it is not applied.
  bool Append(const std::string& object);

  /// The audit trail and the recent lines, merged (each seq once), newest
  /// first, filtered by `q`, from memory.
  EventPage Events(const EventQuery& q) const;

  /// Lines skipped at open (see EventPage::unreadable_lines).
  std::uint64_t unreadable_lines() const { return unreadable_; }

  /// Saves `state()` as the snapshot, atomically, at a seq boundary: new
  /// appends wait while every queued line is written and applied, then
  /// `state` is called (it must describe exactly what was applied), the
  /// lines that matter and are not archived yet are appended to
  /// audit.jsonl (fsync'd), the snapshot is written, and journal.jsonl is
  /// rotated to journal.jsonl.1. Returns false, rotating nothing, when a
  /// step fails.
  bool Compact(const std::function<std::string()>& state);

  /// Bytes in the current journal file (to decide when to compact).
  std::uint64_t size() const;

 private:
  /// One line, with what Events() filters on.
  struct Entry {
    std::uint64_t seq = 0;
    std::string type;
    std::chrono::system_clock::time_point ts{};
    std::string line;
  };
  static std::optional<Entry> Parse(std::string line);

  void WriterLoop();
  bool OpenJournalFile();
  /// Cuts journal.jsonl back to size_ (after a failed batch). Writer
  /// thread, or Compact while the writer is idle.
  bool RepairTail();
  bool WriteBatch(const std::string& batch);
  void ReadAudit();
  /// Adds `e` to audit_ (if newer than its last line) and trims the front.
  void KeepForAudit(Entry e);  // caller holds mu_
  bool Archive();              // caller holds mu_, the writer is idle
  std::chrono::system_clock::time_point Now() const;

  const std::string dir_;
  const std::string journal_path_;
  const std::string snapshot_path_;
  const std::string audit_path_;
  const Options options_;
  std::string snapshot_;
  std::uint64_t snapshot_seq_ = 0;
  std::vector<std::string> replay_;
  std::uint64_t unreadable_ = 0;  // set at open
  Apply apply_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // writer waits for pending lines
  std::condition_variable done_cv_;  // appenders wait for durability
  // Guarded by mu_:
  std::string pending_;                 // lines not yet written
  std::vector<Entry> pending_entries_;  // the same, parsed
  std::uint64_t next_seq_ = 0;          // seq of the last queued line
  std::uint64_t done_seq_ = 0;          // every line up to this is settled
  // Recent batches that failed, as (first, last] seq ranges.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> failed_;
  std::deque<Entry> recent_;            // last keep_in_memory lines, seq order
  std::deque<Entry> audit_;             // lines that matter, seq order
  std::uint64_t archived_seq_ = 0;      // audit.jsonl holds lines up to it
  std::uint64_t audit_file_lines_ = 0;  // lines in audit.jsonl
  bool stopping_ = false;
  bool compacting_ = false;
  // Written by the writer thread (under mu_), or by Compact while the
  // writer is idle: length of the complete lines in journal.jsonl.
  std::uint64_t size_ = 0;
  // The file may hold a partial batch past size_: cut it before writing.
  bool tail_dirty_ = false;
  int fd_ = -1;  // writer thread, or Compact while the writer is idle
  std::thread writer_;
};

/// The seq of a journal line (its leading {"seq":N), 0 if it has none.
std::uint64_t LineSeq(const std::string& line);

}  // namespace drf::actuator
