#pragma once

#include "core/config/duration.h"

namespace drf {

/// The wait before the next attempt after `failures` failed ones (>= 1; 0
/// reads as 1): capped exponential backoff with full jitter, uniform in
/// [0, min(cap, base * 2^(failures-1))) for `unit` uniform in [0, 1)
/// (`unit` is clamped to [0, 1]; 1 gives the ceiling itself). The caller
/// owns the randomness, so this is pure: no overflow for any `failures`,
/// thread-safe.
Duration Backoff(Duration base, Duration cap, int failures, double unit);

}  // namespace drf
