#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/http/server.h"

namespace drf::http {

/// What a daemon tells its operational endpoints. The functions run on the
/// server's worker threads, concurrently: they must be thread-safe.
struct DaemonEndpoints {
  /// "dr-exporter", "dr-actuator": starts every answer that is a sentence.
  std::string name;
  /// The families /metrics serves (in the text exposition format 0.0.4).
  std::function<std::vector<prometheus::MetricFamily>()> collect;
  /// nullopt when ready; else why not, without a final period ("the DNS
  /// provider has not been read"). Unset: always ready.
  std::function<std::optional<std::string>()> ready;
  /// Reloads the config; "" on success, else the error. Unset: no
  /// /-/reload route.
  std::function<std::string()> reload;
};

/// Registers the routes every daemon serves, with these answers (texts are
/// text/plain; charset=utf-8):
///   GET  /metrics     200, the families of `collect`
///   GET  /-/healthy   200 "<name> is Healthy.\n"
///   GET  /-/ready     200 "<name> is Ready.\n", or
///                     503 "<name> is not ready: <reason>.\n"
///   POST /-/reload    200 "config reloaded\n", or
///                     500 "failed to reload config: <error>\n"
/// Call before server.Start(); `endpoints` is copied.
void RegisterDaemonEndpoints(Server& server, DaemonEndpoints endpoints);

}  // namespace drf::http
