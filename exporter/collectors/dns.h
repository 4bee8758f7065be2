#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/linode/client.h"
#include "exporter/collectors/collector.h"

namespace drf::exporter {

/// Reads the configured A records (dns.records of dns.domain) from the
/// Linode DNS Manager every probe.interval and exports which site each one
/// sends users to: dr_dns_serving_site{record,site}, a state set with one
/// series per configured site plus site="unknown", and dr_dns_api_up.
///
/// `unknown` is 1 when the record's target is no site's address, when the
/// record has no A record, or when several A records of that name disagree.
/// When a read fails, the last known serving sites are kept and
/// dr_dns_api_up drops to 0 to say they are stale: a provider outage says
/// nothing about where the record points, and turning it into "unknown"
/// would page people about DNS whenever the Linode API hiccups. Failures
/// count in dr_collector_errors_total{collector="dns",reason=<kind>}; after
/// a 429 the next read waits for Retry-After.
///
/// Owns its DnsApi. Run() and ReadOnce() belong to one thread; Collect()
/// may be called from any thread and never blocks on the network.
class DnsCollector : public Collector {
 public:
  DnsCollector(std::shared_ptr<const Config> config,
               std::shared_ptr<ExporterCounters> counters,
               std::unique_ptr<linode::DnsApi> api);

  std::string_view Name() const override { return "dns"; }
  void Run(const Stopper& stop) override;
  bool Ready() const override { return ready_; }
  double LastDuration() const override { return last_duration_; }
  std::vector<prometheus::MetricFamily> Collect() const override;

  /// One read of the provider (exposed for tests). Returns the least time
  /// the next read must wait (the server's Retry-After), zero otherwise.
  Duration ReadOnce(const Stopper* stop);

  /// The `record` label value of a relative record name: "@" for the apex,
  /// because Prometheus treats an empty label value as no label at all.
  static std::string RecordLabel(const std::string& name);

  /// The `site` label value when a record points to no configured site.
  static constexpr const char* kUnknownSite = "unknown";

 private:
  linode::Result<std::vector<linode::Record>> Read(const linode::Call& call);
  void SetDown();

  std::shared_ptr<const Config> config_;
  std::shared_ptr<ExporterCounters> counters_;
  std::unique_ptr<linode::DnsApi> api_;
  std::optional<std::int64_t> domain_id_;  // Run thread only

  mutable std::mutex mu_;
  bool attempted_ = false;  // a read has finished, well or not
  bool api_up_ = false;
  // Per entry of config_->dns.records: a site name or kUnknownSite; empty
  // until the first successful read.
  std::vector<std::string> serving_;

  std::atomic<bool> ready_{false};
  std::atomic<double> last_duration_{0};
};

/// The DNS collector for `config`. Loads the Linode token (dns.token_file,
/// else LINODE_TOKEN) and throws std::runtime_error when there is none, so
/// the daemon refuses to start (or a reload is refused).
std::unique_ptr<Collector> NewDnsCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters);

}  // namespace drf::exporter
