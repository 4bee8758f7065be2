#include "actuator/actions/site_probes.h"

namespace drf::actuator {
namespace {

std::vector<std::string> Urls(const Config& config) {
  std::vector<std::string> urls;
  for (const SiteConfig& s : config.sites) urls.push_back(s.health_url);
  return urls;
}

}  // namespace

std::vector<ProbeResult> SiteProbes::Round(const Config& config) {
  return prober_.ProbeAll(Urls(config));
}

std::vector<int> SiteProbes::Burst(const Config& config, const Stopper& stop) {
  const std::vector<std::string> urls = Urls(config);
  std::vector<int> passed(urls.size(), 0);
  for (int round = 0; round < config.actuator->confirm.probes; ++round) {
    if (round > 0 && stop.WaitFor(config.actuator->confirm.interval)) break;
    const std::vector<ProbeResult> results = prober_.ProbeAll(urls);
    for (std::size_t i = 0; i < results.size() && i < passed.size(); ++i) {
      if (results[i].up) ++passed[i];
    }
  }
  return passed;
}

void NoteRound(const Config& config, const std::vector<ProbeResult>& results,
               TimePoint now, Observed* observed) {
  for (std::size_t i = 0; i < results.size() && i < config.sites.size(); ++i) {
    const std::string& name = config.sites[i].name;
    SiteHealth& h = observed->health[name];
    h.probed = true;
    if (results[i].up) {
      if (!h.confirmed_healthy || !h.healthy_since) h.healthy_since = now;
    } else {
      h.healthy_since.reset();
    }
    h.confirmed_healthy = results[i].up;
    observed->last_probe[name] = results[i];
  }
}

std::map<std::string, SiteHealth> Confirmed(
    const Config& config, const std::vector<int>& passed, int probes,
    std::map<std::string, SiteHealth> base) {
  for (std::size_t i = 0; i < passed.size() && i < config.sites.size(); ++i) {
    SiteHealth& h = base[config.sites[i].name];
    h.probed = true;
    h.confirmed_healthy = passed[i] * 2 > probes;
  }
  return base;
}

}  // namespace drf::actuator
