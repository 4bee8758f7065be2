#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "actuator/actions/host_reconfigure.h"
#include "core/config/config.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// Keeps SSH sessions open to the hosts of every site that does not serve,
/// so that the next switch does not start with a key exchange per host, and
/// shows each such host's readiness as dr_actuator_standby_host_ready (one
/// series per standby host, none for the serving site's, none while the
/// serving site is unknown: no switch starts then, so nothing is prepared).
///
/// Runs on a thread of its own (Run): a host that does not answer holds it
/// up to ssh.connect_timeout, never a switch. Reads what it needs through
/// `inputs`, which the owner answers from its own state under its own lock.
class StandbyWarmer {
 public:
  struct Inputs {
    std::shared_ptr<const Config> config;
    std::shared_ptr<HostReconfigurer> hosts;  // null: nothing to warm
    std::string serving;                      // "" when unknown
  };

  StandbyWarmer(std::function<Inputs()> inputs,
                prometheus::Family<prometheus::Gauge>& ready);

  /// One round: warms the standby hosts and updates the gauges.
  void Round();
  /// Rounds every `every` until `stop` fires.
  void Run(const Stopper& stop, Duration every);

 private:
  std::function<Inputs()> inputs_;
  prometheus::Family<prometheus::Gauge>& ready_;
  // The series set by the last round, by (site, host). Only Run's thread
  // touches it.
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> gauges_;
};

}  // namespace drf::actuator
