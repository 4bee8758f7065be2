#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "core/probe/prober.h"
#include "exporter/collectors/collector.h"

namespace drf::exporter {

/// Probes every site's health endpoint at probe.interval, all sites at once
/// (libcurl multi), and exports dr_site_* metrics.
class SiteHealthCollector : public Collector {
 public:
  SiteHealthCollector(std::shared_ptr<const Config> config,
                      std::shared_ptr<ExporterCounters> counters);

  std::string_view Name() const override { return "site_health"; }
  void Run(const Stopper& stop) override;
  bool Ready() const override { return ready_; }
  double LastDuration() const override { return last_duration_; }
  std::vector<prometheus::MetricFamily> Collect() const override;

  /// One probe round (exposed for tests).
  void ProbeOnce();

 private:
  struct SiteState {
    bool probed = false;
    ProbeResult last;
    long consecutive_failures = 0;
  };

  std::shared_ptr<const Config> config_;
  std::shared_ptr<ExporterCounters> counters_;
  Prober prober_;
  std::vector<std::string> urls_;
  mutable std::mutex mu_;
  std::vector<SiteState> state_;  // parallel to config_->sites
  std::atomic<bool> ready_{false};
  std::atomic<double> last_duration_{0};
};

std::unique_ptr<Collector> NewSiteHealthCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters);

}  // namespace drf::exporter
