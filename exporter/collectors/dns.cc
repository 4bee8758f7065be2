#include "exporter/collectors/dns.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "core/linode/serving.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace drf::exporter {
namespace {

log::RateLimiter g_log_limit(std::chrono::seconds(60));

constexpr linode::ErrorKind kAllKinds[] = {
    linode::ErrorKind::kUnauthorized, linode::ErrorKind::kNotFound,
    linode::ErrorKind::kRateLimited,  linode::ErrorKind::kServer,
    linode::ErrorKind::kClient,       linode::ErrorKind::kTimeout,
    linode::ErrorKind::kConnect,      linode::ErrorKind::kDns,
    linode::ErrorKind::kTls,          linode::ErrorKind::kParse,
};

}  // namespace

DnsCollector::DnsCollector(std::shared_ptr<const Config> config,
                           std::shared_ptr<ExporterCounters> counters,
                           std::unique_ptr<linode::DnsApi> api)
    : config_(std::move(config)),
      counters_(std::move(counters)),
      api_(std::move(api)),
      serving_(config_->dns.records.size()) {
  for (linode::ErrorKind kind : kAllKinds) {
    counters_->collector_errors.Touch(
        {"dns", std::string(linode::ErrorKindName(kind))});
  }
}

std::string DnsCollector::RecordLabel(const std::string& name) {
  return name.empty() ? "@" : name;
}

linode::Result<std::vector<linode::Record>> DnsCollector::Read(
    const linode::Call& call) {
  const std::string& domain = config_->dns.domain;
  for (int pass = 0;; ++pass) {
    if (!domain_id_) {
      linode::Result<std::int64_t> id = api_->FindDomain(domain, call);
      if (!id.ok()) return id.error();
      domain_id_ = id.value();
    }
    linode::Result<std::vector<linode::Record>> records =
        api_->ListRecords(*domain_id_, call);
    // A 404 on a cached id: the domain was deleted and perhaps re-created
    // under a new id. Look it up again, once per read.
    if (!records.ok() && records.error().kind == linode::ErrorKind::kNotFound &&
        pass == 0) {
      log::Info("dns domain id no longer valid, looking it up again",
                {{"domain", domain}, {"id", std::to_string(*domain_id_)}});
      domain_id_.reset();
      continue;
    }
    return records;
  }
}

void DnsCollector::SetDown() {
  std::lock_guard<std::mutex> lock(mu_);
  attempted_ = true;
  api_up_ = false;
}

Duration DnsCollector::ReadOnce(const Stopper* stop) {
  auto start = std::chrono::steady_clock::now();
  // A read (pages, retries, a domain lookup) gets one interval, and at
  // least one request timeout, so rounds never pile up.
  linode::Call call{
      start + std::max(config_->probe.interval, config_->probe.timeout), stop};
  linode::Result<std::vector<linode::Record>> records = Read(call);
  Duration hold(0);
  if (!records.ok()) {
    // A read cut short by shutdown or reload is no provider error.
    if (stop != nullptr && stop->stopped()) return hold;
    const linode::Error& err = records.error();
    std::string kind(linode::ErrorKindName(err.kind));
    counters_->collector_errors.Inc({"dns", kind});
    long suppressed = 0;
    if (g_log_limit.Allow("dns:" + kind, &suppressed)) {
      log::Warn("dns read failed",
                {{"domain", config_->dns.domain},
                 {"reason", kind},
                 {"status", std::to_string(err.http_status)},
                 {"err", err.reason},
                 {"suppressed", std::to_string(suppressed)}});
    }
    if (err.retry_after) hold = *err.retry_after;
    SetDown();
  } else {
    const std::vector<std::string>& names = config_->dns.records;
    std::vector<std::string> now(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      linode::Resolution r =
          linode::ResolveRecord(*config_, records.value(), names[i]);
      now[i] = r.site.empty() ? kUnknownSite : r.site;
      const std::string& why = r.why;
      long suppressed = 0;
      if (r.site.empty() &&
          g_log_limit.Allow("dns-unknown:" + names[i], &suppressed)) {
        log::Warn("dns record points to no known site",
                  {{"record", RecordLabel(names[i])},
                   {"domain", config_->dns.domain},
                   {"why", why},
                   {"suppressed", std::to_string(suppressed)}});
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (attempted_ && !api_up_) log::Info("dns read recovered");
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!serving_[i].empty() && serving_[i] != now[i]) {
        log::Info("dns record points to another site",
                  {{"record", RecordLabel(names[i])},
                   {"from", serving_[i]},
                   {"to", now[i]}});
      }
      serving_[i] = std::move(now[i]);
    }
    attempted_ = true;
    api_up_ = true;
  }
  last_duration_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ready_ = true;
  return hold;
}

void DnsCollector::Run(const Stopper& stop) {
  auto next = std::chrono::steady_clock::now();
  while (!stop.stopped()) {
    Duration hold(0);
    try {
      hold = ReadOnce(&stop);
    } catch (const std::exception& e) {
      // Only allocation failures can get here; keep the thread alive.
      log::Error("dns read failed unexpectedly", {{"err", e.what()}});
      SetDown();
      ready_ = true;
    }
    next += config_->probe.interval;
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a slow round skips ticks, never bursts
    if (now + hold > next) next = now + hold;  // honour Retry-After
    if (stop.WaitUntil(next)) break;
  }
}

std::vector<prometheus::MetricFamily> DnsCollector::Collect() const {
  auto serving = metrics::Gauge(
      "dr_dns_serving_site",
      "1 for the site whose address the DNS record points to; site=\"unknown\" "
      "when it matches none. Kept from the last good read while "
      "dr_dns_api_up is 0.");
  auto up = metrics::Gauge("dr_dns_api_up",
                           "1 if the last read of the DNS provider succeeded.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < serving_.size(); ++i) {
      if (serving_[i].empty()) continue;
      std::string record = RecordLabel(config_->dns.records[i]);
      for (const SiteConfig& site : config_->sites) {
        serving.Add({{"record", record}, {"site", site.name}},
                    serving_[i] == site.name ? 1 : 0);
      }
      serving.Add({{"record", record}, {"site", kUnknownSite}},
                  serving_[i] == kUnknownSite ? 1 : 0);
    }
    if (attempted_) up.Add({}, api_up_ ? 1 : 0);
  }
  std::vector<prometheus::MetricFamily> out;
  out.push_back(serving.Build());
  out.push_back(up.Build());
  return out;
}

std::unique_ptr<Collector> NewDnsCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters) {
  std::string token = linode::LoadToken(config->dns);
  auto api = std::make_unique<linode::LinodeClient>(
      config->dns.api_url, std::move(token), config->probe.timeout);
  return std::make_unique<DnsCollector>(std::move(config), std::move(counters),
                                        std::move(api));
}

}  // namespace drf::exporter
