#include "actuator/actions/host_reconfigure.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <random>
#include <system_error>
#include <thread>
#include <utility>

#include "actuator/ssh/env_file.h"
#include "core/log/log.h"
#include "core/util/backoff.h"

namespace drf::actuator {
namespace {

using Clock = std::chrono::steady_clock;
using ssh::ErrorKind;

double SecondsSince(Clock::time_point start,
                    Clock::time_point now = Clock::now()) {
  return std::chrono::duration<double>(now - start).count();
}

// A command's stderr as one line of a message: control characters become
// spaces, and only its end is kept (where the error usually is).
std::string OneLine(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::size_t start = out.find_first_not_of(' ');
  out.erase(0, start == std::string::npos ? out.size() : start);
  if (out.size() > max) out = "..." + out.substr(out.size() - max);
  return out;
}

// Runs fn(0) .. fn(n-1) at once, one thread each; runs inline any that
// cannot get a thread. Returns when all have returned.
void RunParallel(std::size_t n, const std::function<void(std::size_t)>& fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      threads.emplace_back(fn, i);
    } catch (const std::system_error&) {
      fn(i);
    }
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace

// ------------------------------------------------------------ SSH action

SshHostActions::SshHostActions(SshConfig ssh, ActivateConfig activate)
    : ssh_(ssh), activate_(std::move(activate)), pool_(std::move(ssh)) {}

ssh::Result<ssh::ExecResult> SshHostActions::RunCommand(ssh::SshSession& s) {
  const auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(commands_mu_);
    auto [it, inserted] = busy_until_.try_emplace(s.name(), now);
    if (!inserted && it->second > now) {
      const bool running = it->second == Clock::time_point::max();
      std::string why =
          running ? "another attempt's reload_command is running on this "
                    "host"
                  : "an earlier reload_command may still be running on this "
                    "host (its end was not seen; the host's timeout ends it "
                    "within " +
                        FormatDuration(
                            std::chrono::ceil<Duration>(it->second - now)) +
                        ")";
      return ssh::Error{ErrorKind::kCommandFailed,
                        s.name() + ": " + why + ": not started again"};
    }
    it->second = Clock::time_point::max();
  }
  bool unfinished = false;
  const auto start = Clock::now();
  auto run =
      s.Exec(activate_.reload_command, ssh_.command_timeout, &unfinished);
  // Only a run whose end was not seen keeps the slot, until the host's
  // timeout has surely ended it. The lock is not held across the command.
  const auto until =
      !unfinished ? Clock::time_point::min()
                  : start + ssh::SshSession::MaxRunTime(ssh_.command_timeout);
  std::lock_guard<std::mutex> lock(commands_mu_);
  if (until <= Clock::now()) {
    busy_until_.erase(s.name());
  } else {
    busy_until_[s.name()] = until;
  }
  return run;
}

ssh::Result<Done> SshHostActions::Apply(ssh::SshSession& s,
                                        const ssh::EnvPairs& env,
                                        HostResult& r) {
  auto file = s.ReadFile(activate_.env_file);
  if (!file) return file.error();
  if (std::size_t line = ssh::UnterminatedQuoteLine(file.value().content)) {
    return ssh::Error{ErrorKind::kInvalid,
                      activate_.env_file + ":" + std::to_string(line) +
                          ": a quoted value is never closed; the file cannot "
                          "be rewritten safely (fix it by hand)"};
  }
  const std::string updated = ssh::RewriteEnv(file.value().content, env);
  if (updated != file.value().content) {
    auto written = s.WriteFileAtomic(file.value(), updated);
    if (!written) return written.error();
    r.changed = true;
  }
  if (activate_.reload_command.empty()) return Done{};
  auto run = RunCommand(s);
  if (!run) return run.error();
  if (run.value().exit_status == 0) return Done{};
  std::string why =
      run.value().exit_status < 0
          ? "reload_command ended without an exit status (killed?)"
          : "reload_command exited " + std::to_string(run.value().exit_status);
  std::string err = OneLine(run.value().stderr_tail, 512);
  if (!err.empty()) why += ": " + err;
  return ssh::Error{ErrorKind::kCommandFailed, s.name() + ": " + why};
}

HostResult SshHostActions::Reconfigure(const SiteConfig& site,
                                       const HostConfig& host) {
  const auto start = Clock::now();
  HostResult r;
  r.host = ssh::HostName(host);
  r.attempts = 1;
  auto finish = [&](const ssh::Result<Done>& outcome) {
    r.ok = outcome.ok();
    if (!r.ok) {
      r.error_kind = outcome.error().kind;
      r.message = outcome.error().message;
    }
    r.seconds = SecondsSince(start);
    return r;
  };

  const ssh::EnvPairs env = activate_.ExpandFor(site);
  if (std::string why = ssh::ValidateEnv(env); !why.empty()) {
    return finish(ssh::Error{ErrorKind::kInvalid, why});
  }

  if (std::unique_ptr<ssh::SshSession> kept = pool_.Take(host)) {
    r.reused_session = true;
    ssh::Result<Done> outcome = Apply(*kept, env, r);
    if (outcome || outcome.error().kind == ErrorKind::kCommandFailed) {
      pool_.Give(host, std::move(kept));
      return finish(outcome);
    }
    // Only a connection that died while kept is worth a new one now; any
    // other failure (a missing file, a reload that timed out) would only
    // repeat, and is the attempt's result (the next attempt connects anew).
    if (kept->connected()) return finish(outcome);
    log::Info("kept ssh session failed; connecting again",
              {{"host", r.host},
               {"kind", std::string(ssh::ErrorKindName(outcome.error().kind))},
               {"err", outcome.error().message}});
    r.reused_session = false;
  }

  auto session = ssh::SshSession::Connect(host, ssh_);
  if (!session) return finish(session.error());
  ssh::Result<Done> outcome = Apply(*session.value(), env, r);
  if (outcome || outcome.error().kind == ErrorKind::kCommandFailed) {
    pool_.Give(host, std::move(session.value()));
  }
  return finish(outcome);
}

std::vector<bool> SshHostActions::Warm(const std::vector<HostConfig>& hosts) {
  pool_.KeepOnly(hosts);
  // Not vector<bool>: its elements share bytes, and each thread sets one.
  std::vector<char> ready(hosts.size(), 0);
  RunParallel(hosts.size(), [&](std::size_t i) {
    // The pool logs a change of reachability.
    ready[i] = pool_.Warm(hosts[i]).ok() ? 1 : 0;
  });
  return std::vector<bool>(ready.begin(), ready.end());
}

// ------------------------------------------------------------ retries

Duration HostBackoff(const HostRetryPolicy& policy, int failures, double unit) {
  return Backoff(policy.base, policy.cap, failures, unit);
}

namespace {

class RealRetryClock : public RetryClock {
 public:
  Clock::time_point Now() const override { return Clock::now(); }
  bool WaitFor(Duration d, const Stopper* stop) const override {
    if (stop != nullptr) return stop->WaitFor(d);
    std::this_thread::sleep_for(d);
    return false;
  }
};

}  // namespace

const RetryClock& RetryClock::Real() {
  static const RealRetryClock clock;
  return clock;
}

HostReconfigurer::HostReconfigurer(std::shared_ptr<HostActions> actions,
                                   HostRetryPolicy policy,
                                   const RetryClock* clock)
    : actions_(std::move(actions)),
      policy_(policy),
      clock_(clock != nullptr ? *clock : RetryClock::Real()) {}

HostReconfigurer::HostReconfigurer(const ActuatorConfig& config,
                                   HostRetryPolicy policy)
    : HostReconfigurer(
          std::make_shared<SshHostActions>(config.ssh, config.activate),
          policy) {}

HostResult HostReconfigurer::Attempt(const SiteConfig& site,
                                     const HostConfig& host,
                                     int attempt) const {
  const auto start = clock_.Now();
  HostResult r;
  try {
    r = actions_->Reconfigure(site, host);
  } catch (const std::exception& e) {
    r.ok = false;
    r.error_kind = ErrorKind::kConnect;
    r.message = std::string("unexpected error: ") + e.what();
  } catch (...) {
    r.ok = false;
    r.error_kind = ErrorKind::kConnect;
    r.message = "unexpected error";
  }
  if (r.host.empty()) r.host = ssh::HostName(host);
  if (r.ok) r.error_kind = ErrorKind::kNone;
  r.attempts = 1;
  r.seconds = SecondsSince(start, clock_.Now());
  const std::string n = std::to_string(attempt);
  if (r.ok) {
    log::Info("host reconfigured",
              {{"site", site.name},
               {"host", r.host},
               {"changed", r.changed ? "true" : "false"},
               {"session", r.reused_session ? "kept" : "new"},
               {"attempt", n}});
  } else {
    log::Warn("host reconfiguration failed", {{"site", site.name},
                                              {"host", r.host},
                                              {"kind", r.error_kind_name()},
                                              {"attempt", n},
                                              {"err", r.message}});
  }
  return r;
}

std::vector<bool> HostReconfigurer::Warm(
    const std::vector<HostConfig>& hosts) const {
  try {
    return actions_->Warm(hosts);
  } catch (...) {  // best effort
    return {};
  }
}

HostResult HostReconfigurer::Converge(const SiteConfig& site,
                                      const HostConfig& host,
                                      const Stopper* stop,
                                      const Observer& observer) const {
  const auto start = clock_.Now();
  const bool gives_up = policy_.give_up_after.count() > 0;
  const auto give_up_at = start + policy_.give_up_after;
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  HostResult total;
  total.host = ssh::HostName(host);
  if (stop != nullptr && stop->stopped()) {
    total.error_kind = ErrorKind::kCancelled;
    total.message = "stopped before the first attempt";
    return total;
  }
  for (int attempt = 1;; ++attempt) {
    HostResult r = Attempt(site, host, attempt);
    total.ok = r.ok;
    total.error_kind = r.error_kind;
    total.message = std::move(r.message);
    total.changed = total.changed || r.changed;
    total.reused_session = r.reused_session;
    total.attempts = attempt;
    total.seconds = SecondsSince(start, clock_.Now());
    if (observer) {
      try {
        observer(site, total);
      } catch (...) {  // an observer must not end the retries
      }
    }
    if (total.ok) break;
    // Never converge by retrying: an operator must act.
    if (total.error_kind == ErrorKind::kInvalid ||
        total.error_kind == ErrorKind::kSymlink) {
      break;
    }

    const Duration delay = HostBackoff(policy_, attempt, unit(rng));
    if (gives_up && clock_.Now() + delay >= give_up_at) {
      log::Error("host reconfiguration gave up",
                 {{"site", site.name},
                  {"host", total.host},
                  {"kind", total.error_kind_name()},
                  {"attempts", std::to_string(attempt)},
                  {"err", total.message}});
      break;
    }
    if (clock_.WaitFor(delay, stop)) {
      total.message = "stopped while retrying; last error (" +
                      std::string(total.error_kind_name()) +
                      "): " + total.message;
      total.error_kind = ErrorKind::kCancelled;
      break;
    }
  }
  total.seconds = SecondsSince(start, clock_.Now());
  return total;
}

std::vector<HostResult> HostReconfigurer::Reconfigure(
    const SiteConfig& site, const Stopper* stop,
    const Observer& observer) const {
  return Reconfigure(site, site.hosts, stop, observer);
}

std::vector<HostResult> HostReconfigurer::Reconfigure(
    const SiteConfig& site, const std::vector<HostConfig>& hosts,
    const Stopper* stop, const Observer& observer) const {
  std::vector<HostResult> results(hosts.size());
  RunParallel(hosts.size(), [&](std::size_t i) {
    results[i] = Converge(site, hosts[i], stop, observer);
  });
  return results;
}

}  // namespace drf::actuator
