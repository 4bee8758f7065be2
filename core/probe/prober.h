#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/http/client.h"

namespace drf {

/// The outcome of one health probe of one site.
struct ProbeResult {
  bool up = false;
  long status = 0;  // HTTP status, 0 if no answer
  http::Failure failure = http::Failure::kNone;
  std::string error;  // human-readable, for logs and the actuator's status
  double seconds = 0;
};

/// Probes site health endpoints concurrently with libcurl multi: every
/// probe of a round runs at once and each is bounded by the probe timeout,
/// so one hung site never delays another. Each probe opens a fresh
/// connection (a dead listener must not hide behind a kept-alive one).
/// Used by the exporter in a loop and by the actuator to confirm.
/// Not thread-safe: one per thread.
class Prober {
 public:
  explicit Prober(ProbeConfig config);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  /// Probes every URL once, concurrently; returns results in order.
  std::vector<ProbeResult> ProbeAll(const std::vector<std::string>& urls);

 private:
  ProbeConfig config_;
  CURLM* multi_;
  std::vector<http::EasyHandle> easies_;  // reused across rounds
};

}  // namespace drf
