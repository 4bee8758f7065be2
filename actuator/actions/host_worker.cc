#include "actuator/actions/host_worker.h"

namespace drf::actuator {

void HostWorker::Offer(std::optional<HostJob> job) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = job ? job->key : "";
  if (!key.empty() && (key == running_ || key == finished_)) return;
  if (cancel_ != nullptr && key != running_) cancel_->Stop();
  next_ = std::move(job);
  cv_.notify_all();
}

void HostWorker::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  if (cancel_ != nullptr) cancel_->Stop();
  cv_.notify_all();
}

void HostWorker::Run() {
  for (;;) {
    Stopper cancel;
    HostJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || next_.has_value(); });
      if (stopping_) return;
      job = std::move(*next_);
      next_.reset();
      running_ = job.key;
      cancel_ = &cancel;
    }
    job.reconfigurer->Reconfigure(
        job.site, job.hosts, &cancel,
        [&](const SiteConfig&, const HostResult& r) { report_(job, r); });
    std::lock_guard<std::mutex> lock(mu_);
    cancel_ = nullptr;
    running_.clear();
    // Cancelled: superseded (next_ holds the newer job) or stopping.
    if (!cancel.stopped()) finished_ = job.key;
  }
}

}  // namespace drf::actuator
