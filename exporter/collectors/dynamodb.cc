#include "exporter/collectors/dynamodb.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <set>
#include <thread>

#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace drf::exporter {
namespace {

using Clock = std::chrono::steady_clock;

log::RateLimiter g_log_limit(std::chrono::seconds(60));

// Reasons that mean the endpoint could not be talked to at all: the rest
// of a round is skipped instead of waiting out the timeout once more per
// request.
constexpr std::string_view kTransportReasons[] = {"timeout", "connect", "dns",
                                                  "tls"};

bool IsTransport(std::string_view reason) {
  return std::find(std::begin(kTransportReasons), std::end(kTransportReasons),
                   reason) != std::end(kTransportReasons);
}

// AWS error types are open-ended and chosen by the peer; past this many
// distinct ones (process-wide, as the counters are) the rest count as
// "other" so that a misbehaving endpoint cannot grow the series without
// bound.
constexpr std::size_t kMaxDistinctReasons = 32;

std::string BoundedReason(const std::string& reason) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  if (seen.count(reason) != 0) return reason;
  if (seen.size() >= kMaxDistinctReasons) return "other";
  seen.insert(reason);
  return reason;
}

double WallSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Clock::time_point Later(Clock::time_point next, Clock::duration interval) {
  next += interval;
  auto now = Clock::now();
  return next < now ? now : next;  // a slow round skips ticks, never bursts
}

void AddStateSet(metrics::FamilyBuilder& family, const metrics::Labels& base,
                 std::span<const std::string_view> known,
                 const std::string& current) {
  auto add = [&](std::string_view status) {
    metrics::Labels labels = base;
    labels.emplace_back("status", std::string(status));
    family.Add(labels, status == current ? 1 : 0);
  };
  for (std::string_view status : known) add(status);
  add(dynamodb::kUnknownStatus);
}

}  // namespace

DynamoDbCollector::DynamoDbCollector(std::shared_ptr<const Config> config,
                                     std::shared_ptr<ExporterCounters> counters,
                                     const ApiFactory& make_api)
    : config_(std::move(config)),
      counters_(std::move(counters)),
      sites_(config_->sites.size()) {
  for (const SiteConfig& site : config_->sites) {
    auto w = std::make_unique<Worker>();
    w->api = make_api(site);
    workers_.push_back(std::move(w));
  }
  for (std::string_view reason : kTransportReasons) {
    counters_->collector_errors.Touch({"dynamodb", std::string(reason)});
  }
}

bool DynamoDbCollector::Ready() const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [](const auto& w) { return w->first_round_done.load(); });
}

double DynamoDbCollector::LastDuration() const {
  double slowest = 0;
  for (const auto& w : workers_) {
    slowest = std::max(slowest, w->last_round_seconds.load());
  }
  return slowest;
}

void DynamoDbCollector::Run(const Stopper& stop) {
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    try {
      threads.emplace_back([this, i, &stop] { Work(i, stop); });
    } catch (const std::exception& e) {
      log::Error("cannot start a dynamodb worker",
                 {{"site", config_->sites[i].name}, {"err", e.what()}});
    }
  }
  for (std::thread& t : threads) t.join();
}

void DynamoDbCollector::Work(std::size_t i, const Stopper& stop) {
  const DynamoDbConfig& d = *config_->dynamodb;
  const bool describe = !d.tables.empty();
  const bool heartbeat = d.heartbeat.has_value();
  Worker& w = *workers_[i];
  Clock::time_point next_describe = Clock::now();
  Clock::time_point next_heartbeat = next_describe;
  while (!stop.stopped()) {
    Clock::time_point start = Clock::now();
    try {
      if (describe && start >= next_describe) {
        DescribeOnce(i, &stop);
        next_describe = Later(next_describe, config_->probe.interval);
      }
      if (heartbeat && start >= next_heartbeat && !stop.stopped()) {
        HeartbeatOnce(i, WallSeconds(), &stop);
        next_heartbeat = Later(next_heartbeat, d.heartbeat->interval);
      }
    } catch (const std::exception& e) {
      // Nothing above is meant to throw (allocation failure aside); keep
      // the worker alive and try again next tick.
      log::Error("dynamodb worker round failed",
                 {{"site", config_->sites[i].name}, {"err", e.what()}});
      next_describe = Later(next_describe, config_->probe.interval);
      if (heartbeat)
        next_heartbeat = Later(next_heartbeat, d.heartbeat->interval);
    }
    w.last_round_seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    w.first_round_done = true;
    Clock::time_point wake = Clock::time_point::max();
    if (describe) wake = std::min(wake, next_describe);
    if (heartbeat) wake = std::min(wake, next_heartbeat);
    if (stop.WaitUntil(wake)) break;
  }
}

void DynamoDbCollector::Publish(std::size_t i,
                                const std::function<void(SiteState&)>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  SiteState& s = sites_[i];
  bool was_up = s.describe_ok.value_or(true) && s.heartbeat_ok.value_or(true);
  bool known = s.describe_ok.has_value() || s.heartbeat_ok.has_value();
  f(s);
  bool up = s.describe_ok.value_or(true) && s.heartbeat_ok.value_or(true);
  if (known && !was_up && up) {
    log::Info("dynamodb endpoint recovered",
              {{"site", config_->sites[i].name},
               {"region", config_->sites[i].aws_region}});
  }
}

void DynamoDbCollector::Fail(std::size_t i, std::string_view op,
                             const std::string& table,
                             const dynamodb::Error& error) {
  const SiteConfig& site = config_->sites[i];
  counters_->collector_errors.Inc({"dynamodb", BoundedReason(error.reason)});
  long suppressed = 0;
  std::string key = site.name;
  key.append("|").append(op).append("|").append(table).append("|").append(
      error.reason);
  if (g_log_limit.Allow(key, &suppressed)) {
    log::Warn("dynamodb request failed",
              {{"site", site.name},
               {"region", site.aws_region},
               {"op", op},
               {"table", table},
               {"reason", error.reason},
               {"err", error.message},
               {"suppressed", std::to_string(suppressed)}});
  }
}

void DynamoDbCollector::DescribeOnce(std::size_t i, const Stopper* stop) {
  const SiteConfig& site = config_->sites[i];
  dynamodb::Api& api = *workers_[i]->api;
  bool ok = true;
  std::map<std::string, TableState> tables;
  for (const std::string& table : config_->dynamodb->tables) {
    if (stop != nullptr && stop->stopped()) return;  // publish no half round
    dynamodb::Result<dynamodb::TableDescription> r = api.DescribeTable(table);
    if (!r.ok()) {
      ok = false;
      Fail(i, "DescribeTable", table, r.error());
      if (IsTransport(r.error().reason)) break;
      continue;
    }
    const dynamodb::TableDescription& d = r.value();
    auto log_unknown = [&](const std::string& replica, const std::string& raw) {
      long suppressed = 0;
      if (g_log_limit.Allow(
              "unknown|" + site.name + "|" + table + "|" + replica + "|" + raw,
              &suppressed)) {
        log::Warn("dynamodb reported an unknown status, exported as UNKNOWN",
                  {{"site", site.name},
                   {"region", site.aws_region},
                   {"table", table},
                   {"replica_region", replica},
                   {"raw_status", raw},
                   {"suppressed", std::to_string(suppressed)}});
      }
    };
    if (d.status == dynamodb::kUnknownStatus) log_unknown("", d.raw_status);
    for (const dynamodb::ReplicaDescription& rep : d.replicas) {
      if (rep.status == dynamodb::kUnknownStatus) {
        log_unknown(rep.region_name, rep.raw_status);
      }
    }
    tables[table] = TableState{d.status, d.replicas};
  }
  Publish(i, [&](SiteState& s) {
    s.describe_ok = ok;
    s.tables = std::move(tables);
  });
}

void DynamoDbCollector::HeartbeatOnce(std::size_t i, double now_seconds,
                                      const Stopper* stop) {
  const HeartbeatConfig& hb = *config_->dynamodb->heartbeat;
  const std::vector<SiteConfig>& sites = config_->sites;
  dynamodb::Api& api = *workers_[i]->api;
  bool ok = true;
  dynamodb::Result<dynamodb::Done> put =
      api.PutHeartbeat(hb.table, sites[i].name, now_seconds);
  bool reachable = true;
  if (!put.ok()) {
    ok = false;
    Fail(i, "PutItem", hb.table, put.error());
    reachable = !IsTransport(put.error().reason);
  }
  for (std::size_t j = 0; j < sites.size() && reachable; ++j) {
    if (j == i) continue;
    if (stop != nullptr && stop->stopped()) return;
    dynamodb::Result<std::optional<double>> r =
        api.GetHeartbeat(hb.table, sites[j].name);
    if (!r.ok()) {
      ok = false;
      Fail(i, "GetItem", hb.table, r.error());
      reachable = !IsTransport(r.error().reason);
      continue;
    }
    if (!r.value()) continue;  // the source never wrote, or not yet here
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = heartbeats_.try_emplace({j, i}, *r.value());
    if (!inserted) it->second = std::max(it->second, *r.value());
  }
  Publish(i, [&](SiteState& s) { s.heartbeat_ok = ok; });
}

std::vector<prometheus::MetricFamily> DynamoDbCollector::Collect() const {
  return CollectAt(WallSeconds());
}

std::vector<prometheus::MetricFamily> DynamoDbCollector::CollectAt(
    double now_seconds) const {
  auto up = metrics::Gauge(
      "dr_dynamodb_up",
      "1 if the site's DynamoDB regional endpoint answered the last round "
      "without error.");
  auto table_status = metrics::Gauge(
      "dr_dynamodb_table_status",
      "State set: 1 for the table's current TableStatus in the site's region.");
  auto replica_status = metrics::Gauge(
      "dr_dynamodb_replica_status",
      "State set: 1 for each replica's ReplicaStatus as the site's region "
      "reports it; UNKNOWN for values this version does not know.");
  auto lag = metrics::Gauge(
      "dr_dynamodb_replication_lag_seconds",
      "Now minus the newest heartbeat written at the source site and read "
      "at the target site.");
  const std::vector<SiteConfig>& sites = config_->sites;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < sites_.size(); ++i) {
      const SiteState& s = sites_[i];
      if (!s.describe_ok && !s.heartbeat_ok) continue;  // no round yet
      bool is_up =
          s.describe_ok.value_or(true) && s.heartbeat_ok.value_or(true);
      up.Add({{"site", sites[i].name}, {"region", sites[i].aws_region}},
             is_up ? 1 : 0);
      for (const std::string& table : config_->dynamodb->tables) {
        auto it = s.tables.find(table);
        if (it == s.tables.end()) continue;  // not described last round
        AddStateSet(table_status, {{"site", sites[i].name}, {"table", table}},
                    dynamodb::KnownTableStatuses(), it->second.status);
        for (const dynamodb::ReplicaDescription& r : it->second.replicas) {
          AddStateSet(replica_status,
                      {{"site", sites[i].name},
                       {"table", table},
                       {"replica_region", r.region_name}},
                      dynamodb::KnownReplicaStatuses(), r.status);
        }
      }
    }
    if (config_->dynamodb->heartbeat) {
      const std::string& table = config_->dynamodb->heartbeat->table;
      for (const auto& [key, ts] : heartbeats_) {
        // A clock behind the writer's would give a negative lag; the
        // replication itself cannot be faster than instant.
        lag.Add({{"table", table},
                 {"source_site", sites[key.first].name},
                 {"target_site", sites[key.second].name}},
                std::max(0.0, now_seconds - ts));
      }
    }
  }
  std::vector<prometheus::MetricFamily> out;
  out.push_back(up.Build());
  out.push_back(table_status.Build());
  out.push_back(replica_status.Build());
  out.push_back(lag.Build());
  return out;
}

std::unique_ptr<Collector> NewDynamoDbCollector(
    std::shared_ptr<const Config> config,
    std::shared_ptr<ExporterCounters> counters) {
  if (!config->dynamodb) return nullptr;
  auto credentials = std::make_shared<const dynamodb::AwsCredentials>(
      dynamodb::AwsCredentials::FromEnv());
  const DynamoDbConfig& d = *config->dynamodb;
  Duration timeout = config->probe.timeout;
  auto make_api = [&d, credentials, timeout](const SiteConfig& site) {
    return std::make_unique<dynamodb::DynamoDbClient>(
        d.EndpointFor(site), site.aws_region, *credentials, timeout);
  };
  return std::make_unique<DynamoDbCollector>(config, std::move(counters),
                                             make_api);
}

}  // namespace drf::exporter
