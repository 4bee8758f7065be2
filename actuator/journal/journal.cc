#include "actuator/journal/journal.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "actuator/intake/time.h"
#include "core/log/log.h"

namespace drf::actuator {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSeqPrefix = "{\"seq\":";

bool WriteAll(const Journal::FileOps& ops, int fd, const char* data,
              std::size_t size) {
  while (size > 0) {
    ssize_t n = ops.write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {  // no progress and no error: do not spin
      errno = EIO;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes `content` to `path` atomically: temp file, fsync, rename, fsync dir.
bool WriteFileAtomically(const Journal::FileOps& ops, const std::string& dir,
                         const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = WriteAll(ops, fd, content.data(), content.size()) &&
            ops.fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return SyncDir(dir);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The complete lines of a journal file. A last line without its newline
// was torn by a crash mid-write: it was never acknowledged, so dropping it
// loses nothing promised. `*clean_bytes` is the length of the kept part,
// `*torn` whether there was such a line.
std::vector<std::string> ReadLines(const std::string& path,
                                   std::size_t* clean_bytes, bool* torn) {
  std::vector<std::string> lines;
  const std::string all = ReadFile(path);
  std::size_t start = 0;
  *torn = false;
  while (start < all.size()) {
    std::size_t nl = all.find('\n', start);
    if (nl == std::string::npos) {
      log::Warn(
          "journal: dropping a torn last line",
          {{"file", path}, {"bytes", std::to_string(all.size() - start)}});
      *torn = true;
      break;
    }
    if (nl > start) lines.push_back(all.substr(start, nl - start));
    start = nl + 1;
  }
  *clean_bytes = start;
  return lines;
}

// Cuts `path` (if it exists) back to `length` bytes, durably.
bool TruncateFile(const std::string& path, std::size_t length) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  bool ok =
      ::ftruncate(fd, static_cast<off_t>(length)) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

Journal::Options WithDefaults(Journal::Options o) {
  if (!o.now) o.now = [] { return std::chrono::system_clock::now(); };
  if (!o.ops.write) {
    o.ops.write = [](int fd, const void* data, std::size_t size) {
      return ::write(fd, data, size);
    };
  }
  if (!o.ops.fdatasync)
    o.ops.fdatasync = [](int fd) { return ::fdatasync(fd); };
  if (!o.ops.ftruncate) {
    o.ops.ftruncate = [](int fd, off_t length) {
      return ::ftruncate(fd, length);
    };
  }
  return o;
}

Journal::Options KeepInMemory(std::size_t keep_in_memory) {
  Journal::Options o;
  o.keep_in_memory = keep_in_memory;
  return o;
}

}  // namespace

std::uint64_t LineSeq(const std::string& line) {
  if (line.compare(0, kSeqPrefix.size(), kSeqPrefix) != 0) return 0;
  std::uint64_t seq = 0;
  const char* begin = line.data() + kSeqPrefix.size();
  std::from_chars(begin, line.data() + line.size(), seq);
  return seq;
}

std::optional<Journal::Entry> Journal::Parse(std::string line) {
  rapidjson::Document d;
  d.Parse(line.c_str(), line.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  Entry e;
  auto seq = d.FindMember("seq");
  if (seq != d.MemberEnd() && seq->value.IsUint64()) {
    e.seq = seq->value.GetUint64();
  }
  auto type = d.FindMember("type");
  if (type != d.MemberEnd() && type->value.IsString()) {
    e.type.assign(type->value.GetString(), type->value.GetStringLength());
  }
  auto ts = d.FindMember("ts");
  if (ts != d.MemberEnd() && ts->value.IsString()) {
    e.ts = ParseRfc3339(std::string_view(ts->value.GetString(),
                                         ts->value.GetStringLength()))
               .value_or(TimePoint{});
  }
  e.line = std::move(line);
  return e;
}

Journal::Journal(std::string dir, std::size_t keep_in_memory)
    : Journal(std::move(dir), KeepInMemory(keep_in_memory)) {}

Journal::Journal(std::string dir, Options options)
    : dir_(std::move(dir)),
      journal_path_(dir_ + "/journal.jsonl"),
      snapshot_path_(dir_ + "/snapshot.json"),
      audit_path_(dir_ + "/audit.jsonl"),
      options_(WithDefaults(std::move(options))) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw std::runtime_error("cannot create state directory " + dir_ + ": " +
                             ec.message());
  }
  const std::string snap = ReadFile(snapshot_path_);
  if (!snap.empty()) {
    rapidjson::Document d;
    d.Parse(snap.c_str(), snap.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("seq") ||
        !d["seq"].IsUint64() || !d.HasMember("state")) {
      throw std::runtime_error("unreadable snapshot " + snapshot_path_ +
                               ": move it away to start from the journal");
    }
    snapshot_seq_ = d["seq"].GetUint64();
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d["state"].Accept(w);
    snapshot_.assign(buf.GetString(), buf.GetSize());
  }
  // A snapshot without an archive was written before the archive existed:
  // nobody judged the lines it covers, so they are all kept.
  const bool judged = snapshot_.empty() || fs::exists(audit_path_);
  ReadAudit();
  // The previous file first: a crash between writing the snapshot and
  // rotating leaves lines of either file on either side of it.
  std::uint64_t last_seq = std::max(snapshot_seq_, archived_seq_);
  std::size_t clean = 0;
  bool torn = false;
  for (const std::string& path : {journal_path_ + ".1", journal_path_}) {
    for (std::string& l : ReadLines(path, &clean, &torn)) {
      // A garbled line may still carry its seq: never number one again.
      last_seq = std::max(last_seq, LineSeq(l));
      std::optional<Entry> e = Parse(std::move(l));
      if (!e) {
        log::Warn("journal: skipping an unreadable line", {{"file", path}});
        ++unreadable_;
        continue;
      }
      last_seq = std::max(last_seq, e->seq);
      if (e->seq > snapshot_seq_) {
        replay_.push_back(e->line);
      } else if (!judged) {
        KeepForAudit(*e);
      }
      recent_.push_back(std::move(*e));
      if (recent_.size() > options_.keep_in_memory) recent_.pop_front();
    }
    if (torn) ++unreadable_;
  }
  next_seq_ = done_seq_ = last_seq;
  if (!OpenJournalFile()) {
    throw std::runtime_error("cannot open journal " + journal_path_ + ": " +
                             std::strerror(errno));
  }
  // Cut a torn tail away so the next line starts on a line of its own.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::size_t>(st.st_size) != clean) {
    if (::ftruncate(fd_, static_cast<off_t>(clean)) != 0 || ::fsync(fd_) != 0) {
      throw std::runtime_error("cannot repair journal " + journal_path_ + ": " +
                               std::strerror(errno));
    }
  }
  size_ = clean;
  writer_ = std::thread([this] { WriterLoop(); });
}

Journal::~Journal() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (fd_ >= 0) ::close(fd_);
}

void Journal::ReadAudit() {
  std::size_t clean = 0;
  bool torn = false;
  for (std::string& l : ReadLines(audit_path_, &clean, &torn)) {
    ++audit_file_lines_;
    std::optional<Entry> e = Parse(std::move(l));
    if (!e) {
      log::Warn("journal: skipping an unreadable line",
                {{"file", audit_path_}});
      ++unreadable_;
      continue;
    }
    archived_seq_ = std::max(archived_seq_, e->seq);
    KeepForAudit(std::move(*e));
  }
  if (torn) {
    ++unreadable_;
    // Archived lines are appended: the next one must start a line.
    if (!TruncateFile(audit_path_, clean)) {
      throw std::runtime_error("cannot repair audit archive " + audit_path_ +
                               ": " + std::strerror(errno));
    }
  }
}

bool Journal::OpenJournalFile() {
  fd_ = ::open(journal_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
               0600);
  if (fd_ < 0) return false;
  return SyncDir(dir_);
}

std::chrono::system_clock::time_point Journal::Now() const {
  return options_.now();
}

void Journal::Replay(const Apply& apply) {
  std::vector<Entry> matter;
  for (const std::string& line : replay_) {
    if (apply && !apply(line)) continue;
    if (std::optional<Entry> e = Parse(line)) matter.push_back(std::move(*e));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (Entry& e : matter) KeepForAudit(std::move(e));
}

void Journal::KeepForAudit(Entry e) {
  // Lines archived before a crash that kept the snapshot from being written
  // are replayed and judged again: keep each seq once.
  if (!audit_.empty() && e.seq <= audit_.back().seq) return;
  audit_.push_back(std::move(e));
  const auto cutoff = Now() - options_.audit_age;
  while (audit_.size() > options_.audit_lines && audit_.front().ts < cutoff) {
    audit_.pop_front();
  }
}

bool Journal::Append(const std::string& object) {
  if (object.size() < 2 || object.front() != '{' || object.back() != '}') {
    return false;
  }
  std::optional<Entry> parsed = Parse(object);
  if (!parsed) return false;  // a line Events() could not return
  Entry e = std::move(*parsed);
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return !compacting_ || stopping_; });
  if (stopping_) return false;
  const std::uint64_t seq = ++next_seq_;
  e.seq = seq;
  e.line = std::string(kSeqPrefix) + std::to_string(seq);
  if (object.size() > 2) e.line += ',';
  e.line.append(object, 1, std::string::npos);
  pending_ += e.line;
  pending_ += '\n';
  pending_entries_.push_back(std::move(e));
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return done_seq_ >= seq || stopping_; });
  if (done_seq_ < seq) return false;
  for (const auto& [first, last] : failed_) {
    if (seq > first && seq <= last) return false;
  }
  return true;
}

bool Journal::RepairTail() {
  if (fd_ < 0 && !OpenJournalFile()) {
    log::Error("cannot reopen journal",
               {{"file", journal_path_}, {"err", std::strerror(errno)}});
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return false;
  }
  if (options_.ops.ftruncate(fd_, static_cast<off_t>(size_)) != 0 ||
      options_.ops.fdatasync(fd_) != 0) {
    log::Error("journal: cannot cut a failed write away, refusing appends",
               {{"file", journal_path_}, {"err", std::strerror(errno)}});
    return false;
  }
  if (tail_dirty_) log::Info("journal: failed write cut away, appending again");
  tail_dirty_ = false;
  return true;
}

bool Journal::WriteBatch(const std::string& batch) {
  // Never write after a partial line: it would glue to it and both would
  // be unreadable at replay.
  if (tail_dirty_ && !RepairTail()) return false;
  if (WriteAll(options_.ops, fd_, batch.data(), batch.size()) &&
      options_.ops.fdatasync(fd_) == 0) {
    return true;
  }
  log::Error("journal write failed",
             {{"file", journal_path_}, {"err", std::strerror(errno)}});
  tail_dirty_ = true;
  RepairTail();  // if it fails, the next batch tries again first
  return false;
}

void Journal::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (pending_.empty() && stopping_) return;
    std::string batch;
    batch.swap(pending_);
    std::vector<Entry> entries;
    entries.swap(pending_entries_);
    const std::uint64_t last = next_seq_;
    const std::uint64_t first = done_seq_;
    lock.unlock();
    const bool ok = WriteBatch(batch);
    std::vector<char> matters(entries.size(), 1);
    if (ok && apply_) {
      for (std::size_t i = 0; i < entries.size(); ++i) {
        matters[i] = apply_(entries[i].line) ? 1 : 0;
      }
    }
    lock.lock();
    if (ok) {
      size_ += batch.size();
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (matters[i] != 0) KeepForAudit(entries[i]);
        recent_.push_back(std::move(entries[i]));
        if (recent_.size() > options_.keep_in_memory) recent_.pop_front();
      }
    } else {
      failed_.emplace_back(first, last);
      if (failed_.size() > 256) failed_.pop_front();
    }
    done_seq_ = last;
    done_cv_.notify_all();
  }
}

EventPage Journal::Events(const EventQuery& q) const {
  std::lock_guard<std::mutex> lock(mu_);
  EventPage page;
  page.unreadable_lines = unreadable_;
  // Both lists are in seq order: merge them from the newest end.
  auto a = audit_.rbegin();
  auto r = recent_.rbegin();
  while (page.lines.size() < q.limit &&
         (a != audit_.rend() || r != recent_.rend())) {
    const Entry* e = nullptr;
    if (r == recent_.rend() || (a != audit_.rend() && a->seq > r->seq)) {
      e = &*a++;
    } else if (a == audit_.rend() || r->seq > a->seq) {
      e = &*r++;
    } else {  // the same line in both
      e = &*r++;
      ++a;
    }
    if (q.since && e->ts < *q.since) continue;
    if (!q.types.empty() && q.types.count(e->type) == 0) continue;
    page.lines.push_back(e->line);
  }
  return page;
}

bool Journal::Archive() {
  std::string out;
  std::uint64_t lines = 0;
  std::uint64_t last = archived_seq_;
  for (const Entry& e : audit_) {
    if (e.seq <= archived_seq_) continue;
    out += e.line;
    out += '\n';
    ++lines;
    last = e.seq;
  }
  const bool existed = fs::exists(audit_path_);
  int fd = ::open(audit_path_.c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    log::Error("cannot open the audit archive",
               {{"file", audit_path_}, {"err", std::strerror(errno)}});
    return false;
  }
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  const off_t before = st.st_size;
  ok = ok && WriteAll(options_.ops, fd, out.data(), out.size()) &&
       options_.ops.fdatasync(fd) == 0;
  if (!ok) {
    log::Error("audit archive write failed",
               {{"file", audit_path_}, {"err", std::strerror(errno)}});
    // Cut the partial lines away; if that fails too, the next open drops
    // them as a torn tail.
    if (options_.ops.ftruncate(fd, before) == 0) options_.ops.fdatasync(fd);
  }
  ::close(fd);
  if (!ok || (!existed && !SyncDir(dir_))) return false;
  archived_seq_ = last;
  audit_file_lines_ += lines;
  // Rewrite it with only what is retained once it holds about twice that.
  const std::uint64_t retained =
      std::max<std::uint64_t>(options_.audit_lines, audit_.size());
  if (audit_file_lines_ > 2 * retained) {
    std::string all;
    for (const Entry& e : audit_) {
      all += e.line;
      all += '\n';
    }
    if (WriteFileAtomically(options_.ops, dir_, audit_path_, all)) {
      audit_file_lines_ = audit_.size();
    } else {
      log::Error("cannot trim the audit archive",
                 {{"file", audit_path_}, {"err", std::strerror(errno)}});
    }
  }
  return true;
}

bool Journal::Compact(const std::function<std::string()>& state) {
  std::unique_lock<std::mutex> lock(mu_);
  if (compacting_ || stopping_) return false;
  compacting_ = true;  // new appends wait
  done_cv_.wait(lock, [&] { return done_seq_ == next_seq_; });
  const std::uint64_t seq = done_seq_;
  // The writer is idle from here: its file state is ours to change. The
  // archive first: once the snapshot covers a line, nobody judges it again.
  bool ok = (!tail_dirty_ || RepairTail()) && Archive();
  if (ok) {
    const std::string snapshot =
        "{\"seq\":" + std::to_string(seq) + ",\"state\":" + state() + "}";
    ok = WriteFileAtomically(options_.ops, dir_, snapshot_path_, snapshot);
    if (!ok) {
      log::Error("snapshot write failed",
                 {{"file", snapshot_path_}, {"err", std::strerror(errno)}});
    }
  }
  if (ok) {
    // The snapshot covers the journal now: keep the old file one
    // generation; the lines that matter are in the archive.
    ::close(fd_);
    std::error_code ec;
    fs::rename(journal_path_, journal_path_ + ".1", ec);
    size_ = 0;
    if (!OpenJournalFile()) {
      log::Error("cannot reopen journal", {{"file", journal_path_}});
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      tail_dirty_ = true;  // the writer reopens it before the next batch
      ok = false;
    }
  }
  compacting_ = false;
  done_cv_.notify_all();
  return ok;
}

std::uint64_t Journal::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

}  // namespace drf::actuator
