#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

#include "actuator/policy/decision.h"
#include "actuator/state/events.h"
#include "actuator/state/observed.h"
#include "actuator/state/state.h"
#include "core/config/config.h"

namespace drf::actuator {

/// The actuator's metrics (SPEC.md §6), on one prometheus-cpp registry.
/// Every label value the contract lists exists from the start at 0, so
/// rate() and increase() see the first event too. prometheus-cpp's
/// families and metrics are thread-safe; this struct adds no state.
struct ActuatorMetrics {
  explicit ActuatorMetrics(const Config& config);

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Gauge>& serving_site;
  prometheus::Family<prometheus::Counter>& switches;
  prometheus::Family<prometheus::Counter>& decisions;
  prometheus::Family<prometheus::Counter>& actions;
  prometheus::Family<prometheus::Histogram>& action_duration;
  prometheus::Family<prometheus::Counter>& webhooks;
  prometheus::Family<prometheus::Counter>& alerts_ignored;
  prometheus::Family<prometheus::Counter>& alertmanager_pulls;
  prometheus::Family<prometheus::Gauge>& firing_alerts;
  prometheus::Gauge& paused;
  prometheus::Gauge& converged;
  prometheus::Gauge& last_switch_timestamp;
  prometheus::Family<prometheus::Gauge>& config_reload;
  prometheus::Family<prometheus::Gauge>& standby_host_ready;

  /// Counts one run of `action` ("dns_update", "host_reconfigure").
  void Action(std::string_view action, bool ok, double seconds);
  void Decision(std::string_view outcome);
  /// Counts the alerts of a journaled notification that are not acted on.
  void Ignored(const event::Webhook& webhook);
  void Switch(const std::string& from, const std::string& to, Trigger trigger);
  /// Sets every gauge that follows the state and the observation: serving
  /// site, firing alerts, paused, converged, last switch time.
  void Update(const Config& config, const State& state,
              const Observed& observed, TimePoint now);
  /// Sets the per-site gauges: serving (site "unknown" when `serving` is
  /// ""), and firing alerts per site (sites missing from `firing` at 0).
  void Sites(const Config& config, const std::string& serving,
             const std::map<std::string, int>& firing);
};

}  // namespace drf::actuator
