#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <functional>
#include <memory>

#include "actuator/policy/alert_set.h"
#include "actuator/state/events.h"
#include "core/config/config.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// Alerts pulled as well as pushed (SPEC.md §10): every
/// actuator.alertmanager.interval, pulls the active DR alerts
/// (AlertmanagerPuller) and journals what changed as alerts_pulled: a
/// firing alert the pull no longer lists is resolved, as if its resolved
/// notification had arrived. A failed pull changes nothing; every pull is
/// counted in dr_actuator_alertmanager_pulls_total{result}. Follows
/// reloads (the section may come, go or change). Runs on a thread of its
/// own (Run); reaches the actuator only through `hooks`.
class AlertPullLoop {
 public:
  struct Hooks {
    std::function<std::shared_ptr<const Config>()> config;
    std::function<AlertSet()> alerts;  // a copy of the alert set now
    std::function<bool(const event::AlertsPulled&)> journal;
  };

  AlertPullLoop(Hooks hooks, prometheus::Family<prometheus::Counter>& pulls)
      : hooks_(std::move(hooks)), pulls_(pulls) {}

  void Run(const Stopper& stop);

 private:
  Hooks hooks_;
  prometheus::Family<prometheus::Counter>& pulls_;
};

}  // namespace drf::actuator
