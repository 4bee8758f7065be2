#include "core/http/daemon_endpoints.h"

#include <memory>
#include <utility>

#include "core/metrics/metrics.h"

namespace drf::http {

void RegisterDaemonEndpoints(Server& server, DaemonEndpoints endpoints) {
  // Shared by the handlers, which outlive this call.
  auto d = std::make_shared<const DaemonEndpoints>(std::move(endpoints));
  server.Handle("GET", "/metrics", [d](const ServerRequest&) {
    ServerResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (d->collect) r.body = metrics::SerializeFamilies(d->collect());
    return r;
  });
  server.Handle("GET", "/-/healthy", [d](const ServerRequest&) {
    return ServerResponse::Text(200, d->name + " is Healthy.\n");
  });
  server.Handle("GET", "/-/ready", [d](const ServerRequest&) {
    std::optional<std::string> reason;
    if (d->ready) reason = d->ready();
    if (!reason) return ServerResponse::Text(200, d->name + " is Ready.\n");
    return ServerResponse::Text(503,
                                d->name + " is not ready: " + *reason + ".\n");
  });
  if (d->reload) {
    server.Handle("POST", "/-/reload", [d](const ServerRequest&) {
      std::string err = d->reload();
      if (err.empty()) return ServerResponse::Text(200, "config reloaded\n");
      return ServerResponse::Text(500,
                                  "failed to reload config: " + err + "\n");
    });
  }
}

}  // namespace drf::http
