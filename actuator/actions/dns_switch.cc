#include "actuator/actions/dns_switch.h"

#include "core/linode/serving.h"

namespace drf::actuator {

DnsSwitch::DnsSwitch(std::shared_ptr<const Config> config,
                     std::unique_ptr<linode::DnsApi> api)
    : config_(std::move(config)), api_(std::move(api)) {}

std::string DnsView::UnknownBecause() const {
  if (!serving_site.empty()) return "";
  std::string why;
  for (const Entry& e : records) {
    if (!e.why.empty()) why = "record \"" + e.name + "\": " + e.why;
  }
  return why.empty() ? "records point to different sites" : why;
}

linode::Result<std::int64_t> DnsSwitch::DomainId(const linode::Call& call) {
  if (domain_id_) return *domain_id_;
  auto id = api_->FindDomain(config_->dns.domain, call);
  if (id) domain_id_ = id.value();
  return id;
}

linode::Result<DnsView> DnsSwitch::Read(const linode::Call& call) {
  auto id = DomainId(call);
  if (!id) return id.error();
  auto records = api_->ListRecords(id.value(), call);
  if (!records) {
    // The domain may have been recreated under a new id.
    if (records.error().kind == linode::ErrorKind::kNotFound) {
      domain_id_.reset();
    }
    return records.error();
  }
  DnsView view;
  bool agree = true;
  for (const std::string& name : config_->dns.records) {
    DnsView::Entry e;
    e.name = name;
    linode::Resolution r =
        linode::ResolveRecord(*config_, records.value(), name);
    e.records = r.records;
    e.site = r.site;
    e.why = r.why;
    if (e.site.empty()) agree = false;
    if (!view.records.empty() && view.records.front().site != e.site) {
      agree = false;
    }
    view.records.push_back(std::move(e));
  }
  if (agree && !view.records.empty()) {
    view.serving_site = view.records.front().site;
  }
  return view;
}

linode::Result<int> DnsSwitch::SwitchTo(const SiteConfig& site,
                                        const linode::Call& call) {
  auto view = Read(call);
  if (!view) return view.error();
  const int ttl = config_->dns.ttl;
  const int ttl_rounded = config_->dns.ttl_rounded;
  int written = 0;
  for (const DnsView::Entry& e : view.value().records) {
    if (e.records.empty()) {
      return linode::Error{
          linode::ErrorKind::kNotFound, 404,
          "no A record named \"" + e.name + "\" in " + config_->dns.domain,
          std::nullopt};
    }
    for (const linode::Record& rec : e.records) {
      if (rec.target == site.address &&
          (rec.ttl_sec == ttl_rounded || rec.ttl_sec == ttl)) {
        continue;
      }
      auto put =
          api_->UpdateRecord(*domain_id_, rec.id, site.address, ttl, call);
      if (!put) return put.error();
      ++written;
      // Read back: the PUT's answer is what Linode says it stored; a GET is
      // what resolvers will be served.
      auto got = api_->GetRecord(*domain_id_, rec.id, call);
      if (!got) return got.error();
      // Compared with what Linode said it stored (its rounding is the
      // truth), not with our idea of its rounding.
      if (got.value().target != site.address ||
          got.value().ttl_sec != put.value().ttl_sec) {
        return linode::Error{linode::ErrorKind::kParse, 0,
                             "record \"" + e.name + "\" reads back target " +
                                 got.value().target + " ttl " +
                                 std::to_string(got.value().ttl_sec) +
                                 ", wanted " + site.address + " ttl " +
                                 std::to_string(ttl_rounded),
                             std::nullopt};
      }
    }
  }
  return written;
}

}  // namespace drf::actuator
