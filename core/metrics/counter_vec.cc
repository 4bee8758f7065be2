#include "core/metrics/counter_vec.h"

#include <stdexcept>

namespace drf::metrics {

CounterVec::CounterVec(std::string name, std::string help,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)) {}

void CounterVec::Inc(const std::vector<std::string>& values, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  values_[values] += by;
}

void CounterVec::Touch(const std::vector<std::string>& values) {
  std::lock_guard<std::mutex> lock(mu_);
  values_.try_emplace(values, 0.0);
}

double CounterVec::Value(const std::vector<std::string>& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(values);
  return it == values_.end() ? 0.0 : it->second;
}

void CounterVec::Retain(std::size_t index, const std::set<std::string>& keep) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = values_.begin(); it != values_.end();) {
    if (index < it->first.size() && !keep.contains(it->first[index])) {
      it = values_.erase(it);
    } else {
      ++it;
    }
  }
}

prometheus::MetricFamily CounterVec::Collect() const {
  prometheus::MetricFamily f;
  f.name = name_;
  f.help = help_;
  f.type = prometheus::MetricType::Counter;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, value] : values_) {
    prometheus::ClientMetric m;
    for (std::size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
      m.label.push_back({label_names_[i], values[i]});
    }
    m.counter.value = value;
    f.metric.push_back(std::move(m));
  }
  return f;
}

}  // namespace drf::metrics
