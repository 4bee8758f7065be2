#pragma once

#include <map>
#include <optional>
#include <string>

#include "actuator/intake/time.h"
#include "actuator/policy/decision.h"
#include "core/probe/prober.h"

namespace drf::actuator {

/// What the actuator last saw of the world, as opposed to what it
/// remembers (State): the records at the DNS provider and its own probes of
/// the sites. Volatile (re-read every round, never journaled). Written only
/// by the reconcile thread; a plain value.
struct Observed {
  /// The site every configured record points to; "" when unknown.
  std::string serving;
  /// Why `serving` is unknown (provider error, records split), "" if known.
  std::string serving_unknown_because;
  /// The provider has been read at least once.
  bool dns_read = false;
  /// The actuator's own view of each site's health.
  std::map<std::string, SiteHealth> health;
  std::map<std::string, ProbeResult> last_probe;
  /// Under --dry-run, the switch found in progress in the journal that a
  /// real run would finish ("" when none).
  std::string dry_run_would_finish;
};

/// Records and hosts are as decided: the serving site is known, no switch
/// is before its DNS step, and every host of the last one is done.
/// (`hosts_pending`: the count of hosts still to reconfigure.)
inline bool Converged(const std::string& serving, bool action_in_progress,
                      std::size_t hosts_pending) {
  return !serving.empty() && !action_in_progress && hosts_pending == 0;
}

}  // namespace drf::actuator
