#include "actuator/journal/journal.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/log/log.h"

namespace drf::actuator {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSeqPrefix = "{\"seq\":";

bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
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
bool WriteFileAtomically(const std::string& dir, const std::string& path,
                         const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = WriteAll(fd, content.data(), content.size()) && ::fsync(fd) == 0;
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
// loses nothing promised. `*clean_bytes` is the length of the kept part.
std::vector<std::string> ReadLines(const std::string& path,
                                   std::size_t* clean_bytes) {
  std::vector<std::string> lines;
  const std::string all = ReadFile(path);
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t nl = all.find('\n', start);
    if (nl == std::string::npos) {
      log::Warn(
          "journal: dropping a torn last line",
          {{"file", path}, {"bytes", std::to_string(all.size() - start)}});
      break;
    }
    if (nl > start) lines.push_back(all.substr(start, nl - start));
    start = nl + 1;
  }
  if (clean_bytes != nullptr) *clean_bytes = start;
  return lines;
}

}  // namespace

std::uint64_t LineSeq(const std::string& line) {
  if (line.compare(0, kSeqPrefix.size(), kSeqPrefix) != 0) return 0;
  std::uint64_t seq = 0;
  const char* begin = line.data() + kSeqPrefix.size();
  std::from_chars(begin, line.data() + line.size(), seq);
  return seq;
}

Journal::Journal(std::string dir, std::size_t keep_in_memory)
    : dir_(std::move(dir)),
      journal_path_(dir_ + "/journal.jsonl"),
      snapshot_path_(dir_ + "/snapshot.json"),
      keep_in_memory_(keep_in_memory) {
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
  // The previous file first: a crash between writing the snapshot and
  // rotating leaves lines of either file on either side of it.
  std::uint64_t last_seq = snapshot_seq_;
  std::size_t clean = 0;
  for (const std::string& path : {journal_path_ + ".1", journal_path_}) {
    for (std::string& l : ReadLines(path, &clean)) {
      const std::uint64_t seq = LineSeq(l);
      last_seq = std::max(last_seq, seq);
      recent_.push_back(l);
      if (recent_.size() > keep_in_memory_) recent_.pop_front();
      if (seq > snapshot_seq_) replay_.push_back(std::move(l));
    }
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

bool Journal::OpenJournalFile() {
  fd_ = ::open(journal_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
               0600);
  if (fd_ < 0) return false;
  return SyncDir(dir_);
}

bool Journal::Append(const std::string& object) {
  if (object.size() < 2 || object.front() != '{' || object.back() != '}') {
    return false;
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return !compacting_ || stopping_; });
  if (stopping_) return false;
  const std::uint64_t seq = ++next_seq_;
  pending_ += kSeqPrefix;
  pending_ += std::to_string(seq);
  if (object.size() > 2) pending_ += ',';
  pending_.append(object, 1, std::string::npos);
  pending_ += '\n';
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return done_seq_ >= seq || stopping_; });
  if (done_seq_ < seq) return false;
  for (const auto& [first, last] : failed_) {
    if (seq > first && seq <= last) return false;
  }
  return true;
}

void Journal::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (pending_.empty() && stopping_) return;
    std::string batch;
    batch.swap(pending_);
    const std::uint64_t last = next_seq_;
    const std::uint64_t first = done_seq_;
    lock.unlock();
    bool ok = fd_ >= 0 && WriteAll(fd_, batch.data(), batch.size()) &&
              ::fdatasync(fd_) == 0;
    if (!ok) {
      log::Error("journal write failed",
                 {{"file", journal_path_}, {"err", std::strerror(errno)}});
    }
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < batch.size()) {
      std::size_t nl = batch.find('\n', start);
      lines.push_back(batch.substr(start, nl - start));
      start = nl + 1;
    }
    if (ok && apply_) {
      for (const std::string& l : lines) apply_(l);
    }
    lock.lock();
    if (ok) {
      size_ += batch.size();
      for (std::string& l : lines) {
        recent_.push_back(std::move(l));
        if (recent_.size() > keep_in_memory_) recent_.pop_front();
      }
    } else {
      failed_.emplace_back(first, last);
      if (failed_.size() > 256) failed_.pop_front();
    }
    done_seq_ = last;
    done_cv_.notify_all();
  }
}

std::vector<std::string> Journal::Recent(std::size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (auto it = recent_.rbegin(); it != recent_.rend() && out.size() < limit;
       ++it) {
    out.push_back(*it);
  }
  return out;
}

EventPage Journal::Events(const EventQuery& q) const {
  EventPage page;
  for (std::string& line : Recent(keep_in_memory_)) {
    if (page.lines.size() >= q.limit) break;
    rapidjson::Document d;
    d.Parse(line.c_str(), line.size());
    if (d.HasParseError() || !d.IsObject()) continue;
    auto type = d.FindMember("type");
    if (!q.types.empty() && (type == d.MemberEnd() || !type->value.IsString() ||
                             !q.types.count(type->value.GetString()))) {
      continue;
    }
    page.lines.push_back(std::move(line));
  }
  return page;
}

bool Journal::Compact(const std::function<std::string()>& state) {
  std::unique_lock<std::mutex> lock(mu_);
  if (compacting_ || stopping_) return false;
  compacting_ = true;  // new appends wait
  done_cv_.wait(lock, [&] { return done_seq_ == next_seq_; });
  const std::uint64_t seq = done_seq_;
  const std::string snapshot =
      "{\"seq\":" + std::to_string(seq) + ",\"state\":" + state() + "}";
  bool ok = WriteFileAtomically(dir_, snapshot_path_, snapshot);
  if (!ok) {
    log::Error("snapshot write failed",
               {{"file", snapshot_path_}, {"err", std::strerror(errno)}});
  } else {
    // The snapshot covers the journal now: keep the old file one
    // generation, for the audit trail.
    ::close(fd_);
    std::error_code ec;
    fs::rename(journal_path_, journal_path_ + ".1", ec);
    if (!OpenJournalFile()) {
      log::Error("cannot reopen journal", {{"file", journal_path_}});
      fd_ = -1;
      ok = false;
    }
    size_ = 0;
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
