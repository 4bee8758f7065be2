#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "core/http/server.h"

namespace drf::testing {

/// A free TCP port on 127.0.0.1 (bound, read back, released).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

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
