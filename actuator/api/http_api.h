#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "actuator/engine.h"
#include "core/http/server.h"

namespace drf::actuator {

/// The two bearer tokens the actuator checks.
struct Tokens {
  std::string webhook;
  std::string api;
};

/// Loads both tokens from actuator.webhook_token_file / api_token_file, or
/// the environment (DR_WEBHOOK_TOKEN, DR_API_TOKEN). Throws naming the file.
Tokens LoadTokens(const ActuatorConfig& config);

/// The actuator's HTTP surface (SPEC.md §6): the Alertmanager webhook, the
/// operator API, /metrics, /-/healthy, /-/ready and /-/reload. Handlers
/// run on CivetWeb's threads; the webhook answers as soon as the
/// notification is journaled and never waits for an action. Thread-safe.
class HttpApi {
 public:
  /// `reload` re-reads the config; returns "" on success or the error.
  HttpApi(Engine& engine, Tokens tokens, std::function<std::string()> reload);

  void Register(http::Server& server);
  void SetTokens(Tokens tokens);

  /// Request bodies above this are refused with 413.
  static constexpr std::size_t kMaxBody = 1 << 20;

 private:
  http::ServerResponse Webhook(const http::ServerRequest& r);
  http::ServerResponse Switch(const http::ServerRequest& r);
  http::ServerResponse Pause(const http::ServerRequest& r);
  http::ServerResponse Resume(const http::ServerRequest& r);
  bool Authorized(const http::ServerRequest& r, bool webhook) const;

  Engine& engine_;
  mutable std::mutex mu_;
  Tokens tokens_;
  std::function<std::string()> reload_;
};

}  // namespace drf::actuator
