// The DynamoDB answer parsers on any body. The first byte picks the parser
// (DescribeTable, GetItem, an error answer with one of a few statuses);
// the rest is the body. Never crashes; statuses are known ones or UNKNOWN,
// region names are valid, errors are bounded, printable and never hold a
// redacted secret.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/dynamodb/client.h"
#include "fuzz/check.h"

namespace drf::dynamodb {
namespace {

const std::array<std::string, 2> kSecrets = {"FQoGZXIvYXdzSESSION",
                                             "AKIAIOSFODNN7EXAMPLE"};

bool Known(std::span<const std::string_view> known, std::string_view s) {
  return s == kUnknownStatus ||
         std::find(known.begin(), known.end(), s) != known.end();
}

bool Printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f; });
}

// `secrets`: the parser was given the secrets to redact (only the error
// parser is: the others never quote more than one attribute's value).
void CheckError(const Error& e, bool secrets = false) {
  FUZZ_CHECK(!e.reason.empty() && e.reason.size() <= 64);
  FUZZ_CHECK(Printable(e.reason));
  FUZZ_CHECK(e.message.size() <= 1024 + 3);
  FUZZ_CHECK(Printable(e.message));
  for (const std::string& s : kSecrets) {
    FUZZ_CHECK(!secrets || e.message.find(s) == std::string::npos);
  }
}

void CheckTable(const Result<TableDescription>& r) {
  if (!r.ok()) {
    CheckError(r.error());
    return;
  }
  const TableDescription& t = r.value();
  FUZZ_CHECK(Known(KnownTableStatuses(), t.status));
  FUZZ_CHECK(Printable(t.raw_status) && t.raw_status.size() <= 64 + 3);
  for (const ReplicaDescription& rep : t.replicas) {
    FUZZ_CHECK(!rep.region_name.empty() && rep.region_name.size() <= 32);
    FUZZ_CHECK(
        std::all_of(rep.region_name.begin(), rep.region_name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        }));
    FUZZ_CHECK(Known(KnownReplicaStatuses(), rep.status));
    FUZZ_CHECK(Printable(rep.raw_status) && rep.raw_status.size() <= 64 + 3);
  }
}

}  // namespace
}  // namespace drf::dynamodb

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::dynamodb;
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (selector % 3) {
    case 0:
      CheckTable(ParseDescribeTable(body));
      break;
    case 1: {
      Result<std::optional<double>> r = ParseGetHeartbeat(body);
      if (!r.ok()) CheckError(r.error());
      break;
    }
    default: {
      static constexpr long kStatuses[] = {400, 403, 404, 413, 500, 503};
      CheckError(ParseAwsError(kStatuses[(selector / 3) % 6], body, kSecrets),
                 true);
      break;
    }
  }
  return 0;
}
