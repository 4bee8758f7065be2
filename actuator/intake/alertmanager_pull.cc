#include "actuator/intake/alertmanager_pull.h"

#include <rapidjson/document.h>

#include <map>
#include <utility>

#include "actuator/intake/alertmanager_fields.h"
#include "core/json/json.h"
#include "core/util/secret.h"

namespace drf::actuator {
namespace {

using json::Index;
using json::Join;
using json::Need;
using json::Printable;
using rapidjson::SizeType;
using rapidjson::Value;

// Walks a GET /api/v2/alerts body; the first problem wins and is kept in the
// json::Reader.
class ListReader {
 public:
  ListReader() : r_({.null_is_absent = true}) {}

  json::Reader& reader() { return r_; }

  // An optional array of strings (status.silencedBy, status.inhibitedBy);
  // sets *non_empty when it has an entry.
  bool ReadIdList(const Value& obj, const std::string& path, const char* name,
                  bool* non_empty) {
    const Value* v = r_.Array(obj, path, name, Need::kOptional);
    if (v == nullptr) return r_.ok();
    const std::string field = Join(path, name);
    if (v->Size() > kMaxAlerts) {
      return r_.Fail(field,
                     "more than " + std::to_string(kMaxAlerts) + " entries");
    }
    std::string id;
    for (SizeType i = 0; i < v->Size(); ++i) {
      if (!r_.String((*v)[i], Index(field, i), &id, kMaxFieldBytes)) {
        return false;
      }
    }
    *non_empty = v->Size() > 0;
    return true;
  }

  // status: {state, silencedBy, inhibitedBy}; *active when it is "active"
  // and nothing silences or inhibits it.
  bool ReadStatus(const Value& alert, const std::string& path, bool* active) {
    const Value* st = r_.Object(alert, path, "status", Need::kRequired);
    const std::string sp = Join(path, "status");
    if (st == nullptr || !r_.NoDuplicateKeys(*st, sp)) return false;
    std::string state;
    if (!r_.String(*st, sp, "state", Need::kRequired, &state, kMaxFieldBytes)) {
      return false;
    }
    if (state != "active" && state != "suppressed" && state != "unprocessed") {
      return r_.Fail(Join(sp, "state"),
                     "must be \"active\", \"suppressed\" or \"unprocessed\", "
                     "got \"" +
                         Printable(state) + "\"");
    }
    bool silenced = false;
    bool inhibited = false;
    if (!ReadIdList(*st, sp, "silencedBy", &silenced) ||
        !ReadIdList(*st, sp, "inhibitedBy", &inhibited)) {
      return false;
    }
    *active = state == "active" && !silenced && !inhibited;
    return true;
  }

  bool ReadReceivers(const Value& alert, const std::string& path) {
    const Value* v = r_.Array(alert, path, "receivers", Need::kOptional);
    if (v == nullptr) return r_.ok();
    const std::string field = Join(path, "receivers");
    if (v->Size() > kMaxLabelsPerSet) {
      return r_.Fail(
          field, "more than " + std::to_string(kMaxLabelsPerSet) + " entries");
    }
    std::string name;
    for (SizeType i = 0; i < v->Size(); ++i) {
      const std::string rp = Index(field, i);
      if (!r_.NoDuplicateKeys((*v)[i], rp) ||
          !r_.String((*v)[i], rp, "name", Need::kRequired, &name,
                     kMaxFieldBytes)) {
        return false;
      }
    }
    return true;
  }

  // One gettableAlert; *keep is false for one that is not active.
  bool ReadAlert(const Value& v, const std::string& path, Alert* out,
                 bool* keep) {
    if (!r_.NoDuplicateKeys(v, path) ||
        !intake::ReadAlertContent(r_, v, path, out)) {
      return false;
    }
    TimePoint updated;
    if (!intake::ReadTime(r_, v, path, "updatedAt", Need::kOptional,
                          &updated) ||
        !intake::ReadAlertOrigin(r_, v, path, out) || !ReadReceivers(v, path) ||
        !ReadStatus(v, path, keep)) {
      return false;
    }
    out->status = AlertStatus::kFiring;
    return true;
  }

  bool ReadList(const Value& root, std::vector<Alert>* out) {
    if (!root.IsArray()) return r_.Fail("body", "must be a JSON array");
    if (!intake::CheckAlertCount(r_, root, "body")) return false;
    out->reserve(root.Size());
    for (SizeType i = 0; i < root.Size(); ++i) {
      Alert alert;
      bool keep = false;
      if (!ReadAlert(root[i], Index("", i), &alert, &keep)) return false;
      if (keep) out->push_back(std::move(alert));
    }
    return true;
  }

 private:
  json::Reader r_;
};

std::string SiteOf(const Alert& alert) {
  auto it = alert.labels.find(std::string(kSiteLabel));
  return it == alert.labels.end() ? std::string() : it->second;
}

// TimePoint{} is no end: later than any end.
bool EndsLater(TimePoint a, TimePoint b) {
  if (a == b) return false;
  if (a == TimePoint{}) return true;
  if (b == TimePoint{}) return false;
  return a > b;
}

void AppendError(std::string* all, const std::string& url,
                 const std::string& why) {
  if (!all->empty()) *all += "; ";
  *all += url + ": " + why;
}

}  // namespace

bool ParseAlertList(std::string_view body, std::vector<Alert>* out,
                    std::string* error) {
  auto fail = [&](const std::string& message) {
    if (error != nullptr) *error = message;
    return false;
  };
  if (out == nullptr) return fail("body: no output");
  out->clear();
  rapidjson::Document doc;
  if (auto err = json::Parse(
          body, {.max_bytes = kMaxAlertListBytes, .max_depth = kMaxJsonDepth},
          &doc)) {
    return fail("body: " + err->message);
  }
  ListReader r;
  if (!r.ReadList(doc, out)) {
    out->clear();
    return fail(r.reader().error());
  }
  return true;
}

AlertmanagerPuller::AlertmanagerPuller(const AlertmanagerPullConfig& config)
    : AlertmanagerPuller(
          config, config.bearer_token_file.empty()
                      ? std::string()
                      : LoadSecret(config.bearer_token_file,
                                   "actuator.alertmanager.bearer_token_file",
                                   "DRF_ALERTMANAGER_TOKEN",
                                   "Alertmanager bearer token")) {}

AlertmanagerPuller::AlertmanagerPuller(const AlertmanagerPullConfig& config,
                                       std::string bearer_token)
    : config_(config), token_(std::move(bearer_token)) {}

std::string AlertmanagerPuller::AlertsUrl(std::string_view base) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += kAlertsQuery;
  return url;
}

PullResult AlertmanagerPuller::Pull(const Stopper& stop) {
  PullResult result;
  for (const std::string& base : config_.urls) {
    if (stop.stopped()) {
      AppendError(&result.error, base, "not tried: stopping");
      break;
    }
    http::Request request;
    request.url = AlertsUrl(base);
    request.timeout = config_.timeout;
    request.connect_timeout = config_.timeout;
    request.max_response_bytes = kMaxAlertListBytes;
    request.headers.push_back("Accept: application/json");
    if (!token_.empty()) {
      request.headers.push_back("Authorization: Bearer " + token_);
    }
    http::Response response = client_.Do(request);
    if (!response.transport_ok()) {
      std::string why(http::FailureName(response.failure));
      if (!response.error.empty()) why += " (" + response.error + ")";
      AppendError(&result.error, base, why);
      continue;
    }
    if (response.status != 200) {
      AppendError(&result.error, base,
                  "HTTP " + std::to_string(response.status));
      continue;
    }
    std::vector<Alert> alerts;
    std::string error;
    if (!ParseAlertList(response.body, &alerts, &error)) {
      AppendError(&result.error, base, "invalid alert list: " + error);
      continue;
    }
    result.ok = true;
    result.source = base;
    result.alerts = std::move(alerts);
    return result;
  }
  if (config_.urls.empty()) result.error = "no Alertmanager URL configured";
  return result;
}

std::vector<Alert> PullChanges(const AlertSet& before,
                               const std::vector<Alert>& pulled,
                               const std::set<std::string>& sites,
                               TimePoint now, std::vector<Alert>* ignored) {
  std::map<std::string, AlertEntry> firing;
  for (AlertEntry& e : before.Firing(now)) {
    std::string key = e.key;
    firing.emplace(std::move(key), std::move(e));
  }
  std::vector<Alert> changes;
  std::set<std::string> listed;
  for (const Alert& alert : pulled) {
    const std::string key = AlertSet::KeyOf(alert);
    listed.insert(key);
    if (!IsDrAlert(alert) || sites.count(SiteOf(alert)) == 0) {
      if (ignored != nullptr) ignored->push_back(alert);
      continue;
    }
    if (alert.ends_at != TimePoint{} && alert.ends_at <= now) continue;
    auto it = firing.find(key);
    if (it != firing.end() && !EndsLater(alert.ends_at, it->second.ends_at)) {
      continue;
    }
    Alert change = alert;
    change.status = AlertStatus::kFiring;
    changes.push_back(std::move(change));
  }
  for (const auto& [key, e] : firing) {
    if (listed.count(key) != 0) continue;
    Alert resolved;
    resolved.status = AlertStatus::kResolved;
    resolved.labels = e.labels;
    resolved.starts_at = e.starts_at;
    resolved.ends_at = now;
    // KeyOf(resolved) == key: a labels-hash key is recomputed from the same
    // labels.
    if (key.rfind("labels:", 0) != 0) resolved.fingerprint = key;
    resolved.summary = e.summary;
    changes.push_back(std::move(resolved));
  }
  return changes;
}

}  // namespace drf::actuator
