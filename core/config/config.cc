#include "core/config/config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/util/env_value.h"

namespace drf {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr std::size_t kMaxSites = 1024;
constexpr std::size_t kMaxHosts = 256;
constexpr std::size_t kMaxRecords = 64;
constexpr std::size_t kMaxTables = 64;
constexpr std::size_t kMaxEnv = 64;
constexpr std::size_t kMaxAlertmanagers = 10;

bool IsIpv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool IsIpv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool IsHostname(const std::string& s) {
  static const std::regex re(
      R"(^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$)");
  return !s.empty() && s.size() <= 253 && std::regex_match(s, re);
}

// True for an absolute http(s) URL with a host, per libcurl's URL parser.
bool IsHttpUrl(const std::string& s) {
  if (s.size() > 2048) return false;
  CURLU* url = curl_url();
  if (url == nullptr) return false;
  bool ok = false;
  if (curl_url_set(url, CURLUPART_URL, s.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    if (curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
      std::string sc(scheme);
      ok = (sc == "http" || sc == "https") && host[0] != '\0';
    }
    curl_free(scheme);
    curl_free(host);
  }
  curl_url_cleanup(url);
  return ok;
}

// Walks a YAML document against the schema, collecting every problem with
// its line and field path instead of stopping at the first.
class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  void Error(const YAML::Node& at, const std::string& path,
             const std::string& message) {
    int line = at.IsDefined() ? at.Mark().line + 1 : 0;
    if (line <= 0) line = 1;
    std::ostringstream out;
    out << source_ << ":" << line << ": " << OneLine(path) << ": "
        << OneLine(message);
    errors_.push_back(out.str());
  }

  // A key quoted from the file may hold a line break or other control
  // byte: escaped, so each problem stays one line.
  static std::string OneLine(const std::string& text) {
    std::string out;
    for (char c : text) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u != 0x7f) {
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 0xf];
      }
    }
    return out;
  }

  const std::vector<std::string>& errors() const { return errors_; }

  // Rejects keys of `map` not in `allowed`. Returns false if not a map.
  bool CheckMap(const YAML::Node& map, const std::string& path,
                std::initializer_list<std::string_view> allowed) {
    if (!map.IsMap()) {
      Error(map, path, "must be a mapping");
      return false;
    }
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        Error(kv.first, path, "keys must be strings");
        continue;
      }
      const std::string key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(kv.first, Join(path, key), "unknown field");
      }
    }
    return true;
  }

  // Reports every key repeated within one mapping, anywhere in the document:
  // yaml-cpp keeps both entries and a lookup finds the first, so without this
  // `mode: auto` then `mode: manual` would silently run in auto mode.
  void CheckDuplicateKeys(const YAML::Node& root) {
    std::set<std::size_t> visited;
    CheckDuplicateKeys(root, "", 0, &visited);
  }

  static std::string Join(const std::string& path, std::string_view key) {
    if (path.empty() || path == "(root)") return std::string(key);
    return path + "." + std::string(key);
  }

  static std::string Index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  // Optional scalar string; absent or null keeps `out`.
  bool String(const YAML::Node& parent, std::string_view key,
              const std::string& path, std::string* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) return false;
    if (!n.IsScalar()) {
      Error(n, Join(path, key), "must be a string");
      return false;
    }
    if (n.Scalar().size() > 4096) {
      Error(n, Join(path, key), "longer than 4096 characters");
      return false;
    }
    *out = n.Scalar();
    return true;
  }

  void RequiredString(const YAML::Node& parent, std::string_view key,
                      const std::string& path, std::string* out) {
    if (!String(parent, key, path, out) && !Has(parent, key)) {
      Error(parent, Join(path, key), "required");
    }
  }

  static bool Has(const YAML::Node& parent, std::string_view key) {
    YAML::Node n = parent[std::string(key)];
    return n.IsDefined() && !n.IsNull();
  }

  bool Int(const YAML::Node& parent, std::string_view key,
           const std::string& path, long min, long max, int* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) return false;
    const std::string p = Join(path, key);
    if (!n.IsScalar()) {
      Error(n, p, "must be an integer");
      return false;
    }
    const std::string& s = n.Scalar();
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || s[0] == '+' ||
        s[0] == ' ') {
      Error(n, p, "must be an integer");
      return false;
    }
    if (v < min || v > max) {
      Error(n, p,
            "must be between " + std::to_string(min) + " and " +
                std::to_string(max));
      return false;
    }
    *out = static_cast<int>(v);
    return true;
  }

  bool Dur(const YAML::Node& parent, std::string_view key,
           const std::string& path, Duration min, Duration* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) return false;
    const std::string p = Join(path, key);
    if (!n.IsScalar()) {
      Error(n, p, "must be a duration like 500ms, 5s, 10m");
      return false;
    }
    auto d = ParseDuration(n.Scalar());
    if (!d) {
      Error(n, p,
            "not a duration (like 500ms, 5s, 10m): \"" + Truncate(n.Scalar()) +
                "\"");
      return false;
    }
    if (*d < min) {
      Error(n, p, "must be at least " + FormatDuration(min));
      return false;
    }
    *out = *d;
    return true;
  }

  // A sequence of scalars; absent keeps `out`.
  bool StringList(const YAML::Node& parent, std::string_view key,
                  const std::string& path, std::size_t max,
                  std::vector<std::string>* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n.IsDefined() || n.IsNull()) return false;
    const std::string p = Join(path, key);
    if (!n.IsSequence()) {
      Error(n, p, "must be a list");
      return false;
    }
    if (n.size() > max) {
      Error(n, p, "more than " + std::to_string(max) + " entries");
      return false;
    }
    out->clear();
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        Error(n[i], Index(p, i), "must be a string");
        continue;
      }
      out->push_back(n[i].Scalar());
    }
    return true;
  }

  static std::string Truncate(const std::string& s) {
    std::string out = s.size() > 64 ? s.substr(0, 64) + "..." : s;
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    return out;
  }

 private:
  // Deeper than anything the schema accepts; the schema reports such nodes.
  static constexpr int kMaxDuplicateCheckDepth = 32;

  // `visited` holds the source offsets of the collections already walked: an
  // alias shares its anchor's node (and offset), so each collection is
  // checked once however often it is referenced, and a self-referencing
  // alias does not loop.
  void CheckDuplicateKeys(const YAML::Node& node, const std::string& path,
                          int depth, std::set<std::size_t>* visited) {
    if (depth > kMaxDuplicateCheckDepth) return;
    if (!node.IsMap() && !node.IsSequence()) return;
    if (!visited->insert(static_cast<std::size_t>(node.Mark().pos)).second) {
      return;
    }
    if (node.IsSequence()) {
      std::size_t i = 0;
      for (const auto& item : node) {
        CheckDuplicateKeys(item, Index(path.empty() ? "(root)" : path, i++),
                           depth + 1, visited);
      }
      return;
    }
    std::map<std::string, int> first_line;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) continue;  // CheckMap reports those keys
      const std::string& key = kv.first.Scalar();
      const std::string kp = Join(path, Truncate(key));
      const int line = kv.first.Mark().line + 1;
      auto [it, inserted] = first_line.emplace(key, line);
      if (!inserted) {
        Error(
            kv.first, kp,
            "duplicate key (first at line " + std::to_string(it->second) + ")");
        continue;  // lookups never see this value; do not report inside it
      }
      CheckDuplicateKeys(kv.second, kp, depth + 1, visited);
    }
  }

  std::string source_;
  std::vector<std::string> errors_;
};

void ParseHosts(Parser& p, const YAML::Node& node, const std::string& path,
                std::vector<HostConfig>* hosts) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) {
    p.Error(node, path, "must be a list");
    return;
  }
  if (node.size() > kMaxHosts) {
    p.Error(node, path, "more than " + std::to_string(kMaxHosts) + " hosts");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string hp = Parser::Index(path, i);
    const YAML::Node& h = node[i];
    if (!p.CheckMap(h, hp, {"address", "port", "user"})) continue;
    HostConfig host;
    p.RequiredString(h, "address", hp, &host.address);
    if (!host.address.empty() && !IsIpv4(host.address) &&
        !IsIpv6(host.address) && !IsHostname(host.address)) {
      p.Error(h["address"], Parser::Join(hp, "address"),
              "not an IP address or host name");
    }
    p.Int(h, "port", hp, 1, 65535, &host.port);
    p.RequiredString(h, "user", hp, &host.user);
    static const std::regex user_re("^[a-z_][a-z0-9_.-]{0,31}$");
    if (!host.user.empty() && !std::regex_match(host.user, user_re)) {
      p.Error(h["user"], Parser::Join(hp, "user"), "not a valid user name");
    }
    hosts->push_back(std::move(host));
  }
}

void ParseSites(Parser& p, const YAML::Node& root, Config* c) {
  YAML::Node sites = root["sites"];
  if (!sites.IsDefined() || sites.IsNull()) {
    p.Error(root, "sites", "required");
    return;
  }
  if (!sites.IsSequence()) {
    p.Error(sites, "sites", "must be a list");
    return;
  }
  if (sites.size() < 2) {
    p.Error(sites, "sites", "at least two sites are required");
  }
  if (sites.size() > kMaxSites) {
    p.Error(sites, "sites",
            "more than " + std::to_string(kMaxSites) + " sites");
    return;
  }
  static const std::regex name_re("^[a-z0-9][a-z0-9-]{0,31}$");
  static const std::regex region_re("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$");
  std::set<std::string> names, addresses;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const std::string sp = Parser::Index("sites", i);
    const YAML::Node& s = sites[i];
    if (!p.CheckMap(s, sp,
                    {"name", "address", "health_url", "aws_region",
                     "dynamodb_endpoint", "hosts"})) {
      continue;
    }
    SiteConfig site;
    p.RequiredString(s, "name", sp, &site.name);
    if (!site.name.empty()) {
      if (!std::regex_match(site.name, name_re)) {
        p.Error(s["name"], sp + ".name",
                "must match ^[a-z0-9][a-z0-9-]{0,31}$");
      } else if (site.name == "unknown") {
        // The metrics say site="unknown" when a record matches no site.
        p.Error(s["name"], sp + ".name", "\"unknown\" is reserved");
      } else if (!names.insert(site.name).second) {
        p.Error(s["name"], sp + ".name",
                "duplicate site name \"" + site.name + "\"");
      }
    }
    p.RequiredString(s, "address", sp, &site.address);
    if (!site.address.empty()) {
      if (!IsIpv4(site.address)) {
        p.Error(s["address"], sp + ".address", "not an IPv4 address");
      } else if (!addresses.insert(site.address).second) {
        p.Error(s["address"], sp + ".address",
                "duplicate address " + site.address +
                    ": the serving site would be ambiguous");
      }
    }
    p.RequiredString(s, "health_url", sp, &site.health_url);
    if (!site.health_url.empty() && !IsHttpUrl(site.health_url)) {
      p.Error(s["health_url"], sp + ".health_url", "not an http(s) URL");
    }
    if (p.String(s, "aws_region", sp, &site.aws_region) &&
        !std::regex_match(site.aws_region, region_re)) {
      p.Error(s["aws_region"], sp + ".aws_region",
              "not an AWS region name like us-east-1");
    }
    if (p.String(s, "dynamodb_endpoint", sp, &site.dynamodb_endpoint) &&
        !site.dynamodb_endpoint.empty() && !IsHttpUrl(site.dynamodb_endpoint)) {
      p.Error(s["dynamodb_endpoint"], sp + ".dynamodb_endpoint",
              "not an http(s) URL");
    }
    ParseHosts(p, s["hosts"], sp + ".hosts", &site.hosts);
    c->sites.push_back(std::move(site));
  }
}

void ParseProbe(Parser& p, const YAML::Node& root, ProbeConfig* probe) {
  YAML::Node n = root["probe"];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!p.CheckMap(n, "probe",
                  {"interval", "timeout", "expect_status", "host_header"})) {
    return;
  }
  p.Dur(n, "interval", "probe", std::chrono::milliseconds(100),
        &probe->interval);
  bool timeout_set = p.Dur(n, "timeout", "probe", std::chrono::milliseconds(10),
                           &probe->timeout);
  if (probe->timeout > probe->interval) {
    p.Error(timeout_set ? n["timeout"] : n, "probe.timeout",
            "must not exceed probe.interval (" +
                FormatDuration(probe->interval) + ")");
  }
  YAML::Node es = n["expect_status"];
  if (es.IsDefined() && !es.IsNull()) {
    if (!es.IsSequence()) {
      p.Error(es, "probe.expect_status", "must be a list of status codes");
    } else {
      for (std::size_t i = 0; i < es.size() && i < 64; ++i) {
        const std::string ip = Parser::Index("probe.expect_status", i);
        if (!es[i].IsScalar()) {
          p.Error(es[i], ip, "must be an integer");
          continue;
        }
        char* end = nullptr;
        long v = std::strtol(es[i].Scalar().c_str(), &end, 10);
        if (es[i].Scalar().empty() || *end != '\0' || v < 100 || v > 599) {
          p.Error(es[i], ip, "not an HTTP status code (100-599)");
          continue;
        }
        probe->expect_status.push_back(static_cast<int>(v));
      }
      if (es.size() == 0) {
        p.Error(es, "probe.expect_status",
                "must not be empty (omit it to accept any 2xx)");
      }
    }
  }
  if (p.String(n, "host_header", "probe", &probe->host_header) &&
      !probe->host_header.empty() && !IsHostname(probe->host_header)) {
    // Allow host:port as well.
    auto colon = probe->host_header.rfind(':');
    bool ok = colon != std::string::npos &&
              IsHostname(probe->host_header.substr(0, colon));
    if (!ok) {
      p.Error(n["host_header"], "probe.host_header", "not a host name");
    }
  }
}

void ParseDns(Parser& p, const YAML::Node& root, DnsConfig* dns) {
  YAML::Node n = root["dns"];
  if (!n.IsDefined() || n.IsNull()) {
    p.Error(root, "dns", "required");
    return;
  }
  if (!p.CheckMap(
          n, "dns",
          {"provider", "api_url", "token_file", "domain", "records", "ttl"})) {
    return;
  }
  if (p.String(n, "provider", "dns", &dns->provider) &&
      dns->provider != "linode") {
    p.Error(n["provider"], "dns.provider",
            "unsupported provider \"" + Parser::Truncate(dns->provider) +
                "\" (supported: linode)");
  }
  if (p.String(n, "api_url", "dns", &dns->api_url) &&
      !IsHttpUrl(dns->api_url)) {
    p.Error(n["api_url"], "dns.api_url", "not an http(s) URL");
  }
  while (!dns->api_url.empty() && dns->api_url.back() == '/') {
    dns->api_url.pop_back();
  }
  p.String(n, "token_file", "dns", &dns->token_file);
  p.RequiredString(n, "domain", "dns", &dns->domain);
  if (!dns->domain.empty() && !IsHostname(dns->domain)) {
    p.Error(n["domain"], "dns.domain", "not a domain name");
  }
  if (!p.StringList(n, "records", "dns", kMaxRecords, &dns->records)) {
    if (!Parser::Has(n, "records")) p.Error(n, "dns.records", "required");
  } else {
    if (dns->records.empty()) {
      p.Error(n["records"], "dns.records", "at least one record is required");
    }
    static const std::regex rec_re(
        R"(^$|^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$)");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < dns->records.size(); ++i) {
      const std::string& r = dns->records[i];
      const std::string rp = Parser::Index("dns.records", i);
      if (!std::regex_match(r, rec_re)) {
        p.Error(n["records"][i], rp,
                "not a relative record name (use \"app\", not "
                "\"app.example.com.\"; \"\" is the apex)");
      } else if (!dns->domain.empty() &&
                 (r == dns->domain ||
                  (r.size() > dns->domain.size() &&
                   r.compare(r.size() - dns->domain.size() - 1,
                             std::string::npos, "." + dns->domain) == 0))) {
        p.Error(n["records"][i], rp,
                "must be relative to dns.domain (Linode record names do not "
                "include the domain)");
      } else if (!seen.insert(r).second) {
        p.Error(n["records"][i], rp, "duplicate record \"" + r + "\"");
      }
    }
  }
  if (p.Int(n, "ttl", "dns", 0, 2419200, &dns->ttl)) {
    dns->ttl_rounded = RoundLinodeTtl(dns->ttl);
  }
}

void ParseDynamoDb(Parser& p, const YAML::Node& root, Config* c) {
  YAML::Node n = root["dynamodb"];
  if (!n.IsDefined() || n.IsNull()) return;
  if (!p.CheckMap(n, "dynamodb", {"tables", "endpoint", "heartbeat"})) return;
  DynamoDbConfig d;
  static const std::regex table_re("^[A-Za-z0-9_.-]{3,255}$");
  p.StringList(n, "tables", "dynamodb", kMaxTables, &d.tables);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < d.tables.size(); ++i) {
    const std::string tp = Parser::Index("dynamodb.tables", i);
    if (!std::regex_match(d.tables[i], table_re)) {
      p.Error(n["tables"][i], tp,
              "not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)");
    } else if (!seen.insert(d.tables[i]).second) {
      p.Error(n["tables"][i], tp, "duplicate table \"" + d.tables[i] + "\"");
    }
  }
  if (p.String(n, "endpoint", "dynamodb", &d.endpoint) && !d.endpoint.empty()) {
    std::string probe = d.endpoint;
    auto pos = probe.find("{region}");
    if (pos != std::string::npos) probe.replace(pos, 8, "us-east-1");
    if (!IsHttpUrl(probe)) {
      p.Error(n["endpoint"], "dynamodb.endpoint", "not an http(s) URL");
    }
  }
  YAML::Node hb = n["heartbeat"];
  if (hb.IsDefined() && !hb.IsNull()) {
    if (p.CheckMap(hb, "dynamodb.heartbeat", {"table", "interval"})) {
      HeartbeatConfig h;
      p.RequiredString(hb, "table", "dynamodb.heartbeat", &h.table);
      if (!h.table.empty() && !std::regex_match(h.table, table_re)) {
        p.Error(hb["table"], "dynamodb.heartbeat.table",
                "not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)");
      }
      p.Dur(hb, "interval", "dynamodb.heartbeat",
            std::chrono::milliseconds(100), &h.interval);
      d.heartbeat = h;
    }
  }
  if (d.tables.empty() && !d.heartbeat) {
    p.Error(n, "dynamodb", "needs tables, a heartbeat, or both");
  }
  for (std::size_t i = 0; i < c->sites.size(); ++i) {
    if (c->sites[i].aws_region.empty()) {
      p.Error(root["sites"][i], Parser::Index("sites", i) + ".aws_region",
              "required when the dynamodb section is present");
    }
  }
  c->dynamodb = std::move(d);
}

void ParseActivate(Parser& p, const YAML::Node& n, ActivateConfig* a) {
  const std::string path = "actuator.activate";
  if (!p.CheckMap(n, path, {"env_file", "env", "reload_command"})) return;
  if (p.String(n, "env_file", path, &a->env_file) &&
      (a->env_file.empty() || a->env_file[0] != '/')) {
    p.Error(n["env_file"], path + ".env_file", "must be an absolute path");
  }
  YAML::Node env = n["env"];
  if (env.IsDefined() && !env.IsNull()) {
    if (!env.IsMap()) {
      p.Error(env, path + ".env", "must be a mapping of KEY: value");
    } else if (env.size() > kMaxEnv) {
      p.Error(env, path + ".env",
              "more than " + std::to_string(kMaxEnv) + " keys");
    } else {
      static const std::regex key_re("^[A-Za-z_][A-Za-z0-9_]{0,127}$");
      static const std::regex placeholder_re(R"(\{([^{}]*)\})");
      for (const auto& kv : env) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const std::string kp = path + ".env." + key;
        if (!std::regex_match(key, key_re)) {
          p.Error(kv.first, path + ".env",
                  "\"" + Parser::Truncate(key) +
                      "\" is not an environment variable name");
          continue;
        }
        if (!kv.second.IsScalar()) {
          p.Error(kv.second, kp, "must be a string");
          continue;
        }
        const std::string& value = kv.second.Scalar();
        if (EnvValueProblem problem = CheckEnvValue(value);
            problem != EnvValueProblem::kNone) {
          p.Error(kv.second, kp, std::string(EnvValueProblemText(problem)));
          continue;
        }
        bool ok = true;
        for (std::sregex_iterator
                 it(value.begin(), value.end(), placeholder_re),
             end;
             it != end; ++it) {
          std::string ph = (*it)[1];
          if (ph != "site.name" && ph != "site.aws_region" &&
              ph != "site.address") {
            p.Error(kv.second, kp,
                    "unknown placeholder {" + Parser::Truncate(ph) +
                        "} (known: {site.name} {site.aws_region} "
                        "{site.address})");
            ok = false;
          }
        }
        if (ok) a->env.emplace_back(key, value);
      }
    }
  }
  if (p.String(n, "reload_command", path, &a->reload_command) &&
      a->reload_command.find_first_of("\n\r") != std::string::npos) {
    p.Error(n["reload_command"], path + ".reload_command",
            "must be a single line");
  }
}

void ParseAlertmanagerPull(Parser& p, const YAML::Node& n,
                           std::optional<AlertmanagerPullConfig>* out) {
  const std::string path = "actuator.alertmanager";
  if (!p.CheckMap(n, path,
                  {"urls", "interval", "timeout", "bearer_token_file"})) {
    return;
  }
  AlertmanagerPullConfig am;
  if (!p.StringList(n, "urls", path, kMaxAlertmanagers, &am.urls)) {
    if (!Parser::Has(n, "urls")) p.Error(n, path + ".urls", "required");
  } else if (am.urls.empty()) {
    p.Error(n["urls"], path + ".urls", "at least one URL is required");
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < am.urls.size(); ++i) {
    std::string& url = am.urls[i];
    const std::string up = Parser::Index(path + ".urls", i);
    if (!IsHttpUrl(url)) {
      p.Error(n["urls"][i], up, "not an http(s) URL");
      continue;
    }
    // The puller appends /api/v2/alerts; a path prefix (--web.route-prefix)
    // stays.
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!seen.insert(url).second) {
      p.Error(n["urls"][i], up,
              "duplicate URL \"" + Parser::Truncate(url) + "\"");
    }
  }
  bool interval_set =
      p.Dur(n, "interval", path, std::chrono::seconds(1), &am.interval);
  if (interval_set && am.interval > std::chrono::hours(1)) {
    p.Error(n["interval"], path + ".interval", "must be at most 1h");
  }
  bool timeout_set =
      p.Dur(n, "timeout", path, std::chrono::milliseconds(10), &am.timeout);
  if (!timeout_set && !Parser::Has(n, "timeout")) {
    // The default (5s) never outlasts a shorter interval the file sets.
    am.timeout = std::min<Duration>(am.timeout, am.interval / 2);
  }
  if (am.timeout >= am.interval) {
    p.Error(timeout_set ? n["timeout"] : n, path + ".timeout",
            "must be less than " + path + ".interval (" +
                FormatDuration(am.interval) + ")");
  }
  p.String(n, "bearer_token_file", path, &am.bearer_token_file);
  *out = std::move(am);
}

void ParseActuator(Parser& p, const YAML::Node& root, Config* c) {
  YAML::Node n = root["actuator"];
  if (!n.IsDefined() || n.IsNull()) return;
  const std::string path = "actuator";
  if (!p.CheckMap(n, path,
                  {"mode", "failback", "failback_after", "cooldown", "confirm",
                   "state_dir", "webhook_token_file", "api_token_file", "ssh",
                   "activate", "alertmanager"})) {
    return;
  }
  ActuatorConfig a;
  std::string s;
  if (p.String(n, "mode", path, &s)) {
    if (s == "auto") {
      a.mode = ActuatorMode::kAuto;
    } else if (s == "manual") {
      a.mode = ActuatorMode::kManual;
    } else {
      p.Error(n["mode"], "actuator.mode", "must be auto or manual");
    }
  }
  if (p.String(n, "failback", path, &s)) {
    if (s == "auto") {
      a.failback = FailbackPolicy::kAuto;
    } else if (s == "manual") {
      a.failback = FailbackPolicy::kManual;
    } else {
      p.Error(n["failback"], "actuator.failback", "must be manual or auto");
    }
  }
  p.Dur(n, "failback_after", path, Duration::zero(), &a.failback_after);
  p.Dur(n, "cooldown", path, Duration::zero(), &a.cooldown);
  YAML::Node confirm = n["confirm"];
  if (confirm.IsDefined() && !confirm.IsNull() &&
      p.CheckMap(confirm, "actuator.confirm", {"probes", "interval"})) {
    p.Int(confirm, "probes", "actuator.confirm", 0, 20, &a.confirm.probes);
    p.Dur(confirm, "interval", "actuator.confirm",
          std::chrono::milliseconds(10), &a.confirm.interval);
  }
  if (p.String(n, "state_dir", path, &a.state_dir) &&
      (a.state_dir.empty() || a.state_dir[0] != '/')) {
    // Relative paths are allowed for local runs; empty is not.
    if (a.state_dir.empty()) {
      p.Error(n["state_dir"], "actuator.state_dir", "must not be empty");
    }
  }
  p.String(n, "webhook_token_file", path, &a.webhook_token_file);
  p.String(n, "api_token_file", path, &a.api_token_file);
  YAML::Node ssh = n["ssh"];
  if (ssh.IsDefined() && !ssh.IsNull() &&
      p.CheckMap(ssh, "actuator.ssh",
                 {"private_key_file", "known_hosts_file", "connect_timeout",
                  "command_timeout"})) {
    p.String(ssh, "private_key_file", "actuator.ssh", &a.ssh.private_key_file);
    p.String(ssh, "known_hosts_file", "actuator.ssh", &a.ssh.known_hosts_file);
    p.Dur(ssh, "connect_timeout", "actuator.ssh",
          std::chrono::milliseconds(100), &a.ssh.connect_timeout);
    p.Dur(ssh, "command_timeout", "actuator.ssh",
          std::chrono::milliseconds(100), &a.ssh.command_timeout);
  }
  YAML::Node activate = n["activate"];
  if (activate.IsDefined() && !activate.IsNull()) {
    ParseActivate(p, activate, &a.activate);
  }
  YAML::Node alertmanager = n["alertmanager"];
  if (alertmanager.IsDefined() && !alertmanager.IsNull()) {
    ParseAlertmanagerPull(p, alertmanager, &a.alertmanager);
  }
  // With a dynamodb section the missing region is reported there already.
  for (const auto& [key, value] : a.activate.env) {
    if (c->dynamodb || value.find("{site.aws_region}") == std::string::npos) {
      continue;
    }
    for (std::size_t i = 0; i < c->sites.size(); ++i) {
      if (c->sites[i].aws_region.empty()) {
        p.Error(root["sites"][i], Parser::Index("sites", i) + ".aws_region",
                "required: actuator.activate.env." + key +
                    " uses {site.aws_region}");
      }
    }
  }
  c->actuator = std::move(a);
}

void Validate(Parser& p, const YAML::Node& root, Config* c) {
  if (!root.IsDefined() || root.IsNull()) {
    p.Error(root, "(root)", "the file is empty");
    return;
  }
  if (!p.CheckMap(root, "(root)",
                  {"sites", "probe", "dns", "dynamodb", "actuator"})) {
    return;
  }
  p.CheckDuplicateKeys(root);
  ParseSites(p, root, c);
  ParseProbe(p, root, &c->probe);
  ParseDns(p, root, &c->dns);
  ParseDynamoDb(p, root, c);
  ParseActuator(p, root, c);
}

}  // namespace

bool ProbeConfig::StatusExpected(long status) const {
  if (expect_status.empty()) return status >= 200 && status <= 299;
  return std::find(expect_status.begin(), expect_status.end(), status) !=
         expect_status.end();
}

std::string DynamoDbConfig::EndpointFor(const SiteConfig& site) const {
  if (!site.dynamodb_endpoint.empty()) return site.dynamodb_endpoint;
  std::string url =
      endpoint.empty() ? "https://dynamodb.{region}.amazonaws.com" : endpoint;
  auto pos = url.find("{region}");
  if (pos != std::string::npos) url.replace(pos, 8, site.aws_region);
  return url;
}

std::vector<std::pair<std::string, std::string>> ActivateConfig::ExpandFor(
    const SiteConfig& site) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& pair : env) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture
    // one in the lambda below.
    const std::string& value = pair.second;
    std::string v;
    for (std::size_t i = 0; i < value.size();) {
      auto try_replace = [&](std::string_view ph, const std::string& with) {
        if (value.compare(i, ph.size(), ph) != 0) return false;
        v += with;
        i += ph.size();
        return true;
      };
      if (try_replace("{site.name}", site.name) ||
          try_replace("{site.aws_region}", site.aws_region) ||
          try_replace("{site.address}", site.address)) {
        continue;
      }
      v += value[i++];
    }
    out.emplace_back(pair.first, std::move(v));
  }
  return out;
}

const SiteConfig* Config::FindSite(std::string_view name) const {
  for (const SiteConfig& s : sites) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const SiteConfig* Config::SiteByAddress(std::string_view address) const {
  for (const SiteConfig& s : sites) {
    if (s.address == address) return &s;
  }
  return nullptr;
}

std::vector<std::string> ConfigWarnings(const Config& config) {
  std::vector<std::string> out;
  CURLU* url = curl_url();
  if (url == nullptr) return out;
  char* scheme = nullptr;
  char* host = nullptr;
  if (curl_url_set(url, CURLUPART_URL, config.dns.api_url.c_str(), 0) ==
          CURLUE_OK &&
      curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    const std::string h(host);
    const bool loopback =
        h == "localhost" || h == "[::1]" || h.rfind("127.", 0) == 0;
    if (std::string(scheme) == "http" && !loopback) {
      out.push_back("dns.api_url: plain http to " + h +
                    " sends the Linode token unencrypted; use https");
    }
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(url);
  return out;
}

int RoundLinodeTtl(int ttl) {
  static constexpr std::array<int, 15> kValid = {
      0,     30,    120,    300,    3600,   7200,    14400,  28800,
      57600, 86400, 172800, 345600, 604800, 1209600, 2419200};
  for (int v : kValid) {
    if (ttl <= v) return v;
  }
  return kValid.back();
}

std::shared_ptr<const Config> LoadConfigText(const std::string& text,
                                             const std::string& source) {
  if (text.size() > kMaxConfigBytes) {
    throw ConfigError(source + ": larger than 1 MiB");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) +
                      ": not valid YAML: " + e.msg);
  }
  auto config = std::make_shared<Config>();
  config->source = source;
  Parser parser(source);
  try {
    Validate(parser, root, config.get());
  } catch (const YAML::Exception& e) {
    // Should not happen with the checks above; never let it escape raw.
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) +
                      ": invalid config: " + e.msg);
  }
  if (!parser.errors().empty()) {
    std::string all;
    for (const std::string& e : parser.errors()) {
      if (!all.empty()) all += "\n";
      all += e;
    }
    throw ConfigError(all);
  }
  return config;
}

std::shared_ptr<const Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  text.resize(kMaxConfigBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw ConfigError(path + ": read error");
  return LoadConfigText(text, path);
}

}  // namespace drf
