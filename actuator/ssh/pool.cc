#include "actuator/ssh/pool.h"

#include <set>
#include <utility>
#include <vector>

#include "core/log/log.h"

namespace drf::ssh {

using Clock = std::chrono::steady_clock;

SessionPool::SessionPool(SshConfig ssh) : SessionPool(std::move(ssh), {}) {}

SessionPool::SessionPool(SshConfig ssh, Options options)
    : ssh_(std::move(ssh)), options_(options) {}

bool SessionPool::TooOld(const SshSession& s) const {
  return Clock::now() - s.opened() >= options_.max_age;
}

std::unique_ptr<SshSession> SessionPool::Take(const HostConfig& host) {
  std::unique_ptr<SshSession> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(HostName(host));
    if (it == idle_.end()) return nullptr;
    session = std::move(it->second.session);
    idle_.erase(it);
  }
  if (TooOld(*session)) return nullptr;  // closed here, outside the lock
  return session;
}

void SessionPool::Give(const HostConfig& host,
                       std::unique_ptr<SshSession> session) {
  if (!session || TooOld(*session)) return;
  std::lock_guard<std::mutex> lock(mu_);
  // A second session to the same host (a switch and a warm-up connected at
  // once) is closed when `session` goes out of scope.
  idle_.try_emplace(HostName(host), Idle{std::move(session), Clock::now()});
}

Result<Done> SessionPool::Warm(const HostConfig& host) {
  const std::string name = HostName(host);
  std::unique_ptr<SshSession> kept;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(name);
    if (it != idle_.end()) {
      if (Clock::now() - it->second.checked < options_.check_after &&
          !TooOld(*it->second.session)) {
        return Done{};
      }
      kept = std::move(it->second.session);
      idle_.erase(it);
    }
  }
  if (kept && !TooOld(*kept) && kept->Ping()) {
    Give(host, std::move(kept));
    Reachable(name, Done{});
    return Done{};
  }
  kept.reset();  // dead or too old: closed before a new one is opened
  auto fresh = SshSession::Connect(host, ssh_);
  if (!fresh) {
    Reachable(name, fresh.error());
    return fresh.error();
  }
  Give(host, std::move(fresh.value()));
  Reachable(name, Done{});
  return Done{};
}

void SessionPool::KeepOnly(const std::vector<HostConfig>& hosts) {
  std::set<std::string> keep;
  for (const HostConfig& h : hosts) keep.insert(HostName(h));
  std::vector<std::unique_ptr<SshSession>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (keep.count(it->first)) {
        ++it;
        continue;
      }
      closing.push_back(std::move(it->second.session));
      it = idle_.erase(it);
    }
  }
  // `closing` disconnects here, outside the lock.
}

std::size_t SessionPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

void SessionPool::Reachable(const std::string& name,
                            const Result<Done>& result) {
  const bool ok = static_cast<bool>(result);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, first] = reachable_.try_emplace(name, ok);
    if (!first && it->second == ok) return;
    if (first && ok) return;  // nothing worth saying yet
    it->second = ok;
  }
  if (ok) {
    log::Info("standby host reachable over ssh again", {{"host", name}});
  } else {
    log::Warn("standby host not reachable over ssh",
              {{"host", name},
               {"kind", std::string(ErrorKindName(result.error().kind))},
               {"err", result.error().message}});
  }
}

}  // namespace drf::ssh
