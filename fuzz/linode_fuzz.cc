// The Linode API response parsers on any body. The first byte picks the
// parser (domain list page, records page, one record, an error answer);
// the rest is the body. Never crashes; a parse failure is always kParse;
// an error answer's reason is bounded and never holds the token, even when
// the body quotes it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http/client.h"
#include "core/linode/client.h"
#include "fuzz/check.h"

namespace drf::linode {
namespace {

constexpr std::string_view kToken = "f00dfeedTOKEN42";

template <class T>
void CheckPage(const Result<Page<T>>& r) {
  if (!r.ok()) {
    FUZZ_CHECK(r.error().kind == ErrorKind::kParse);
    FUZZ_CHECK(!r.error().reason.empty());
    return;
  }
  FUZZ_CHECK(r.value().page >= 0 && r.value().pages >= 0);
}

void CheckRecord(const Record& rec) {
  FUZZ_CHECK(rec.id >= 0);
  FUZZ_CHECK(rec.ttl_sec >= 0);
  // A parsed target is valid UTF-8 without NUL, so it can be written back.
  FUZZ_CHECK(!RecordUpdateBody(rec.target, rec.ttl_sec).empty());
}

void CheckError(std::uint8_t selector, std::string_view body) {
  http::Response resp;
  static constexpr long kStatuses[] = {200, 204, 400, 401, 403,
                                       404, 429, 500, 503, 302};
  resp.status = kStatuses[selector % 10];
  resp.body = std::string(body);
  std::optional<Error> e = ErrorFromResponse(resp, kToken);
  if (resp.status >= 200 && resp.status < 300) {
    FUZZ_CHECK(!e.has_value());
    return;
  }
  FUZZ_CHECK(e.has_value());
  FUZZ_CHECK(e->http_status == resp.status);
  FUZZ_CHECK(e->reason.find(kToken) == std::string::npos);
  // "HTTP nnn: " and at most five reasons of 200 bytes (+ "...", a field).
  FUZZ_CHECK(e->reason.size() <= 16 + 5 * 2 * (200 + 3 + 2) + 5 + 5);
  std::string reasons = ParseErrorReasons(body);
  FUZZ_CHECK(reasons.find('\n') == std::string::npos);
}

}  // namespace
}  // namespace drf::linode

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace drf::linode;
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (selector % 4) {
    case 0: {
      Result<Page<Domain>> r = ParseDomainPage(body);
      CheckPage(r);
      if (r.ok()) {
        for (const Domain& d : r.value().data) {
          FUZZ_CHECK(!DomainFilter(d.domain).empty());
        }
      }
      break;
    }
    case 1: {
      Result<Page<Record>> r = ParseRecordPage(body);
      CheckPage(r);
      if (r.ok()) {
        for (const Record& rec : r.value().data) CheckRecord(rec);
      }
      break;
    }
    case 2: {
      Result<Record> r = ParseRecord(body);
      if (r.ok()) {
        CheckRecord(r.value());
      } else {
        FUZZ_CHECK(r.error().kind == ErrorKind::kParse);
      }
      break;
    }
    default:
      CheckError(static_cast<std::uint8_t>(selector / 4), body);
      break;
  }
  return 0;
}
