#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actuator/ssh/session.h"
#include "core/config/config.h"
#include "core/config/duration.h"

namespace drf::ssh {

/// Authenticated sessions kept open between uses, at most one idle session
/// per host, so that a switch does not start with a key exchange (about
/// half a second a host). The actuator warms the sessions of the sites that
/// do not serve, so the next switch finds them open.
///
/// A kept session is checked before it is trusted for long: Warm() sends a
/// round trip (SshSession::Ping) when it was last checked more than
/// `check_after` ago, and closes it after `max_age`, so the host key is
/// verified again (known_hosts is consulted on every new connection) and a
/// connection a NAT or firewall dropped silently is noticed. A session
/// taken with Take() is the caller's alone until it is given back.
///
/// Thread-safe. Connections are made outside the lock.
class SessionPool {
 public:
  struct Options {
    Duration check_after = std::chrono::seconds(15);
    Duration max_age = std::chrono::minutes(10);
  };

  explicit SessionPool(SshConfig ssh);
  SessionPool(SshConfig ssh, Options options);

  /// The idle session to `host`, taken out of the pool (nullptr if none, or
  /// if it is older than max_age: that one is closed).
  std::unique_ptr<SshSession> Take(const HostConfig& host);

  /// Keeps `session` as the idle session of `host`; closes it when the host
  /// has one already or it is older than max_age.
  void Give(const HostConfig& host, std::unique_ptr<SshSession> session);

  /// Makes sure `host` has a live idle session: checks the one kept (when
  /// due) and opens a new one when there is none, it failed its check or it
  /// is too old. Returns the error when the host cannot be reached. Logs a
  /// change of reachability (a standby host that stops answering is worth
  /// knowing before the switch that needs it).
  Result<Done> Warm(const HostConfig& host);

  /// Closes the idle sessions of hosts other than `hosts` (the sites that
  /// started serving need none kept).
  void KeepOnly(const std::vector<HostConfig>& hosts);

  /// Idle sessions kept now.
  std::size_t idle() const;

 private:
  struct Idle {
    std::unique_ptr<SshSession> session;
    std::chrono::steady_clock::time_point checked;
  };
  bool TooOld(const SshSession& s) const;
  void Reachable(const std::string& name, const Result<Done>& result);

  const SshConfig ssh_;
  const Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Idle> idle_;       // by HostName
  std::map<std::string, bool> reachable_;  // last Warm() outcome, by HostName
};

}  // namespace drf::ssh
