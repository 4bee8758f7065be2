#pragma once

#include <prometheus/metric_family.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace drf::metrics {

/// A counter family keyed by label values. Lives outside the collectors so
/// that counts survive a config reload. Thread-safe.
class CounterVec {
 public:
  CounterVec(std::string name, std::string help,
             std::vector<std::string> label_names);

  /// Adds `by` to the series with `values` (one per label name).
  void Inc(const std::vector<std::string>& values, double by = 1);

  /// Creates the series at 0 if absent, so it is exported before the first
  /// increment (rate() then sees the first one).
  void Touch(const std::vector<std::string>& values);

  double Value(const std::vector<std::string>& values) const;

  /// Drops series whose label `index` is not in `keep` (e.g. removed sites).
  void Retain(std::size_t index, const std::set<std::string>& keep);

  prometheus::MetricFamily Collect() const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, double> values_;
};

}  // namespace drf::metrics
