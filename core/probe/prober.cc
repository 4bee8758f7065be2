#include "core/probe/prober.h"

#include <stdexcept>

namespace drf {
namespace {

std::size_t Discard(char*, std::size_t size, std::size_t n, void*) noexcept {
  return size * n;
}

}  // namespace

Prober::Prober(ProbeConfig config)
    : config_(std::move(config)), multi_(curl_multi_init()) {
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
}

Prober::~Prober() {
  easies_.clear();
  curl_multi_cleanup(multi_);
}

std::vector<ProbeResult> Prober::ProbeAll(
    const std::vector<std::string>& urls) {
  while (easies_.size() < urls.size()) easies_.push_back(http::NewEasy());
  std::vector<ProbeResult> results(urls.size());
  http::HeaderList headers;
  if (!config_.host_header.empty()) {
    headers.Append("Host: " + config_.host_header);
  }
  const long timeout_ms = static_cast<long>(config_.timeout.count());
  for (std::size_t i = 0; i < urls.size(); ++i) {
    CURL* e = easies_[i].get();
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, urls[i].c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Discard);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dr-failover-probe");
    curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<void*>(i));
    if (headers.get() != nullptr) {
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
    }
    curl_multi_add_handle(multi_, e);
  }
  int running = static_cast<int>(urls.size());
  while (running > 0) {
    if (curl_multi_perform(multi_, &running) != CURLM_OK) break;
    int msgs = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &msgs)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      auto i = reinterpret_cast<std::size_t>(priv);
      http::Response response;
      http::Finish(msg->easy_handle, msg->data.result, &response);
      ProbeResult& r = results[i];
      r.status = response.status;
      r.seconds = response.seconds;
      if (!response.transport_ok()) {
        r.failure = response.failure;
        r.error = response.error;
      } else if (!config_.StatusExpected(response.status)) {
        r.failure = http::Failure::kStatus;
        r.error = "unexpected status " + std::to_string(response.status);
      } else {
        r.up = true;
      }
    }
    if (running > 0) curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
  }
  for (std::size_t i = 0; i < urls.size(); ++i) {
    curl_multi_remove_handle(multi_, easies_[i].get());
    // The header list dies with this call.
    curl_easy_setopt(easies_[i].get(), CURLOPT_HTTPHEADER, nullptr);
  }
  return results;
}

}  // namespace drf
