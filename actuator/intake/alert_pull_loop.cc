#include "actuator/intake/alert_pull_loop.h"

#include <set>
#include <string>
#include <vector>

#include "actuator/intake/alertmanager_pull.h"
#include "core/log/log.h"

namespace drf::actuator {

void AlertPullLoop::Run(const Stopper& stop) {
  log::RateLimiter limiter(std::chrono::minutes(1));
  std::shared_ptr<const Config> built_for;
  std::unique_ptr<AlertmanagerPuller> puller;
  Duration interval = std::chrono::seconds(1);  // while not configured
  do {
    const std::shared_ptr<const Config> config = hooks_.config();
    if (config != built_for) {  // started, or reloaded
      built_for = config;
      puller.reset();
      interval = std::chrono::seconds(1);
      if (const auto& am = config->actuator->alertmanager) {
        interval = am->interval;
        try {
          puller = std::make_unique<AlertmanagerPuller>(*am);
        } catch (const std::exception& e) {
          log::Error("cannot pull alerts from Alertmanager",
                     {{"err", e.what()}});
        }
      }
    }
    if (!puller) continue;
    // The set and the time before the request: an alert a webhook adds
    // while it is under way is never resolved by this pull.
    const AlertSet before = hooks_.alerts();
    const TimePoint now = std::chrono::system_clock::now();
    PullResult r = puller->Pull(stop);
    if (stop.stopped()) break;
    pulls_.Add({{"result", r.ok ? "success" : "failure"}}).Increment();
    if (!r.ok) {
      long suppressed = 0;
      if (limiter.Allow("pull", &suppressed)) {
        log::Warn(
            "alert pull failed; keeping the alerts as they are",
            {{"err", r.error}, {"suppressed", std::to_string(suppressed)}});
      }
      continue;
    }
    std::set<std::string> sites;
    for (const SiteConfig& s : config->sites) sites.insert(s.name);
    std::vector<Alert> changes = PullChanges(before, r.alerts, sites, now);
    // Only what still changes something: a webhook may have said the same
    // while the request was under way.
    AlertSet probe = hooks_.alerts();
    std::erase_if(changes, [&](const Alert& a) {
      return probe.Apply(a, now, AlertSource::kPull) ==
             ApplyResult::kIgnoredStale;
    });
    if (changes.empty()) continue;
    event::AlertsPulled e;
    e.source = r.source;
    e.pulled_at = now;
    for (const Alert& a : changes) e.changes.push_back(RecordOf(a));
    if (hooks_.journal(e)) {
      log::Info("alerts pulled from Alertmanager",
                {{"source", r.source},
                 {"changes", std::to_string(e.changes.size())}});
    }
  } while (!stop.WaitFor(interval));
}

}  // namespace drf::actuator
