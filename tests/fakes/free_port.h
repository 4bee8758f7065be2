#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace drf::testing {

/// A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0,
/// read back, released).
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

}  // namespace drf::testing
