#include "core/util/backoff.h"

#include <algorithm>
#include <cmath>

namespace drf {

Duration Backoff(Duration base, Duration cap, int failures, double unit) {
  const double b = static_cast<double>(base.count());
  const double c = static_cast<double>(cap.count());
  // 2^62 ms is far past any cap; the clamp keeps ldexp finite.
  const int exponent = std::min(std::max(failures, 1) - 1, 62);
  const double ceiling =
      std::max(0.0, std::min(c, b * std::ldexp(1.0, exponent)));
  const double u = std::clamp(unit, 0.0, 1.0);
  return Duration(static_cast<Duration::rep>(ceiling * u));
}

}  // namespace drf
