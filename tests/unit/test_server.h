#pragma once

#include <memory>
#include <string>

#include "core/http/server.h"
#include "tests/fakes/free_port.h"

namespace drf::testing {

/// A real HTTP server on a free loopback port, for client-side tests.
struct LocalServer {
  explicit LocalServer(std::size_t max_body = 1 << 16)
      : port(FreePort()),
        server(std::make_unique<http::Server>(
            "127.0.0.1:" + std::to_string(port), max_body, 16)) {}
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  int port;
  std::unique_ptr<http::Server> server;
};

}  // namespace drf::testing
