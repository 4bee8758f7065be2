#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "actuator/ssh/env_file.h"
#include "actuator/ssh/pool.h"
#include "actuator/ssh/session.h"
#include "core/config/config.h"
#include "core/config/duration.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// How reconfiguring one host went.
struct HostResult {
  std::string host;  // ssh::HostName: "user@address:port"
  bool ok = false;
  ssh::ErrorKind error_kind = ssh::ErrorKind::kNone;  // of the last attempt
  std::string message;  // why the last attempt failed ("" when ok)
  int attempts = 0;
  /// The env file was rewritten (by this attempt, or by any attempt of a
  /// retried host: a write followed by a failed reload still changed it).
  bool changed = false;
  /// The (last) attempt used a session kept open from before.
  bool reused_session = false;
  double seconds = 0;  // wall time, over all attempts

  std::string_view error_kind_name() const {
    return ssh::ErrorKindName(error_kind);
  }
};

/// One attempt at bringing one host of a site to that site's configuration.
/// The seam the actuator's tests fake. Implementations must be safe to call
/// from several threads at once (one call per host runs in parallel) and
/// should not throw (HostReconfigurer turns an exception into a failure).
class HostActions {
 public:
  virtual ~HostActions() = default;
  virtual HostResult Reconfigure(const SiteConfig& site,
                                 const HostConfig& host) = 0;
  /// Gets ready to reconfigure `hosts` soon (opens what can be opened ahead
  /// of time), and lets go of what was kept for any other host. Returns,
  /// in the order of `hosts`, whether each is ready; empty when the
  /// implementation has nothing to prepare.
  virtual std::vector<bool> Warm(const std::vector<HostConfig>& /*hosts*/) {
    return {};
  }
};

/// The real host action (SPEC.md §6, "A switch to site T"), over SSH and
/// SFTP with libssh: connect (known_hosts enforced, key authentication
/// only), read `activate.env_file`, RewriteEnv with
/// `activate.ExpandFor(site)`, write it back atomically only when it
/// changed, then run `activate.reload_command` (skipped when empty).
///
/// The reload runs on every successful attempt, also when the file was
/// already right: a crash (or a failed attempt) between the write and the
/// reload leaves a file that is right and a PHP-FPM that has not read it,
/// and only an unconditional reload converges from there. A graceful
/// PHP-FPM reload costs nothing that matters.
///
/// Env values are checked (ssh::ValidateEnv) before any connection; an
/// invalid one fails with kInvalid and is never retried. Values go into the
/// file only; the command is the fixed config string. An env file (or
/// temporary file) that is a symbolic link fails with kSymlink, nothing
/// written, and is not retried either (SPEC.md §7).
///
/// At most one reload_command runs per host at a time (SPEC.md §7), however
/// often it is retried: the host's `timeout` bounds every run
/// (SshSession::Exec), and an attempt finds the host's command slot taken
/// while another attempt's command runs, or after one whose end was not
/// seen (a lost connection, a wait that ran out) until
/// SshSession::MaxRunTime has passed since it started. Such an attempt
/// fails at once with kCommandFailed, saying so, and starts nothing.
///
/// Sessions are kept in an ssh::SessionPool: an attempt starts on the
/// host's idle session when there is one (Warm() opens them ahead of
/// time), and goes on over a new connection when that session's connection
/// turns out to have died while kept (every step is safe to repeat: the
/// rewrite is idempotent and the reload unconditional). A session that
/// served an attempt, whatever the command's exit, is kept; one that failed
/// otherwise is closed, so the next attempt connects anew.
/// Thread-safe.
class SshHostActions : public HostActions {
 public:
  SshHostActions(SshConfig ssh, ActivateConfig activate);
  HostResult Reconfigure(const SiteConfig& site,
                         const HostConfig& host) override;
  /// Keeps a checked session open to each of `hosts` (in parallel) and
  /// closes the ones kept for other hosts; a host is ready when it has one.
  std::vector<bool> Warm(const std::vector<HostConfig>& hosts) override;

  const ssh::SessionPool& pool() const { return pool_; }

 private:
  /// The steps on one session; sets r.changed. An Error, or Done.
  ssh::Result<Done> Apply(ssh::SshSession& s, const ssh::EnvPairs& env,
                          HostResult& r);
  /// Runs reload_command on `s` if the host's command slot is free (see
  /// above); the slot is taken for the run and kept after it while the
  /// command may still be alive.
  ssh::Result<ssh::ExecResult> RunCommand(ssh::SshSession& s);

  const SshConfig ssh_;
  const ActivateConfig activate_;
  ssh::SessionPool pool_;
  std::mutex commands_mu_;
  /// By SshSession::name(): until when a command started there may still be
  /// running (time_point::max() while one runs and its end is awaited). An
  /// entry in the past is a free slot. Guarded by commands_mu_.
  std::map<std::string, std::chrono::steady_clock::time_point> busy_until_;
};

/// How a failing host is retried: after a capped exponential backoff with
/// full jitter, uniform in [0, min(cap, base * 2^(failures-1))), until it
/// succeeds or `give_up_after` has passed since its first attempt.
struct HostRetryPolicy {
  Duration base = std::chrono::seconds(1);
  Duration cap = std::chrono::seconds(30);
  /// 0: never give up (only a Stopper ends the retries).
  Duration give_up_after = std::chrono::minutes(10);
};

/// What dr-actuator retries a host with: 0.5 s doubling to 30 s, with full
/// jitter, until it converges or newer work supersedes it (never gives up:
/// a host of the serving site must end up configured).
inline const HostRetryPolicy kActuatorHostRetry{
    std::chrono::milliseconds(500), std::chrono::seconds(30), Duration::zero()};

/// The wait before the next attempt after `failures` failed ones (>= 1);
/// `unit` is uniform in [0, 1). Pure.
Duration HostBackoff(const HostRetryPolicy& policy, int failures, double unit);

/// The time source of host retries, injectable so that tests run the real
/// retry loop without sleeping. Thread-safe.
class RetryClock {
 public:
  virtual ~RetryClock() = default;
  virtual std::chrono::steady_clock::time_point Now() const = 0;
  /// Waits `d`, or until `stop` (if any) fires; true when stopped.
  virtual bool WaitFor(Duration d, const Stopper* stop) const = 0;
  /// steady_clock, waiting on the Stopper (never a busy wait).
  static const RetryClock& Real();
};

/// THE host convergence loop (SPEC.md §6: "one host's failure is reported
/// and retried without undoing the others"): reconfigures hosts of a site
/// in parallel, one thread per host, each host retried on its own with
/// HostBackoff between attempts (waiting on the Stopper, never spinning):
/// one host's failure never delays, fails or undoes another, and a failing
/// host is retried until it converges, gives up (HostRetryPolicy), fails
/// with kInvalid (never converges), or the Stopper fires. Every attempt is
/// logged and passed to the observer as it happens, so a failure is
/// reported while it is being retried, not only at the end. The actuator
/// runs it with give_up_after 0 and a Stopper per piece of work.
///
/// Owns a shared HostActions. Const and thread-safe: several calls may run
/// at once (the caller keeps two calls for the same site from overlapping,
/// as both would write the same files).
class HostReconfigurer {
 public:
  /// The `action` label of dr_actuator_actions_total.
  static constexpr std::string_view kAction = "host_reconfigure";

  /// Called after every attempt on a host (from that host's thread, so it
  /// must be thread-safe); `so_far` carries the attempt count, the
  /// attempt's outcome and the time spent on the host until now.
  using Observer =
      std::function<void(const SiteConfig& site, const HostResult& so_far)>;

  /// `clock` (default RetryClock::Real()) must outlive this.
  explicit HostReconfigurer(std::shared_ptr<HostActions> actions,
                            HostRetryPolicy policy = {},
                            const RetryClock* clock = nullptr);
  /// With the SSH implementation (SshHostActions) for `config`.
  explicit HostReconfigurer(const ActuatorConfig& config,
                            HostRetryPolicy policy = {});

  /// Every host of `site`, as below.
  std::vector<HostResult> Reconfigure(const SiteConfig& site,
                                      const Stopper* stop = nullptr,
                                      const Observer& observer = {}) const;

  /// `hosts` (of `site`; usually the ones still pending), in parallel, each
  /// retried until it succeeds, gives up, or `stop` fires (then its result
  /// is kCancelled, naming the last error). Blocks until all are done;
  /// results in the order of `hosts`. No hosts, no results.
  std::vector<HostResult> Reconfigure(const SiteConfig& site,
                                      const std::vector<HostConfig>& hosts,
                                      const Stopper* stop,
                                      const Observer& observer) const;

  /// HostActions::Warm(hosts); returns when it is done. An exception is
  /// swallowed (warming is best effort) and gives an empty result.
  std::vector<bool> Warm(const std::vector<HostConfig>& hosts) const;

  const HostRetryPolicy& policy() const { return policy_; }

 private:
  HostResult Attempt(const SiteConfig& site, const HostConfig& host,
                     int attempt) const;
  HostResult Converge(const SiteConfig& site, const HostConfig& host,
                      const Stopper* stop, const Observer& observer) const;

  std::shared_ptr<HostActions> actions_;
  HostRetryPolicy policy_;
  const RetryClock& clock_;
};

}  // namespace drf::actuator
