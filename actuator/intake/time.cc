#include "actuator/intake/time.h"

#include <cstdint>
#include <cstdio>

namespace drf::actuator {
namespace {

constexpr std::string_view kGoZeroTime = "0001-01-01T00:00:00Z";

// Reads exactly `n` ASCII digits at `*pos`; advances `*pos` on success.
bool Digits(std::string_view s, std::size_t* pos, int n, int* out) {
  if (*pos + static_cast<std::size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += static_cast<std::size_t>(n);
  *out = v;
  return true;
}

bool Expect(std::string_view s, std::size_t* pos, char a, char b = '\0') {
  if (*pos >= s.size()) return false;
  char c = s[*pos];
  if (c != a && (b == '\0' || c != b)) return false;
  ++*pos;
  return true;
}

}  // namespace

std::optional<TimePoint> ParseRfc3339(std::string_view text) {
  using std::chrono::days;
  using std::chrono::nanoseconds;
  using std::chrono::seconds;

  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !Digits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !Digits(text, &pos, 2, &day) || !Expect(text, &pos, 'T', 't') ||
      !Digits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !Digits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !Digits(text, &pos, 2, &second)) {
    return std::nullopt;
  }
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++digits > 9) return std::nullopt;
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  if (pos >= text.size()) return std::nullopt;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int oh = 0, om = 0;
    if (!Digits(text, &pos, 2, &oh) || !Expect(text, &pos, ':') ||
        !Digits(text, &pos, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  if (year == 1 && month == 1 && day == 1 && hour == 0 && minute == 0 &&
      second == 0 && nanos == 0 && offset_minutes == 0) {
    return TimePoint{};
  }
  if (year < 1970 || year > 2261) return std::nullopt;
  std::chrono::year_month_day ymd{
      std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
      std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  std::chrono::sys_days date{ymd};
  // All terms fit easily in int64 nanoseconds for years 1970..2261.
  nanoseconds since_epoch = date.time_since_epoch() + std::chrono::hours(hour) +
                            std::chrono::minutes(minute - offset_minutes) +
                            seconds(second) + nanoseconds(nanos);
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(since_epoch));
}

std::string FormatRfc3339(TimePoint t) {
  if (t == TimePoint{}) return std::string(kGoZeroTime);
  using std::chrono::nanoseconds;
  nanoseconds ns =
      std::chrono::duration_cast<nanoseconds>(t.time_since_epoch());
  auto day_start = std::chrono::floor<std::chrono::days>(ns);
  std::chrono::year_month_day ymd{std::chrono::sys_days{day_start}};
  std::chrono::hh_mm_ss<nanoseconds> hms{ns - day_start};
  char buf[64];
  int n = std::snprintf(
      buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d",
      static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
      static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
      static_cast<int>(hms.minutes().count()),
      static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  std::int64_t frac = hms.subseconds().count();
  if (frac != 0) {
    char fbuf[16];
    std::snprintf(fbuf, sizeof(fbuf), ".%09lld", static_cast<long long>(frac));
    std::string f(fbuf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += 'Z';
  return out;
}

}  // namespace drf::actuator
