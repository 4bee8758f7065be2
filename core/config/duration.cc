#include "core/config/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace drf {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t millis;
};

// Largest first; "ms" before "m" so that the longest suffix wins.
constexpr std::array<Unit, 7> kUnits = {{{"y", 365LL * 24 * 3600 * 1000},
                                         {"w", 7LL * 24 * 3600 * 1000},
                                         {"d", 24LL * 3600 * 1000},
                                         {"h", 3600LL * 1000},
                                         {"ms", 1},
                                         {"m", 60LL * 1000},
                                         {"s", 1000}}};

// Position of a unit in the required largest-to-smallest order.
int Rank(std::string_view unit) {
  static constexpr std::array<std::string_view, 7> kOrder = {"y", "w", "d", "h",
                                                             "m", "s", "ms"};
  for (std::size_t i = 0; i < kOrder.size(); ++i) {
    if (kOrder[i] == unit) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  if (text == "0") return Duration::zero();
  std::int64_t total = 0;
  int last_rank = -1;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t number = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (number > (std::numeric_limits<std::int64_t>::max() - 9) / 10) {
        return std::nullopt;
      }
      number = number * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    i += unit->name.size();
    int rank = Rank(unit->name);
    if (rank <= last_rank) return std::nullopt;
    last_rank = rank;
    if (number > std::numeric_limits<std::int64_t>::max() / unit->millis) {
      return std::nullopt;
    }
    std::int64_t part = number * unit->millis;
    if (total > std::numeric_limits<std::int64_t>::max() - part) {
      return std::nullopt;
    }
    total += part;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr std::array<Unit, 5> kFormatUnits = {{
      {"d", 24LL * 3600 * 1000},
      {"h", 3600LL * 1000},
      {"m", 60LL * 1000},
      {"s", 1000},
      {"ms", 1},
  }};
  for (const Unit& u : kFormatUnits) {
    if (ms >= u.millis) {
      out += std::to_string(ms / u.millis);
      out += u.name;
      ms %= u.millis;
    }
  }
  return out;
}

}  // namespace drf
