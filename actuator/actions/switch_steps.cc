#include "actuator/actions/switch_steps.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>

#include "actuator/ssh/session.h"
#include "core/log/log.h"

namespace drf::actuator {
namespace {

std::string NewActionId() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

std::optional<std::string> SwitchSteps::Start(
    const Config& config, const std::string& from, const std::string& to,
    Trigger trigger, const std::string& reason, bool force) {
  event::SwitchStarted e;
  e.id = NewActionId();
  e.from = from;
  e.to = to;
  e.trigger = trigger;
  e.reason = reason;
  e.force = force;
  e.hosts = ssh::HostNames(config, to);
  if (!journal_(e)) {
    log::Error("cannot journal a switch; not starting it",
               {{"to", to}, {"trigger", TriggerName(trigger)}});
    return std::nullopt;
  }
  log::Warn("switching", {{"id", e.id},
                          {"from", from},
                          {"to", to},
                          {"trigger", TriggerName(trigger)},
                          {"why", reason}});
  return e.id;
}

bool SwitchSteps::Dns(DnsSwitch& dns, const Config& config,
                      const SwitchAction& action, const Stopper& stop) {
  const SiteConfig* site = config.FindSite(action.to);
  if (site == nullptr) {
    log::Error("switch target no longer in the config; abandoning",
               {{"id", action.id}, {"to", action.to}});
    journal_(event::SwitchAbandoned{
        action.id, "switch target " + action.to + " is no longer configured"});
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  auto written =
      dns.SwitchTo(*site, linode::Call::Within(DnsSwitch::kBudget, &stop));
  metrics_.Action(
      "dns_update", written.ok(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  if (!written) {
    if (stop.stopped()) return false;
    const event::DnsFailed failed{
        action.id, written.error().reason,
        std::string(linode::ErrorKindName(written.error().kind))};
    log::Error("dns update failed; will retry", {{"id", action.id},
                                                 {"to", action.to},
                                                 {"kind", failed.kind},
                                                 {"err", failed.error}});
    // Journaled when it changes: a provider that refuses for an hour must
    // not fill the audit trail with one line a round.
    if (action.last_error != failed.kind + ": " + failed.error) {
      journal_(failed);
    }
    return false;
  }
  if (journal_(event::DnsUpdated{action.id, action.to, written.value()})) {
    metrics_.Switch(action.from, action.to, action.trigger);
    log::Warn("dns switched",
              {{"id", action.id},
               {"to", action.to},
               {"records_written", std::to_string(written.value())}});
  }
  return true;
}

void SwitchSteps::CompleteIfDone(const Config& config, const HostWork& work) {
  if (!PendingHosts(work, ssh::HostNames(config, work.site)).empty()) return;
  // From the intent to the last step done (as journaled, so a switch of an
  // earlier version completed after an upgrade is timed right too).
  const event::SwitchCompleted done{
      work.id,
      std::chrono::duration<double>(work.done_at - work.started).count()};
  if (journal_(done)) {
    log::Info("switch completed",
              {{"id", done.id}, {"seconds", std::to_string(done.seconds)}});
  }
}

}  // namespace drf::actuator
