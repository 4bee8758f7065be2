#pragma once

#include <chrono>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace drf::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kLogfmt, kJson };

/// A key=value pair of a structured log line.
using Field = std::pair<std::string_view, std::string_view>;

/// Configures the process-wide logger (spdlog, to stderr). Thread-safe.
/// Returns false for an unknown level or format name.
bool Setup(std::string_view level, std::string_view format);

bool Enabled(Level level);

/// Writes one structured line: ts, level, msg, then the fields in order.
void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields = {});

/// Renders a line without writing it (exposed for tests).
std::string Render(Format format, Level level, std::string_view msg,
                   std::initializer_list<Field> fields,
                   std::chrono::system_clock::time_point now);

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kError, msg, f);
}

/// Lets a recurring message through at most once per `period` per key, so a
/// site that fails every probe does not flood the log (the metrics carry
/// every occurrence). Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(std::chrono::steady_clock::duration period)
      : period_(period) {}

  /// True if a message for `key` may be written now; `suppressed` receives
  /// how many were held back since the last one that passed.
  bool Allow(const std::string& key, long* suppressed);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last;
    long suppressed = 0;
  };
  std::chrono::steady_clock::duration period_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace drf::log
