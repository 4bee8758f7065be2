#include "exporter/collectors/site_health.h"

#include <chrono>

#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace drf::exporter {
namespace {

log::RateLimiter g_log_limit(std::chrono::seconds(60));

}  // namespace

SiteHealthCollector::SiteHealthCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters)
    : config_(std::move(config)),
      counters_(std::move(counters)),
      prober_(config_->probe),
      state_(config_->sites.size()) {
  for (const SiteConfig& site : config_->sites) {
    urls_.push_back(site.health_url);
    for (const char* result : {"success", "failure"}) {
      counters_->probes.Touch({site.name, result});
    }
    for (const char* reason : {"timeout", "connect", "dns", "tls", "status"}) {
      counters_->probe_failures.Touch({site.name, reason});
    }
  }
}

void SiteHealthCollector::ProbeOnce() {
  auto start = std::chrono::steady_clock::now();
  std::vector<ProbeResult> results = prober_.ProbeAll(urls_);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const SiteConfig& site = config_->sites[i];
    const ProbeResult& r = results[i];
    counters_->probes.Inc({site.name, r.up ? "success" : "failure"});
    if (!r.up) {
      counters_->probe_failures.Inc(
          {site.name, std::string(http::FailureName(r.failure))});
      long suppressed = 0;
      if (g_log_limit.Allow(site.name, &suppressed)) {
        log::Warn("site probe failed",
                  {{"site", site.name},
                   {"reason", http::FailureName(r.failure)},
                   {"err", r.error},
                   {"suppressed", std::to_string(suppressed)}});
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < results.size(); ++i) {
      SiteState& s = state_[i];
      if (!results[i].up) {
        ++s.consecutive_failures;
      } else {
        if (s.probed && !s.last.up) {
          log::Info("site probe recovered", {{"site", config_->sites[i].name}});
        }
        s.consecutive_failures = 0;
      }
      s.last = std::move(results[i]);
      s.probed = true;
    }
  }
  last_duration_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ready_ = true;
}

void SiteHealthCollector::Run(const Stopper& stop) {
  auto next = std::chrono::steady_clock::now();
  while (!stop.stopped()) {
    ProbeOnce();
    next += config_->probe.interval;
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a slow round skips ticks, never bursts
    if (stop.WaitUntil(next)) break;
  }
}

std::vector<prometheus::MetricFamily> SiteHealthCollector::Collect() const {
  auto up = metrics::Gauge("dr_site_up",
                           "1 if the last health probe of the site passed.");
  auto duration = metrics::Gauge("dr_site_probe_duration_seconds",
                                 "Duration of the last health probe.");
  auto status = metrics::Gauge("dr_site_probe_http_status_code",
                               "HTTP status of the last probe, 0 if none.");
  auto consecutive =
      metrics::Gauge("dr_site_consecutive_failures",
                     "Failed health probes in a row since the last success.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < state_.size(); ++i) {
      const SiteState& s = state_[i];
      if (!s.probed) continue;
      metrics::Labels labels = {{"site", config_->sites[i].name}};
      up.Add(labels, s.last.up ? 1 : 0);
      duration.Add(labels, s.last.seconds);
      status.Add(labels, static_cast<double>(s.last.status));
      consecutive.Add(labels, static_cast<double>(s.consecutive_failures));
    }
  }
  std::vector<prometheus::MetricFamily> out;
  out.push_back(up.Build());
  out.push_back(duration.Build());
  out.push_back(status.Build());
  out.push_back(consecutive.Build());
  out.push_back(counters_->probes.Collect());
  out.push_back(counters_->probe_failures.Collect());
  return out;
}

std::unique_ptr<Collector> NewSiteHealthCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters) {
  return std::make_unique<SiteHealthCollector>(std::move(config),
                                               std::move(counters));
}

}  // namespace drf::exporter
