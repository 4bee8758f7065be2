#include "core/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace drf {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path Testdata(const std::string& name) {
  return fs::path(DRF_TESTDATA_DIR) / "config" / name;
}

std::string ErrorOf(const std::string& text, const std::string& source) {
  try {
    LoadConfigText(text, source);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// Every tests/testdata/config/invalid-X.yml must fail with exactly the
// message in invalid-X.err (blackbox_exporter's config/testdata style).
TEST(ConfigTest, InvalidCorpusGivesExactMessages) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(Testdata(""))) {
    const std::string name = entry.path().filename();
    if (!name.starts_with("invalid-") || entry.path().extension() != ".yml") {
      continue;
    }
    ++cases;
    fs::path err = entry.path();
    err.replace_extension(".err");
    ASSERT_TRUE(fs::exists(err)) << "missing " << err;
    std::string expected = ReadFile(err);
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    EXPECT_EQ(ErrorOf(ReadFile(entry.path()), name), expected) << name;
  }
  EXPECT_GE(cases, 30);
}

TEST(ConfigTest, FullConfigLoadsEverySection) {
  auto c = LoadConfigFile(Testdata("valid-full.yml"));
  ASSERT_EQ(c->sites.size(), 2u);
  EXPECT_EQ(c->sites[0].name, "us-east");
  EXPECT_EQ(c->sites[0].hosts.size(), 2u);
  EXPECT_EQ(c->sites[0].hosts[0].port, 2222);
  EXPECT_EQ(c->sites[0].hosts[1].port, 22);
  EXPECT_EQ(c->sites[0].hosts[1].address, "app1.internal");
  EXPECT_EQ(c->probe.interval, std::chrono::seconds(1));
  EXPECT_EQ(c->probe.timeout, std::chrono::milliseconds(800));
  EXPECT_EQ(c->probe.expect_status, (std::vector<int>{200, 204}));
  EXPECT_EQ(c->probe.host_header, "app.example.com");
  EXPECT_EQ(c->dns.api_url, "http://127.0.0.1:9999/v4");  // slash trimmed
  EXPECT_EQ(c->dns.records, (std::vector<std::string>{"app", "", "www"}));
  EXPECT_EQ(c->dns.ttl, 31);
  EXPECT_EQ(c->dns.ttl_rounded, 120);
  ASSERT_TRUE(c->dynamodb.has_value());
  EXPECT_EQ(c->dynamodb->EndpointFor(c->sites[0]), "http://127.0.0.1:8000");
  EXPECT_EQ(c->dynamodb->EndpointFor(c->sites[1]),
            "http://dynamodb.eu-west-1.example.net");
  ASSERT_TRUE(c->dynamodb->heartbeat.has_value());
  EXPECT_EQ(c->dynamodb->heartbeat->interval, std::chrono::milliseconds(1500));
  ASSERT_TRUE(c->actuator.has_value());
  EXPECT_EQ(c->actuator->mode, ActuatorMode::kManual);
  EXPECT_EQ(c->actuator->failback, FailbackPolicy::kAuto);
  EXPECT_EQ(c->actuator->cooldown, std::chrono::minutes(90));
  EXPECT_EQ(c->actuator->confirm.probes, 0);
  EXPECT_EQ(c->actuator->ssh.connect_timeout, std::chrono::seconds(2));
  auto env = c->actuator->activate.ExpandFor(c->sites[1]);
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0],
            (std::pair<std::string, std::string>{"AWS_REGION", "eu-west-1"}));
  EXPECT_EQ(env[1].second, "eu-central@198.51.100.10");
  ASSERT_TRUE(c->actuator->alertmanager.has_value());
  const AlertmanagerPullConfig& am = *c->actuator->alertmanager;
  EXPECT_EQ(am.urls, (std::vector<std::string>{
                         "http://alertmanager-0:9093",  // slash trimmed
                         "https://alertmanager-1.example.net/am"}));
  EXPECT_EQ(am.interval, std::chrono::seconds(30));
  EXPECT_EQ(am.timeout, std::chrono::seconds(2));
  EXPECT_EQ(am.bearer_token_file, "/etc/dr-failover/alertmanager-token");
}

// Found by fuzz/config_fuzz.cc: a quoted key holding a line break made its
// "unknown field" error two lines.
TEST(ConfigTest, AKeyWithALineBreakStaysOneErrorLine) {
  const std::string minimal = ReadFile(Testdata("valid-minimal.yml"));
  EXPECT_EQ(
      ErrorOf(minimal + "\"i\\nterval\x01\": 5s\n", "c.yml"),
      "c.yml:" +
          std::to_string(std::count(minimal.begin(), minimal.end(), '\n') + 1) +
          ": i\\nterval\\x01: unknown field");
}

TEST(ConfigTest, AlertmanagerPullIsOptionalAndDefaulted) {
  const std::string minimal = ReadFile(Testdata("valid-minimal.yml"));
  auto without = LoadConfigText(minimal + "actuator:\n  mode: auto\n", "c.yml");
  ASSERT_TRUE(without->actuator.has_value());
  EXPECT_FALSE(without->actuator->alertmanager.has_value());

  auto with = LoadConfigText(
      minimal + "actuator:\n  alertmanager:\n    urls: [http://am:9093]\n",
      "c.yml");
  ASSERT_TRUE(with->actuator->alertmanager.has_value());
  const AlertmanagerPullConfig& am = *with->actuator->alertmanager;
  EXPECT_EQ(am.urls, std::vector<std::string>{"http://am:9093"});
  EXPECT_EQ(am.interval, std::chrono::seconds(15));
  EXPECT_EQ(am.timeout, std::chrono::seconds(5));
  EXPECT_EQ(am.bearer_token_file, "");

  // The default timeout never outlasts a short interval: half of it.
  auto fast = LoadConfigText(minimal +
                                 "actuator:\n  alertmanager:\n    urls: "
                                 "[http://am:9093]\n    interval: 2s\n",
                             "c.yml");
  EXPECT_EQ(fast->actuator->alertmanager->timeout, std::chrono::seconds(1));
}

TEST(ConfigTest, AlertmanagerPullBoundsAreInclusive) {
  const std::string minimal = ReadFile(Testdata("valid-minimal.yml"));
  auto load = [&](const std::string& fields) {
    return ErrorOf(
        minimal + "actuator:\n  alertmanager:\n    urls: [http://am:9093]\n" +
            fields,
        "c.yml");
  };
  EXPECT_EQ(load("    interval: 1s\n    timeout: 999ms\n"), "");
  EXPECT_EQ(load("    interval: 1h\n"), "");
  EXPECT_EQ(load("    interval: 1h1s\n"),
            "c.yml:10: actuator.alertmanager.interval: must be at most 1h");
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += ", http://am-" + std::to_string(i);
  EXPECT_EQ(ErrorOf(minimal + "actuator:\n  alertmanager:\n    urls: [" +
                        ten.substr(2) + "]\n",
                    "c.yml"),
            "");
}

TEST(ConfigTest, MinimalConfigGetsDefaults) {
  auto c = LoadConfigFile(Testdata("valid-minimal.yml"));
  EXPECT_EQ(c->probe.interval, std::chrono::seconds(2));
  EXPECT_EQ(c->probe.timeout, std::chrono::milliseconds(1500));
  EXPECT_TRUE(c->probe.StatusExpected(204));
  EXPECT_FALSE(c->probe.StatusExpected(301));
  EXPECT_EQ(c->dns.provider, "linode");
  EXPECT_EQ(c->dns.api_url, "https://api.linode.com/v4");
  EXPECT_EQ(c->dns.ttl_rounded, 30);
  EXPECT_FALSE(c->dynamodb.has_value());
  EXPECT_FALSE(c->actuator.has_value());
  EXPECT_EQ(c->SiteByAddress("10.0.0.2")->name, "b");
  EXPECT_EQ(c->SiteByAddress("10.0.0.3"), nullptr);
}

TEST(ConfigTest, PlainHttpToTheLinodeApiIsAWarningUnlessLoopback) {
  const std::string minimal = ReadFile(Testdata("valid-minimal.yml"));
  auto with_url = [&](const std::string& url) {
    std::string text = minimal;
    const std::string at = "dns:\n";
    text.replace(text.find(at), at.size(), at + "  api_url: " + url + "\n");
    return ConfigWarnings(*LoadConfigText(text, "c.yml"));
  };
  EXPECT_TRUE(
      ConfigWarnings(*LoadConfigFile(Testdata("valid-minimal.yml"))).empty());
  EXPECT_TRUE(with_url("https://api.linode.com/v4").empty());
  EXPECT_TRUE(with_url("http://127.0.0.1:8080/v4").empty());
  EXPECT_TRUE(with_url("http://localhost:8080/v4").empty());
  EXPECT_TRUE(with_url("http://[::1]:8080/v4").empty());
  EXPECT_EQ(with_url("http://linode-proxy.internal/v4"),
            std::vector<std::string>{
                "dns.api_url: plain http to linode-proxy.internal sends the "
                "Linode token unencrypted; use https"});
}

TEST(ConfigTest, ExampleConfigIsValid) {
  EXPECT_NO_THROW(LoadConfigFile(fs::path(DRF_TESTDATA_DIR) / ".." / ".." /
                                 "examples" / "config.yml"));
}

TEST(ConfigTest, MissingFileNamesTheFile) {
  EXPECT_EQ(ErrorOf("", "x.yml"), "x.yml:1: (root): the file is empty");
  try {
    LoadConfigFile("/nonexistent/dr.yml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/dr.yml: cannot open: No such file or directory");
  }
}

TEST(ConfigTest, OversizedFileIsRefused) {
  std::string text = ReadFile(Testdata("valid-minimal.yml"));
  text += "# " + std::string(1 << 20, 'x') + "\n";
  EXPECT_EQ(ErrorOf(text, "big.yml"), "big.yml: larger than 1 MiB");
}

TEST(ConfigTest, DeeplyNestedDocumentIsAnErrorNotACrash) {
  std::string text =
      "sites: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  EXPECT_FALSE(ErrorOf(text, "deep.yml").empty());
}

TEST(ConfigTest, AliasBombIsBounded) {
  // "Billion laughs": yaml-cpp shares aliased nodes instead of copying, and
  // the schema caps every list, so this fails fast instead of exploding.
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    text += std::string(1, c) + ": &" + std::string(1, c) + " [*" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  }
  text += "sites: [";
  for (int i = 0; i < 1100; ++i) text += i ? ", *j" : "*j";
  text += "]\n";
  std::string err = ErrorOf(text, "bomb.yml");
  EXPECT_NE(err.find("sites: more than 1024 sites"), std::string::npos) << err;
}

TEST(ConfigTest, BinaryGarbageIsAnError) {
  std::string text("sites:\0\xff\xfe\x01 - name", 18);
  EXPECT_FALSE(ErrorOf(text, "bin.yml").empty());
}

TEST(ConfigTest, WrongTypesAreReportedWithTheirPath) {
  std::string text = ReadFile(Testdata("valid-minimal.yml")) +
                     "probe: { interval: [1s], expect_status: 200 }\n";
  EXPECT_EQ(ErrorOf(text, "t.yml"),
            "t.yml:7: probe.interval: must be a duration like 500ms, 5s, 10m\n"
            "t.yml:7: probe.expect_status: must be a list of status codes");
}

TEST(ConfigTest, SeveralErrorsAreAllReported) {
  std::string text =
      "sites:\n"
      "  - { name: a, address: 10.0.0.1, health_url: 'gopher://x' }\n"
      "  - { name: a, address: 10.0.0.2, health_url: 'http://x' }\n"
      "dns: { domain: example.com, records: [app], ttl: x }\n";
  EXPECT_EQ(ErrorOf(text, "m.yml"),
            "m.yml:2: sites[0].health_url: not an http(s) URL\n"
            "m.yml:3: sites[1].name: duplicate site name \"a\"\n"
            "m.yml:4: dns.ttl: must be an integer");
}

constexpr char kTwoSites[] =
    "sites:\n"
    "  - { name: a, address: 10.0.0.1, health_url: 'http://10.0.0.1/' }\n"
    "  - { name: b, address: 10.0.0.2, health_url: 'http://10.0.0.2/' }\n"
    "dns: { domain: example.com, records: [app] }\n";

TEST(ConfigDuplicateKeyTest, EveryRepeatNamesTheFirstLine) {
  std::string text = std::string(kTwoSites) +
                     "actuator:\n"
                     "  mode: auto\n"
                     "  mode: manual\n"
                     "  mode: auto\n";
  EXPECT_EQ(ErrorOf(text, "d.yml"),
            "d.yml:7: actuator.mode: duplicate key (first at line 6)\n"
            "d.yml:8: actuator.mode: duplicate key (first at line 6)");
}

TEST(ConfigDuplicateKeyTest, QuotedAndPlainSpellingsAreTheSameKey) {
  std::string text = std::string(kTwoSites) +
                     "actuator:\n"
                     "  mode: manual\n"
                     "  \"mode\": auto\n";
  EXPECT_EQ(ErrorOf(text, "d.yml"),
            "d.yml:7: actuator.mode: duplicate key (first at line 6)");
}

TEST(ConfigDuplicateKeyTest, FlowMappingInAHostListIsChecked) {
  std::string text =
      "sites:\n"
      "  - name: a\n"
      "    address: 10.0.0.1\n"
      "    health_url: 'http://10.0.0.1/'\n"
      "    hosts:\n"
      "      - { address: 10.0.0.11, user: deploy }\n"
      "      - { address: 10.0.0.12, user: deploy,\n"
      "          user: root }\n"
      "  - { name: b, address: 10.0.0.2, health_url: 'http://10.0.0.2/' }\n"
      "dns: { domain: example.com, records: [app] }\n";
  EXPECT_EQ(ErrorOf(text, "d.yml"),
            "d.yml:8: sites[0].hosts[1].user: duplicate key (first at line "
            "7)");
}

TEST(ConfigDuplicateKeyTest, ReportedWithTheOtherErrors) {
  std::string text =
      "sites:\n"
      "  - { name: a, address: 10.0.0.1, health_url: 'http://10.0.0.1/' }\n"
      "  - { name: b, address: 10.0.0.2, health_url: 'http://10.0.0.2/' }\n"
      "dns: { domain: example.com, records: [app], ttl: x }\n"
      "probe:\n"
      "  interval: 5s\n"
      "  interval: 6s\n";
  EXPECT_EQ(ErrorOf(text, "d.yml"),
            "d.yml:7: probe.interval: duplicate key (first at line 6)\n"
            "d.yml:4: dns.ttl: must be an integer");
}

TEST(ConfigDuplicateKeyTest, AnAliasedMappingIsReportedOnce) {
  std::string text = std::string(kTwoSites) +
                     "probe: &p\n"
                     "  interval: 1s\n"
                     "  interval: 2s\n"
                     "actuator:\n"
                     "  confirm: *p\n";
  std::string err = ErrorOf(text, "d.yml");
  EXPECT_NE(err.find("d.yml:7: probe.interval: duplicate key (first at line "
                     "6)"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("actuator.confirm.interval: duplicate"), std::string::npos)
      << err;
}

TEST(ConfigDuplicateKeyTest, SelfReferencingAliasTerminates) {
  std::string text = std::string(kTwoSites) + "probe: &p { x: [*p], x: 1 }\n";
  std::string err = ErrorOf(text, "d.yml");
  EXPECT_NE(err.find("d.yml:5: probe.x: duplicate key (first at line 5)"),
            std::string::npos)
      << err;
}

TEST(ConfigDuplicateKeyTest, SameKeyInDifferentMappingsIsFine) {
  std::string text = std::string(kTwoSites) +
                     "actuator:\n"
                     "  confirm: { interval: 1s }\n"
                     "  ssh: { connect_timeout: 1s }\n"
                     "probe: { interval: 5s }\n";
  EXPECT_EQ(ErrorOf(text, "d.yml"), "");
}

TEST(LinodeTtlTest, RoundsUpToAValidValue) {
  EXPECT_EQ(RoundLinodeTtl(0), 0);
  EXPECT_EQ(RoundLinodeTtl(1), 30);
  EXPECT_EQ(RoundLinodeTtl(30), 30);
  EXPECT_EQ(RoundLinodeTtl(31), 120);
  EXPECT_EQ(RoundLinodeTtl(300), 300);
  EXPECT_EQ(RoundLinodeTtl(301), 3600);
  EXPECT_EQ(RoundLinodeTtl(2419200), 2419200);
  EXPECT_EQ(RoundLinodeTtl(9999999), 2419200);
}

}  // namespace
}  // namespace drf
