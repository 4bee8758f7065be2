// LoadConfigText on any text: it returns a config or throws ConfigError
// (its documented exception) and nothing else; every error line names the
// source, and a config it accepts has the invariants validation promises.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/config/duration.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<const drf::Config> config;
  try {
    config = drf::LoadConfigText(text, "fuzz.yml");
  } catch (const drf::ConfigError& e) {
    std::string what = e.what();
    FUZZ_CHECK(!what.empty());
    // One "fuzz.yml:line: field: message" per line.
    std::size_t at = 0;
    while (at < what.size()) {
      FUZZ_CHECK(what.compare(at, 8, "fuzz.yml") == 0);
      std::size_t nl = what.find('\n', at);
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
    return 0;
  }
  // Any other exception escapes and libFuzzer reports it (a crash).
  FUZZ_CHECK(config != nullptr);
  FUZZ_CHECK(config->sites.size() >= 2);
  for (const drf::SiteConfig& s : config->sites) {
    FUZZ_CHECK(config->FindSite(s.name) == &s);
  }
  (void)drf::ConfigWarnings(*config);
  return 0;
}
