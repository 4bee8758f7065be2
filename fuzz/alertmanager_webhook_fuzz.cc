// ParseNotification on any body: never crashes; on success the limits of
// alertmanager.h hold, and on failure the output is empty and the error is
// one non-empty line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actuator/intake/alertmanager.h"
#include "fuzz/check.h"

namespace drf::actuator {
namespace {

void CheckAlert(const Alert& a) {
  FUZZ_CHECK(a.labels.size() <= kMaxLabelsPerSet);
  for (const auto& [name, value] : a.labels) {
    FUZZ_CHECK(name.size() <= kMaxLabelNameBytes);
    FUZZ_CHECK(value.size() <= kMaxLabelValueBytes);
  }
  FUZZ_CHECK(a.fingerprint.size() <= kMaxFieldBytes);
  FUZZ_CHECK(a.summary.size() <= kMaxAnnotationValueBytes);
  if (IsDrAlert(a)) FUZZ_CHECK(!a.labels.at(std::string(kSiteLabel)).empty());
}

}  // namespace
}  // namespace drf::actuator

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::actuator;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Notification n;
  std::string error;
  if (ParseNotification(body, &n, &error)) {
    FUZZ_CHECK(size <= kMaxNotificationBytes);
    FUZZ_CHECK(n.alerts.size() <= kMaxAlerts);
    FUZZ_CHECK(n.truncated_alerts >= 0);
    FUZZ_CHECK(n.group_key.size() <= kMaxFieldBytes);
    FUZZ_CHECK(n.receiver.size() <= kMaxFieldBytes);
    FUZZ_CHECK(n.external_url.size() <= kMaxFieldBytes);
    for (const Alert& a : n.alerts) CheckAlert(a);
  } else {
    FUZZ_CHECK(!error.empty());
    FUZZ_CHECK(error.find('\n') == std::string::npos);
    FUZZ_CHECK(n.alerts.empty() && n.group_key.empty() && n.receiver.empty());
  }
  return 0;
}
