// DecodeState on any text (a snapshot file, read at start before the
// journal's tail is replayed). Never crashes; a failure leaves the state
// unchanged; a decoded state encodes to a snapshot that decodes and
// re-encodes byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actuator/state/state.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::actuator;
  std::string_view json(reinterpret_cast<const char*>(data), size);
  State state;
  state.seq = 7;  // to see that a failure leaves it unchanged
  const std::string before = EncodeState(state);
  std::string error;
  if (!DecodeState(json, &state, &error)) {
    FUZZ_CHECK(!error.empty());
    FUZZ_CHECK(EncodeState(state) == before);
    return 0;
  }
  const std::string encoded = EncodeState(state);
  State back;
  FUZZ_CHECK(DecodeState(encoded, &back, &error));
  FUZZ_CHECK(EncodeState(back) == encoded);
  return 0;
}
