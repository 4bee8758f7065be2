#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace drf {

/// A one-shot stop flag that sleeping threads can wait on, so a loop with a
/// long interval still stops at once. Thread-safe.
class Stopper {
 public:
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  /// Sleeps up to `d`; returns true if stopped (now or while waiting).
  template <class Rep, class Period>
  bool WaitFor(std::chrono::duration<Rep, Period> d) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, d, [this] { return stopped_; });
  }

  template <class Clock, class Dur>
  bool WaitUntil(std::chrono::time_point<Clock, Dur> t) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, t, [this] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace drf
