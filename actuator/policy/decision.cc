#include "actuator/policy/decision.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/config/duration.h"

namespace drf::actuator {
namespace {

using std::chrono::milliseconds;

// Elapsed times shown rounded down, times left rounded up, so that "0s
// left" is never printed while something is still held.
std::string Floor(TimePoint::duration d) {
  if (d < TimePoint::duration::zero()) d = TimePoint::duration::zero();
  return FormatDuration(std::chrono::floor<milliseconds>(d));
}
std::string Ceil(TimePoint::duration d) {
  if (d < TimePoint::duration::zero()) d = TimePoint::duration::zero();
  return FormatDuration(std::chrono::ceil<milliseconds>(d));
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// A name from an API call, safe to log: at most 64 bytes, anything but
// [a-z0-9-] replaced by '?' (configured site names never need more).
std::string Printable(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) c = '?';
  }
  if (name.size() > 64) out += "...";
  return out;
}

// The facts of one input, with the rules' vocabulary.
class View {
 public:
  explicit View(const DecisionInput& in)
      : in_(in),
        ac_(in.config->actuator ? *in.config->actuator : Defaults()),
        probes_(ac_.confirm.probes > 0) {}

  const ActuatorConfig& ac() const { return ac_; }
  bool probes() const { return probes_; }
  const std::vector<SiteConfig>& sites() const { return in_.config->sites; }

  bool Firing(const std::string& site) const {
    return in_.firing_sites.count(site) > 0;
  }

  const SiteHealth* Health(const std::string& site) const {
    auto it = in_.health.find(site);
    return it == in_.health.end() ? nullptr : &it->second;
  }

  bool ProbesPass(const std::string& site) const {
    const SiteHealth* h = Health(site);
    return h != nullptr && h->probed && h->confirmed_healthy;
  }

  bool Healthy(const std::string& site) const {
    return !Firing(site) && (!probes_ || ProbesPass(site));
  }

  // Why `site` is not healthy ("" when it is).
  std::string WhyNotHealthy(const std::string& site) const {
    if (Firing(site)) return site + " has a firing DR alert";
    if (!probes_) return "";
    const SiteHealth* h = Health(site);
    if (h == nullptr || !h->probed) return site + " has not been probed yet";
    if (!h->confirmed_healthy) return site + " failed its confirmation probes";
    return "";
  }

  // "" when no cooldown holds at `now`; else why.
  std::string CooldownHold(bool include_manual) const {
    std::string why = CooldownFrom(in_.last_auto_switch, "automatic");
    if (why.empty() && include_manual) {
      why = CooldownFrom(in_.last_manual_switch, "manual");
    }
    return why;
  }

 private:
  std::string CooldownFrom(const std::optional<TimePoint>& last,
                           std::string_view kind) const {
    if (!last) return "";
    TimePoint::duration elapsed = in_.now - *last;
    if (elapsed >= ac_.cooldown) return "";
    std::string cooldown = FormatDuration(ac_.cooldown);
    if (elapsed < TimePoint::duration::zero()) {
      return "the last " + std::string(kind) + " switch is " + Floor(-elapsed) +
             " in the future (clock moved back?), cooldown " + cooldown;
    }
    return "last " + std::string(kind) + " switch " + Floor(elapsed) +
           " ago, cooldown " + cooldown + ", " + Ceil(ac_.cooldown - elapsed) +
           " left";
  }

  static const ActuatorConfig& Defaults() {
    static const ActuatorConfig defaults;
    return defaults;
  }

  const DecisionInput& in_;
  const ActuatorConfig& ac_;
  bool probes_;
};

Decision Make(Outcome outcome, std::string target, Trigger trigger,
              std::string reason) {
  return Decision{outcome, std::move(target), trigger, std::move(reason)};
}

Decision DecideAlerting(const DecisionInput& in, const View& v) {
  const std::string& serving = in.serving_site;
  const SiteConfig* target = nullptr;
  std::vector<std::string> unhealthy;
  for (const SiteConfig& s : v.sites()) {
    if (s.name == serving) continue;
    if (v.Healthy(s.name)) {
      target = &s;
      break;
    }
    unhealthy.push_back(v.WhyNotHealthy(s.name));
  }
  std::string name = target != nullptr ? target->name : "";
  std::string head = "serving site " + serving + " has a firing DR alert";
  std::string would = target != nullptr ? "; " + name + " would be the target"
                                        : "; no healthy target";

  if (in.paused) {
    return Make(Outcome::kHoldPaused, name, Trigger::kAlert,
                head + "; the actuator is paused" + would);
  }
  if (v.ac().mode == ActuatorMode::kManual) {
    return Make(Outcome::kHoldManualMode, name, Trigger::kAlert,
                head + "; mode is manual" + would);
  }
  if (v.probes()) {
    const SiteHealth* h = v.Health(serving);
    if (h == nullptr || !h->probed) {
      return Make(Outcome::kHoldUnconfirmed, name, Trigger::kAlert,
                  head +
                      " but the actuator's confirmation probes of it "
                      "have not run yet");
    }
    if (h->confirmed_healthy) {
      return Make(Outcome::kHoldUnconfirmed, name, Trigger::kAlert,
                  head +
                      " but the actuator's confirmation probes see it "
                      "healthy");
    }
  }
  std::string down = "serving site " + serving +
                     (v.probes() ? " is down (alert firing, confirmed by the "
                                   "actuator's probes)"
                                 : " is down (alert firing, confirmation "
                                   "disabled)");
  if (target == nullptr) {
    return Make(
        Outcome::kHoldNoHealthyTarget, "", Trigger::kAlert,
        down + " and no other site is healthy: " + Join(unhealthy, ", "));
  }
  if (std::string why = v.CooldownHold(false); !why.empty()) {
    return Make(Outcome::kHoldCooldown, name, Trigger::kAlert,
                down + "; switch to " + name + " held: " + why);
  }
  return Make(Outcome::kSwitch, name, Trigger::kAlert,
              down + "; switching to " + name +
                  ", the first healthy site in preference order");
}

Decision DecideQuiet(const DecisionInput& in, const View& v,
                     std::size_t serving_index) {
  const std::string& serving = in.serving_site;
  const std::string& preferred = v.sites().front().name;
  if (serving_index == 0) {
    return Make(
        Outcome::kNoop, "", Trigger::kAlert,
        "serving " + serving + " (the preferred site), no DR alert on it");
  }
  std::string head = "serving " + serving + ", no DR alert on it";
  if (v.ac().failback == FailbackPolicy::kManual) {
    return Make(
        Outcome::kNoop, "", Trigger::kFailback,
        head + "; failback is manual (preferred site " + preferred + ")");
  }
  const SiteConfig* target = nullptr;
  TimePoint::duration healthy_for{};
  std::vector<std::string> waiting;
  for (std::size_t i = 0; i < serving_index; ++i) {
    const SiteConfig& s = v.sites()[i];
    if (!v.Healthy(s.name)) {
      waiting.push_back(v.WhyNotHealthy(s.name));
      continue;
    }
    const SiteHealth* h = v.Health(s.name);
    if (h == nullptr || !h->healthy_since) {
      waiting.push_back(s.name + " has no health history yet");
      continue;
    }
    TimePoint::duration d = in.now - *h->healthy_since;
    if (d >= v.ac().failback_after) {
      target = &s;
      healthy_for = d;
      break;
    }
    waiting.push_back(s.name + " healthy for " + Floor(d) + " of " +
                      FormatDuration(v.ac().failback_after) +
                      " before failback");
  }
  if (target == nullptr) {
    return Make(Outcome::kNoop, "", Trigger::kFailback,
                head + "; " + Join(waiting, "; "));
  }
  const std::string& name = target->name;
  std::string due = "failback to " + name + " due (healthy for " +
                    Floor(healthy_for) + ", failback_after " +
                    FormatDuration(v.ac().failback_after) + "; serving " +
                    serving + ")";
  if (in.paused) {
    return Make(Outcome::kHoldPaused, name, Trigger::kFailback,
                due + " but the actuator is paused");
  }
  if (v.ac().mode == ActuatorMode::kManual) {
    return Make(Outcome::kHoldManualMode, name, Trigger::kFailback,
                due + " but mode is manual");
  }
  if (std::string why = v.CooldownHold(true); !why.empty()) {
    return Make(Outcome::kHoldCooldown, name, Trigger::kFailback,
                due + " but held: " + why);
  }
  return Make(Outcome::kFailback, name, Trigger::kFailback, due);
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSwitch:
      return "switch";
    case Outcome::kFailback:
      return "failback";
    case Outcome::kHoldUnconfirmed:
      return "hold_unconfirmed";
    case Outcome::kHoldNoHealthyTarget:
      return "hold_no_healthy_target";
    case Outcome::kHoldCooldown:
      return "hold_cooldown";
    case Outcome::kHoldManualMode:
      return "hold_manual_mode";
    case Outcome::kHoldPaused:
      return "hold_paused";
    case Outcome::kNoop:
      return "noop";
  }
  return "unknown";
}

bool MovesTraffic(Outcome outcome) {
  return outcome == Outcome::kSwitch || outcome == Outcome::kFailback;
}

std::string_view TriggerName(Trigger trigger) {
  switch (trigger) {
    case Trigger::kAlert:
      return "alert";
    case Trigger::kFailback:
      return "failback";
    case Trigger::kManual:
      return "manual";
    case Trigger::kDrill:
      return "drill";
  }
  return "unknown";
}

std::optional<Trigger> ParseTrigger(std::string_view name) {
  for (Trigger t : kAllTriggers) {
    if (TriggerName(t) == name) return t;
  }
  return std::nullopt;
}

Decision Decide(const DecisionInput& in) {
  if (in.config == nullptr || in.config->sites.empty()) {
    return Make(Outcome::kNoop, "", Trigger::kAlert, "no sites configured");
  }
  if (in.serving_site.empty()) {
    return Make(Outcome::kNoop, "", Trigger::kAlert,
                "serving site unknown (DNS records disagree, the provider is "
                "unreadable, or no site's address matches); not acting blind");
  }
  const auto& sites = in.config->sites;
  std::size_t serving_index = sites.size();
  for (std::size_t i = 0; i < sites.size(); ++i) {
    if (sites[i].name == in.serving_site) serving_index = i;
  }
  if (serving_index == sites.size()) {
    return Make(Outcome::kNoop, "", Trigger::kAlert,
                "serving site " + in.serving_site +
                    " is not a configured site; not acting blind");
  }
  View v(in);
  if (v.Firing(in.serving_site)) return DecideAlerting(in, v);
  return DecideQuiet(in, v, serving_index);
}

Decision DecideManual(const DecisionInput& in, const std::string& target,
                      bool force) {
  if (in.config == nullptr || in.config->FindSite(target) == nullptr) {
    return Make(Outcome::kHoldNoHealthyTarget, "", Trigger::kManual,
                "manual switch refused: \"" + Printable(target) +
                    "\" is not a configured site");
  }
  if (target == in.serving_site) {
    return Make(Outcome::kNoop, target, Trigger::kManual,
                "manual switch: " + target + " is already serving");
  }
  View v(in);
  std::string from = in.serving_site.empty() ? "unknown" : in.serving_site;
  std::string why_not = v.WhyNotHealthy(target);
  if (force) {
    return Make(Outcome::kSwitch, target, Trigger::kManual,
                "forced manual switch from " + from + " to " + target +
                    (why_not.empty() ? "" : " although " + why_not));
  }
  if (!why_not.empty()) {
    return Make(Outcome::kHoldNoHealthyTarget, target, Trigger::kManual,
                "manual switch to " + target + " refused: " + why_not +
                    "; force overrides");
  }
  return Make(Outcome::kSwitch, target, Trigger::kManual,
              "manual switch from " + from + " to " + target + ", " + target +
                  (v.probes() ? " confirmed healthy by the actuator's probes"
                              : " has no firing DR alert"));
}

}  // namespace drf::actuator
