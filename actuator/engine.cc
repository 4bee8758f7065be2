#include "actuator/engine.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <random>
#include <utility>

#include "core/log/log.h"
#include "core/version.h"

namespace drf::actuator {
namespace {

constexpr auto kTick = std::chrono::seconds(1);
constexpr auto kMinGap = std::chrono::milliseconds(50);
// How often the SSH sessions to the standby sites' hosts are looked after
// (each is checked with a round trip only every 15 s; see SessionPool).
constexpr auto kWarmEvery = std::chrono::seconds(5);
constexpr auto kDnsBudget = std::chrono::seconds(30);
// Host retries: 0.5 s doubling to 30 s, with full jitter, forever.
const HostRetryPolicy kHostRetry{std::chrono::milliseconds(500),
                                 std::chrono::seconds(30), Duration::zero()};
constexpr std::uint64_t kCompactBytes = 16 << 20;

TimePoint Now() { return std::chrono::system_clock::now(); }

double Seconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string HostKey(const HostConfig& h) { return ssh::HostName(h); }

void Str(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Time(JsonWriter& w, std::string_view key, TimePoint t) {
  Str(w, key, FormatRfc3339(t));
}

std::string GetString(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

TimePoint GetTime(const rapidjson::Value& v, const char* key) {
  return ParseRfc3339(GetString(v, key)).value_or(TimePoint{});
}

Trigger TriggerFromName(const std::string& name) {
  if (name == "failback") return Trigger::kFailback;
  if (name == "manual") return Trigger::kManual;
  return Trigger::kAlert;
}

std::string NewActionId() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(rng()));
  return buf;
}

void WriteAction(JsonWriter& w, const SwitchAction& a) {
  w.StartObject();
  Str(w, "id", a.id);
  Str(w, "from", a.from);
  Str(w, "to", a.to);
  Str(w, "trigger", TriggerName(a.trigger));
  Str(w, "reason", a.reason);
  Time(w, "started", a.started);
  w.Key("dns_done");
  w.Bool(a.dns_done);
  w.EndObject();
}

}  // namespace

// ----------------------------------------------------------------- metrics

prometheus::Histogram::BucketBoundaries ActionBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

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
  for (const SiteConfig& to : config.sites) {
    for (Trigger t : {Trigger::kAlert, Trigger::kFailback, Trigger::kManual}) {
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

void ActuatorMetrics::Action(const std::string& action, bool ok,
                             double seconds) {
  actions.Add({{"action", action}, {"result", ok ? "success" : "failure"}})
      .Increment();
  action_duration.Add({{"action", action}}, ActionBuckets()).Observe(seconds);
}

// ------------------------------------------------------------------ engine

Engine::Engine(std::shared_ptr<const Config> config, bool dry_run,
               std::unique_ptr<class Journal> journal,
               std::unique_ptr<linode::DnsApi> dns_api,
               std::unique_ptr<HostReconfigurer> hosts)
    : dry_run_(dry_run),
      journal_(std::move(journal)),
      config_(config),
      dns_(std::make_unique<DnsSwitch>(config, std::move(dns_api))),
      hosts_(std::move(hosts)),
      prober_(std::make_unique<Prober>(config->probe)),
      metrics_(std::make_unique<ActuatorMetrics>(*config)) {
  if (!config->actuator) {
    throw std::invalid_argument("the config has no actuator section");
  }
  Replay();
  UpdateGauges();
}

Engine::~Engine() = default;

std::shared_ptr<const Config> Engine::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

bool Engine::Append(const std::string& type,
                    const std::function<void(JsonWriter&)>& fields) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Time(w, "ts", Now());
  Str(w, "type", type);
  fields(w);
  w.EndObject();
  // The journal numbers the line, writes it, and applies it (ApplyEvent, on
  // its writer thread, in seq order) before this returns.
  return journal_->Append(std::string(buf.GetString(), buf.GetSize()));
}

// Applies one journaled event to the in-memory state. The same function
// serves the live path (after the append is durable) and the replay at
// start, so the state after a crash is the state before it.
void Engine::ApplyEvent(const std::string& line, bool replaying) {
  rapidjson::Document d;
  d.Parse(line.c_str(), line.size());
  if (d.HasParseError() || !d.IsObject()) {
    log::Warn("journal: skipping an unreadable line");
    return;
  }
  const std::string type = GetString(d, "type");
  const TimePoint ts = GetTime(d, "ts");
  std::lock_guard<std::mutex> lock(mu_);
  if (type == "webhook") {
    if (!d.HasMember("alerts") || !d["alerts"].IsArray()) return;
    bool changed = false;
    for (const auto& a : d["alerts"].GetArray()) {
      if (!a.IsObject()) continue;
      Alert alert;
      alert.status = GetString(a, "status") == "resolved"
                         ? AlertStatus::kResolved
                         : AlertStatus::kFiring;
      alert.fingerprint = GetString(a, "fingerprint");
      alert.labels["dr_action"] = "traffic_failover";
      alert.labels["site"] = GetString(a, "site");
      alert.starts_at = GetTime(a, "startsAt");
      alert.ends_at = GetTime(a, "endsAt");
      ApplyResult r = alerts_.Apply(alert, ts);
      changed |= r == ApplyResult::kFiring || r == ApplyResult::kResolved;
    }
    // Repeats and duplicates change nothing: only news wakes the loop, so
    // a storm of notifications costs no provider calls.
    if (changed && !replaying) {
      wake_ = true;
      wake_cv_.notify_all();
    }
  } else if (type == "switch_started") {
    SwitchAction a;
    a.id = GetString(d, "id");
    a.from = GetString(d, "from");
    a.to = GetString(d, "to");
    a.trigger = TriggerFromName(GetString(d, "trigger"));
    a.reason = GetString(d, "reason");
    a.started = ts;
    action_ = a;
    if (a.trigger == Trigger::kManual) {
      last_manual_switch_ = ts;
    } else {
      last_auto_switch_ = ts;
    }
  } else if (type == "dns_updated") {
    if (!action_ || action_->id != GetString(d, "id")) return;
    action_->dns_done = true;
    last_switch_ = action_;
    const SiteConfig* site = config_->FindSite(action_->to);
    HostWork work;
    work.action_id = action_->id;
    work.site = action_->to;
    if (site != nullptr) {
      for (const HostConfig& h : site->hosts) work.pending.insert(HostKey(h));
    }
    if (work.pending.empty()) {
      host_work_.reset();
    } else {
      host_work_ = work;
    }
    if (!replaying) {
      metrics_->switches
          .Add({{"from", action_->from.empty() ? "unknown" : action_->from},
                {"to", action_->to},
                {"trigger", std::string(TriggerName(action_->trigger))}})
          .Increment();
    }
    metrics_->last_switch_timestamp.Set(Seconds(ts));
    serving_ = action_->to;
    action_.reset();
  } else if (type == "host_reconfigured") {
    if (host_work_ && host_work_->action_id == GetString(d, "id")) {
      host_work_->pending.erase(GetString(d, "host"));
      host_work_->last_error.erase(GetString(d, "host"));
      if (host_work_->pending.empty()) host_work_.reset();
    }
  } else if (type == "host_failed") {
    if (host_work_ && host_work_->action_id == GetString(d, "id")) {
      host_work_->last_error[GetString(d, "host")] =
          GetString(d, "kind") + ": " + GetString(d, "message");
    }
  } else if (type == "paused") {
    paused_ = true;
    pause_reason_ = GetString(d, "reason");
    paused_at_ = ts;
  } else if (type == "resumed") {
    paused_ = false;
    pause_reason_.clear();
  }
}

void Engine::Replay() {
  // The snapshot first (the state as of its seq), then the lines after it.
  if (!journal_->snapshot().empty()) {
    rapidjson::Document snap;
    snap.Parse(journal_->snapshot().c_str());
    if (!snap.HasParseError() && snap.IsObject()) {
      if (snap.HasMember("alerts")) {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        snap["alerts"].Accept(w);
        std::string error;
        if (!alerts_.FromJsonString(
                std::string_view(buf.GetString(), buf.GetSize()), &error)) {
          log::Error("snapshot: cannot restore the alerts", {{"err", error}});
          alerts_ = AlertSet();
        }
      }
      paused_ = snap.HasMember("paused") && snap["paused"].IsTrue();
      pause_reason_ = GetString(snap, "pause_reason");
      if (snap.HasMember("last_auto_switch")) {
        last_auto_switch_ = GetTime(snap, "last_auto_switch");
      }
      if (snap.HasMember("last_manual_switch")) {
        last_manual_switch_ = GetTime(snap, "last_manual_switch");
      }
      auto read_action = [&](const char* key) -> std::optional<SwitchAction> {
        if (!snap.HasMember(key) || !snap[key].IsObject()) return std::nullopt;
        const auto& v = snap[key];
        SwitchAction a;
        a.id = GetString(v, "id");
        a.from = GetString(v, "from");
        a.to = GetString(v, "to");
        a.trigger = TriggerFromName(GetString(v, "trigger"));
        a.reason = GetString(v, "reason");
        a.started = GetTime(v, "started");
        a.dns_done = v.HasMember("dns_done") && v["dns_done"].IsTrue();
        return a;
      };
      action_ = read_action("action");
      last_switch_ = read_action("last_switch");
      if (snap.HasMember("host_work") && snap["host_work"].IsObject()) {
        const auto& v = snap["host_work"];
        HostWork work;
        work.action_id = GetString(v, "id");
        work.site = GetString(v, "site");
        if (v.HasMember("pending") && v["pending"].IsArray()) {
          for (const auto& h : v["pending"].GetArray()) {
            if (h.IsString()) work.pending.insert(h.GetString());
          }
        }
        if (!work.pending.empty()) host_work_ = work;
      }
    }
  }
  for (const std::string& line : journal_->replay()) ApplyEvent(line, true);
  log::Info("state restored from the journal",
            {{"snapshot_seq", std::to_string(journal_->snapshot_seq())},
             {"replayed", std::to_string(journal_->replay().size())},
             {"action_in_progress", action_ ? action_->id : ""},
             {"pending_hosts",
              std::to_string(host_work_ ? host_work_->pending.size() : 0)}});
  journal_->SetApply(
      [this](const std::string& line) { ApplyEvent(line, false); });
}

std::string Engine::SnapshotJson() const {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("alerts");
  const std::string alerts = alerts_.ToJsonString();
  w.RawValue(alerts.c_str(), alerts.size(), rapidjson::kObjectType);
  w.Key("paused");
  w.Bool(paused_);
  Str(w, "pause_reason", pause_reason_);
  if (last_auto_switch_) Time(w, "last_auto_switch", *last_auto_switch_);
  if (last_manual_switch_) {
    Time(w, "last_manual_switch", *last_manual_switch_);
  }
  if (action_) {
    w.Key("action");
    WriteAction(w, *action_);
  }
  if (last_switch_) {
    w.Key("last_switch");
    WriteAction(w, *last_switch_);
  }
  if (host_work_) {
    w.Key("host_work");
    w.StartObject();
    Str(w, "id", host_work_->action_id);
    Str(w, "site", host_work_->site);
    w.Key("pending");
    w.StartArray();
    for (const std::string& h : host_work_->pending) w.String(h.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

void Engine::MaybeCompact() {
  if (journal_->size() < kCompactBytes) return;
  if (journal_->Compact([this] {
        std::lock_guard<std::mutex> lock(mu_);
        return SnapshotJson();
      })) {
    log::Info("journal compacted");
  }
}

// ------------------------------------------------------------------ intake

bool Engine::Record(const Notification& n) {
  std::vector<const Alert*> dr;
  for (const Alert& a : n.alerts) {
    if (IsDrAlert(a)) dr.push_back(&a);
  }
  const std::size_t others = n.alerts.size() - dr.size();
  bool ok = Append("webhook", [&](JsonWriter& w) {
    Str(w, "receiver", n.receiver);
    Str(w, "status", AlertStatusName(n.status));
    Str(w, "group_key", n.group_key);
    w.Key("alerts");
    w.StartArray();
    for (const Alert* a : dr) {
      w.StartObject();
      Str(w, "fingerprint", a->fingerprint);
      Str(w, "site", a->labels.at("site"));
      Str(w, "status", AlertStatusName(a->status));
      Time(w, "startsAt", a->starts_at);
      Time(w, "endsAt", a->ends_at);
      w.EndObject();
    }
    w.EndArray();
    w.Key("ignored_alerts");
    w.Uint64(others);
  });
  if (ok) UpdateGauges();
  return ok;
}

void Engine::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

// ---------------------------------------------------------------- operator

bool Engine::Pause(const std::string& reason) {
  bool ok = Append("paused", [&](JsonWriter& w) { Str(w, "reason", reason); });
  if (ok) log::Warn("automatic action paused", {{"reason", reason}});
  UpdateGauges();
  return ok;
}

bool Engine::Resume() {
  bool ok = Append("resumed", [](JsonWriter&) {});
  if (ok) log::Info("automatic action resumed");
  UpdateGauges();
  Wake();
  return ok;
}

ManualOutcome Engine::RequestSwitch(const std::string& target,
                                    const std::string& reason, bool force) {
  auto config = this->config();
  auto json_error = [](int status, const std::string& message) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Str(w, "error", message);
    w.EndObject();
    return ManualOutcome{status, std::string(buf.GetString(), buf.GetSize())};
  };
  if (config->FindSite(target) == nullptr) {
    return json_error(400, "unknown site \"" + target + "\"");
  }
  DecisionInput in;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (action_) {
      return json_error(409, "switch " + action_->id + " to " + action_->to +
                                 " is in progress");
    }
    in.config = config.get();
    in.now = Now();
    in.serving_site = serving_;
    in.firing_sites = alerts_.FiringSites(in.now);
    in.paused = paused_;
    in.last_auto_switch = last_auto_switch_;
    in.last_manual_switch = last_manual_switch_;
  }
  // The target's own confirmation, unless forced.
  if (!force && config->actuator->confirm.probes > 0) {
    Prober prober(config->probe);
    const SiteConfig* site = config->FindSite(target);
    int passed = 0;
    const int n = config->actuator->confirm.probes;
    for (int i = 0; i < n; ++i) {
      if (i > 0)
        std::this_thread::sleep_for(config->actuator->confirm.interval);
      if (prober.ProbeAll({site->health_url})[0].up) ++passed;
    }
    SiteHealth h;
    h.probed = true;
    h.confirmed_healthy = passed * 2 > n;
    in.health[target] = h;
  }
  Decision d = DecideManual(in, target, force);
  metrics_->decisions.Add({{"decision", std::string(OutcomeName(d.outcome))}})
      .Increment();
  log::Info("manual switch requested", {{"target", target},
                                        {"force", force ? "true" : "false"},
                                        {"decision", OutcomeName(d.outcome)},
                                        {"why", d.reason}});
  if (d.outcome != Outcome::kSwitch) {
    Append("manual_switch_refused", [&](JsonWriter& w) {
      Str(w, "target", target);
      Str(w, "reason", reason);
      Str(w, "decision", OutcomeName(d.outcome));
      Str(w, "why", d.reason);
    });
    return json_error(409, d.reason);
  }
  if (dry_run_) {
    return json_error(200, "dry run: would switch to " + target);
  }
  SwitchAction a;
  a.id = NewActionId();
  a.from = in.serving_site;
  a.to = target;
  a.trigger = Trigger::kManual;
  a.reason = reason.empty() ? d.reason : reason;
  if (!BeginSwitch(a, force)) {
    return json_error(503, "cannot record the switch in the journal");
  }
  Wake();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Str(w, "action", a.id);
  Str(w, "to", a.to);
  Str(w, "status", "started");
  w.EndObject();
  return ManualOutcome{202, std::string(buf.GetString(), buf.GetSize())};
}

// The intent, journaled before any step: from here a restart finishes it.
bool Engine::BeginSwitch(const SwitchAction& a, bool force) {
  bool ok = Append("switch_started", [&](JsonWriter& w) {
    Str(w, "id", a.id);
    Str(w, "from", a.from);
    Str(w, "to", a.to);
    Str(w, "trigger", TriggerName(a.trigger));
    Str(w, "reason", a.reason);
    w.Key("force");
    w.Bool(force);
  });
  if (ok) {
    log::Warn("switching", {{"id", a.id},
                            {"from", a.from},
                            {"to", a.to},
                            {"trigger", TriggerName(a.trigger)},
                            {"why", a.reason}});
  }
  return ok;
}

void Engine::Reload(std::shared_ptr<const Config> config,
                    std::unique_ptr<linode::DnsApi> dns_api,
                    std::unique_ptr<HostReconfigurer> hosts) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_reload_ =
        Pending{std::move(config), std::move(dns_api), std::move(hosts)};
  }
  Wake();
}

// --------------------------------------------------------------- reconcile

void Engine::ProbeRound() {
  std::shared_ptr<const Config> config = this->config();
  std::vector<std::string> urls;
  for (const SiteConfig& s : config->sites) urls.push_back(s.health_url);
  std::vector<ProbeResult> results = prober_->ProbeAll(urls);
  const TimePoint now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::string& name = config->sites[i].name;
    SiteHealth& h = health_[name];
    h.probed = true;
    if (results[i].up) {
      if (!h.confirmed_healthy || !h.healthy_since) h.healthy_since = now;
    } else {
      h.healthy_since.reset();
    }
    h.confirmed_healthy = results[i].up;
    last_probe_[name] = results[i];
  }
}

// The confirmation burst: confirm.probes rounds, confirm.interval apart;
// a site is healthy when a strict majority of its probes passed.
std::map<std::string, SiteHealth> Engine::Confirm(const Stopper& stop) {
  std::shared_ptr<const Config> config = this->config();
  const int n = config->actuator->confirm.probes;
  std::vector<std::string> urls;
  for (const SiteConfig& s : config->sites) urls.push_back(s.health_url);
  std::vector<int> passed(urls.size(), 0);
  for (int round = 0; round < n; ++round) {
    if (round > 0 && stop.WaitFor(config->actuator->confirm.interval)) break;
    auto results = prober_->ProbeAll(urls);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].up) ++passed[i];
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, SiteHealth> out = health_;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    SiteHealth& h = out[config->sites[i].name];
    h.probed = true;
    h.confirmed_healthy = passed[i] * 2 > n;
  }
  return out;
}

void Engine::Reconcile(const Stopper& stop) {
  // A reload takes effect here, between two rounds.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_reload_) {
      config_ = pending_reload_->config;
      dns_ = std::make_unique<DnsSwitch>(config_,
                                         std::move(pending_reload_->dns_api));
      hosts_ = std::move(pending_reload_->hosts);
      prober_ = std::make_unique<Prober>(config_->probe);
      pending_reload_.reset();
      log::Info("config reloaded");
    }
  }
  std::shared_ptr<const Config> config = this->config();

  ProbeRound();

  // An action begun (possibly before a crash) is finished first.
  std::optional<SwitchAction> in_progress;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_progress = action_;
  }
  if (in_progress) {
    Execute(*in_progress, stop);
    UpdateGauges();
    return;
  }

  auto view = dns_->Read(linode::Call::Within(kDnsBudget, &stop));
  DecisionInput in;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dns_read_ = true;
    if (view) {
      serving_ = view.value().serving_site;
      dns_error_.clear();
      if (serving_.empty()) {
        for (const auto& e : view.value().records) {
          if (!e.why.empty())
            dns_error_ = "record \"" + e.name + "\": " + e.why;
        }
        if (dns_error_.empty()) dns_error_ = "records point to different sites";
      }
    } else {
      serving_.clear();
      dns_error_ = std::string(linode::ErrorKindName(view.error().kind)) +
                   ": " + view.error().reason;
    }
    in.config = config.get();
    in.now = Now();
    alerts_.Expire(in.now);
    in.serving_site = serving_;
    in.firing_sites = alerts_.FiringSites(in.now);
    in.health = health_;
    in.paused = paused_;
    in.last_auto_switch = last_auto_switch_;
    in.last_manual_switch = last_manual_switch_;
  }
  if (!in.serving_site.empty() && in.firing_sites.count(in.serving_site) &&
      config->actuator->confirm.probes > 0) {
    in.health = Confirm(stop);
    in.now = Now();
  }
  Decision d = Decide(in);
  const std::string outcome(OutcomeName(d.outcome));
  metrics_->decisions.Add({{"decision", outcome}}).Increment();
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = !last_decision_ || last_decision_->outcome != d.outcome ||
              last_decision_->target != d.target;
    last_decision_ = d;
    last_decision_at_ = in.now;
  }
  if (changed) {
    log::Write(
        d.outcome == Outcome::kNoop ? log::Level::kInfo : log::Level::kWarn,
        "decision",
        {{"decision", outcome},
         {"serving", in.serving_site},
         {"target", d.target},
         {"why", d.reason}});
    Append("decision", [&](JsonWriter& w) {
      Str(w, "decision", outcome);
      Str(w, "serving", in.serving_site);
      Str(w, "target", d.target);
      Str(w, "why", d.reason);
      w.Key("dry_run");
      w.Bool(dry_run_);
    });
  }
  if ((d.outcome == Outcome::kSwitch || d.outcome == Outcome::kFailback) &&
      !dry_run_) {
    SwitchAction a;
    a.id = NewActionId();
    a.from = in.serving_site;
    a.to = d.target;
    a.trigger = d.trigger;
    a.reason = d.reason;
    if (BeginSwitch(a, false)) Execute(a, stop);
  }
  UpdateGauges();
  MaybeCompact();
}

// Runs the DNS step of `action` (idempotent); on success journals it, which
// hands the hosts to the host loop. On failure the action stays in progress
// and the next round retries it.
void Engine::Execute(SwitchAction action, const Stopper& stop) {
  std::shared_ptr<const Config> config = this->config();
  const SiteConfig* site = config->FindSite(action.to);
  if (site == nullptr) {
    log::Error("switch target no longer in the config; abandoning",
               {{"id", action.id}, {"to", action.to}});
    Append("switch_abandoned", [&](JsonWriter& w) {
      Str(w, "id", action.id);
      Str(w, "to", action.to);
    });
    std::lock_guard<std::mutex> lock(mu_);
    action_.reset();
    return;
  }
  auto start = std::chrono::steady_clock::now();
  auto written = dns_->SwitchTo(*site, linode::Call::Within(kDnsBudget, &stop));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  metrics_->Action("dns_update", written.ok(), seconds);
  if (!written) {
    if (stop.stopped()) return;
    log::Error("dns update failed; will retry",
               {{"id", action.id},
                {"to", action.to},
                {"kind", linode::ErrorKindName(written.error().kind)},
                {"err", written.error().reason}});
    Append("dns_failed", [&](JsonWriter& w) {
      Str(w, "id", action.id);
      Str(w, "kind", linode::ErrorKindName(written.error().kind));
      Str(w, "reason", written.error().reason);
    });
    return;
  }
  Append("dns_updated", [&](JsonWriter& w) {
    Str(w, "id", action.id);
    Str(w, "to", action.to);
    w.Key("written");
    w.Int(written.value());
  });
  log::Warn("dns switched",
            {{"id", action.id},
             {"to", action.to},
             {"records_written", std::to_string(written.value())}});
  host_cv_.notify_all();
}

void Engine::HostLoop(const Stopper& stop) {
  int attempt = 0;
  std::mt19937_64 rng{std::random_device{}()};
  while (!stop.stopped()) {
    std::optional<HostWork> work;
    std::shared_ptr<HostReconfigurer> hosts;
    std::shared_ptr<const Config> config;
    {
      std::unique_lock<std::mutex> lock(mu_);
      host_cv_.wait_for(lock, kTick, [&] { return host_work_.has_value(); });
      if (!host_work_ || stop.stopped()) {
        attempt = 0;
        continue;
      }
      if (std::chrono::steady_clock::now() < host_work_->next_attempt) continue;
      work = host_work_;
      hosts = hosts_;
      config = config_;
    }
    if (dry_run_) continue;
    const SiteConfig* site = config->FindSite(work->site);
    if (site == nullptr) {
      std::lock_guard<std::mutex> lock(mu_);
      host_work_.reset();
      continue;
    }
    std::vector<HostConfig> unconverged;
    for (const HostConfig& h : site->hosts) {
      if (work->pending.count(HostKey(h))) unconverged.push_back(h);
    }
    std::vector<HostResult> results =
        hosts->ReconfigureOnce(*site, unconverged);
    bool all_ok = true;
    for (const HostResult& r : results) {
      metrics_->Action("host_reconfigure", r.ok, r.seconds);
      const std::string& key = r.host;
      if (r.ok) {
        Append("host_reconfigured", [&](JsonWriter& w) {
          Str(w, "id", work->action_id);
          Str(w, "site", work->site);
          Str(w, "host", key);
          w.Key("changed");
          w.Bool(r.changed);
        });
        log::Info("host reconfigured",
                  {{"site", work->site},
                   {"host", key},
                   {"changed", r.changed ? "true" : "false"}});
      } else {
        all_ok = false;
        if (stop.stopped()) break;
        Append("host_failed", [&](JsonWriter& w) {
          Str(w, "id", work->action_id);
          Str(w, "site", work->site);
          Str(w, "host", key);
          Str(w, "kind", r.error_kind_name());
          Str(w, "message", r.message);
          w.Key("attempts");
          w.Int(r.attempts);
        });
        log::Error("host reconfiguration failed; will retry",
                   {{"site", work->site},
                    {"host", key},
                    {"kind", r.error_kind_name()},
                    {"err", r.message}});
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (all_ok || !host_work_) {
      attempt = 0;
      if (host_work_ && host_work_->pending.empty()) host_work_.reset();
    } else {
      // One host's failure is retried on its own schedule; the hosts that
      // converged stay converged (they left `pending`).
      ++attempt;
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      host_work_->next_attempt = std::chrono::steady_clock::now() +
                                 HostBackoff(kHostRetry, attempt, unit(rng));
      host_work_->attempts += 1;
    }
  }
}

// Keeps SSH sessions open to the hosts of every site that does not serve,
// so that the next switch does not start with a key exchange per host
// (none while the serving site is unknown: no switch starts then). Its own
// thread: a host that does not answer holds it up to ssh.connect_timeout,
// never a switch.
void Engine::WarmLoop(const Stopper& stop) {
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*>
      standby_gauges;  // the series set last round
  do {
    std::shared_ptr<HostReconfigurer> hosts;
    std::shared_ptr<const Config> config;
    std::string serving;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hosts = hosts_;
      config = config_;
      serving = serving_;
    }
    std::vector<HostConfig> standby;
    std::vector<std::string> site_of;  // per entry of `standby`
    if (!dry_run_ && hosts && !serving.empty()) {
      for (const SiteConfig& site : config->sites) {
        if (site.name == serving) continue;
        standby.insert(standby.end(), site.hosts.begin(), site.hosts.end());
        site_of.insert(site_of.end(), site.hosts.size(), site.name);
      }
    }
    std::vector<bool> ready;
    if (!standby.empty()) ready = hosts->Warm(standby);
    // One series per standby host, and none for the others (nor while the
    // serving site is unknown: nothing is prepared then).
    std::map<std::pair<std::string, std::string>, prometheus::Gauge*> now;
    for (std::size_t i = 0; i < standby.size() && i < ready.size(); ++i) {
      auto key = std::make_pair(site_of[i], ssh::HostName(standby[i]));
      prometheus::Gauge& g = metrics_->standby_host_ready.Add(
          {{"site", key.first}, {"host", key.second}});
      g.Set(ready[i] ? 1 : 0);
      now[key] = &g;
    }
    for (const auto& [key, gauge] : standby_gauges) {
      if (!now.count(key)) metrics_->standby_host_ready.Remove(gauge);
    }
    standby_gauges = std::move(now);
  } while (!stop.WaitFor(kWarmEvery));
}

void Engine::Run(const Stopper& stop) {
  std::thread host_thread([this, &stop] { HostLoop(stop); });
  std::thread warm_thread([this, &stop] { WarmLoop(stop); });
  Append("started", [&](JsonWriter& w) {
    Str(w, "version", kVersion);
    w.Key("dry_run");
    w.Bool(dry_run_);
  });
  while (!stop.stopped()) {
    const auto started = std::chrono::steady_clock::now();
    Reconcile(stop);
    std::unique_lock<std::mutex> lock(mu_);
    wake_cv_.wait_for(lock, kTick, [&] { return wake_ || stop.stopped(); });
    wake_ = false;
    lock.unlock();
    // However many wake-ups arrive, rounds are at least kMinGap apart.
    stop.WaitUntil(started + kMinGap);
  }
  host_cv_.notify_all();
  host_thread.join();
  warm_thread.join();
}

bool Engine::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dns_read_;
}

void Engine::UpdateGauges() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = Now();
  std::map<std::string, int> counts;
  for (const AlertEntry& e : alerts_.Firing(now)) ++counts[e.site];
  for (const SiteConfig& s : config_->sites) {
    metrics_->serving_site.Add({{"site", s.name}}).Set(serving_ == s.name);
    metrics_->firing_alerts.Add({{"site", s.name}}).Set(counts[s.name]);
  }
  metrics_->serving_site.Add({{"site", "unknown"}}).Set(serving_.empty());
  metrics_->paused.Set(paused_);
  const bool converged = !serving_.empty() && !action_ && !host_work_;
  metrics_->converged.Set(converged);
}

// ------------------------------------------------------------------- views

std::string Engine::StatusJson() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = Now();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Str(w, "serving_site", serving_);
  if (!dns_error_.empty()) Str(w, "serving_site_unknown_because", dns_error_);
  Str(w, "mode",
      config_->actuator->mode == ActuatorMode::kAuto ? "auto" : "manual");
  Str(w, "failback",
      config_->actuator->failback == FailbackPolicy::kAuto ? "auto" : "manual");
  w.Key("dry_run");
  w.Bool(dry_run_);
  w.Key("paused");
  w.Bool(paused_);
  if (paused_) {
    Str(w, "pause_reason", pause_reason_);
    Time(w, "paused_at", paused_at_);
  }
  w.Key("health");
  w.StartObject();
  for (const SiteConfig& s : config_->sites) {
    w.Key(s.name.c_str());
    w.StartObject();
    auto h = health_.find(s.name);
    w.Key("healthy");
    if (h == health_.end() || !h->second.probed) {
      w.Null();
    } else {
      w.Bool(h->second.confirmed_healthy);
      if (h->second.healthy_since) {
        Time(w, "healthy_since", *h->second.healthy_since);
      }
    }
    auto p = last_probe_.find(s.name);
    if (p != last_probe_.end() && !p->second.up) {
      Str(w, "last_error", p->second.error);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("firing_alerts");
  w.StartArray();
  for (const AlertEntry& e : alerts_.Firing(now)) {
    w.StartObject();
    Str(w, "site", e.site);
    Str(w, "fingerprint", e.key);
    Str(w, "summary", e.summary);
    Time(w, "startsAt", e.starts_at);
    if (e.ends_at != TimePoint{}) Time(w, "endsAt", e.ends_at);
    w.EndObject();
  }
  w.EndArray();
  if (last_switch_) {
    w.Key("last_switch");
    WriteAction(w, *last_switch_);
  }
  w.Key("action_in_progress");
  if (action_) {
    WriteAction(w, *action_);
  } else {
    w.Null();
  }
  w.Key("hosts_pending");
  if (host_work_) {
    w.StartObject();
    Str(w, "site", host_work_->site);
    w.Key("hosts");
    w.StartObject();
    for (const std::string& h : host_work_->pending) {
      auto e = host_work_->last_error.find(h);
      Str(w, h, e == host_work_->last_error.end() ? "pending" : e->second);
    }
    w.EndObject();
    w.EndObject();
  } else {
    w.Null();
  }
  if (last_decision_) {
    w.Key("last_decision");
    w.StartObject();
    Str(w, "decision", OutcomeName(last_decision_->outcome));
    Str(w, "target", last_decision_->target);
    Str(w, "why", last_decision_->reason);
    Time(w, "at", last_decision_at_);
    w.EndObject();
  }
  w.Key("converged");
  w.Bool(!serving_.empty() && !action_ && !host_work_);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string Engine::EventsJson(std::size_t limit) {
  std::string out = "{\"events\":[";
  bool first = true;
  for (const std::string& line : journal_->Recent(limit)) {
    if (!first) out += ",";
    out += line;  // each line is a JSON object written by Append()
    first = false;
  }
  out += "]}";
  return out;
}

}  // namespace drf::actuator
