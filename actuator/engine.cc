#include "actuator/engine.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "actuator/actions/standby_warmer.h"
#include "actuator/api/views.h"
#include "actuator/intake/alert_pull_loop.h"
#include "core/log/log.h"
#include "core/version.h"

namespace drf::actuator {
namespace {

constexpr auto kTick = std::chrono::seconds(1);
constexpr auto kMinGap = std::chrono::milliseconds(50);
// How often the SSH sessions to the standby sites' hosts are looked after
// (each is checked with a round trip only every 15 s; see SessionPool).
constexpr auto kWarmEvery = std::chrono::seconds(5);
constexpr std::uint64_t kCompactBytes = 16 << 20;

TimePoint Now() { return std::chrono::system_clock::now(); }

ManualOutcome Refusal(int status, std::string_view message) {
  return ManualOutcome{status, ErrorJson(message)};
}

}  // namespace

Engine::Engine(std::shared_ptr<const Config> config, bool dry_run,
               std::unique_ptr<Journal> journal,
               std::unique_ptr<linode::DnsApi> dns_api,
               std::shared_ptr<HostReconfigurer> hosts)
    : dry_run_(dry_run),
      journal_(std::move(journal)),
      metrics_(std::make_unique<ActuatorMetrics>(*config)),
      dns_(std::make_unique<DnsSwitch>(config, std::move(dns_api))),
      probes_(std::make_unique<SiteProbes>(config->probe)),
      host_worker_([this](const HostJob& job, const HostResult& r) {
        metrics_->Action(HostReconfigurer::kAction, r.ok, r.seconds);
        if (r.ok) {
          Append(event::HostReconfigured{job.id, job.site.name, r.host,
                                         r.changed});
        } else {
          Append(event::HostFailed{job.id, job.site.name, r.host,
                                   std::string(r.error_kind_name()), r.message,
                                   r.attempts});
        }
      }),
      steps_([this](const Event& e) { return Append(e); }, *metrics_),
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string hosts_before =
        state_.shared.hosts ? state_.shared.hosts->id : "";
    state_ = Apply(std::move(state_), entry, &news);
    const std::string hosts_after =
        state_.shared.hosts ? state_.shared.hosts->id : "";
    // Newer work supersedes what the host thread is doing.
    if (hosts_after != hosts_before) OfferHostWork();
    // What the reconcile thread did not write itself is news to it.
    const bool external =
        std::holds_alternative<event::Webhook>(entry.event) ||
        std::holds_alternative<event::AlertsPulled>(entry.event) ||
        std::holds_alternative<event::Paused>(entry.event) ||
        std::holds_alternative<event::Resumed>(entry.event) ||
        std::holds_alternative<event::HostReconfigured>(entry.event);
    if (news && external) wake_ = true;
  }
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
  // DR alerts for sites not in the config are journaled and counted, never
  // stored where they would compete with the alerts of configured sites.
  const event::Webhook e = WebhookEvent(n, [&](const std::string& site) {
    return config->FindSite(site) != nullptr;
  });
  if (!Append(e)) return false;
  metrics_->Ignored(e);
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
  auto answer =
      intents_.Submit(SwitchIntent{target, reason, force}, kIntentWait, [this] {
        std::lock_guard<std::mutex> lock(mu_);
        wake_ = true;
        wake_cv_.notify_all();
      });
  if (!answer) {
    return Refusal(503,
                   "the actuator is busy finishing a step or stopping; "
                   "nothing was started, try again");
  }
  return *answer;
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
  std::thread host_thread([this] { host_worker_.Run(); });
  StandbyWarmer warmer(
      [this] {
        std::lock_guard<std::mutex> lock(mu_);
        return StandbyWarmer::Inputs{config_, dry_run_ ? nullptr : hosts_,
                                     observed_.serving};
      },
      metrics_->standby_host_ready);
  std::thread warm_thread([&] { warmer.Run(stop, kWarmEvery); });
  AlertPullLoop puller(
      {[this] { return config(); },
       [this] {
         std::lock_guard<std::mutex> lock(mu_);
         return state_.alerts;
       },
       [this](const event::AlertsPulled& e) { return Append(e); }},
      metrics_->alertmanager_pulls);
  std::thread pull_thread([&] { puller.Run(stop); });
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
  intents_.Close(Refusal(503, "the actuator is stopping"));
  host_worker_.Stop();
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
  intents_.Serve(
      [&](const SwitchIntent& intent) { return Serve(intent, stop); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_progress = state_.shared.action;
  }
  if (in_progress) DnsStep(*in_progress, stop);
  if (!in_progress || dry_run_) DecideAndAct(stop);
  std::optional<HostWork> hosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosts = state_.shared.hosts;
  }
  if (hosts && !dry_run_) steps_.CompleteIfDone(*config, *hosts);
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
  probes_ = std::make_unique<SiteProbes>(config_->probe);
  pending_reload_.reset();
  // Host work restarts with the new config (keys, known hosts, env).
  ++host_generation_;
  OfferHostWork();
  log::Info("config reloaded");
}

void Engine::ProbeRound(const Config& config) {
  const std::vector<ProbeResult> results = probes_->Round(config);
  std::lock_guard<std::mutex> lock(mu_);
  NoteRound(config, results, Now(), &observed_);
}

// The confirmation burst, for automatic and manual switches alike.
std::map<std::string, SiteHealth> Engine::Confirm(const Config& config,
                                                  const Stopper& stop) {
  const std::vector<int> passed = probes_->Burst(config, stop);
  std::lock_guard<std::mutex> lock(mu_);
  return Confirmed(config, passed, config.actuator->confirm.probes,
                   observed_.health);
}

void Engine::ReadDns(const Stopper& stop) {
  auto view = dns_->Read(linode::Call::Within(DnsSwitch::kBudget, &stop));
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
  observed_.serving_unknown_because = view.value().UnknownBecause();
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
    DnsStep(*a, stop);
  }
}

// The intent, journaled before any step: from here a restart finishes it.
// Only the reconcile thread calls this, and only with no switch before its
// DNS step (checked by the callers against the state).
std::optional<SwitchAction> Engine::StartSwitch(
    const Config& config, const std::string& from, const std::string& to,
    Trigger trigger, const std::string& reason, bool force) {
  if (!steps_.Start(config, from, to, trigger, reason, force)) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return state_.shared.action;
}

// The DNS step of `action`; under --dry-run only reported.
void Engine::DnsStep(const SwitchAction& action, const Stopper& stop) {
  if (dry_run_) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string what = WouldFinish(action);
    if (observed_.dry_run_would_finish != what) {
      log::Warn(
          "dry run: a switch is in progress in the journal; a real run "
          "would finish it",
          {{"id", action.id}, {"to", action.to}});
      observed_.dry_run_would_finish = what;
    }
    return;
  }
  if (steps_.Dns(*dns_, *config(), action, stop)) {
    // Verified at the provider: this is what is served now.
    std::lock_guard<std::mutex> lock(mu_);
    observed_.serving = action.to;
    observed_.serving_unknown_because.clear();
  }
}

// One operator switch, decided like every other (DecideManual) with the
// same confirmation; a 202 is answered once its intent is journaled, and
// the DNS step follows at once.
ManualOutcome Engine::Serve(const SwitchIntent& intent, const Stopper& stop) {
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
  DnsStep(*a, stop);
  return ManualOutcome{202, SwitchStartedJson(a->id, a->to)};
}

void Engine::UpdateGauges() {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_->Update(*config_, state_, observed_, Now());
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

// -------------------------------------------------------- the host thread

// Offers the host thread the state's host work (none under --dry-run).
// mu_ held.
void Engine::OfferHostWork() {
  const auto& hw = state_.shared.hosts;
  const SiteConfig* site = hw ? config_->FindSite(hw->site) : nullptr;
  if (dry_run_ || site == nullptr || !hosts_) {
    host_worker_.Offer(std::nullopt);
    return;
  }
  HostJob job;
  job.key = hw->id + "#" + std::to_string(host_generation_);
  job.id = hw->id;
  job.site = *site;
  job.hosts = ssh::HostsNamed(*site, PendingHosts(*hw, ssh::HostNames(*site)));
  job.reconfigurer = hosts_;
  host_worker_.Offer(std::move(job));
}

}  // namespace drf::actuator
