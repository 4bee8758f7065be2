#include "actuator/policy/alert_set.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <tuple>
#include <utility>

#include "core/json/json.h"

namespace drf::actuator {
namespace {

using rapidjson::Value;

constexpr int kJsonVersion = 1;
// Bounds quiet_since_, whose keys come from alert labels.
constexpr std::size_t kMaxQuietSites = 1024;

std::string SiteOf(const Alert& alert) {
  auto it = alert.labels.find(std::string(kSiteLabel));
  return it == alert.labels.end() ? std::string() : it->second;
}

Value Str(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Value Time(TimePoint t, rapidjson::Document::AllocatorType& a) {
  return Str(FormatRfc3339(t), a);
}

// Reading a ToJson object back; the first problem wins.
class Reader : public json::Reader {
 public:
  bool TimeValue(const Value& v, const std::string& path, TimePoint* out) {
    std::string s;
    if (!String(v, path, &s)) return false;
    auto t = ParseRfc3339(s);
    if (!t) return Fail(path, "not an RFC 3339 timestamp");
    *out = *t;
    return true;
  }

  bool Time(const Value& obj, const char* name, const std::string& path,
            TimePoint* out) {
    const Value* v = Member(obj, path, name, json::Need::kRequired);
    return v != nullptr && TimeValue(*v, json::Join(path, name), out);
  }

  bool OptionalTime(const Value& obj, const char* name, const std::string& path,
                    std::optional<TimePoint>* out) {
    const Value* v = Member(obj, path, name, json::Need::kOptional);
    if (v == nullptr) return ok();
    TimePoint t;
    if (!TimeValue(*v, json::Join(path, name), &t)) return false;
    *out = t;
    return true;
  }
};

// The first error of `r` into `*error`; false.
bool Failed(const json::Reader& r, std::string* error) {
  if (error != nullptr) *error = r.error();
  return false;
}

}  // namespace

std::string_view ApplyResultName(ApplyResult result) {
  switch (result) {
    case ApplyResult::kNotDr:
      return "not_dr";
    case ApplyResult::kFiring:
      return "firing";
    case ApplyResult::kRepeated:
      return "repeated";
    case ApplyResult::kResolved:
      return "resolved";
    case ApplyResult::kIgnoredStale:
      return "ignored_stale";
  }
  return "unknown";
}

AlertSet::AlertSet(AlertSetOptions options) : options_(options) {}

std::string AlertSet::KeyOf(const Alert& alert) {
  if (!alert.fingerprint.empty()) return alert.fingerprint;
  std::uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  // std::map iterates in sorted order; the separators keep ("a","bc") and
  // ("ab","c") apart.
  for (const auto& [name, value] : alert.labels) {
    for (char c : name) mix(static_cast<unsigned char>(c));
    mix(0xff);
    for (char c : value) mix(static_cast<unsigned char>(c));
    mix(0xfe);
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "labels:%016llx",
                static_cast<unsigned long long>(h));
  return buf;
}

std::optional<TimePoint> AlertSet::FiringEnd(const AlertEntry& e) const {
  std::optional<TimePoint> end;
  if (e.ends_at != TimePoint{}) end = e.ends_at;
  if (options_.stale_after > Duration::zero()) {
    TimePoint stale = e.last_seen + options_.stale_after;
    if (!end || stale < *end) end = stale;
  }
  return end;
}

bool AlertSet::CountsAsFiring(const AlertEntry& e, TimePoint now) const {
  if (!e.firing) return false;
  std::optional<TimePoint> end = FiringEnd(e);
  return !end || *end > now;
}

void AlertSet::NoteQuiet(const std::string& site, TimePoint t) {
  auto [it, inserted] = quiet_since_.emplace(site, t);
  if (!inserted) {
    it->second = std::max(it->second, t);
    return;
  }
  if (quiet_since_.size() > kMaxQuietSites) {
    auto oldest = std::min_element(
        quiet_since_.begin(), quiet_since_.end(),
        [](const auto& a, const auto& b) { return a.second < b.second; });
    quiet_since_.erase(oldest);
  }
}

void AlertSet::MakeRoom() {
  if (options_.max_entries == 0) return;
  while (entries_.size() >= options_.max_entries) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (victim == entries_.end()) {
        victim = it;
        continue;
      }
      const AlertEntry& v = victim->second;
      const AlertEntry& c = it->second;
      // Resolved before firing; then the least recently seen.
      if (std::make_pair(c.firing, c.last_seen) <
          std::make_pair(v.firing, v.last_seen)) {
        victim = it;
      }
    }
    entries_.erase(victim);
  }
}

namespace {

// A new entry for `alert` under `key`, seen at `now`; the caller sets
// whether it fires and when it ends.
AlertEntry NewEntry(const std::string& key, const Alert& alert, TimePoint now) {
  AlertEntry e;
  e.key = key;
  e.site = SiteOf(alert);
  e.labels = alert.labels;
  e.summary = alert.summary;
  e.starts_at = alert.starts_at;
  e.last_seen = now;
  return e;
}

}  // namespace

ApplyResult AlertSet::Apply(const Alert& alert, TimePoint now) {
  return Apply(alert, now, AlertSource::kWebhook);
}

ApplyResult AlertSet::Apply(const Alert& alert, TimePoint now,
                            AlertSource source) {
  if (!IsDrAlert(alert)) return ApplyResult::kNotDr;
  std::string key = KeyOf(alert);
  auto it = entries_.find(key);
  const bool pull = source == AlertSource::kPull;
  // Newer news than the pull's request.
  if (pull && it != entries_.end() && it->second.last_seen > now) {
    return ApplyResult::kIgnoredStale;
  }

  if (alert.status == AlertStatus::kFiring) {
    if (it != entries_.end()) {
      AlertEntry& e = it->second;
      if (!pull && e.resolved_at && alert.starts_at <= *e.resolved_at &&
          e.resolution_recorded &&
          now - *e.resolution_recorded < options_.reorder_window) {
        return ApplyResult::kIgnoredStale;
      }
      // An earlier firing of an alert that has fired again since.
      if (!pull && e.firing && alert.starts_at < e.starts_at) {
        return ApplyResult::kIgnoredStale;
      }
      if (pull) {
        e.resolved_at.reset();
        e.resolution_recorded.reset();
      }
      bool was_firing = CountsAsFiring(e, now);
      e.firing = true;
      e.starts_at = alert.starts_at;
      e.ends_at = alert.ends_at;
      e.last_seen = now;
      e.labels = alert.labels;
      e.summary = alert.summary;
      return was_firing ? ApplyResult::kRepeated : ApplyResult::kFiring;
    }
    MakeRoom();
    AlertEntry e = NewEntry(key, alert, now);
    e.firing = true;
    e.ends_at = alert.ends_at;
    entries_.emplace(key, std::move(e));
    return ApplyResult::kFiring;
  }

  TimePoint end = alert.ends_at != TimePoint{} ? alert.ends_at : now;
  if (it != entries_.end()) {
    AlertEntry& e = it->second;
    if (e.firing && e.starts_at > end) return ApplyResult::kIgnoredStale;
    e.last_seen = now;
    if (!e.firing) {
      // Already resolved: a repeat, or a later resolution we missed the
      // firing of. Keep the latest.
      if (!e.resolved_at || end > *e.resolved_at) {
        e.resolved_at = end;
        e.ends_at = end;
        e.resolution_recorded = now;
        NoteQuiet(e.site, end);
      }
      return ApplyResult::kRepeated;
    }
    e.firing = false;
    e.ends_at = end;
    e.resolved_at = end;
    e.resolution_recorded = now;
    e.summary = alert.summary;
    NoteQuiet(e.site, end);
    return ApplyResult::kResolved;
  }
  // Unknown alert resolved: remember it so that a late firing of it is
  // recognised as stale.
  MakeRoom();
  AlertEntry e = NewEntry(key, alert, now);
  e.firing = false;
  e.ends_at = end;
  e.resolved_at = end;
  e.resolution_recorded = now;
  NoteQuiet(e.site, end);
  entries_.emplace(key, std::move(e));
  return ApplyResult::kResolved;
}

std::set<std::string> AlertSet::FiringSites(TimePoint now) const {
  std::set<std::string> sites;
  for (const auto& [key, e] : entries_) {
    if (CountsAsFiring(e, now)) sites.insert(e.site);
  }
  return sites;
}

std::vector<AlertEntry> AlertSet::Firing(TimePoint now) const {
  std::vector<AlertEntry> out;
  for (const auto& [key, e] : entries_) {
    if (CountsAsFiring(e, now)) out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.site, a.key) < std::tie(b.site, b.key);
  });
  return out;
}

std::optional<TimePoint> AlertSet::QuietSince(std::string_view site,
                                              TimePoint now) const {
  TimePoint latest{};
  if (auto q = quiet_since_.find(std::string(site)); q != quiet_since_.end()) {
    latest = q->second;
  }
  for (const auto& [key, e] : entries_) {
    if (e.site != site) continue;
    if (CountsAsFiring(e, now)) return std::nullopt;
    std::optional<TimePoint> end = e.firing ? FiringEnd(e) : e.resolved_at;
    if (end && *end > latest) latest = *end;
  }
  return latest;
}

std::size_t AlertSet::Expire(TimePoint now) {
  std::size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const AlertEntry& e = it->second;
    bool drop = false;
    if (e.firing) {
      if (!CountsAsFiring(e, now)) {
        NoteQuiet(e.site, *FiringEnd(e));
        drop = true;
      }
    } else {
      TimePoint recorded = e.resolution_recorded.value_or(e.last_seen);
      drop = now - recorded >= options_.resolved_retention;
    }
    if (drop) {
      it = entries_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

void AlertSet::ToJson(rapidjson::Value* out,
                      rapidjson::Document::AllocatorType& a) const {
  out->SetObject();
  out->AddMember("version", kJsonVersion, a);
  Value alerts(rapidjson::kArrayType);
  for (const auto& [key, e] : entries_) {
    Value v(rapidjson::kObjectType);
    v.AddMember("key", Str(e.key, a), a);
    Value labels(rapidjson::kObjectType);
    for (const auto& [name, value] : e.labels) {
      labels.AddMember(Str(name, a), Str(value, a), a);
    }
    v.AddMember("labels", labels, a);
    v.AddMember("summary", Str(e.summary, a), a);
    v.AddMember("firing", e.firing, a);
    v.AddMember("starts_at", Time(e.starts_at, a), a);
    v.AddMember("ends_at", Time(e.ends_at, a), a);
    v.AddMember("last_seen", Time(e.last_seen, a), a);
    if (e.resolved_at) v.AddMember("resolved_at", Time(*e.resolved_at, a), a);
    if (e.resolution_recorded) {
      v.AddMember("resolution_recorded", Time(*e.resolution_recorded, a), a);
    }
    alerts.PushBack(v, a);
  }
  out->AddMember("alerts", alerts, a);
  Value quiet(rapidjson::kObjectType);
  for (const auto& [site, t] : quiet_since_) {
    quiet.AddMember(Str(site, a), Time(t, a), a);
  }
  out->AddMember("quiet_since", quiet, a);
}

std::string AlertSet::ToJsonString() const {
  rapidjson::Document doc;
  ToJson(&doc, doc.GetAllocator());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  doc.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

bool AlertSet::FromJson(const rapidjson::Value& in, std::string* error) {
  Reader r;
  if (!r.IsObject(in, "alert_set")) return Failed(r, error);
  auto version = in.FindMember("version");
  if (version == in.MemberEnd() || !version->value.IsInt() ||
      version->value.GetInt() != kJsonVersion) {
    r.Fail("alert_set.version", "must be " + std::to_string(kJsonVersion));
    return Failed(r, error);
  }
  const Value* alerts =
      r.Array(in, "alert_set", "alerts", json::Need::kRequired);
  if (alerts == nullptr) return Failed(r, error);

  std::map<std::string, AlertEntry> entries;
  for (rapidjson::SizeType i = 0; i < alerts->Size(); ++i) {
    const Value& v = (*alerts)[i];
    std::string path = json::Index("alert_set.alerts", i);
    if (!r.IsObject(v, path)) return Failed(r, error);
    AlertEntry e;
    if (!r.String(v, path, "key", json::Need::kRequired, &e.key) ||
        !r.String(v, path, "summary", json::Need::kRequired, &e.summary)) {
      return Failed(r, error);
    }
    if (e.key.empty()) {
      r.Fail(path + ".key", "empty");
      return Failed(r, error);
    }
    const Value* labels = r.Object(v, path, "labels", json::Need::kRequired);
    if (labels == nullptr) return Failed(r, error);
    for (const auto& m : labels->GetObject()) {
      if (!m.value.IsString()) {
        r.Fail(path + ".labels", "values must be strings");
        return Failed(r, error);
      }
      e.labels.emplace(
          std::string(m.name.GetString(), m.name.GetStringLength()),
          std::string(m.value.GetString(), m.value.GetStringLength()));
    }
    Alert probe;
    probe.labels = e.labels;
    if (!IsDrAlert(probe)) {
      r.Fail(path + ".labels", "not a DR alert");
      return Failed(r, error);
    }
    e.site = SiteOf(probe);
    if (!r.Bool(v, path, "firing", json::Need::kRequired, &e.firing) ||
        !r.Time(v, "starts_at", path, &e.starts_at) ||
        !r.Time(v, "ends_at", path, &e.ends_at) ||
        !r.Time(v, "last_seen", path, &e.last_seen) ||
        !r.OptionalTime(v, "resolved_at", path, &e.resolved_at) ||
        !r.OptionalTime(v, "resolution_recorded", path,
                        &e.resolution_recorded)) {
      return Failed(r, error);
    }
    std::string key = e.key;
    if (!entries.emplace(key, std::move(e)).second) {
      r.Fail(path + ".key", "duplicate");
      return Failed(r, error);
    }
  }

  std::map<std::string, TimePoint> quiet;
  if (const Value* q =
          r.Object(in, "alert_set", "quiet_since", json::Need::kOptional)) {
    for (const auto& m : q->GetObject()) {
      std::string site(m.name.GetString(), m.name.GetStringLength());
      TimePoint t;
      if (!r.TimeValue(m.value, "alert_set.quiet_since." + site, &t)) {
        return Failed(r, error);
      }
      quiet[site] = t;
    }
  }
  if (!r.ok()) return Failed(r, error);
  entries_ = std::move(entries);
  quiet_since_ = std::move(quiet);
  return true;
}

bool AlertSet::FromJsonString(std::string_view json, std::string* error) {
  rapidjson::Document doc;
  // The state is this process's own, written by ToJsonString: no size
  // bound, but the nesting and encoding checks of any other input.
  if (auto err = json::Parse(
          json, {.max_bytes = std::numeric_limits<std::size_t>::max()}, &doc)) {
    if (error != nullptr) {
      if (err->failure == json::ParseFailure::kEmpty ||
          err->failure == json::ParseFailure::kSyntax) {
        *error = "alert_set: invalid JSON at offset " +
                 std::to_string(err->offset) + ": " +
                 rapidjson::GetParseError_En(err->code);
      } else {
        *error = "alert_set: " + err->message;
      }
    }
    return false;
  }
  return FromJson(doc, error);
}

}  // namespace drf::actuator
