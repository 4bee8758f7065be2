#include "actuator/metrics.h"

#include "actuator/ssh/session.h"
#include "core/version.h"

namespace drf::actuator {
namespace {

prometheus::Histogram::BucketBoundaries ActionBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

ActuatorMetrics::ActuatorMetrics(const Config& config)
    : registry(std::make_shared<prometheus::Registry>()),
      serving_site(prometheus::BuildGauge()
                       .Name("dr_actuator_serving_site")
                       .Help("1 for the site the DNS records point to.")
                       .Register(*registry)),
      switches(prometheus::BuildCounter()
                   .Name("dr_actuator_switches_total")
                   .Help("Switches of the serving site.")
                   .Register(*registry)),
      decisions(prometheus::BuildCounter()
                    .Name("dr_actuator_decisions_total")
                    .Help("Decisions taken, by outcome.")
                    .Register(*registry)),
      actions(prometheus::BuildCounter()
                  .Name("dr_actuator_actions_total")
                  .Help("Actions run, by kind and result.")
                  .Register(*registry)),
      action_duration(prometheus::BuildHistogram()
                          .Name("dr_actuator_action_duration_seconds")
                          .Help("Duration of actions, retries included.")
                          .Register(*registry)),
      webhooks(prometheus::BuildCounter()
                   .Name("dr_actuator_webhooks_total")
                   .Help("Alertmanager notifications received, by result.")
                   .Register(*registry)),
      alerts_ignored(
          prometheus::BuildCounter()
              .Name("dr_actuator_alerts_ignored_total")
              .Help("Alerts of accepted notifications that the actuator "
                    "journals but does not act on: not_dr (no "
                    "dr_action=\"traffic_failover\" or no site label), "
                    "unknown_site (a DR alert for a site not in the config).")
              .Register(*registry)),
      alertmanager_pulls(
          prometheus::BuildCounter()
              .Name("dr_actuator_alertmanager_pulls_total")
              .Help("Pulls of the active DR alerts from Alertmanager "
                    "(actuator.alertmanager), by result.")
              .Register(*registry)),
      firing_alerts(prometheus::BuildGauge()
                        .Name("dr_actuator_firing_alerts")
                        .Help("Firing DR alerts, by site.")
                        .Register(*registry)),
      paused(prometheus::BuildGauge()
                 .Name("dr_actuator_paused")
                 .Help("1 while an operator paused automatic action.")
                 .Register(*registry)
                 .Add({})),
      converged(prometheus::BuildGauge()
                    .Name("dr_actuator_converged")
                    .Help("1 when the records and hosts are as decided.")
                    .Register(*registry)
                    .Add({})),
      last_switch_timestamp(
          prometheus::BuildGauge()
              .Name("dr_actuator_last_switch_timestamp_seconds")
              .Help("Unix time of the last switch's DNS change.")
              .Register(*registry)
              .Add({})),
      config_reload(prometheus::BuildGauge()
                        .Name("dr_config_last_reload_successful")
                        .Help("1 if the last config reload succeeded.")
                        .Register(*registry)),
      standby_host_ready(
          prometheus::BuildGauge()
              .Name("dr_actuator_standby_host_ready")
              .Help("Hosts of the sites that do not serve: 1 while a checked "
                    "SSH session to the host is kept open for the next "
                    "switch, 0 while the host cannot be reached.")
              .Register(*registry)) {
  prometheus::BuildGauge()
      .Name("dr_actuator_build_info")
      .Help("Version and revision of dr-actuator.")
      .Register(*registry)
      .Add({{"version", kVersion}, {"revision", kRevision}})
      .Set(1);
  config_reload.Add({}).Set(1);
  for (Outcome o : kAllOutcomes) {
    decisions.Add({{"decision", std::string(OutcomeName(o))}});
  }
  for (const char* r : {"accepted", "unauthorized", "bad_request", "too_large",
                        "unavailable"}) {
    webhooks.Add({{"result", r}});
  }
  // Every series exists from the start, so increase() and rate() see the
  // first event too.
  for (const char* a : {"dns_update", "host_reconfigure"}) {
    for (const char* r : {"success", "failure"}) {
      actions.Add({{"action", a}, {"result", r}});
    }
    action_duration.Add({{"action", a}}, ActionBuckets());
  }
  for (const char* r : {"not_dr", "unknown_site"}) {
    alerts_ignored.Add({{"reason", r}});
  }
  for (const char* r : {"success", "failure"}) {
    alertmanager_pulls.Add({{"result", r}});
  }
  for (const SiteConfig& to : config.sites) {
    for (Trigger t : kAllTriggers) {
      for (const SiteConfig& from : config.sites) {
        if (from.name == to.name) continue;
        switches.Add({{"from", from.name},
                      {"to", to.name},
                      {"trigger", std::string(TriggerName(t))}});
      }
    }
  }
  for (const SiteConfig& s : config.sites) {
    serving_site.Add({{"site", s.name}});
    firing_alerts.Add({{"site", s.name}});
  }
  serving_site.Add({{"site", "unknown"}});
}

void ActuatorMetrics::Action(std::string_view action, bool ok, double seconds) {
  const std::string name(action);
  actions.Add({{"action", name}, {"result", ok ? "success" : "failure"}})
      .Increment();
  action_duration.Add({{"action", name}}, ActionBuckets()).Observe(seconds);
}

void ActuatorMetrics::Decision(std::string_view outcome) {
  decisions.Add({{"decision", std::string(outcome)}}).Increment();
}

void ActuatorMetrics::Ignored(const event::Webhook& e) {
  alerts_ignored.Add({{"reason", "not_dr"}})
      .Increment(static_cast<double>(e.ignored_alerts));
  alerts_ignored.Add({{"reason", "unknown_site"}})
      .Increment(static_cast<double>(e.unknown_site_alerts.size()));
}

void ActuatorMetrics::Switch(const std::string& from, const std::string& to,
                             Trigger trigger) {
  switches
      .Add({{"from", from.empty() ? "unknown" : from},
            {"to", to},
            {"trigger", std::string(TriggerName(trigger))}})
      .Increment();
}

void ActuatorMetrics::Update(const Config& config, const State& state,
                             const Observed& observed, TimePoint now) {
  std::map<std::string, int> firing;
  for (const AlertEntry& e : state.alerts.Firing(now)) ++firing[e.site];
  Sites(config, observed.serving, firing);
  paused.Set(state.shared.paused);
  std::size_t pending = 0;
  if (const auto& hw = state.shared.hosts) {
    pending = PendingHosts(*hw, ssh::HostNames(config, hw->site)).size();
  }
  converged.Set(
      Converged(observed.serving, state.shared.action.has_value(), pending));
  if (state.last_switch) {
    last_switch_timestamp.Set(std::chrono::duration<double>(
                                  state.last_switch->dns_at.time_since_epoch())
                                  .count());
  }
}

void ActuatorMetrics::Sites(const Config& config, const std::string& serving,
                            const std::map<std::string, int>& firing) {
  for (const SiteConfig& s : config.sites) {
    serving_site.Add({{"site", s.name}}).Set(serving == s.name);
    auto it = firing.find(s.name);
    firing_alerts.Add({{"site", s.name}})
        .Set(it == firing.end() ? 0 : it->second);
  }
  serving_site.Add({{"site", "unknown"}}).Set(serving.empty());
}

}  // namespace drf::actuator
