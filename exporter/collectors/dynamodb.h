#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dynamodb/client.h"
#include "exporter/collectors/collector.h"

namespace drf::exporter {

/// Watches the DynamoDB tables of every site's region and the replication
/// lag between regions, and exports dr_dynamodb_* metrics.
///
/// One worker thread per site, each owning that site's DynamoDB client
/// (the site's region and endpoint), so a hung or slow region never delays
/// another region or a scrape. Every probe.interval a worker describes each
/// configured table; every heartbeat.interval (when configured) it writes
/// its site's heartbeat item in its own region and reads every other site's
/// item there. Replication lag is computed at scrape time from the newest
/// heartbeat read, so it keeps growing while replication is broken.
///
/// Thread-safe: workers publish results under a mutex that Collect() holds
/// only to copy them; no lock is held during network I/O.
class DynamoDbCollector : public Collector {
 public:
  /// Builds the DynamoDB client of one site.
  using ApiFactory =
      std::function<std::unique_ptr<dynamodb::Api>(const SiteConfig& site)>;

  /// `config->dynamodb` must be set. Calls `make_api` once per site, here
  /// (so that its errors surface at start-up).
  DynamoDbCollector(std::shared_ptr<const Config> config,
                    std::shared_ptr<ExporterCounters> counters,
                    const ApiFactory& make_api);

  std::string_view Name() const override { return "dynamodb"; }
  /// Starts one worker per site; returns once `stop` fired and every worker
  /// finished its current request.
  void Run(const Stopper& stop) override;
  bool Ready() const override;
  double LastDuration() const override;
  std::vector<prometheus::MetricFamily> Collect() const override;

  // One round of one site's worker, and the metrics as of a given wall
  // time (seconds since the epoch); exposed for tests. A site's rounds must
  // not run concurrently with each other.
  void DescribeOnce(std::size_t site, const Stopper* stop = nullptr);
  void HeartbeatOnce(std::size_t site, double now_seconds,
                     const Stopper* stop = nullptr);
  std::vector<prometheus::MetricFamily> CollectAt(double now_seconds) const;

 private:
  struct TableState {
    std::string status;
    std::vector<dynamodb::ReplicaDescription> replicas;
  };
  struct SiteState {
    std::optional<bool> describe_ok;   // last describe round had no error
    std::optional<bool> heartbeat_ok;  // last heartbeat round had no error
    std::map<std::string, TableState> tables;  // described in the last round
  };
  struct Worker {
    std::unique_ptr<dynamodb::Api> api;  // used by the worker thread only
    std::atomic<bool> first_round_done{false};
    std::atomic<double> last_round_seconds{0};
  };

  void Work(std::size_t site, const Stopper& stop);
  void Fail(std::size_t site, std::string_view op, const std::string& table,
            const dynamodb::Error& error);
  void Publish(std::size_t site, const std::function<void(SiteState&)>& f);

  std::shared_ptr<const Config> config_;
  std::shared_ptr<ExporterCounters> counters_;
  std::vector<std::unique_ptr<Worker>> workers_;  // parallel to sites

  mutable std::mutex mu_;
  std::vector<SiteState> sites_;  // parallel to config_->sites
  // Newest heartbeat time read, by (source site, target site) index.
  std::map<std::pair<std::size_t, std::size_t>, double> heartbeats_;
};

/// The factory of the `kKinds` table: nullptr without a dynamodb section.
/// Loads the AWS credentials from the environment; throws
/// std::runtime_error with a clear message when they are missing.
std::unique_ptr<Collector> NewDynamoDbCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters);

}  // namespace drf::exporter
