#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actuator/actions/dns_switch.h"
#include "actuator/actions/host_reconfigure.h"
#include "actuator/actions/host_worker.h"
#include "actuator/actions/site_probes.h"
#include "actuator/actions/switch_steps.h"
#include "actuator/intake/alertmanager.h"
#include "actuator/intents.h"
#include "actuator/journal/journal.h"
#include "actuator/metrics.h"
#include "actuator/state/observed.h"
#include "actuator/state/state.h"
#include "core/config/config.h"
#include "core/probe/prober.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// What an operator's switch request came to: the HTTP status and body.
struct ManualOutcome {
  int http_status = 202;
  std::string json;
};

/// An operator's POST /api/v1/switch, as the reconcile thread decides it.
struct SwitchIntent {
  std::string target;
  std::string reason;
  bool force = false;
};

/// dr-actuator's orchestration loop: read inputs -> decide -> execute one
/// step -> journal. The policy is pure (policy/decision.h), the memory is
/// the journal folded by a pure reducer (state/state.h), and the steps are
/// the actions (actions/). Every change of State is an event journaled
/// (fsync'd) and then applied, in seq order, by the journal's writer
/// thread: State has that one writer, and the state after a crash is the
/// state before it.
///
/// Threads, and what each may do:
///  - the reconcile thread (Run): the only one that decides and acts on
///    the provider: it journals started, decision, switch_started, dns_updated,
///    dns_failed, switch_completed, switch_abandoned and
///    manual_switch_refused, and writes Observed. Operator switch requests
///    reach it as intents, decided in order between two rounds, so a switch
///    never starts while another is before its DNS step (SPEC.md §9).
///  - the host thread (HostWorker): converges the hosts of the last switch
///    (one HostReconfigurer loop per piece of work, cancelled when a newer
///    switch or a reload supersedes it); journals host_reconfigured and
///    host_failed.
///  - the warm thread (StandbyWarmer): keeps SSH sessions to standby hosts.
///  - the pull thread (AlertPullLoop, with actuator.alertmanager): pulls
///    the active DR alerts and journals alerts_pulled with what changed.
///  - HTTP threads (HttpApi): journal webhook, paused and resumed; submit
///    switch intents and wait for the reconcile thread's answer (bounded);
///    read the views.
///  - the journal's writer thread: applies each durable event to State.
/// Lock order: the journal's lock, then mu_, then the HostWorker's (Offer
/// is called under mu_). The IntentQueue's lock is never held with mu_.
/// Nothing holds mu_ while it calls into the journal (Append waits for the
/// writer thread, which takes mu_ to apply) or does network I/O, or sleeps.
class Engine {
 public:
  Engine(std::shared_ptr<const Config> config, bool dry_run,
         std::unique_ptr<Journal> journal,
         std::unique_ptr<linode::DnsApi> dns_api,
         std::shared_ptr<HostReconfigurer> hosts);
  ~Engine();

  /// Journals a parsed notification (HTTP thread). Returns false when it
  /// could not be journaled (the webhook answers 503).
  bool Record(const Notification& notification);

  /// An operator's switch (HTTP thread): 400 for an unknown site, else an
  /// intent that the reconcile thread decides on; waits for its answer.
  /// When the reconcile thread does not take it within a bound (a long
  /// provider call), answers 503 and the intent is withdrawn: nothing
  /// started.
  ManualOutcome RequestSwitch(const std::string& site,
                              const std::string& reason, bool force);
  bool Pause(const std::string& reason);
  bool Resume();

  std::string StatusJson() const;
  std::string EventsJson(const EventQuery& query) const;

  /// Swaps in a new config (same journal and state); it takes effect at
  /// the start of the next round. It must have an actuator section.
  void Reload(std::shared_ptr<const Config> config,
              std::unique_ptr<linode::DnsApi> dns_api,
              std::shared_ptr<HostReconfigurer> hosts);

  /// Runs the reconcile loop, the host and the warm threads until `stop`.
  void Run(const Stopper& stop);

  /// True once the first round has read the provider.
  bool Ready() const;

  ActuatorMetrics& metrics() { return *metrics_; }
  std::shared_ptr<const Config> config() const;

  /// How long an operator's switch waits for the reconcile thread to take
  /// it up before the answer is 503.
  static constexpr auto kIntentWait = std::chrono::seconds(30);

 private:
  // The journal's apply callback (writer thread).
  bool OnJournaled(const std::string& line);
  bool Append(const Event& event);

  // The reconcile thread.
  void Reconcile(const Stopper& stop);
  void ApplyReload();
  void ProbeRound(const Config& config);
  std::map<std::string, SiteHealth> Confirm(const Config& config,
                                            const Stopper& stop);
  void ReadDns(const Stopper& stop);
  DecisionInput Inputs(const Config& config);
  ManualOutcome Serve(const SwitchIntent& intent, const Stopper& stop);
  void DecideAndAct(const Stopper& stop);
  std::optional<SwitchAction> StartSwitch(
      const Config& config, const std::string& from, const std::string& to,
      Trigger trigger, const std::string& reason, bool force);
  void DnsStep(const SwitchAction& action, const Stopper& stop);
  void UpdateGauges();
  void MaybeCompact();

  void OfferHostWork();  // mu_ held

  const bool dry_run_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<ActuatorMetrics> metrics_;

  // The reconcile thread's alone.
  std::unique_ptr<DnsSwitch> dns_;
  std::unique_ptr<SiteProbes> probes_;
  HostWorker host_worker_;
  SwitchSteps steps_;

  mutable std::mutex mu_;
  std::condition_variable wake_cv_;  // the reconcile thread waits
  IntentQueue<SwitchIntent, ManualOutcome> intents_;

  // Guarded by mu_.
  State state_;        // written only by OnJournaled
  Observed observed_;  // written only by the reconcile thread
  std::shared_ptr<const Config> config_;
  std::shared_ptr<HostReconfigurer> hosts_;
  bool wake_ = false;
  struct PendingReload {
    std::shared_ptr<const Config> config;
    std::unique_ptr<linode::DnsApi> dns_api;
    std::shared_ptr<HostReconfigurer> hosts;
  };
  std::optional<PendingReload> pending_reload_;
  // Bumped by a reload, so that host work given up on is tried again with
  // the new config.
  std::uint64_t host_generation_ = 0;
};

}  // namespace drf::actuator
