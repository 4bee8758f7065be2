#include "actuator/state/events.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <type_traits>

#include "actuator/state/reader.h"

namespace drf::actuator {
namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

using state_json::Reader;

// ------------------------------------------------------------------ writing

void Str(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Bool(Writer& w, const char* key, bool value) {
  w.Key(key);
  w.Bool(value);
}

void Time(Writer& w, const char* key, TimePoint t) {
  Str(w, key, FormatRfc3339(t));
}

void Alerts(Writer& w, const char* key,
            const std::vector<event::AlertRecord>& alerts) {
  w.Key(key);
  w.StartArray();
  for (const event::AlertRecord& a : alerts) {
    w.StartObject();
    Str(w, "fingerprint", a.fingerprint);
    Str(w, "alertname", a.alertname);
    Str(w, "site", a.site);
    Str(w, "status", AlertStatusName(a.status));
    Time(w, "startsAt", a.starts_at);
    Time(w, "endsAt", a.ends_at);
    Str(w, "summary", a.summary);
    w.EndObject();
  }
  w.EndArray();
}

void Fields(Writer& w, const event::Started& e) {
  Str(w, "version", e.version);
  Str(w, "revision", e.revision);
  Str(w, "role", e.role);
  Bool(w, "dry_run", e.dry_run);
}
void Fields(Writer& w, const event::Webhook& e) {
  Str(w, "receiver", e.receiver);
  Str(w, "status", e.status);
  Str(w, "group_key", e.group_key);
  Alerts(w, "alerts", e.alerts);
  if (!e.unknown_site_alerts.empty()) {
    Alerts(w, "unknown_site_alerts", e.unknown_site_alerts);
  }
  w.Key("ignored_alerts");
  w.Uint64(e.ignored_alerts);
}
void Fields(Writer& w, const event::AlertsPulled& e) {
  Str(w, "source", e.source);
  Alerts(w, "changes", e.changes);
  Time(w, "pulled_at", e.pulled_at);
}
void Fields(Writer& w, const event::Decision& e) {
  Str(w, "decision", e.decision);
  Str(w, "serving", e.serving);
  Str(w, "target", e.target);
  Str(w, "why", e.why);
  Bool(w, "dry_run", e.dry_run);
  Str(w, "role", e.role);
}
void Fields(Writer& w, const event::SwitchStarted& e) {
  Str(w, "id", e.id);
  Str(w, "from", e.from);
  Str(w, "to", e.to);
  Str(w, "trigger", TriggerName(e.trigger));
  Str(w, "reason", e.reason);
  Bool(w, "force", e.force);
  w.Key("rpo_estimate_seconds");
  if (e.rpo_estimate_seconds && std::isfinite(*e.rpo_estimate_seconds)) {
    w.Double(*e.rpo_estimate_seconds);
  } else {
    w.Null();
  }
  if (e.hosts) {
    w.Key("hosts");
    w.StartArray();
    for (const std::string& h : *e.hosts) {
      w.String(h.data(), static_cast<rapidjson::SizeType>(h.size()));
    }
    w.EndArray();
  }
}
void Fields(Writer& w, const event::DnsUpdated& e) {
  Str(w, "id", e.id);
  Str(w, "to", e.to);
  w.Key("written");
  w.Int(e.written);
}
void Fields(Writer& w, const event::DnsFailed& e) {
  Str(w, "id", e.id);
  Str(w, "error", e.error);
  Str(w, "kind", e.kind);
  Str(w, "reason", e.error);  // the field's name in 0.1.0, kept
}
void Fields(Writer& w, const event::HostReconfigured& e) {
  Str(w, "id", e.id);
  Str(w, "site", e.site);
  Str(w, "host", e.host);
  Bool(w, "changed", e.changed);
}
void Fields(Writer& w, const event::HostFailed& e) {
  Str(w, "id", e.id);
  Str(w, "site", e.site);
  Str(w, "host", e.host);
  Str(w, "kind", e.kind);
  Str(w, "message", e.message);
  w.Key("attempts");
  w.Int(e.attempts);
}
void Fields(Writer& w, const event::SwitchCompleted& e) {
  Str(w, "id", e.id);
  w.Key("seconds");
  w.Double(std::isfinite(e.seconds) ? e.seconds : 0);
}
void Fields(Writer& w, const event::SwitchAbandoned& e) {
  Str(w, "id", e.id);
  Str(w, "why", e.why);
}
void Fields(Writer& w, const event::ManualSwitchRefused& e) {
  Str(w, "target", e.target);
  Str(w, "reason", e.reason);
  Str(w, "decision", e.decision);
  Str(w, "why", e.why);
}
void Fields(Writer& w, const event::Paused& e) { Str(w, "reason", e.reason); }
void Fields(Writer&, const event::Resumed&) {}
void Fields(Writer&, const event::Unknown&) {}

// ------------------------------------------------------------------ reading

void ReadAlerts(Reader& r, const char* key,
                std::vector<event::AlertRecord>* out) {
  r.Objects(key, [out](Reader& a) {
    event::AlertRecord rec;
    std::string status;
    a.String("fingerprint", &rec.fingerprint);
    a.String("alertname", &rec.alertname);
    a.String("site", &rec.site);
    a.String("status", &status);
    a.Time("startsAt", &rec.starts_at);
    a.Time("endsAt", &rec.ends_at);
    a.String("summary", &rec.summary);
    rec.status =
        status == "resolved" ? AlertStatus::kResolved : AlertStatus::kFiring;
    out->push_back(std::move(rec));
  });
}

void Read(Reader& r, event::Started& e) {
  r.String("version", &e.version);
  r.String("revision", &e.revision);
  r.String("role", &e.role);
  r.Bool("dry_run", &e.dry_run);
}
void Read(Reader& r, event::Webhook& e) {
  r.String("receiver", &e.receiver);
  r.String("status", &e.status);
  r.String("group_key", &e.group_key);
  ReadAlerts(r, "alerts", &e.alerts);
  ReadAlerts(r, "unknown_site_alerts", &e.unknown_site_alerts);
  r.Integer("ignored_alerts", &e.ignored_alerts);
}
void Read(Reader& r, event::AlertsPulled& e) {
  r.String("source", &e.source);
  ReadAlerts(r, "changes", &e.changes);
  r.Time("pulled_at", &e.pulled_at);
}
void Read(Reader& r, event::Decision& e) {
  r.String("decision", &e.decision);
  r.String("serving", &e.serving);
  r.String("target", &e.target);
  r.String("why", &e.why);
  r.Bool("dry_run", &e.dry_run);
  r.String("role", &e.role);
}
void Read(Reader& r, event::SwitchStarted& e) {
  r.String("id", &e.id, true);
  r.String("from", &e.from);
  r.String("to", &e.to, true);
  std::string trigger;
  r.String("trigger", &trigger);
  if (auto t = ParseTrigger(trigger)) e.trigger = *t;
  r.String("reason", &e.reason);
  r.Bool("force", &e.force);
  r.Number("rpo_estimate_seconds", &e.rpo_estimate_seconds);
  if (r.Find("hosts") != nullptr) {
    std::vector<std::string> hosts;
    r.Strings("hosts", &hosts);
    e.hosts = std::move(hosts);
  }
}
void Read(Reader& r, event::DnsUpdated& e) {
  r.String("id", &e.id, true);
  r.String("to", &e.to);
  r.Integer("written", &e.written);
}
void Read(Reader& r, event::DnsFailed& e) {
  r.String("id", &e.id, true);
  r.String("error", &e.error);
  if (e.error.empty()) r.String("reason", &e.error);  // 0.1.0
  r.String("kind", &e.kind);
}
void Read(Reader& r, event::HostReconfigured& e) {
  r.String("id", &e.id, true);
  r.String("site", &e.site);
  r.String("host", &e.host, true);
  r.Bool("changed", &e.changed);
}
void Read(Reader& r, event::HostFailed& e) {
  r.String("id", &e.id, true);
  r.String("site", &e.site);
  r.String("host", &e.host, true);
  r.String("kind", &e.kind);
  r.String("message", &e.message);
  r.Integer("attempts", &e.attempts);
}
void Read(Reader& r, event::SwitchCompleted& e) {
  r.String("id", &e.id, true);
  std::optional<double> s;
  r.Number("seconds", &s);
  e.seconds = s.value_or(0);
}
void Read(Reader& r, event::SwitchAbandoned& e) {
  r.String("id", &e.id, true);
  r.String("why", &e.why);
  if (e.why.empty()) {  // 0.1.0 wrote only the target
    std::string to;
    r.String("to", &to);
    if (!to.empty()) e.why = "switch target " + to + " no longer configured";
  }
}
void Read(Reader& r, event::ManualSwitchRefused& e) {
  r.String("target", &e.target);
  r.String("reason", &e.reason);
  r.String("decision", &e.decision);
  r.String("why", &e.why);
}
void Read(Reader& r, event::Paused& e) { r.String("reason", &e.reason); }
void Read(Reader&, event::Resumed&) {}
void Read(Reader&, event::Unknown&) {}

// The event named `type`, default-constructed; Unknown for other names.
template <std::size_t I = 0>
Event Make(std::string_view type) {
  if constexpr (I == std::variant_size_v<Event> - 1) {
    return event::Unknown{std::string(type)};
  } else {
    Event e{std::in_place_index<I>};
    if (TypeName(e) == type) return e;
    return Make<I + 1>(type);
  }
}

}  // namespace

std::string_view TypeName(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string_view {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, event::Started>) return "started";
        if constexpr (std::is_same_v<T, event::Webhook>) return "webhook";
        if constexpr (std::is_same_v<T, event::AlertsPulled>) {
          return "alerts_pulled";
        }
        if constexpr (std::is_same_v<T, event::Decision>) return "decision";
        if constexpr (std::is_same_v<T, event::SwitchStarted>) {
          return "switch_started";
        }
        if constexpr (std::is_same_v<T, event::DnsUpdated>) {
          return "dns_updated";
        }
        if constexpr (std::is_same_v<T, event::DnsFailed>) return "dns_failed";
        if constexpr (std::is_same_v<T, event::HostReconfigured>) {
          return "host_reconfigured";
        }
        if constexpr (std::is_same_v<T, event::HostFailed>) {
          return "host_failed";
        }
        if constexpr (std::is_same_v<T, event::SwitchCompleted>) {
          return "switch_completed";
        }
        if constexpr (std::is_same_v<T, event::SwitchAbandoned>) {
          return "switch_abandoned";
        }
        if constexpr (std::is_same_v<T, event::ManualSwitchRefused>) {
          return "manual_switch_refused";
        }
        if constexpr (std::is_same_v<T, event::Paused>) return "paused";
        if constexpr (std::is_same_v<T, event::Resumed>) return "resumed";
        if constexpr (std::is_same_v<T, event::Unknown>) return e.type;
      },
      event);
}

std::string Encode(const Event& event, TimePoint ts) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Time(w, "ts", ts);
  Str(w, "type", TypeName(event));
  std::visit([&w](const auto& e) { Fields(w, e); }, event);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool Decode(std::string_view line, Entry* out, std::string* error) {
  auto fail = [error](const std::string& why) {
    if (error != nullptr) *error = why;
    return false;
  };
  rapidjson::Document d;
  if (auto e = json::Parse(line, state_json::kLimits, &d)) {
    return fail("not JSON: " + e->message);
  }
  if (!d.IsObject()) return fail("not a JSON object");
  Entry entry;
  std::string type;
  {
    Reader top(d);
    top.Integer("seq", &entry.seq);
    top.Time("ts", &entry.ts, true);
    top.String("type", &type, true);
    if (!top.ok()) return fail(top.error());
  }
  entry.event = Make(type);
  Reader fields(d, type);
  std::visit([&fields](auto& e) { Read(fields, e); }, entry.event);
  if (!fields.ok()) return fail(fields.error());
  *out = std::move(entry);
  return true;
}

event::Webhook WebhookEvent(
    const Notification& n,
    const std::function<bool(const std::string&)>& configured) {
  event::Webhook e;
  e.receiver = n.receiver;
  e.status = AlertStatusName(n.status);
  e.group_key = n.group_key;
  for (const Alert& a : n.alerts) {
    if (!IsDrAlert(a)) {
      ++e.ignored_alerts;
    } else if (!configured(a.labels.at(std::string(kSiteLabel)))) {
      e.unknown_site_alerts.push_back(RecordOf(a));
    } else {
      e.alerts.push_back(RecordOf(a));
    }
  }
  return e;
}

event::AlertRecord RecordOf(const Alert& alert) {
  event::AlertRecord r;
  r.fingerprint = alert.fingerprint;
  if (auto it = alert.labels.find("alertname"); it != alert.labels.end()) {
    r.alertname = it->second;
  }
  if (auto it = alert.labels.find(std::string(kSiteLabel));
      it != alert.labels.end()) {
    r.site = it->second;
  }
  r.status = alert.status;
  r.starts_at = alert.starts_at;
  r.ends_at = alert.ends_at;
  r.summary = alert.summary;
  return r;
}

Alert AlertOf(const event::AlertRecord& record) {
  Alert a;
  a.status = record.status;
  a.fingerprint = record.fingerprint;
  a.labels[std::string(kDrActionLabel)] = std::string(kDrActionValue);
  a.labels[std::string(kSiteLabel)] = record.site;
  if (!record.alertname.empty()) a.labels["alertname"] = record.alertname;
  a.starts_at = record.starts_at;
  a.ends_at = record.ends_at;
  a.summary = record.summary;
  return a;
}

}  // namespace drf::actuator
