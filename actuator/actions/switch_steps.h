#pragma once

#include <functional>
#include <optional>
#include <string>

#include "actuator/actions/dns_switch.h"
#include "actuator/metrics.h"
#include "actuator/state/events.h"
#include "actuator/state/state.h"
#include "core/config/config.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// The journaled steps of a switch to site T (SPEC.md §6): the intent
/// (switch_started, before anything else), the DNS step (every record PUT
/// and verified: dns_updated, or dns_failed and retried next round, or
/// switch_abandoned when T left the config), and the end (switch_completed
/// once every host is done; the hosts themselves are HostWorker's). Every
/// step is idempotent, so a step repeated after a crash changes nothing.
/// Used by the reconcile thread only; not thread-safe.
class SwitchSteps {
 public:
  /// Appends an event durably (the engine's journal); false if it could
  /// not be written.
  using Journal = std::function<bool(const Event&)>;

  SwitchSteps(Journal journal, ActuatorMetrics& metrics)
      : journal_(std::move(journal)), metrics_(metrics) {}

  /// Journals switch_started with a new id; returns it, or nullopt when it
  /// could not be journaled (then nothing started).
  std::optional<std::string> Start(const Config& config,
                                   const std::string& from,
                                   const std::string& to, Trigger trigger,
                                   const std::string& reason, bool force);

  /// The DNS step of `action`. True when the records point at action.to,
  /// verified (dns_updated is journaled; if that write fails, the next
  /// round repeats the step, which then writes nothing).
  bool Dns(DnsSwitch& dns, const Config& config, const SwitchAction& action,
           const Stopper& stop);

  /// switch_completed for `work` when none of its hosts is pending.
  void CompleteIfDone(const Config& config, const HostWork& work);

 private:
  Journal journal_;
  ActuatorMetrics& metrics_;
};

}  // namespace drf::actuator
