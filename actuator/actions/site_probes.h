#pragma once

#include <map>
#include <string>
#include <vector>

#include "actuator/policy/decision.h"
#include "actuator/state/observed.h"
#include "core/config/config.h"
#include "core/probe/prober.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// The actuator's own probes of the sites' health endpoints (it confirms
/// before it acts, SPEC.md §6): a round of one probe per site, and the
/// confirmation burst. Owns its Prober; not thread-safe (the reconcile
/// thread's).
class SiteProbes {
 public:
  explicit SiteProbes(const ProbeConfig& config) : prober_(config) {}

  /// One probe of every site of `config`, concurrently; in site order.
  std::vector<ProbeResult> Round(const Config& config);

  /// The confirmation burst: actuator.confirm.probes rounds,
  /// confirm.interval apart (cut short when `stop` fires). Per site, in
  /// site order, how many of its probes passed.
  std::vector<int> Burst(const Config& config, const Stopper& stop);

 private:
  Prober prober_;
};

/// Notes one Round into `observed`: health, healthy_since (kept while the
/// site stays up, reset when it fails) and the last probe. Pure.
void NoteRound(const Config& config, const std::vector<ProbeResult>& results,
               TimePoint now, Observed* observed);

/// The health a Burst confirms, over `base`: a site is healthy when a
/// strict majority of its `probes` passed. Pure.
std::map<std::string, SiteHealth> Confirmed(
    const Config& config, const std::vector<int>& passed, int probes,
    std::map<std::string, SiteHealth> base);

}  // namespace drf::actuator
