#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/config/duration.h"

namespace drf {

/// A PHP-FPM server of a site, reconfigured over SSH when the site serves.
struct HostConfig {
  std::string address;
  int port = 22;
  std::string user;
};

/// One region of the application ("site"). List order in Config::sites is
/// preference: the first site is the primary.
struct SiteConfig {
  std::string name;
  std::string address;  // IPv4 the DNS records point to while this site serves
  std::string health_url;
  std::string aws_region;
  std::string
      dynamodb_endpoint;  // optional override of DynamoDbConfig::endpoint
  std::vector<HostConfig> hosts;
};

struct ProbeConfig {
  Duration interval = std::chrono::seconds(2);
  Duration timeout = std::chrono::milliseconds(1500);
  std::vector<int> expect_status;  // empty: any 2xx
  std::string host_header;

  /// True when `status` counts as a passing probe.
  bool StatusExpected(long status) const;
};

struct DnsConfig {
  std::string provider = "linode";
  std::string api_url = "https://api.linode.com/v4";
  std::string token_file;  // empty: env LINODE_TOKEN
  std::string domain;
  std::vector<std::string> records;  // relative names; "" is the apex
  int ttl = 30;                      // as configured
  int ttl_rounded = 30;              // as Linode stores it (see RoundLinodeTtl)
};

struct HeartbeatConfig {
  std::string table;
  Duration interval = std::chrono::seconds(2);
};

struct DynamoDbConfig {
  std::vector<std::string> tables;
  std::string endpoint;  // "" means https://dynamodb.{region}.amazonaws.com
  std::optional<HeartbeatConfig> heartbeat;

  /// The endpoint URL for `site`: its own override, else `endpoint` with
  /// "{region}" replaced, else AWS's regional endpoint.
  std::string EndpointFor(const SiteConfig& site) const;
};

enum class ActuatorMode { kAuto, kManual };
enum class FailbackPolicy { kManual, kAuto };

struct ConfirmConfig {
  int probes = 3;
  Duration interval = std::chrono::milliseconds(500);
};

struct SshConfig {
  std::string private_key_file = "/etc/dr-failover/id_ed25519";
  std::string known_hosts_file = "/etc/dr-failover/known_hosts";
  Duration connect_timeout = std::chrono::seconds(5);
  Duration command_timeout = std::chrono::seconds(30);
};

struct ActivateConfig {
  std::string env_file = "/opt/app/.env";
  /// Keys in file order of the config; values may hold the placeholders
  /// {site.name} {site.aws_region} {site.address}.
  std::vector<std::pair<std::string, std::string>> env;
  std::string reload_command;

  /// The env values with placeholders expanded for `site`.
  std::vector<std::pair<std::string, std::string>> ExpandFor(
      const SiteConfig& site) const;
};

/// actuator.alertmanager (SPEC.md §10): the Alertmanager cluster the
/// actuator pulls the active DR alerts from, as well as receiving webhooks.
struct AlertmanagerPullConfig {
  /// The cluster's members, tried in order; the first that answers wins.
  /// http(s), trailing slashes trimmed, no duplicates, 1 to 10 entries.
  std::vector<std::string> urls;
  Duration interval = std::chrono::seconds(15);  // 1s to 1h
  Duration timeout = std::chrono::seconds(5);    // per request; < interval
  std::string bearer_token_file;                 // "" for no Authorization
};

struct ActuatorConfig {
  ActuatorMode mode = ActuatorMode::kAuto;
  FailbackPolicy failback = FailbackPolicy::kManual;
  Duration failback_after = std::chrono::minutes(10);
  Duration cooldown = std::chrono::minutes(10);
  ConfirmConfig confirm;
  std::string state_dir = "/var/lib/dr-actuator";
  std::string webhook_token_file;
  std::string api_token_file;
  SshConfig ssh;
  ActivateConfig activate;
  std::optional<AlertmanagerPullConfig> alertmanager;
};

/// The whole configuration file of SPEC.md §4, validated. Immutable once
/// loaded; daemons share it as a shared_ptr<const Config> and swap it whole
/// on reload.
struct Config {
  std::string source;  // the file it was read from
  std::vector<SiteConfig> sites;
  ProbeConfig probe;
  DnsConfig dns;
  std::optional<DynamoDbConfig> dynamodb;
  std::optional<ActuatorConfig> actuator;

  const SiteConfig* FindSite(std::string_view name) const;
  const SiteConfig* SiteByAddress(std::string_view address) const;
};

/// Thrown by LoadConfig; what() holds one line per problem, each
/// "file:line: field.path: message".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& what) : std::runtime_error(what) {}
};

/// Reads, defaults and validates a config file. Throws ConfigError.
std::shared_ptr<const Config> LoadConfigFile(const std::string& path);

/// Same, from text; `source` names it in messages.
std::shared_ptr<const Config> LoadConfigText(const std::string& text,
                                             const std::string& source);

/// Settings that are valid but probably not meant, one "field.path: why"
/// per line: today a plain-http dns.api_url to a host other than loopback,
/// which would send the Linode token unencrypted. The daemons log them at
/// start and reload; --check-config prints them and still exits 0.
std::vector<std::string> ConfigWarnings(const Config& config);

/// Linode stores TTLs rounded up to one of its valid values (0, 30, 120,
/// 300, 3600, ...); returns the value Linode would store for `ttl`.
int RoundLinodeTtl(int ttl);

}  // namespace drf
