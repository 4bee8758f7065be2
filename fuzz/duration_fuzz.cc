// ParseDuration: never crashes; whatever it accepts formats back to a text
// it reads as the same duration, and that text is canonical (formatting it
// again gives the same text).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config/duration.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<drf::Duration> d = drf::ParseDuration(text);
  if (!d) return 0;
  FUZZ_CHECK(d->count() >= 0);
  std::string formatted = drf::FormatDuration(*d);
  std::optional<drf::Duration> again = drf::ParseDuration(formatted);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *d);
  FUZZ_CHECK(drf::FormatDuration(*again) == formatted);
  return 0;
}
