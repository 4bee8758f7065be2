#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"
#include "core/linode/client.h"

namespace drf::linode {

/// Where one configured record name sends users.
struct Resolution {
  /// Every A record of that name (usually one).
  std::vector<Record> records;
  /// The site they all point to, or "" (then `why` says why: no A record,
  /// A records that disagree, or a target that is no site's address).
  std::string site;
  std::string why;
};

/// Resolves the relative record `name` ("" is the apex) among a domain's
/// `records` to a configured site. Names compare case-insensitively, as DNS
/// does. Pure; shared by the exporter's DNS collector and the actuator.
Resolution ResolveRecord(const Config& config,
                         const std::vector<Record>& records,
                         std::string_view name);

}  // namespace drf::linode
