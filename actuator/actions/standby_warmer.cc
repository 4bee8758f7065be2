#include "actuator/actions/standby_warmer.h"

#include <vector>

#include "actuator/ssh/session.h"

namespace drf::actuator {

StandbyWarmer::StandbyWarmer(std::function<Inputs()> inputs,
                             prometheus::Family<prometheus::Gauge>& ready)
    : inputs_(std::move(inputs)), ready_(ready) {}

void StandbyWarmer::Round() {
  const Inputs in = inputs_();
  std::vector<HostConfig> standby;
  std::vector<std::string> site_of;  // per entry of `standby`
  if (in.hosts && in.config && !in.serving.empty()) {
    for (const SiteConfig& site : in.config->sites) {
      if (site.name == in.serving) continue;
      standby.insert(standby.end(), site.hosts.begin(), site.hosts.end());
      site_of.insert(site_of.end(), site.hosts.size(), site.name);
    }
  }
  std::vector<bool> ready;
  if (!standby.empty()) ready = in.hosts->Warm(standby);
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> now;
  for (std::size_t i = 0; i < standby.size() && i < ready.size(); ++i) {
    auto key = std::make_pair(site_of[i], ssh::HostName(standby[i]));
    prometheus::Gauge& g =
        ready_.Add({{"site", key.first}, {"host", key.second}});
    g.Set(ready[i] ? 1 : 0);
    now[key] = &g;
  }
  for (const auto& [key, gauge] : gauges_) {
    if (!now.count(key)) ready_.Remove(gauge);
  }
  gauges_ = std::move(now);
}

void StandbyWarmer::Run(const Stopper& stop, Duration every) {
  do {
    Round();
  } while (!stop.WaitFor(every));
}

}  // namespace drf::actuator
