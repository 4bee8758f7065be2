// RewriteEnv on any file text and key/value pairs. The input is
// `KEY=VALUE` lines (the pairs, in order), an empty line, then the file
// text. Never crashes; the result assigns each valid pair's value
// (ReadEnvValue reads it back), a second rewrite changes nothing, and a
// rewrite with no valid pair leaves the text as it was.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actuator/ssh/env_file.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::ssh;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  EnvPairs env;
  while (!in.empty()) {
    std::size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    if (line.empty()) break;
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      env.emplace_back(std::string(line), "");
    } else {
      env.emplace_back(std::string(line.substr(0, eq)),
                       std::string(line.substr(eq + 1)));
    }
    if (env.size() == 4) break;
  }
  const std::string_view content = in;

  const std::string out = RewriteEnv(content, env);
  // A text with a quote that is never closed is refused before any
  // rewrite (UnterminatedQuoteLine): the properties hold for the others.
  if (UnterminatedQuoteLine(content) != 0) return 0;
  FUZZ_CHECK(RewriteEnv(out, env) == out);
  bool any_valid = false;
  for (std::size_t i = 0; i < env.size(); ++i) {
    const auto& [key, value] = env[i];
    if (!EnvKeyIsValid(key) || !EnvValueIsSafe(value)) continue;
    any_valid = true;
    bool overridden = false;
    for (std::size_t j = i + 1; j < env.size(); ++j) {
      overridden =
          overridden || (env[j].first == key && EnvValueIsSafe(env[j].second));
    }
    if (overridden) continue;  // a later pair for the same key wins
    std::optional<std::string> read = ReadEnvValue(out, key);
    FUZZ_CHECK(read.has_value());
    FUZZ_CHECK(*read == value);
  }
  if (!any_valid) FUZZ_CHECK(out == content);
  return 0;
}
