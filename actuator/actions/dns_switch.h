#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/linode/client.h"

namespace drf::actuator {

/// What the DNS provider says now: per configured record, its A record and
/// the site it points to.
struct DnsView {
  struct Entry {
    std::string name;                     // relative record name
    std::vector<linode::Record> records;  // its A records (usually one)
    std::string site;                     // "" when it matches no site
    std::string why;                      // why `site` is "" (for status/logs)
  };
  std::vector<Entry> records;
  /// The site every record points to, or "" when they disagree or any is
  /// unknown: the actuator never acts on a split view.
  std::string serving_site;

  /// Why serving_site is "" (for the status and the logs); "" when known.
  std::string UnknownBecause() const;
};

/// The DNS record switch (SPEC.md §6): reads where the configured records
/// point, and moves all of them to a site (PUT target and ttl_sec, then read
/// back to verify, TTL compared as Linode rounds it). Every step is
/// idempotent: a record already right is not written again, so a switch
/// resumed after a crash writes each record at most once. Owns its DnsApi;
/// not thread-safe (one per thread).
class DnsSwitch {
 public:
  /// The time one read or switch may take, retries and Retry-After waits
  /// included.
  static constexpr auto kBudget = std::chrono::seconds(30);

  DnsSwitch(std::shared_ptr<const Config> config,
            std::unique_ptr<linode::DnsApi> api);

  /// Reads the records. Errors are the provider's.
  linode::Result<DnsView> Read(const linode::Call& call);

  /// Points every configured record at `site` and verifies each. Returns
  /// the number of records it had to write (0 when all were right already).
  linode::Result<int> SwitchTo(const SiteConfig& site,
                               const linode::Call& call);

 private:
  linode::Result<std::int64_t> DomainId(const linode::Call& call);

  std::shared_ptr<const Config> config_;
  std::unique_ptr<linode::DnsApi> api_;
  std::optional<std::int64_t> domain_id_;
};

}  // namespace drf::actuator
