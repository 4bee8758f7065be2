#include "actuator/api/http_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sstream>

#include "core/http/daemon_endpoints.h"
#include "core/json/json.h"
#include "core/log/log.h"
#include "core/util/secret.h"

namespace drf::actuator {
namespace {

http::ServerResponse JsonMessage(int status, std::string_view key,
                                 std::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return http::ServerResponse::Json(
      status, std::string(buf.GetString(), buf.GetSize()));
}

http::ServerResponse Unauthorized() {
  http::ServerResponse r =
      JsonMessage(401, "error", "missing or invalid bearer token");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// Parses an operator request body: a JSON object, or empty for {}.
bool ParseObject(const std::string& body, rapidjson::Document* d,
                 std::string* error) {
  if (body.empty()) {
    d->SetObject();
    return true;
  }
  if (auto e = json::Parse(body, json::Limits{HttpApi::kMaxBody, 8, 0}, d)) {
    *error = "malformed JSON: " + e->message;
    return false;
  }
  if (!d->IsObject()) {
    *error = "the body must be a JSON object";
    return false;
  }
  return true;
}

bool OptionalString(const rapidjson::Document& d, const char* key,
                    std::string* out, std::string* error) {
  auto it = d.FindMember(key);
  if (it == d.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsString() || it->value.GetStringLength() > 1024) {
    *error = std::string(key) + ": must be a string of at most 1024 bytes";
    return false;
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

}  // namespace

Tokens LoadTokens(const ActuatorConfig& config) {
  return Tokens{
      LoadSecret(config.webhook_token_file, "actuator.webhook_token_file",
                 "DR_WEBHOOK_TOKEN", "webhook token"),
      LoadSecret(config.api_token_file, "actuator.api_token_file",
                 "DR_API_TOKEN", "API token")};
}

HttpApi::HttpApi(Engine& engine, Tokens tokens,
                 std::function<std::string()> reload)
    : engine_(engine), tokens_(std::move(tokens)), reload_(std::move(reload)) {}

void HttpApi::SetTokens(Tokens tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::move(tokens);
}

bool HttpApi::Authorized(const http::ServerRequest& r, bool webhook) const {
  std::string_view presented = BearerToken(r.authorization);
  std::lock_guard<std::mutex> lock(mu_);
  return ConstantTimeEquals(presented, webhook ? tokens_.webhook : tokens_.api);
}

http::ServerResponse HttpApi::Webhook(const http::ServerRequest& r) {
  auto count = [this](const char* result) {
    engine_.metrics().webhooks.Add({{"result", result}}).Increment();
  };
  if (!Authorized(r, true)) {
    count("unauthorized");
    return Unauthorized();
  }
  if (r.body_too_large) {
    count("too_large");
    return JsonMessage(413, "error", "notification larger than 1 MiB");
  }
  Notification n;
  std::string error;
  if (!ParseNotification(r.body, &n, &error)) {
    count("bad_request");
    log::Warn("webhook refused", {{"err", error}});
    return JsonMessage(400, "error", error);
  }
  if (!engine_.Record(n)) {
    count("unavailable");
    return JsonMessage(503, "error", "cannot record the notification");
  }
  count("accepted");
  return JsonMessage(200, "status", "recorded");
}

http::ServerResponse HttpApi::Switch(const http::ServerRequest& r) {
  if (!Authorized(r, false)) return Unauthorized();
  if (r.body_too_large) return JsonMessage(413, "error", "body too large");
  rapidjson::Document d;
  std::string error, site, reason;
  if (!ParseObject(r.body, &d, &error) ||
      !OptionalString(d, "site", &site, &error) ||
      !OptionalString(d, "reason", &reason, &error)) {
    return JsonMessage(400, "error", error);
  }
  bool force = false;
  if (auto it = d.FindMember("force"); it != d.MemberEnd()) {
    if (!it->value.IsBool())
      return JsonMessage(400, "error", "force: must be a boolean");
    force = it->value.GetBool();
  }
  if (site.empty()) return JsonMessage(400, "error", "site: required");
  ManualOutcome out = engine_.RequestSwitch(site, reason, force);
  return http::ServerResponse::Json(out.http_status, out.json);
}

http::ServerResponse HttpApi::Pause(const http::ServerRequest& r) {
  if (!Authorized(r, false)) return Unauthorized();
  if (r.body_too_large) return JsonMessage(413, "error", "body too large");
  rapidjson::Document d;
  std::string error, reason;
  if (!ParseObject(r.body, &d, &error) ||
      !OptionalString(d, "reason", &reason, &error)) {
    return JsonMessage(400, "error", error);
  }
  if (!engine_.Pause(reason)) {
    return JsonMessage(503, "error", "cannot record the pause");
  }
  return JsonMessage(200, "status", "paused");
}

http::ServerResponse HttpApi::Resume(const http::ServerRequest& r) {
  if (!Authorized(r, false)) return Unauthorized();
  if (!engine_.Resume()) {
    return JsonMessage(503, "error", "cannot record the resume");
  }
  return JsonMessage(200, "status", "resumed");
}

void HttpApi::Register(http::Server& server) {
  server.Handle("POST", "/api/v1/alertmanager",
                [this](const http::ServerRequest& r) { return Webhook(r); });
  server.Handle("POST", "/api/v1/switch",
                [this](const http::ServerRequest& r) { return Switch(r); });
  server.Handle("POST", "/api/v1/pause",
                [this](const http::ServerRequest& r) { return Pause(r); });
  server.Handle("POST", "/api/v1/resume",
                [this](const http::ServerRequest& r) { return Resume(r); });
  server.Handle("GET", "/api/v1/status", [this](const http::ServerRequest& r) {
    if (!Authorized(r, false)) return Unauthorized();
    return http::ServerResponse::Json(200, engine_.StatusJson());
  });
  server.Handle("GET", "/api/v1/events", [this](const http::ServerRequest& r) {
    if (!Authorized(r, false)) return Unauthorized();
    EventQuery query;
    std::string l = r.QueryParam("limit");
    if (!l.empty()) {
      char* end = nullptr;
      long v = std::strtol(l.c_str(), &end, 10);
      if (*end != '\0' || v < 1 || v > 10000) {
        return JsonMessage(400, "error", "limit: an integer from 1 to 10000");
      }
      query.limit = static_cast<std::size_t>(v);
    }
    // type=a,b or type=a&type=b (event types, as journaled); since=RFC 3339.
    for (const std::string& types : r.QueryParams("type")) {
      for (std::size_t start = 0; start < types.size();) {
        std::size_t comma = types.find(',', start);
        if (comma == std::string::npos) comma = types.size();
        if (comma > start) {
          query.types.insert(types.substr(start, comma - start));
        }
        start = comma + 1;
      }
    }
    if (const std::string since = r.QueryParam("since"); !since.empty()) {
      auto t = ParseRfc3339(since);
      if (!t) {
        return JsonMessage(400, "error",
                           "since: an RFC 3339 time, e.g. "
                           "2026-01-02T15:04:05Z");
      }
      query.since = *t;
    }
    return http::ServerResponse::Json(200, engine_.EventsJson(query));
  });
  http::RegisterDaemonEndpoints(
      server,
      {"dr-actuator", [this] { return engine_.metrics().registry->Collect(); },
       [this]() -> std::optional<std::string> {
         if (engine_.Ready()) return std::nullopt;
         return "the DNS provider has not been read";
       },
       reload_});
}

}  // namespace drf::actuator
