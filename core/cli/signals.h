#pragma once

#include <signal.h>

#include <functional>

namespace drf {

/// The daemons' signal handling: SIGHUP reloads, SIGINT and SIGTERM stop.
/// Construct in main() before any thread starts, so every thread inherits
/// the blocked mask and only Wait() ever takes these signals; SIGPIPE is
/// ignored (a peer closing a socket is an error return, not a crash).
class ShutdownSignals {
 public:
  ShutdownSignals();

  /// Blocks until SIGINT or SIGTERM, calling `reload` on each SIGHUP.
  void Wait(const std::function<void()>& reload);

 private:
  sigset_t set_;
};

}  // namespace drf
