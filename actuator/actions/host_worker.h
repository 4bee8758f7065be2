#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actuator/actions/host_reconfigure.h"
#include "core/config/config.h"
#include "core/util/stopper.h"

namespace drf::actuator {

/// The hosts a switch still has to reconfigure, as one piece of work.
struct HostJob {
  /// Names the work: the switch id and the config generation. Offering the
  /// job with the key of the one that runs, or of the last one that ran to
  /// its end, changes nothing.
  std::string key;
  std::string id;  // the switch's
  SiteConfig site;
  std::vector<HostConfig> hosts;  // the pending ones
  std::shared_ptr<HostReconfigurer> reconfigurer;
};

/// Runs host jobs on a thread of its own (Run), one at a time, each with
/// HostReconfigurer's convergence loop; a newer job cancels the one that
/// runs (a newer switch supersedes the old one's hosts; a reload brings new
/// keys). Every attempt is reported as it happens. Waits on a condition
/// whose predicate is false while there is nothing new to do: never spins,
/// also after a job gave up (kInvalid) until a new one comes.
/// Thread-safe; the report runs on the worker thread, without its lock.
class HostWorker {
 public:
  using Report = std::function<void(const HostJob& job, const HostResult& r)>;

  explicit HostWorker(Report report) : report_(std::move(report)) {}

  /// Makes `job` the work (nullopt: none), cancelling what runs unless it
  /// is the same key.
  void Offer(std::optional<HostJob> job);

  /// Runs jobs until Stop().
  void Run();
  void Stop();

 private:
  Report report_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::optional<HostJob> next_;
  std::string running_;   // key of the job that runs, "" when idle
  std::string finished_;  // key of the last job that ran to its end
  Stopper* cancel_ = nullptr;
  bool stopping_ = false;
};

}  // namespace drf::actuator
