// ParseAlertList on any body: never crashes; every alert kept is firing
// and within the limits; a failure clears the output and names the field
// on one line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actuator/intake/alertmanager_pull.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::actuator;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<Alert> alerts(1);  // replaced or cleared, never appended to
  std::string error;
  if (ParseAlertList(body, &alerts, &error)) {
    FUZZ_CHECK(size <= kMaxAlertListBytes);
    FUZZ_CHECK(alerts.size() <= kMaxAlerts);
    for (const Alert& a : alerts) {
      FUZZ_CHECK(a.status == AlertStatus::kFiring);
      FUZZ_CHECK(a.labels.size() <= kMaxLabelsPerSet);
      for (const auto& [name, value] : a.labels) {
        FUZZ_CHECK(name.size() <= kMaxLabelNameBytes);
        FUZZ_CHECK(value.size() <= kMaxLabelValueBytes);
      }
      FUZZ_CHECK(a.summary.size() <= kMaxAnnotationValueBytes);
    }
  } else {
    FUZZ_CHECK(alerts.empty());
    FUZZ_CHECK(!error.empty());
    FUZZ_CHECK(error.find('\n') == std::string::npos);
  }
  return 0;
}
