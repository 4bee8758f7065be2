#include "actuator/engine.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include "actuator/actions/standby_warmer.h"
#include "actuator/api/views.h"
#include "actuator/intake/alertmanager_pull.h"
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
// Host retries: 0.5 s doubling to 30 s, with full jitter, until the host
// converges or newer work supersedes it.
const HostRetryPolicy kHostRetry{std::chrono::milliseconds(500),
                                 std::chrono::seconds(30), Duration::zero()};
constexpr std::uint64_t kCompactBytes = 16 << 20;

TimePoint Now() { return std::chrono::system_clock::now(); }

double Seconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
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

std::vector<std::string> HostNames(const SiteConfig& site) {
  std::vector<std::string> out;
  for (const HostConfig& h : site.hosts) out.push_back(ssh::HostName(h));
  return out;
}

std::vector<std::string> HostNames(const Config& config,
                                   const std::string& site) {
  const SiteConfig* s = config.FindSite(site);
  return s == nullptr ? std::vector<std::string>{} : HostNames(*s);
}

ManualOutcome Refusal(int status, std::string_view message) {
  return ManualOutcome{status, ErrorJson(message)};
}

// A site is confirmed healthy when a strict majority of its probes passed.
bool Majority(int passed, int probes) { return passed * 2 > probes; }

}  // namespace

/// An operator's switch request, from the HTTP thread that waits for its
/// answer to the reconcile thread that decides it. Guarded by Engine::mu_.
struct Engine::Intent {
  std::string target;
  std::string reason;
  bool force = false;
  bool taken = false;  // the reconcile thread is deciding it
  std::optional<ManualOutcome> answer;
};

Engine::Engine(std::shared_ptr<const Config> config, bool dry_run,
               std::unique_ptr<Journal> journal,
               std::unique_ptr<linode::DnsApi> dns_api,
               std::shared_ptr<HostReconfigurer> hosts)
    : dry_run_(dry_run),
      journal_(std::move(journal)),
      metrics_(std::make_unique<ActuatorMetrics>(*config)),
      dns_(std::make_unique<DnsSwitch>(config, std::move(dns_api))),
      prober_(std::make_unique<Prober>(config->probe)),
      config_(config),
      hosts_(std::move(hosts)) {
  if (!config->actuator) {
    throw std::invalid_argument("the config has no actuator section");
  }
  // The snapshot, then the lines after it, through the same reducer as
  // the live path.
  if (!journal_->snapshot().empty()) {
    std::string error;
    if (!DecodeState(journal_->snapshot(), &state_, &error)) {
      throw std::runtime_error("unreadable snapshot in " +
                               config->actuator->state_dir + ": " + error);
    }
  }
  journal_->Replay(
      [this](const std::string& line) { return OnJournaled(line); });
  log::Info(
      "state restored from the journal",
      {{"seq", std::to_string(state_.seq)},
       {"action_in_progress",
        state_.shared.action ? state_.shared.action->id : ""},
       {"hosts_pending", state_.shared.hosts ? state_.shared.hosts->id : ""},
       {"paused", state_.shared.paused ? "true" : "false"}});
  journal_->SetApply(
      [this](const std::string& line) { return OnJournaled(line); });
  metrics_->paused.Set(state_.shared.paused);
}

Engine::~Engine() = default;

std::shared_ptr<const Config> Engine::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

// ------------------------------------------------------------ the journal

bool Engine::OnJournaled(const std::string& line) {
  Entry entry;
  std::string error;
  if (!Decode(line, &entry, &error)) {
    log::Warn("journal: skipping an unreadable event", {{"err", error}});
    return false;
  }
  bool news = false;
  bool wake_hosts = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string hosts_before =
        state_.shared.hosts ? state_.shared.hosts->id : "";
    state_ = Apply(std::move(state_), entry, &news);
    const std::string hosts_after =
        state_.shared.hosts ? state_.shared.hosts->id : "";
    if (hosts_after != hosts_before) {
      // Newer work supersedes what the host thread is doing.
      if (host_cancel_ != nullptr) host_cancel_->Stop();
      wake_hosts = true;
    }
    // What the reconcile thread did not write itself is news to it.
    const bool external =
        std::holds_alternative<event::Webhook>(entry.event) ||
        std::holds_alternative<event::AlertsPulled>(entry.event) ||
        std::holds_alternative<event::Paused>(entry.event) ||
        std::holds_alternative<event::Resumed>(entry.event) ||
        std::holds_alternative<event::HostReconfigured>(entry.event);
    if (news && external) wake_ = true;
    metrics_->paused.Set(state_.shared.paused);
  }
  if (wake_hosts) host_cv_.notify_all();
  wake_cv_.notify_all();
  return news;
}

bool Engine::Append(const Event& event) {
  // The journal numbers the line, writes it, and applies it (OnJournaled,
  // on its writer thread, in seq order) before this returns.
  return journal_->Append(Encode(event, Now()));
}

// ----------------------------------------------------------------- intake

bool Engine::Record(const Notification& n) {
  const auto config = this->config();
  event::Webhook e;
  e.receiver = n.receiver;
  e.status = AlertStatusName(n.status);
  e.group_key = n.group_key;
  for (const Alert& a : n.alerts) {
    if (!IsDrAlert(a)) {
      ++e.ignored_alerts;
    } else if (config->FindSite(a.labels.at(std::string(kSiteLabel))) ==
               nullptr) {
      // Journaled and counted, never stored where it would compete with the
      // alerts of configured sites.
      e.unknown_site_alerts.push_back(RecordOf(a));
    } else {
      e.alerts.push_back(RecordOf(a));
    }
  }
  if (!Append(e)) return false;
  metrics_->alerts_ignored.Add({{"reason", "not_dr"}})
      .Increment(static_cast<double>(e.ignored_alerts));
  metrics_->alerts_ignored.Add({{"reason", "unknown_site"}})
      .Increment(static_cast<double>(e.unknown_site_alerts.size()));
  if (!e.unknown_site_alerts.empty()) {
    log::Warn("DR alerts for sites not in the config; ignored",
              {{"site", e.unknown_site_alerts.front().site},
               {"count", std::to_string(e.unknown_site_alerts.size())}});
  }
  return true;
}

bool Engine::Pause(const std::string& reason) {
  if (!Append(event::Paused{reason})) return false;
  log::Warn("automatic action paused", {{"reason", reason}});
  return true;
}

bool Engine::Resume() {
  if (!Append(event::Resumed{})) return false;
  log::Info("automatic action resumed");
  return true;
}

ManualOutcome Engine::RequestSwitch(const std::string& target,
                                    const std::string& reason, bool force) {
  if (config()->FindSite(target) == nullptr) {
    return Refusal(400, "unknown site \"" + target + "\"");
  }
  auto intent = std::make_shared<Intent>();
  intent->target = target;
  intent->reason = reason;
  intent->force = force;
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return Refusal(503, "the actuator is stopping");
  intents_.push_back(intent);
  wake_ = true;
  wake_cv_.notify_all();
  const auto deadline = std::chrono::steady_clock::now() + kIntentWait;
  intent_cv_.wait_until(lock, deadline, [&] {
    return intent->answer.has_value() || intent->taken;
  });
  if (!intent->taken && !intent->answer) {
    // Not taken up in time: withdrawn, so it can never start later.
    intents_.erase(std::find(intents_.begin(), intents_.end(), intent));
    return Refusal(503,
                   "the actuator is busy finishing a step; nothing was "
                   "started, try again");
  }
  // Taken: the decision is under way and ends within its probes.
  intent_cv_.wait(lock, [&] { return intent->answer.has_value(); });
  return *intent->answer;
}

// -------------------------------------------------------------- the views

std::string Engine::StatusJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actuator::StatusJson(
      StatusInput{*config_, state_, observed_, dry_run_, Now()});
}

std::string Engine::EventsJson(const EventQuery& query) const {
  EventPage page = journal_->Events(query);
  return actuator::EventsJson(page.lines, page.unreadable_lines);
}

bool Engine::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_.dns_read;
}

void Engine::Reload(std::shared_ptr<const Config> config,
                    std::unique_ptr<linode::DnsApi> dns_api,
                    std::shared_ptr<HostReconfigurer> hosts) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_reload_ =
        PendingReload{std::move(config), std::move(dns_api), std::move(hosts)};
    wake_ = true;
  }
  wake_cv_.notify_all();
}

// ------------------------------------------------------ the reconcile loop

void Engine::Run(const Stopper& stop) {
  std::thread host_thread([this, &stop] { HostLoop(stop); });
  StandbyWarmer warmer(
      [this] {
        std::lock_guard<std::mutex> lock(mu_);
        return StandbyWarmer::Inputs{config_, dry_run_ ? nullptr : hosts_,
                                     observed_.serving};
      },
      metrics_->standby_host_ready);
  std::thread warm_thread([&] { warmer.Run(stop, kWarmEvery); });
  std::thread pull_thread([this, &stop] { PullLoop(stop); });
  Append(event::Started{kVersion, kRevision, "standalone", dry_run_});
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (const auto& intent : intents_) {
      intent->answer = Refusal(503, "the actuator is stopping");
    }
    intents_.clear();
    if (host_cancel_ != nullptr) host_cancel_->Stop();
  }
  intent_cv_.notify_all();
  host_cv_.notify_all();
  host_thread.join();
  warm_thread.join();
  pull_thread.join();
}

// One round: read inputs (probes, the provider, the journal's state),
// decide, execute one step, journal it.
void Engine::Reconcile(const Stopper& stop) {
  ApplyReload();
  const std::shared_ptr<const Config> config = this->config();
  ProbeRound(*config);
  std::optional<SwitchAction> in_progress;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_progress = state_.shared.action;
  }
  // A switch begun (possibly before a crash) is finished first; under
  // --dry-run it is only reported.
  if (!in_progress || dry_run_) ReadDns(stop);
  ServeIntents(stop);
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_progress = state_.shared.action;
  }
  if (in_progress) FinishSwitch(*in_progress, stop);
  if (!in_progress || dry_run_) DecideAndAct(stop);
  CompleteSwitch();
  UpdateGauges();
  MaybeCompact();
}

void Engine::ApplyReload() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_reload_) return;
  config_ = pending_reload_->config;
  dns_ =
      std::make_unique<DnsSwitch>(config_, std::move(pending_reload_->dns_api));
  hosts_ = std::move(pending_reload_->hosts);
  prober_ = std::make_unique<Prober>(config_->probe);
  pending_reload_.reset();
  // Host work restarts with the new config (keys, known hosts, env).
  ++host_generation_;
  if (host_cancel_ != nullptr) host_cancel_->Stop();
  host_cv_.notify_all();
  log::Info("config reloaded");
}

void Engine::ProbeRound(const Config& config) {
  std::vector<std::string> urls;
  for (const SiteConfig& s : config.sites) urls.push_back(s.health_url);
  std::vector<ProbeResult> results = prober_->ProbeAll(urls);
  const TimePoint now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::string& name = config.sites[i].name;
    SiteHealth& h = observed_.health[name];
    h.probed = true;
    if (results[i].up) {
      if (!h.confirmed_healthy || !h.healthy_since) h.healthy_since = now;
    } else {
      h.healthy_since.reset();
    }
    h.confirmed_healthy = results[i].up;
    observed_.last_probe[name] = results[i];
  }
}

// The confirmation burst, for automatic and manual switches alike:
// confirm.probes rounds, confirm.interval apart.
std::map<std::string, SiteHealth> Engine::Confirm(const Config& config,
                                                  const Stopper& stop) {
  const int n = config.actuator->confirm.probes;
  std::vector<std::string> urls;
  for (const SiteConfig& s : config.sites) urls.push_back(s.health_url);
  std::vector<int> passed(urls.size(), 0);
  for (int round = 0; round < n; ++round) {
    if (round > 0 && stop.WaitFor(config.actuator->confirm.interval)) break;
    auto results = prober_->ProbeAll(urls);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].up) ++passed[i];
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, SiteHealth> out = observed_.health;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    SiteHealth& h = out[config.sites[i].name];
    h.probed = true;
    h.confirmed_healthy = Majority(passed[i], n);
  }
  return out;
}

void Engine::ReadDns(const Stopper& stop) {
  auto view = dns_->Read(linode::Call::Within(kDnsBudget, &stop));
  std::lock_guard<std::mutex> lock(mu_);
  observed_.dns_read = true;
  observed_.serving_unknown_because.clear();
  if (!view) {
    observed_.serving.clear();
    observed_.serving_unknown_because =
        std::string(linode::ErrorKindName(view.error().kind)) + ": " +
        view.error().reason;
    return;
  }
  observed_.serving = view.value().serving_site;
  if (observed_.serving.empty()) {
    for (const auto& e : view.value().records) {
      if (!e.why.empty()) {
        observed_.serving_unknown_because =
            "record \"" + e.name + "\": " + e.why;
      }
    }
    if (observed_.serving_unknown_because.empty()) {
      observed_.serving_unknown_because = "records point to different sites";
    }
  }
}

DecisionInput Engine::Inputs(const Config& config) {
  std::lock_guard<std::mutex> lock(mu_);
  DecisionInput in;
  in.config = &config;
  in.now = Now();
  in.serving_site = observed_.serving;
  in.firing_sites = state_.alerts.FiringSites(in.now);
  in.health = observed_.health;
  in.paused = state_.shared.paused;
  in.last_auto_switch = state_.shared.last_auto_switch;
  in.last_manual_switch = state_.shared.last_manual_switch;
  return in;
}

void Engine::DecideAndAct(const Stopper& stop) {
  const std::shared_ptr<const Config> config = this->config();
  DecisionInput in = Inputs(*config);
  if (!in.serving_site.empty() && in.firing_sites.count(in.serving_site) &&
      config->actuator->confirm.probes > 0) {
    in.health = Confirm(*config, stop);
    in.now = Now();
  }
  const Decision d = Decide(in);
  const std::string outcome(OutcomeName(d.outcome));
  metrics_->Decision(outcome);
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& last = state_.last_decision;
    changed = !last || last->decision != outcome || last->target != d.target ||
              last->serving != in.serving_site;
  }
  if (changed) {
    log::Write(
        d.outcome == Outcome::kNoop ? log::Level::kInfo : log::Level::kWarn,
        "decision",
        {{"decision", outcome},
         {"serving", in.serving_site},
         {"target", d.target},
         {"why", d.reason},
         {"dry_run", dry_run_ ? "true" : "false"}});
    Append(event::Decision{outcome, in.serving_site, d.target, d.reason,
                           dry_run_, "standalone"});
  }
  if (!MovesTraffic(d.outcome) || dry_run_) return;
  if (auto a = StartSwitch(*config, in.serving_site, d.target, d.trigger,
                           d.reason, false)) {
    FinishSwitch(*a, stop);
  }
}

// The intent, journaled before any step: from here a restart finishes it.
// Only the reconcile thread calls this, and only with no switch before its
// DNS step (checked by the callers against the state).
std::optional<SwitchAction> Engine::StartSwitch(
    const Config& config, const std::string& from, const std::string& to,
    Trigger trigger, const std::string& reason, bool force) {
  event::SwitchStarted e;
  e.id = NewActionId();
  e.from = from;
  e.to = to;
  e.trigger = trigger;
  e.reason = reason;
  e.force = force;
  e.hosts = HostNames(config, to);
  if (!Append(e)) {
    log::Error("cannot journal a switch; not starting it",
               {{"to", to}, {"trigger", TriggerName(trigger)}});
    return std::nullopt;
  }
  log::Warn("switching", {{"id", e.id},
                          {"from", from},
                          {"to", to},
                          {"trigger", TriggerName(trigger)},
                          {"why", reason}});
  std::lock_guard<std::mutex> lock(mu_);
  return state_.shared.action;
}

// The DNS step of `action` (idempotent); on success journals it, which
// hands the hosts to the host thread. On failure the switch stays in
// progress and the next round retries it.
void Engine::FinishSwitch(const SwitchAction& action, const Stopper& stop) {
  if (dry_run_) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string what = "switch " + action.id + " from " +
                       (action.from.empty() ? "unknown" : action.from) +
                       " to " + action.to + " (DNS step, then hosts)";
    if (observed_.dry_run_would_finish != what) {
      log::Warn(
          "dry run: a switch is in progress in the journal; a real run "
          "would finish it",
          {{"id", action.id}, {"to", action.to}});
      observed_.dry_run_would_finish = what;
    }
    return;
  }
  const std::shared_ptr<const Config> config = this->config();
  const SiteConfig* site = config->FindSite(action.to);
  if (site == nullptr) {
    log::Error("switch target no longer in the config; abandoning",
               {{"id", action.id}, {"to", action.to}});
    Append(event::SwitchAbandoned{
        action.id, "switch target " + action.to + " is no longer configured"});
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  auto written = dns_->SwitchTo(*site, linode::Call::Within(kDnsBudget, &stop));
  metrics_->Action(
      "dns_update", written.ok(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  if (!written) {
    if (stop.stopped()) return;
    log::Error("dns update failed; will retry",
               {{"id", action.id},
                {"to", action.to},
                {"kind", linode::ErrorKindName(written.error().kind)},
                {"err", written.error().reason}});
    Append(event::DnsFailed{
        action.id, written.error().reason,
        std::string(linode::ErrorKindName(written.error().kind))});
    return;
  }
  {
    // Verified at the provider: this is what is served now.
    std::lock_guard<std::mutex> lock(mu_);
    observed_.serving = action.to;
    observed_.serving_unknown_because.clear();
  }
  if (!Append(event::DnsUpdated{action.id, action.to, written.value()})) {
    return;  // the next round rewrites nothing and journals it again
  }
  metrics_->Switch(action.from, action.to, action.trigger);
  log::Warn("dns switched",
            {{"id", action.id},
             {"to", action.to},
             {"records_written", std::to_string(written.value())}});
}

// switch_completed once every host of the last switch is done.
void Engine::CompleteSwitch() {
  std::optional<event::SwitchCompleted> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& hw = state_.shared.hosts;
    if (!hw || dry_run_) return;
    if (!PendingHosts(*hw, HostNames(*config_, hw->site)).empty()) return;
    done = event::SwitchCompleted{
        hw->id, std::chrono::duration<double>(Now() - hw->started).count()};
  }
  if (Append(*done)) {
    log::Info("switch completed",
              {{"id", done->id}, {"seconds", std::to_string(done->seconds)}});
  }
}

void Engine::ServeIntents(const Stopper& stop) {
  for (;;) {
    std::shared_ptr<Intent> intent;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (intents_.empty()) return;
      intent = intents_.front();
      intents_.pop_front();
      intent->taken = true;
    }
    intent_cv_.notify_all();
    ManualOutcome answer = Serve(*intent, stop);
    {
      std::lock_guard<std::mutex> lock(mu_);
      intent->answer = std::move(answer);
    }
    intent_cv_.notify_all();
  }
}

// One operator switch, decided like every other (DecideManual) with the
// same confirmation; a 202 is answered once its intent is journaled, and
// the DNS step follows at once.
ManualOutcome Engine::Serve(const Intent& intent, const Stopper& stop) {
  const std::shared_ptr<const Config> config = this->config();
  if (config->FindSite(intent.target) == nullptr) {
    return Refusal(400, "unknown site \"" + intent.target + "\"");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const auto& a = state_.shared.action) {
      return Refusal(409,
                     "switch " + a->id + " to " + a->to + " is in progress");
    }
  }
  DecisionInput in = Inputs(*config);
  if (!intent.force && config->actuator->confirm.probes > 0) {
    in.health = Confirm(*config, stop);
    in.now = Now();
  }
  const Decision d = DecideManual(in, intent.target, intent.force);
  const std::string outcome(OutcomeName(d.outcome));
  metrics_->Decision(outcome);
  log::Info("manual switch requested",
            {{"target", intent.target},
             {"force", intent.force ? "true" : "false"},
             {"decision", outcome},
             {"why", d.reason}});
  if (d.outcome != Outcome::kSwitch) {
    Append(event::ManualSwitchRefused{intent.target, intent.reason, outcome,
                                      d.reason});
    return Refusal(409, d.reason);
  }
  if (dry_run_)
    return Refusal(200, "dry run: would switch to " + intent.target);
  auto a = StartSwitch(
      *config, in.serving_site, intent.target, Trigger::kManual,
      intent.reason.empty() ? d.reason : intent.reason, intent.force);
  if (!a) return Refusal(503, "cannot record the switch in the journal");
  FinishSwitch(*a, stop);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("action");
  w.String(a->id.c_str());
  w.Key("to");
  w.String(a->to.c_str());
  w.Key("status");
  w.String("started");
  w.EndObject();
  return ManualOutcome{202, std::string(buf.GetString(), buf.GetSize())};
}

void Engine::UpdateGauges() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> firing;
  for (const AlertEntry& e : state_.alerts.Firing(Now())) ++firing[e.site];
  metrics_->Sites(*config_, observed_.serving, firing);
  metrics_->paused.Set(state_.shared.paused);
  std::size_t pending = 0;
  if (const auto& hw = state_.shared.hosts) {
    pending = PendingHosts(*hw, HostNames(*config_, hw->site)).size();
  }
  metrics_->converged.Set(
      Converged(observed_.serving, state_.shared.action.has_value(), pending));
  if (state_.last_switch) {
    metrics_->last_switch_timestamp.Set(Seconds(state_.last_switch->dns_at));
  }
}

void Engine::MaybeCompact() {
  if (journal_->size() < kCompactBytes) return;
  if (journal_->Compact([this] {
        std::lock_guard<std::mutex> lock(mu_);
        return EncodeState(state_);
      })) {
    log::Info("journal compacted");
  }
}

// -------------------------------------------------------- the pull thread

// Alerts pulled as well as pushed (SPEC.md §10): a firing alert that a
// successful pull no longer lists is resolved, as if its resolved
// notification had arrived; a failed pull changes nothing.
void Engine::PullLoop(const Stopper& stop) {
  static log::RateLimiter limiter(std::chrono::minutes(1));
  std::shared_ptr<const Config> built_for;
  std::unique_ptr<AlertmanagerPuller> puller;
  Duration interval = kTick;
  do {
    const std::shared_ptr<const Config> config = this->config();
    if (config != built_for) {  // started, or reloaded
      built_for = config;
      puller.reset();
      interval = kTick;
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
    AlertSet before;
    {
      std::lock_guard<std::mutex> lock(mu_);
      before = state_.alerts;
    }
    const TimePoint now = Now();  // before the request: see PullChanges
    PullResult r = puller->Pull(stop);
    if (stop.stopped()) break;
    metrics_->alertmanager_pulls.Add({{"result", r.ok ? "success" : "failure"}})
        .Increment();
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
    {
      // Only what still changes something: a webhook may have told the
      // same while the request was under way.
      std::lock_guard<std::mutex> lock(mu_);
      AlertSet probe = state_.alerts;
      std::erase_if(changes, [&](const Alert& a) {
        return probe.Apply(a, now, AlertSource::kPull) ==
               ApplyResult::kIgnoredStale;
      });
    }
    if (changes.empty()) continue;
    event::AlertsPulled e;
    e.source = r.source;
    e.pulled_at = now;
    for (const Alert& a : changes) e.changes.push_back(RecordOf(a));
    if (Append(e)) {
      log::Info("alerts pulled from Alertmanager",
                {{"source", r.source},
                 {"changes", std::to_string(e.changes.size())}});
    }
  } while (!stop.WaitFor(interval));
}

// -------------------------------------------------------- the host thread

bool Engine::HostWorkToDo() const {
  const auto& hw = state_.shared.hosts;
  if (dry_run_ || !hw || !hosts_) return false;
  if (hw->id + "#" + std::to_string(host_generation_) == host_finished_) {
    return false;  // ran to its end (converged or gave up): nothing new
  }
  return !PendingHosts(*hw, HostNames(*config_, hw->site)).empty();
}

void Engine::HostLoop(const Stopper& stop) {
  for (;;) {
    Stopper cancel;
    std::string key;
    std::string id;
    SiteConfig site;
    std::vector<HostConfig> pending;
    std::shared_ptr<HostReconfigurer> hosts;
    {
      std::unique_lock<std::mutex> lock(mu_);
      host_cv_.wait(lock, [&] { return stopping_ || HostWorkToDo(); });
      if (stopping_ || stop.stopped()) return;
      const HostWork& hw = *state_.shared.hosts;
      id = hw.id;
      key = hw.id + "#" + std::to_string(host_generation_);
      const SiteConfig* s = config_->FindSite(hw.site);
      if (s == nullptr) {
        host_finished_ = key;  // the site left the config: nothing to do
        continue;
      }
      site = *s;
      const std::vector<std::string> names = PendingHosts(hw, HostNames(site));
      for (const HostConfig& h : site.hosts) {
        if (std::find(names.begin(), names.end(), ssh::HostName(h)) !=
            names.end()) {
          pending.push_back(h);
        }
      }
      hosts = hosts_;
      host_cancel_ = &cancel;
    }
    hosts->Reconfigure(
        site, pending, &cancel, [&](const SiteConfig& s, const HostResult& r) {
          metrics_->Action(HostReconfigurer::kAction, r.ok, r.seconds);
          if (r.ok) {
            Append(event::HostReconfigured{id, s.name, r.host, r.changed});
          } else {
            Append(event::HostFailed{id, s.name, r.host,
                                     std::string(r.error_kind_name()),
                                     r.message, r.attempts});
          }
        });
    std::lock_guard<std::mutex> lock(mu_);
    host_cancel_ = nullptr;
    // Cancelled (superseded, reloaded, stopping): the next wait decides.
    if (!cancel.stopped()) host_finished_ = key;
  }
}

}  // namespace drf::actuator
