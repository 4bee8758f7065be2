#include "core/linode/serving.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace drf::linode {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Resolution ResolveRecord(const Config& config,
                         const std::vector<Record>& records,
                         std::string_view name) {
  Resolution out;
  std::set<std::string> targets;
  for (const Record& r : records) {
    if (r.type == "A" && SameName(r.name, name)) {
      out.records.push_back(r);
      targets.insert(r.target);
    }
  }
  if (targets.empty()) {
    out.why = "no A record of that name in the domain";
    return out;
  }
  if (targets.size() > 1) {
    out.why = "its A records disagree:";
    for (const std::string& t : targets) out.why += " " + t;
    return out;
  }
  const SiteConfig* site = config.SiteByAddress(*targets.begin());
  if (site == nullptr) {
    out.why = "target " + *targets.begin() + " is no site's address";
    return out;
  }
  out.site = site->name;
  return out;
}

}  // namespace drf::linode
