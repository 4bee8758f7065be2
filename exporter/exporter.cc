#include "exporter/exporter.h"

#include <optional>
#include <string>
#include <utility>

#include "core/cli/flags.h"
#include "core/http/daemon_endpoints.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/version.h"
#include "exporter/collectors/dns.h"
#include "exporter/collectors/dynamodb.h"
#include "exporter/collectors/site_health.h"

namespace drf::exporter {
namespace {

// Every collector kind, by its `collector` label. A factory returns nullptr
// when the config does not ask for that kind.
struct Kind {
  const char* name;
  CollectorFactory factory;
};
constexpr Kind kKinds[] = {
    {"site_health", &NewSiteHealthCollector},
    {"dynamodb", &NewDynamoDbCollector},
    {"dns", &NewDnsCollector},
};

}  // namespace

Exporter::Exporter(std::string config_path,
                   std::shared_ptr<const Config> config)
    : config_path_(std::move(config_path)),
      counters_(std::make_shared<ExporterCounters>()),
      gen_(Build(std::move(config))) {}

Exporter::~Exporter() { Stop(); }

std::unique_ptr<Exporter::Generation> Exporter::Build(
    std::shared_ptr<const Config> config) {
  auto g = std::make_unique<Generation>();
  g->config = config;
  g->stop = std::make_unique<Stopper>();
  std::set<std::string> sites;
  for (const SiteConfig& s : config->sites) sites.insert(s.name);
  counters_->probes.Retain(0, sites);
  counters_->probe_failures.Retain(0, sites);
  for (const Kind& kind : kKinds) {
    std::unique_ptr<Collector> c = kind.factory(config, counters_);
    if (c) g->collectors.push_back(std::move(c));
  }
  return g;
}

void Exporter::Launch(Generation& g) {
  for (auto& c : g.collectors) {
    g.threads.emplace_back([c, stop = g.stop.get()] { c->Run(*stop); });
  }
}

void Exporter::Halt(Generation& g) {
  g.stop->Stop();
  for (auto& t : g.threads) {
    if (t.joinable()) t.join();
  }
  g.threads.clear();
}

void Exporter::Start() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  std::shared_ptr<Generation> g;
  {
    std::lock_guard<std::mutex> gl(gen_mu_);
    g = gen_;
  }
  Launch(*g);
}

void Exporter::Stop() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  std::shared_ptr<Generation> g;
  {
    std::lock_guard<std::mutex> gl(gen_mu_);
    g = gen_;
  }
  if (g) Halt(*g);
}

std::string Exporter::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  std::shared_ptr<Generation> next;
  try {
    std::shared_ptr<const Config> config = LoadConfigFile(config_path_);
    LogConfigWarnings(*config, config_path_);
    next = Build(config);
  } catch (const std::exception& e) {
    last_reload_ok_ = false;
    log::Error("reload failed, keeping the running config",
               {{"file", config_path_}, {"err", e.what()}});
    return e.what();
  }
  std::shared_ptr<Generation> old;
  {
    std::lock_guard<std::mutex> gl(gen_mu_);
    old = gen_;
  }
  Halt(*old);
  Launch(*next);
  {
    std::lock_guard<std::mutex> gl(gen_mu_);
    gen_ = next;
  }
  last_reload_ok_ = true;
  log::Info("config reloaded", {{"file", config_path_}});
  return "";
}

bool Exporter::Ready() const {
  std::shared_ptr<Generation> g;
  {
    std::lock_guard<std::mutex> gl(gen_mu_);
    g = gen_;
  }
  for (const auto& c : g->collectors) {
    if (!c->Ready()) return false;
  }
  return true;
}

std::vector<prometheus::MetricFamily> Exporter::Collect() const {
  std::shared_ptr<Generation> g;
  {
    std::lock_guard<std::mutex> gl(gen_mu_);
    g = gen_;
  }
  std::vector<prometheus::MetricFamily> out;
  auto duration = metrics::Gauge("dr_collector_duration_seconds",
                                 "Wall time of the last round of a collector.");
  for (const auto& c : g->collectors) {
    auto f = c->Collect();
    out.insert(out.end(), std::make_move_iterator(f.begin()),
               std::make_move_iterator(f.end()));
    duration.Add({{"collector", std::string(c->Name())}}, c->LastDuration());
  }
  out.push_back(duration.Build());
  out.push_back(counters_->collector_errors.Collect());
  out.push_back(metrics::Gauge("dr_config_last_reload_successful",
                               "1 if the last config reload succeeded.")
                    .Add({}, last_reload_ok_ ? 1 : 0)
                    .Build());
  out.push_back(metrics::Gauge("dr_exporter_build_info",
                               "Version and revision of dr-exporter.")
                    .Add({{"version", kVersion}, {"revision", kRevision}}, 1)
                    .Build());
  return out;
}

std::string Exporter::Scrape() const {
  std::vector<prometheus::MetricFamily> families = Collect();
  return metrics::SerializeFamilies(families);
}

void Exporter::Register(http::Server& server) {
  http::RegisterDaemonEndpoints(
      server, {.name = "dr-exporter",
               .collect = [this] { return Collect(); },
               .ready = [this]() -> std::optional<std::string> {
                 if (Ready()) return std::nullopt;
                 return "first round of collection still running";
               },
               .reload = [this] { return Reload(); }});
}

}  // namespace drf::exporter
