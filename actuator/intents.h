#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace drf::actuator {

/// Requests that one thread (the reconcile thread) decides, in order, for
/// threads that wait for the answer (HTTP handlers): an operator's switch
/// today, a drill later. A request that is not taken up within the
/// submitter's bound is withdrawn, so it can never start after its
/// submitter gave up; one that was taken is always answered. Thread-safe.
template <class Request, class Answer>
class IntentQueue {
 public:
  /// Queues `request`, calls `wake` (to nudge the deciding thread) and
  /// waits: the answer, or nullopt when it was not taken up within `bound`
  /// or the queue is closed (Close answers the requests still queued).
  std::optional<Answer> Submit(Request request, std::chrono::milliseconds bound,
                               const std::function<void()>& wake) {
    auto item = std::make_shared<Item>();
    item->request = std::move(request);
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return std::nullopt;
    queue_.push_back(item);
    lock.unlock();
    wake();
    lock.lock();
    cv_.wait_for(lock, bound, [&] { return item->taken || item->answer; });
    if (!item->taken && !item->answer) {
      std::erase(queue_, item);  // withdrawn: it can never start later
      return std::nullopt;
    }
    cv_.wait(lock, [&] { return item->answer.has_value(); });
    return item->answer;
  }

  /// Decides every queued request, in order, with `decide` (called without
  /// the queue's lock); returns when none is left.
  void Serve(const std::function<Answer(const Request&)>& decide) {
    for (;;) {
      std::shared_ptr<Item> item;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty()) return;
        item = queue_.front();
        queue_.pop_front();
        item->taken = true;
      }
      cv_.notify_all();
      Answer answer = decide(item->request);
      {
        std::lock_guard<std::mutex> lock(mu_);
        item->answer = std::move(answer);
      }
      cv_.notify_all();
    }
  }

  /// Answers every queued request with `answer` and refuses new ones.
  void Close(const Answer& answer) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      for (const auto& item : queue_) item->answer = answer;
      queue_.clear();
    }
    cv_.notify_all();
  }

 private:
  struct Item {
    Request request;
    bool taken = false;
    std::optional<Answer> answer;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Item>> queue_;  // guarded by mu_
  bool closed_ = false;                      // guarded by mu_
};

}  // namespace drf::actuator
