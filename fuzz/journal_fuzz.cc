// Journal replay on any text: each line is decoded (Decode) and applied
// (Apply) in order, as the actuator replays its journal at start. Never
// crashes; every decoded event encodes to a line that decodes to the same
// entry and re-encodes byte for byte; the replayed state's snapshot
// decodes and re-encodes byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actuator/state/events.h"
#include "actuator/state/state.h"
#include "fuzz/check.h"

namespace drf::actuator {
namespace {

std::string Line(const Entry& e) {
  std::string object = Encode(e.event, e.ts);
  return "{\"seq\":" + std::to_string(e.seq) + "," + object.substr(1);
}

}  // namespace
}  // namespace drf::actuator

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::actuator;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  State state;
  int lines = 0;
  while (!in.empty() && lines++ < 64) {
    std::size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    Entry entry;
    std::string error;
    if (!Decode(line, &entry, &error)) {
      FUZZ_CHECK(!error.empty());
      continue;
    }
    const std::string encoded = Line(entry);
    Entry again;
    FUZZ_CHECK(Decode(encoded, &again, &error));
    FUZZ_CHECK(again.seq == entry.seq);
    FUZZ_CHECK(again.ts == entry.ts);
    FUZZ_CHECK(again.event == entry.event);
    FUZZ_CHECK(Line(again) == encoded);
    bool news = false;
    state = Apply(std::move(state), entry, &news);
  }
  const std::string snapshot = EncodeState(state);
  State back;
  std::string error;
  FUZZ_CHECK(DecodeState(snapshot, &back, &error));
  FUZZ_CHECK(EncodeState(back) == snapshot);
  return 0;
}
