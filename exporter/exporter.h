#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.h"
#include "core/http/server.h"
#include "exporter/collectors/collector.h"

namespace drf::exporter {

/// dr-exporter: runs the collectors for the current config in the
/// background and serves their latest results. Reload() swaps in a new
/// config (new collectors, same counters) or keeps the old one when the new
/// one is bad. Thread-safe.
class Exporter : public prometheus::Collectable {
 public:
  Exporter(std::string config_path, std::shared_ptr<const Config> config);
  ~Exporter() override;

  /// Starts the collectors. Collector construction errors (for example
  /// missing credentials) throw.
  void Start();
  void Stop();

  /// Re-reads the config file; returns "" on success, else the error.
  std::string Reload();

  /// Everything /metrics serves, in the text exposition format.
  std::string Scrape() const;
  bool Ready() const;

  /// Routes /metrics, /-/healthy, /-/ready, /-/reload on `server`.
  void Register(http::Server& server);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Generation {
    std::shared_ptr<const Config> config;
    std::vector<std::shared_ptr<Collector>> collectors;
    std::unique_ptr<Stopper> stop;
    std::vector<std::thread> threads;
  };

  std::unique_ptr<Generation> Build(std::shared_ptr<const Config> config);
  static void Launch(Generation& g);
  static void Halt(Generation& g);

  const std::string config_path_;
  std::shared_ptr<ExporterCounters> counters_;
  std::atomic<bool> last_reload_ok_{true};
  std::mutex reload_mu_;  // serializes Reload/Start/Stop
  // Readers take a copy of the shared_ptr under gen_mu_ and then work
  // without the lock, so a reload never blocks a scrape for long.
  mutable std::mutex gen_mu_;
  std::shared_ptr<Generation> gen_;
};

}  // namespace drf::exporter
