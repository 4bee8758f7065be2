#include "actuator/api/views.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>

#include "actuator/ssh/session.h"

namespace drf::actuator {
namespace {

using Writer = JsonWriter;

void Str(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Time(Writer& w, std::string_view key, TimePoint t) {
  Str(w, key, FormatRfc3339(t));
}

}  // namespace

std::string WouldFinish(const SwitchAction& action) {
  return "switch " + action.id + " from " +
         (action.from.empty() ? "unknown" : action.from) + " to " + action.to +
         " (DNS step, then hosts)";
}

std::string StatusJson(const StatusInput& in) {
  const State& st = in.state;
  const State::Shared& sh = st.shared;
  const Observed& ob = in.observed;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "serving_site", ob.serving);
  if (!ob.serving_unknown_because.empty()) {
    Str(w, "serving_site_unknown_because", ob.serving_unknown_because);
  }
  Str(w, "role", "standalone");
  Str(w, "mode",
      in.config.actuator->mode == ActuatorMode::kAuto ? "auto" : "manual");
  Str(w, "failback",
      in.config.actuator->failback == FailbackPolicy::kAuto ? "auto"
                                                            : "manual");
  w.Key("dry_run");
  w.Bool(in.dry_run);
  if (!ob.dry_run_would_finish.empty()) {
    Str(w, "dry_run_would_finish", ob.dry_run_would_finish);
  }
  w.Key("paused");
  w.Bool(sh.paused);
  if (sh.paused) {
    Str(w, "pause_reason", sh.pause_reason);
    if (sh.paused_at) Time(w, "paused_at", *sh.paused_at);
  }
  w.Key("health");
  w.StartObject();
  for (const SiteConfig& s : in.config.sites) {
    w.Key(s.name.c_str());
    w.StartObject();
    auto h = ob.health.find(s.name);
    w.Key("healthy");
    if (h == ob.health.end() || !h->second.probed) {
      w.Null();
    } else {
      w.Bool(h->second.confirmed_healthy);
      if (h->second.healthy_since) {
        Time(w, "healthy_since", *h->second.healthy_since);
      }
    }
    auto p = ob.last_probe.find(s.name);
    if (p != ob.last_probe.end() && !p->second.up) {
      Str(w, "last_error", p->second.error);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("firing_alerts");
  w.StartArray();
  for (const AlertEntry& e : st.alerts.Firing(in.now)) {
    w.StartObject();
    Str(w, "site", e.site);
    Str(w, "fingerprint", e.key);
    Str(w, "summary", e.summary);
    Time(w, "startsAt", e.starts_at);
    if (e.ends_at != TimePoint{}) Time(w, "endsAt", e.ends_at);
    w.EndObject();
  }
  w.EndArray();
  if (const auto& l = st.last_switch) {
    w.Key("last_switch");
    WriteJson(w, *l);
  }
  w.Key("action_in_progress");
  if (const auto& a = sh.action) {
    WriteJson(w, *a);
  } else {
    w.Null();
  }
  w.Key("hosts_pending");
  std::vector<std::string> pending;
  if (const auto& hw = sh.hosts) {
    pending = PendingHosts(*hw, ssh::HostNames(in.config, hw->site));
  }
  if (!pending.empty()) {
    w.StartObject();
    Str(w, "id", sh.hosts->id);
    Str(w, "site", sh.hosts->site);
    w.Key("hosts");
    w.StartObject();
    for (const std::string& h : pending) {
      auto e = sh.hosts->errors.find(h);
      Str(w, h, e == sh.hosts->errors.end() ? "pending" : e->second);
    }
    w.EndObject();
    w.EndObject();
  } else {
    w.Null();
  }
  if (const auto& d = st.last_decision) {
    w.Key("last_decision");
    WriteJson(w, *d);
  }
  w.Key("converged");
  w.Bool(Converged(ob.serving, sh.action.has_value(), pending.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string EventsJson(const std::vector<std::string>& lines,
                       std::uint64_t unreadable_lines) {
  std::string out = "{\"events\":[";
  bool first = true;
  for (const std::string& line : lines) {
    if (!first) out += ",";
    out += line;
    first = false;
  }
  out += "],\"unreadable_lines\":";
  out += std::to_string(unreadable_lines);
  out += "}";
  return out;
}

std::string SwitchStartedJson(const std::string& id, const std::string& to) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "action", id);
  Str(w, "to", to);
  Str(w, "status", "started");
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string ErrorJson(std::string_view message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "error", message);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace drf::actuator
