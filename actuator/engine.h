#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actuator/actions/dns_switch.h"
#include "actuator/actions/host_reconfigure.h"
#include "actuator/intake/alertmanager.h"
#include "actuator/journal/journal.h"
#include "actuator/policy/alert_set.h"
#include "actuator/policy/decision.h"
#include "core/config/config.h"
#include "core/probe/prober.h"
#include "core/util/stopper.h"

namespace drf::actuator {

using TimePoint = std::chrono::system_clock::time_point;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// The actuator's metrics (SPEC.md §6), on one prometheus-cpp registry.
struct ActuatorMetrics {
  explicit ActuatorMetrics(const Config& config);

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Gauge>& serving_site;
  prometheus::Family<prometheus::Counter>& switches;
  prometheus::Family<prometheus::Counter>& decisions;
  prometheus::Family<prometheus::Counter>& actions;
  prometheus::Family<prometheus::Histogram>& action_duration;
  prometheus::Family<prometheus::Counter>& webhooks;
  prometheus::Family<prometheus::Gauge>& firing_alerts;
  prometheus::Gauge& paused;
  prometheus::Gauge& converged;
  prometheus::Gauge& last_switch_timestamp;
  prometheus::Family<prometheus::Gauge>& config_reload;
  prometheus::Family<prometheus::Gauge>& standby_host_ready;

  void Action(const std::string& action, bool ok, double seconds);
};

/// A switch the actuator began: journaled before any step, so a restart
/// finishes it.
struct SwitchAction {
  std::string id;
  std::string from;
  std::string to;
  Trigger trigger = Trigger::kAlert;
  std::string reason;
  TimePoint started;
  bool dns_done = false;
};

/// Hosts of the serving site still to be reconfigured.
struct HostWork {
  std::string action_id;
  std::string site;
  std::set<std::string> pending;  // "user@address:port"
  std::map<std::string, std::string> last_error;
  int attempts = 0;
  std::chrono::steady_clock::time_point next_attempt;
};

/// What the API's switch request came to.
struct ManualOutcome {
  int http_status = 202;
  std::string json;
};

/// dr-actuator's core: keeps the firing DR alerts, reads the records at
/// the provider, decides (policy/decision.h, pure) and converges actual to
/// desired with the DNS switch and host reconfiguration actions. Every
/// change of state is journaled before it takes effect, and the state is
/// rebuilt from the journal at start, so a kill -9 at any point resumes
/// the same switch rather than starting another.
///
/// Thread-safe: webhook and API handlers call in from CivetWeb's threads;
/// Run() owns the reconcile loop and a host-convergence thread.
class Engine {
 public:
  Engine(std::shared_ptr<const Config> config, bool dry_run,
         std::unique_ptr<Journal> journal,
         std::unique_ptr<linode::DnsApi> dns_api,
         std::unique_ptr<HostReconfigurer> hosts);
  ~Engine();

  /// Records a parsed notification durably, then applies it. Returns false
  /// when it could not be journaled (the webhook answers 503).
  bool Record(const Notification& notification);

  ManualOutcome RequestSwitch(const std::string& site,
                              const std::string& reason, bool force);
  bool Pause(const std::string& reason);
  bool Resume();

  std::string StatusJson();
  std::string EventsJson(std::size_t limit);

  /// Swaps in a new config (same journal and state).
  /// Takes effect at the start of the next reconcile. The new config must
  /// have an actuator section (as the constructor's).
  void Reload(std::shared_ptr<const Config> config,
              std::unique_ptr<linode::DnsApi> dns_api,
              std::unique_ptr<HostReconfigurer> hosts);

  /// Runs the reconcile loop and host convergence until `stop` fires.
  void Run(const Stopper& stop);

  /// True once the first reconcile has read the provider.
  bool Ready() const;

  ActuatorMetrics& metrics() { return *metrics_; }
  std::shared_ptr<const Config> config() const;

 private:
  void Replay();
  /// Applies one journaled event to the state: at start for the lines of
  /// the journal, then from the journal's writer thread for each new line.
  void ApplyEvent(const std::string& line, bool replaying);
  /// Appends an event durably; `fields` writes its members. Caller holds
  /// no lock.
  bool Append(const std::string& type,
              const std::function<void(JsonWriter&)>& fields);
  void Reconcile(const Stopper& stop);
  std::map<std::string, SiteHealth> Confirm(const Stopper& stop);
  void ProbeRound();
  bool BeginSwitch(const SwitchAction& action, bool force);
  void Execute(SwitchAction action, const Stopper& stop);
  void HostLoop(const Stopper& stop);
  void WarmLoop(const Stopper& stop);
  void Wake();
  void UpdateGauges();
  std::string SnapshotJson() const;
  void MaybeCompact();

  const bool dry_run_;
  std::unique_ptr<Journal> journal_;

  mutable std::mutex mu_;
  std::condition_variable_any wake_cv_;
  bool wake_ = false;
  std::condition_variable_any host_cv_;

  // Guarded by mu_.
  std::shared_ptr<const Config> config_;
  std::unique_ptr<DnsSwitch> dns_;
  std::shared_ptr<HostReconfigurer> hosts_;  // shared with the host loop
  std::unique_ptr<Prober> prober_;
  AlertSet alerts_;
  bool paused_ = false;
  std::string pause_reason_;
  TimePoint paused_at_;
  std::optional<TimePoint> last_auto_switch_;
  std::optional<TimePoint> last_manual_switch_;
  std::optional<SwitchAction> last_switch_;
  std::optional<SwitchAction> action_;
  std::optional<HostWork> host_work_;
  std::map<std::string, SiteHealth> health_;
  std::map<std::string, ProbeResult> last_probe_;
  std::string serving_;
  std::string dns_error_;
  bool dns_read_ = false;
  std::optional<Decision> last_decision_;
  TimePoint last_decision_at_;
  std::unique_ptr<ActuatorMetrics> metrics_;
  // A reload waiting for the reconcile thread.
  struct Pending {
    std::shared_ptr<const Config> config;
    std::unique_ptr<linode::DnsApi> dns_api;
    std::unique_ptr<HostReconfigurer> hosts;
  };
  std::optional<Pending> pending_reload_;
};

}  // namespace drf::actuator
