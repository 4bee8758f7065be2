#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace drf::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// Builds one metric family sample by sample; collectors snapshot their
/// state into these at scrape time.
class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help,
                prometheus::MetricType type);

  FamilyBuilder& Add(const Labels& labels, double value);
  prometheus::MetricFamily Build() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

inline FamilyBuilder Gauge(std::string name, std::string help) {
  return FamilyBuilder(std::move(name), std::move(help),
                       prometheus::MetricType::Gauge);
}
inline FamilyBuilder Counter(std::string name, std::string help) {
  return FamilyBuilder(std::move(name), std::move(help),
                       prometheus::MetricType::Counter);
}

/// Serializes `families` in the text exposition format.
std::string SerializeFamilies(
    const std::vector<prometheus::MetricFamily>& families);

}  // namespace drf::metrics
