#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <string_view>

#include "core/config/config.h"
#include "core/metrics/counter_vec.h"
#include "core/util/stopper.h"

namespace drf::exporter {

/// Counters that outlive any one config (and so any one set of collectors),
/// so that a reload never resets a counter. Thread-safe.
struct ExporterCounters {
  metrics::CounterVec probes{"dr_site_probes_total",
                             "Health probes of each site, by result.",
                             {"site", "result"}};
  metrics::CounterVec probe_failures{
      "dr_site_probe_failures_total",
      "Failed health probes of each site, by reason.",
      {"site", "reason"}};
  metrics::CounterVec collector_errors{"dr_collector_errors_total",
                                       "Errors of each collector, by reason.",
                                       {"collector", "reason"}};
};

/// One kind of probe (site health, DynamoDB, DNS record). Run() works in
/// the background on its own thread until stopped; Collect() snapshots the
/// latest results and never blocks on the network. Built for one config;
/// a reload builds new collectors.
class Collector : public prometheus::Collectable {
 public:
  /// The `collector` label value.
  virtual std::string_view Name() const = 0;

  /// Collects until `stop` fires. Must not throw.
  virtual void Run(const Stopper& stop) = 0;

  /// True once the first round has finished (for /-/ready).
  virtual bool Ready() const = 0;

  /// Wall time of the last complete round, in seconds.
  virtual double LastDuration() const = 0;
};

/// The constructor signature of every collector kind.
using CollectorFactory =
    std::unique_ptr<Collector> (*)(std::shared_ptr<const Config> config,
                                   std::shared_ptr<ExporterCounters> counters);

}  // namespace drf::exporter
