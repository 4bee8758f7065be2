#include "actuator/state/state.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "actuator/state/reader.h"

namespace drf::actuator {
namespace {

using state_json::Reader;

// How often the alert set drops what ended (in event time): often enough to
// bound it, rarely enough that a storm of webhooks does not pay for it.
constexpr auto kExpireEvery = std::chrono::minutes(1);

// ------------------------------------------------------------- the reducer

bool ApplyAlerts(State& s, const std::vector<event::AlertRecord>& alerts,
                 TimePoint ts, AlertSource source, TimePoint at) {
  bool changed = false;
  for (const event::AlertRecord& rec : alerts) {
    ApplyResult r = s.alerts.Apply(AlertOf(rec), at, source);
    changed |= r == ApplyResult::kFiring || r == ApplyResult::kResolved;
  }
  if (!s.expired || ts - *s.expired >= kExpireEvery || ts < *s.expired) {
    s.alerts.Expire(ts);
    s.expired = ts;
  }
  return changed;
}

struct Reducer {
  State& s;
  TimePoint ts;
  bool news = true;

  void operator()(const event::Webhook& e) {
    news = ApplyAlerts(s, e.alerts, ts, AlertSource::kWebhook, ts);
  }
  void operator()(const event::AlertsPulled& e) {
    news = ApplyAlerts(s, e.changes, ts, AlertSource::kPull,
                       e.pulled_at == TimePoint{} ? ts : e.pulled_at);
  }
  void operator()(const event::Decision& e) {
    s.last_decision = LastDecision{e.decision, e.serving, e.target, e.why, ts};
  }
  void operator()(const event::SwitchStarted& e) {
    SwitchAction a;
    a.id = e.id;
    a.from = e.from;
    a.to = e.to;
    a.trigger = e.trigger;
    a.reason = e.reason;
    a.force = e.force;
    a.started = ts;
    a.rpo_estimate_seconds = e.rpo_estimate_seconds;
    a.hosts = e.hosts;
    s.shared.action = std::move(a);
    if (e.trigger == Trigger::kManual) {
      s.shared.last_manual_switch = ts;
    } else if (e.trigger != Trigger::kDrill) {
      s.shared.last_auto_switch = ts;
    }
  }
  void operator()(const event::DnsUpdated& e) {
    if (!s.shared.action || s.shared.action->id != e.id) return;
    const SwitchAction& a = *s.shared.action;
    s.last_switch =
        LastSwitch{a.id,        a.from,    a.to, a.trigger,
                   a.reason,    a.started, ts,   a.rpo_estimate_seconds,
                   std::nullopt};
    // The new site's hosts supersede any earlier switch's still pending.
    HostWork work;
    work.id = a.id;
    work.site = a.to;
    work.started = a.started;
    work.done_at = ts;
    work.hosts = a.hosts;
    s.shared.hosts = std::move(work);
    s.shared.action.reset();
  }
  void operator()(const event::DnsFailed& e) {
    if (!s.shared.action || s.shared.action->id != e.id) return;
    s.shared.action->last_error =
        e.kind.empty() ? e.error : e.kind + ": " + e.error;
  }
  void operator()(const event::HostReconfigured& e) {
    if (!s.shared.hosts || s.shared.hosts->id != e.id) return;
    s.shared.hosts->done.insert(e.host);
    s.shared.hosts->errors.erase(e.host);
    s.shared.hosts->done_at = std::max(s.shared.hosts->done_at, ts);
  }
  void operator()(const event::HostFailed& e) {
    if (!s.shared.hosts || s.shared.hosts->id != e.id) return;
    if (s.shared.hosts->done.count(e.host)) return;
    s.shared.hosts->errors[e.host] = e.kind + ": " + e.message;
  }
  void operator()(const event::SwitchCompleted& e) {
    if (s.shared.hosts && s.shared.hosts->id == e.id) s.shared.hosts.reset();
    if (s.last_switch && s.last_switch->id == e.id) {
      s.last_switch->seconds = e.seconds;
    }
  }
  void operator()(const event::SwitchAbandoned& e) {
    if (s.shared.action && s.shared.action->id == e.id) s.shared.action.reset();
    if (s.shared.hosts && s.shared.hosts->id == e.id) s.shared.hosts.reset();
  }
  void operator()(const event::Paused& e) {
    s.shared.paused = true;
    s.shared.pause_reason = e.reason;
    s.shared.paused_at = ts;
  }
  void operator()(const event::Resumed&) {
    s.shared.paused = false;
    s.shared.pause_reason.clear();
    s.shared.paused_at.reset();
  }
  void operator()(const event::Started&) {}
  void operator()(const event::ManualSwitchRefused&) {}
  void operator()(const event::Unknown&) {}
};

// ---------------------------------------------------------------- snapshot

void Str(JsonWriter& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void Time(JsonWriter& w, const char* key, TimePoint t) {
  Str(w, key, FormatRfc3339(t));
}

void OptTime(JsonWriter& w, const char* key,
             const std::optional<TimePoint>& t) {
  if (t) Time(w, key, *t);
}

void OptNumber(JsonWriter& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  if (v) {
    w.Double(*v);
  } else {
    w.Null();
  }
}

void Strings(JsonWriter& w, const char* key, const auto& list) {
  w.Key(key);
  w.StartArray();
  for (const std::string& s : list) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  w.EndArray();
}

void ReadTrigger(Reader& r, Trigger* out) {
  std::string name;
  r.String("trigger", &name);
  if (auto t = ParseTrigger(name)) *out = *t;
}

}  // namespace

std::vector<std::string> PendingHosts(const HostWork& work,
                                      const std::vector<std::string>& all) {
  std::vector<std::string> out;
  for (const std::string& h : work.hosts ? *work.hosts : all) {
    if (!work.done.count(h)) out.push_back(h);
  }
  return out;
}

State Apply(State state, const Entry& entry, bool* news) {
  Reducer r{state, entry.ts};
  std::visit(r, entry.event);
  state.seq = std::max(state.seq, entry.seq);
  if (news != nullptr) *news = r.news;
  return state;
}

void WriteJson(JsonWriter& w, const SwitchAction& a) {
  w.StartObject();
  Str(w, "id", a.id);
  Str(w, "from", a.from);
  Str(w, "to", a.to);
  Str(w, "trigger", TriggerName(a.trigger));
  Str(w, "reason", a.reason);
  w.Key("force");
  w.Bool(a.force);
  Time(w, "started", a.started);
  w.Key("dns_done");
  w.Bool(false);
  OptNumber(w, "rpo_estimate_seconds", a.rpo_estimate_seconds);
  if (a.hosts) Strings(w, "hosts", *a.hosts);
  if (!a.last_error.empty()) Str(w, "last_error", a.last_error);
  w.EndObject();
}

void WriteJson(JsonWriter& w, const LastSwitch& l) {
  w.StartObject();
  Str(w, "id", l.id);
  Str(w, "from", l.from);
  Str(w, "to", l.to);
  Str(w, "trigger", TriggerName(l.trigger));
  Str(w, "reason", l.reason);
  Time(w, "started", l.started);
  Time(w, "dns_at", l.dns_at);
  w.Key("dns_done");
  w.Bool(true);
  OptNumber(w, "rpo_estimate_seconds", l.rpo_estimate_seconds);
  OptNumber(w, "seconds", l.seconds);
  w.EndObject();
}

void WriteJson(JsonWriter& w, const LastDecision& d) {
  w.StartObject();
  Str(w, "decision", d.decision);
  Str(w, "serving", d.serving);
  Str(w, "target", d.target);
  Str(w, "why", d.why);
  Time(w, "at", d.at);
  w.EndObject();
}

std::string EncodeState(const State& s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("version");
  w.Int(2);
  w.Key("seq");
  w.Uint64(s.seq);
  w.Key("alerts");
  const std::string alerts = s.alerts.ToJsonString();
  w.RawValue(alerts.data(), alerts.size(), rapidjson::kObjectType);
  OptTime(w, "expired", s.expired);
  w.Key("paused");
  w.Bool(s.shared.paused);
  Str(w, "pause_reason", s.shared.pause_reason);
  OptTime(w, "paused_at", s.shared.paused_at);
  OptTime(w, "last_auto_switch", s.shared.last_auto_switch);
  OptTime(w, "last_manual_switch", s.shared.last_manual_switch);
  if (const auto& a = s.shared.action) {
    w.Key("action");
    WriteJson(w, *a);
  }
  if (const auto& h = s.shared.hosts) {
    w.Key("hosts");
    w.StartObject();
    Str(w, "id", h->id);
    Str(w, "site", h->site);
    Time(w, "started", h->started);
    Time(w, "done_at", h->done_at);
    if (h->hosts) Strings(w, "hosts", *h->hosts);
    Strings(w, "done", h->done);
    w.Key("errors");
    w.StartObject();
    for (const auto& [host, err] : h->errors) Str(w, host.c_str(), err);
    w.EndObject();
    w.EndObject();
  }
  if (const auto& l = s.last_switch) {
    w.Key("last_switch");
    WriteJson(w, *l);
  }
  if (const auto& d = s.last_decision) {
    w.Key("last_decision");
    WriteJson(w, *d);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool DecodeState(std::string_view text, State* out, std::string* error) {
  auto fail = [error](const std::string& why) {
    if (error != nullptr) *error = why;
    return false;
  };
  rapidjson::Document d;
  if (auto e = json::Parse(text, state_json::kLimits, &d)) {
    return fail("snapshot: not JSON: " + e->message);
  }
  if (!d.IsObject()) return fail("snapshot: not a JSON object");
  State s;
  Reader r(d);
  r.Integer("seq", &s.seq);
  if (const auto* alerts = r.Find("alerts")) {
    std::string alert_error;
    if (!s.alerts.FromJson(*alerts, &alert_error)) {
      return fail("alerts: " + alert_error);
    }
  }
  r.Time("expired", &s.expired);
  r.Bool("paused", &s.shared.paused);
  r.String("pause_reason", &s.shared.pause_reason);
  r.Time("paused_at", &s.shared.paused_at);
  r.Time("last_auto_switch", &s.shared.last_auto_switch);
  r.Time("last_manual_switch", &s.shared.last_manual_switch);
  r.Object("action", [&](Reader& a) {
    SwitchAction x;
    a.String("id", &x.id, true);
    a.String("from", &x.from);
    a.String("to", &x.to, true);
    ReadTrigger(a, &x.trigger);
    a.String("reason", &x.reason);
    a.Bool("force", &x.force);
    a.Time("started", &x.started);
    a.Number("rpo_estimate_seconds", &x.rpo_estimate_seconds);
    if (a.Find("hosts") != nullptr) {
      x.hosts.emplace();
      a.Strings("hosts", &*x.hosts);
    }
    a.String("last_error", &x.last_error);
    // 0.1.0 kept a switch whose DNS step was done as "action" only until
    // its dns_updated, so dns_done was always false there.
    s.shared.action = std::move(x);
  });
  auto read_hosts = [&](Reader& h, bool v010) {
    HostWork x;
    h.String("id", &x.id, true);
    h.String("site", &x.site, true);
    h.Time("started", &x.started);
    h.Time("done_at", &x.done_at);
    std::vector<std::string> list;
    if (v010) {
      h.Strings("pending", &list);
      x.hosts = std::move(list);
    } else {
      if (h.Find("hosts") != nullptr) {
        h.Strings("hosts", &list);
        x.hosts = std::move(list);
      }
      std::vector<std::string> done;
      h.Strings("done", &done);
      x.done.insert(done.begin(), done.end());
      if (const auto* errors = h.Find("errors"); errors && errors->IsObject()) {
        for (const auto& m : errors->GetObject()) {
          if (m.value.IsString()) {
            x.errors[m.name.GetString()] = m.value.GetString();
          }
        }
      }
    }
    s.shared.hosts = std::move(x);
  };
  r.Object("hosts", [&](Reader& h) { read_hosts(h, false); });
  r.Object("host_work", [&](Reader& h) { read_hosts(h, true); });  // 0.1.0
  r.Object("last_switch", [&](Reader& l) {
    LastSwitch x;
    l.String("id", &x.id);
    l.String("from", &x.from);
    l.String("to", &x.to);
    ReadTrigger(l, &x.trigger);
    l.String("reason", &x.reason);
    l.Time("started", &x.started);
    l.Time("dns_at", &x.dns_at);
    if (x.dns_at == TimePoint{}) x.dns_at = x.started;  // 0.1.0
    l.Number("rpo_estimate_seconds", &x.rpo_estimate_seconds);
    l.Number("seconds", &x.seconds);
    s.last_switch = std::move(x);
  });
  r.Object("last_decision", [&](Reader& l) {
    LastDecision x;
    l.String("decision", &x.decision);
    l.String("serving", &x.serving);
    l.String("target", &x.target);
    l.String("why", &x.why);
    l.Time("at", &x.at);
    s.last_decision = std::move(x);
  });
  if (!r.ok()) return fail(r.error());
  *out = std::move(s);
  return true;
}

}  // namespace drf::actuator
