#include "actuator/intake/alertmanager.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "actuator/intake/time.h"

namespace drf::actuator {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(DRF_TESTDATA_DIR) + "/alertmanager/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// The good firing payload, changed by `mutate`.
std::string Mutated(const std::function<void(rapidjson::Document&)>& mutate) {
  rapidjson::Document doc;
  doc.Parse(ReadTestdata("firing.json").c_str());
  EXPECT_FALSE(doc.HasParseError());
  mutate(doc);
  return Serialize(doc);
}

std::string ParseError(std::string_view body) {
  Notification n;
  std::string error;
  EXPECT_FALSE(ParseNotification(body, &n, &error)) << body.substr(0, 200);
  EXPECT_FALSE(error.empty());
  return error;
}

TimePoint At(sys_days day, std::chrono::nanoseconds since_midnight) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      day.time_since_epoch() + since_midnight));
}

// A valid payload with `alerts` copies of one DR alert.
std::string PayloadWithAlerts(std::size_t alerts) {
  std::string alert =
      R"({"status":"firing","labels":{"alertname":"DRSiteDown",)"
      R"("dr_action":"traffic_failover","site":"us-east"},"annotations":{},)"
      R"("startsAt":"2024-05-01T12:00:00Z","endsAt":"0001-01-01T00:00:00Z",)"
      R"("generatorURL":"","fingerprint":"b3f0c2a71d9e4a55"})";
  std::string body =
      R"({"version":"4","groupKey":"{}","status":"firing","receiver":"r",)"
      R"("alerts":[)";
  for (std::size_t i = 0; i < alerts; ++i) {
    if (i > 0) body += ",";
    body += alert;
  }
  return body + "]}";
}

TEST(NotificationParseTest, ParsesAlertmanagerFiringPayload) {
  Notification n;
  std::string error;
  ASSERT_TRUE(ParseNotification(ReadTestdata("firing.json"), &n, &error))
      << error;
  EXPECT_EQ(n.status, AlertStatus::kFiring);
  EXPECT_EQ(n.receiver, "dr-actuator");
  EXPECT_EQ(n.group_key, "{}:{site=\"us-east\"}");
  EXPECT_EQ(n.external_url, "http://alertmanager.example.com:9093");
  EXPECT_EQ(n.truncated_alerts, 0);
  ASSERT_EQ(n.alerts.size(), 2u);

  const Alert& dr = n.alerts[0];
  EXPECT_EQ(dr.status, AlertStatus::kFiring);
  EXPECT_EQ(dr.labels.at("alertname"), "DRSiteDown");
  EXPECT_EQ(dr.labels.at("site"), "us-east");
  EXPECT_EQ(dr.labels.size(), 4u);
  EXPECT_EQ(dr.fingerprint, "b3f0c2a71d9e4a55");
  EXPECT_EQ(dr.summary, "Site us-east is down");
  EXPECT_EQ(dr.starts_at, At(sys_days{2024y / 5 / 1}, 12h + 3s + 123456789ns));
  EXPECT_EQ(dr.ends_at, TimePoint{});
  EXPECT_TRUE(IsDrAlert(dr));

  const Alert& lag = n.alerts[1];
  EXPECT_FALSE(IsDrAlert(lag));
  // 13:59:40.5+02:00 is 11:59:40.5Z.
  EXPECT_EQ(lag.starts_at, At(sys_days{2024y / 5 / 1}, 11h + 59min + 40500ms));
}

TEST(NotificationParseTest, ParsesAlertmanagerResolvedPayload) {
  Notification n;
  std::string error;
  ASSERT_TRUE(ParseNotification(ReadTestdata("resolved.json"), &n, &error))
      << error;
  EXPECT_EQ(n.status, AlertStatus::kResolved);
  ASSERT_EQ(n.alerts.size(), 1u);
  EXPECT_EQ(n.alerts[0].status, AlertStatus::kResolved);
  EXPECT_EQ(n.alerts[0].ends_at,
            At(sys_days{2024y / 5 / 1}, 12h + 41min + 18004ms));
  EXPECT_TRUE(IsDrAlert(n.alerts[0]));
}

TEST(NotificationParseTest, IsDrAlertNeedsActionAndSite) {
  Alert a;
  EXPECT_FALSE(IsDrAlert(a));
  a.labels = {{"dr_action", "traffic_failover"}};
  EXPECT_FALSE(IsDrAlert(a));
  a.labels["site"] = "";
  EXPECT_FALSE(IsDrAlert(a));
  a.labels["site"] = "us-east";
  EXPECT_TRUE(IsDrAlert(a));
  a.labels["dr_action"] = "page";
  EXPECT_FALSE(IsDrAlert(a));
  a.labels["dr_action"] = "Traffic_Failover";
  EXPECT_FALSE(IsDrAlert(a));
}

TEST(NotificationParseTest, EveryTruncationIsACleanError) {
  const std::string good = ReadTestdata("firing.json");
  for (std::size_t i = 0; i < good.size(); ++i) {
    Notification n;
    std::string error;
    EXPECT_FALSE(
        ParseNotification(std::string_view(good).substr(0, i), &n, &error))
        << "prefix of " << i << " bytes";
    EXPECT_FALSE(error.empty()) << i;
  }
}

TEST(NotificationParseTest, RejectsMalformedJson) {
  struct Case {
    std::string body;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"", "body: empty"},
      {"   ", "body: invalid JSON at offset 3"},
      {"{", "body: invalid JSON at offset 1"},
      {"[]", "body: must be a JSON object"},
      {"null", "body: must be a JSON object"},
      {"\"4\"", "body: must be a JSON object"},
      {"42", "body: must be a JSON object"},
      {"{} {}", "body: invalid JSON"},
      {ReadTestdata("firing.json") + "garbage", "body: invalid JSON"},
      {ReadTestdata("firing.json") + "}", "body: invalid JSON"},
      {"{'version': '4'}", "body: invalid JSON"},
      {"{\"version\": \"4\",}", "body: invalid JSON"},
      {"{\"a\": NaN}", "body: invalid JSON"},
      {"{\"a\": \"\x01\"}", "body: invalid JSON"},
  };
  for (const auto& c : cases) {
    std::string error = ParseError(c.body);
    EXPECT_EQ(error.rfind(c.want, 0), 0u) << c.body << " -> " << error;
  }
}

TEST(NotificationParseTest, RejectsWrongTypes) {
  struct Case {
    const char* pointer;  // JSON pointer into firing.json
    const char* value;    // JSON text to put there
    const char* want;
  };
  const std::vector<Case> cases = {
      {"/version", "4", "version: must be a string"},
      {"/version", "\"3\"", "version: must be \"4\", got \"3\""},
      {"/version", "\"\"", "version: must be \"4\", got \"\""},
      {"/groupKey", "1", "groupKey: must be a string"},
      {"/status", "true", "status: must be a string"},
      {"/status", "\"pending\"", "status: must be \"firing\" or \"resolved\""},
      {"/status", "\"FIRING\"", "status: must be \"firing\" or \"resolved\""},
      {"/receiver", "[]", "receiver: must be a string"},
      {"/externalURL", "{}", "externalURL: must be a string"},
      {"/truncatedAlerts", "-1", "truncatedAlerts: must be a non-negative"},
      {"/truncatedAlerts", "1.5", "truncatedAlerts: must be a non-negative"},
      {"/truncatedAlerts", "\"0\"", "truncatedAlerts: must be a non-negative"},
      {"/groupLabels", "[]", "groupLabels: must be an object"},
      {"/groupLabels/site", "1", "groupLabels.site: must be a string"},
      {"/commonLabels", "\"x\"", "commonLabels: must be an object"},
      {"/commonAnnotations", "1", "commonAnnotations: must be an object"},
      {"/alerts", "{}", "alerts: must be an array"},
      {"/alerts", "\"\"", "alerts: must be an array"},
      {"/alerts/1", "\"alert\"", "alerts[1]: must be an object"},
      {"/alerts/0/status", "1", "alerts[0].status: must be a string"},
      {"/alerts/0/status", "\"pending\"",
       "alerts[0].status: must be \"firing\" or \"resolved\""},
      {"/alerts/0/labels", "[]", "alerts[0].labels: must be an object"},
      {"/alerts/0/labels", "null", "alerts[0].labels: missing"},
      {"/alerts/0/labels/site", "1", "alerts[0].labels.site: must be a string"},
      {"/alerts/1/labels/site", "null",
       "alerts[1].labels.site: must be a string"},
      {"/alerts/0/labels/site", "[\"us-east\"]",
       "alerts[0].labels.site: must be a string"},
      {"/alerts/0/annotations", "[]",
       "alerts[0].annotations: must be an object"},
      {"/alerts/0/annotations/summary", "{}",
       "alerts[0].annotations.summary: must be a string"},
      {"/alerts/0/startsAt", "0", "alerts[0].startsAt: must be a string"},
      {"/alerts/0/endsAt", "false", "alerts[0].endsAt: must be a string"},
      {"/alerts/0/generatorURL", "1",
       "alerts[0].generatorURL: must be a string"},
      {"/alerts/1/fingerprint", "1234",
       "alerts[1].fingerprint: must be a "
       "string"},
  };
  for (const auto& c : cases) {
    std::string body = Mutated([&](rapidjson::Document& doc) {
      rapidjson::Document value(&doc.GetAllocator());
      value.Parse(c.value);
      ASSERT_FALSE(value.HasParseError()) << c.value;
      rapidjson::Pointer(c.pointer).Set(doc, value);
    });
    std::string error = ParseError(body);
    EXPECT_EQ(error.rfind(c.want, 0), 0u)
        << c.pointer << " = " << c.value << " -> " << error;
  }
}

TEST(NotificationParseTest, RejectsMissingRequiredFields) {
  struct Case {
    const char* pointer;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"/version", "version: missing"},
      {"/groupKey", "groupKey: missing"},
      {"/status", "status: missing"},
      {"/receiver", "receiver: missing"},
      {"/alerts", "alerts: missing"},
      {"/alerts/0/status", "alerts[0].status: missing"},
      {"/alerts/1/labels", "alerts[1].labels: missing"},
      {"/alerts/0/startsAt", "alerts[0].startsAt: missing"},
      {"/alerts/0/endsAt", "alerts[0].endsAt: missing"},
  };
  for (const auto& c : cases) {
    std::string body = Mutated([&](rapidjson::Document& doc) {
      ASSERT_TRUE(rapidjson::Pointer(c.pointer).Erase(doc)) << c.pointer;
    });
    std::string error = ParseError(body);
    EXPECT_EQ(error, c.want) << c.pointer;
  }
}

TEST(NotificationParseTest, OptionalFieldsMayBeAbsentOrNull) {
  for (const char* pointer :
       {"/externalURL", "/truncatedAlerts", "/groupLabels", "/commonLabels",
        "/commonAnnotations", "/alerts/0/annotations", "/alerts/0/generatorURL",
        "/alerts/0/fingerprint"}) {
    for (bool erase : {true, false}) {
      std::string body = Mutated([&](rapidjson::Document& doc) {
        if (erase) {
          rapidjson::Pointer(pointer).Erase(doc);
        } else {
          rapidjson::Pointer(pointer).Set(doc, rapidjson::Value());
        }
      });
      Notification n;
      std::string error;
      EXPECT_TRUE(ParseNotification(body, &n, &error))
          << pointer << (erase ? " erased: " : " null: ") << error;
    }
  }
}

TEST(NotificationParseTest, IgnoresUnknownExtraFields) {
  std::string body = Mutated([](rapidjson::Document& doc) {
    auto& a = doc.GetAllocator();
    rapidjson::Pointer("/orgId").Set(doc, 1);
    rapidjson::Pointer("/newField/nested/list/0").Set(doc, "x");
    rapidjson::Pointer("/alerts/0/silenceURL").Set(doc, "http://x");
    rapidjson::Pointer("/alerts/0/values/B").Set(doc, 44.2);
    rapidjson::Value arr(rapidjson::kArrayType);
    arr.PushBack(true, a);
    rapidjson::Pointer("/alerts/1/extra").Set(doc, arr);
  });
  Notification n;
  std::string error;
  ASSERT_TRUE(ParseNotification(body, &n, &error)) << error;
  EXPECT_EQ(n.alerts.size(), 2u);
  EXPECT_EQ(n.alerts[0].labels.count("silenceURL"), 0u);
}

TEST(NotificationParseTest, ReadsTruncatedAlertsCount) {
  std::string body = Mutated([](rapidjson::Document& doc) {
    rapidjson::Pointer("/truncatedAlerts").Set(doc, 17);
  });
  Notification n;
  std::string error;
  ASSERT_TRUE(ParseNotification(body, &n, &error)) << error;
  EXPECT_EQ(n.truncated_alerts, 17);
}

TEST(NotificationParseTest, RejectsBadTimestamps) {
  for (const char* bad : {"",
                          "yesterday",
                          "2024-05-01",
                          "2024-05-01T12:00:00",
                          "2024-05-01 12:00:00Z",
                          "2024-13-01T12:00:00Z",
                          "2024-02-30T12:00:00Z",
                          "2023-02-29T12:00:00Z",
                          "2024-05-01T24:00:00Z",
                          "2024-05-01T12:60:00Z",
                          "2024-05-01T12:00:60Z",
                          "2024-05-01T12:00:00.Z",
                          "2024-05-01T12:00:00.1234567890Z",
                          "2024-05-01T12:00:00+2:00",
                          "2024-05-01T12:00:00+02:60",
                          "2024-05-01T12:00:00Z ",
                          "1969-12-31T23:59:59Z",
                          "9999-12-31T23:59:59Z",
                          "0001-01-01T00:00:01Z",
                          "+2024-05-01T12:00:00Z",
                          "2024-5-01T12:00:00Z"}) {
    std::string body = Mutated([&](rapidjson::Document& doc) {
      rapidjson::Pointer("/alerts/1/endsAt").Set(doc, bad);
    });
    std::string error = ParseError(body);
    EXPECT_EQ(error.rfind("alerts[1].endsAt: not an RFC 3339 timestamp", 0), 0u)
        << bad << " -> " << error;
  }
}

TEST(NotificationParseTest, RefusesTooManyAlerts) {
  Notification n;
  std::string error;
  EXPECT_TRUE(ParseNotification(PayloadWithAlerts(kMaxAlerts), &n, &error))
      << error;
  EXPECT_EQ(n.alerts.size(), kMaxAlerts);
  std::string body = PayloadWithAlerts(2000);
  ASSERT_LT(body.size(), kMaxNotificationBytes);
  EXPECT_EQ(ParseError(body), "alerts: more than 1000 alerts (2000)");
}

TEST(NotificationParseTest, RefusesOversizedBodies) {
  std::string body = Mutated([](rapidjson::Document& doc) {
    rapidjson::Pointer("/alerts/0/labels/big")
        .Set(doc, std::string(1 << 20, 'x'));
  });
  ASSERT_GT(body.size(), kMaxNotificationBytes);
  EXPECT_EQ(ParseError(body), "body: larger than 1048576 bytes");
  // Exactly at the limit is not "too large" (whitespace pads it).
  std::string padded = ReadTestdata("firing.json");
  padded += std::string(kMaxNotificationBytes - padded.size(), ' ');
  Notification n;
  std::string error;
  EXPECT_TRUE(ParseNotification(padded, &n, &error)) << error;
}

TEST(NotificationParseTest, BoundsLabelsAndAnnotations) {
  struct Case {
    std::function<void(rapidjson::Document&)> mutate;
    std::string want;
  };
  const std::vector<Case> cases = {
      {[](rapidjson::Document& d) {
         rapidjson::Pointer("/alerts/0/labels/site")
             .Set(d, std::string(kMaxLabelValueBytes + 1, 'x'));
       },
       "alerts[0].labels.site: longer than 4096 bytes"},
      {[](rapidjson::Document& d) {
         rapidjson::Pointer("/alerts/0/annotations/summary")
             .Set(d, std::string(kMaxAnnotationValueBytes + 1, 'x'));
       },
       "alerts[0].annotations.summary: longer than 16384 bytes"},
      {[](rapidjson::Document& d) {
         for (int i = 0; i < 130; ++i) {
           rapidjson::Pointer(
               ("/alerts/1/labels/l" + std::to_string(i)).c_str())
               .Set(d, "v");
         }
       },
       "alerts[1].labels: more than 128 entries"},
      {[](rapidjson::Document& d) {
         auto& a = d.GetAllocator();
         std::string name(kMaxLabelNameBytes + 1, 'n');
         d["alerts"][0]["labels"].AddMember(rapidjson::Value(name.c_str(), a),
                                            rapidjson::Value("v"), a);
       },
       "alerts[0].labels: name \"" + std::string(64, 'n') +
           "...\" longer than 256 bytes"},
      {[](rapidjson::Document& d) {
         auto& a = d.GetAllocator();
         d["alerts"][0]["labels"].AddMember(rapidjson::Value(""),
                                            rapidjson::Value("v"), a);
       },
       "alerts[0].labels: empty name"},
      {[](rapidjson::Document& d) {
         rapidjson::Pointer("/groupKey")
             .Set(d, std::string(kMaxFieldBytes + 1, 'k'));
       },
       "groupKey: longer than 16384 bytes"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseError(Mutated(c.mutate)), c.want);
  }
  // At the limits: accepted.
  std::string body = Mutated([](rapidjson::Document& d) {
    rapidjson::Pointer("/alerts/0/labels/site")
        .Set(d, std::string(kMaxLabelValueBytes, 'x'));
  });
  Notification n;
  std::string error;
  EXPECT_TRUE(ParseNotification(body, &n, &error)) << error;
}

TEST(NotificationParseTest, RefusesNulBytes) {
  std::string good = ReadTestdata("firing.json");
  EXPECT_EQ(ParseError(good + std::string(1, '\0') + "garbage"),
            "body: holds a NUL byte");
  std::string inside = good;
  inside.insert(inside.find("us-east") + 2, 1, '\0');
  EXPECT_EQ(ParseError(inside), "body: holds a NUL byte");
  EXPECT_EQ(ParseError(std::string(1, '\0')), "body: holds a NUL byte");
}

TEST(NotificationParseTest, EscapedNulInAValueIsKeptVerbatim) {
  // Valid JSON: the value is length-delimited, so nothing is cut at the NUL.
  std::string body = ReadTestdata("firing.json");
  body.replace(body.find("\"severity\": \"critical\""),
               std::string("\"severity\": \"critical\"").size(),
               "\"severity\": \"cri\\u0000tical\"");
  Notification n;
  std::string error;
  ASSERT_TRUE(ParseNotification(body, &n, &error)) << error;
  EXPECT_EQ(n.alerts[0].labels.at("severity"), std::string("cri\0tical", 9));
}

TEST(NotificationParseTest, RefusesDeepNesting) {
  std::string deep = std::string(10000, '[') + std::string(10000, ']');
  std::string body = R"({"version":"4","x":)" + deep + "}";
  EXPECT_EQ(ParseError(body), "body: nested deeper than 32 levels");
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(10000, '}');
  EXPECT_EQ(ParseError(objects), "body: nested deeper than 32 levels");
  // Unterminated, too: the limit trips before the end of the input.
  EXPECT_EQ(ParseError(std::string(10000, '[')),
            "body: nested deeper than 32 levels");
}

TEST(NotificationParseTest, RefusesInvalidUtf8) {
  std::string body = ReadTestdata("firing.json");
  body.replace(body.find("Site us-east is down"), 4, "\xff\xfe\xc3\x28");
  std::string error = ParseError(body);
  EXPECT_EQ(error.rfind("body: invalid JSON at offset", 0), 0u) << error;
  EXPECT_NE(error.find("encoding"), std::string::npos) << error;
  // Valid multi-byte UTF-8 is fine.
  std::string ok = ReadTestdata("firing.json");
  ok.replace(ok.find("Site us-east is down"), 4, "Zürich ☃");
  Notification n;
  ASSERT_TRUE(ParseNotification(ok, &n, &error)) << error;
  EXPECT_EQ(n.alerts[0].summary, "Zürich ☃ us-east is down");
}

TEST(NotificationParseTest, RefusesDuplicateKeys) {
  std::string body = ReadTestdata("firing.json");
  std::string dup = body;
  dup.replace(dup.find("\"site\": \"us-east\""), 17,
              "\"site\": \"us-east\", \"site\": \"eu-central\"");
  EXPECT_EQ(ParseError(dup), "alerts[0].labels: duplicate key \"site\"");
  std::string dup_root = body;
  dup_root.replace(dup_root.find("\"version\": \"4\""), 14,
                   "\"version\": \"4\", \"version\": \"3\"");
  EXPECT_EQ(ParseError(dup_root), "body: duplicate key \"version\"");
  std::string dup_alert = body;
  dup_alert.replace(dup_alert.find("\"status\": \"firing\",\n      \"labels\""),
                    19, "\"status\": \"firing\", \"status\": \"resolved\",");
  EXPECT_EQ(ParseError(dup_alert), "alerts[0]: duplicate key \"status\"");
}

TEST(NotificationParseTest, QuotesHostileKeysSafely) {
  std::string body = Mutated([](rapidjson::Document& d) {
    auto& a = d.GetAllocator();
    std::string name = "evil\n\x1b[31m\"key\\" + std::string(100, 'k');
    d["alerts"][0]["labels"].AddMember(rapidjson::Value(name.c_str(), a),
                                       rapidjson::Value(1), a);
  });
  std::string error = ParseError(body);
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_EQ(error.find('\x1b'), std::string::npos);
  EXPECT_EQ(error.rfind("alerts[0].labels.evil\\x0a\\x1b[31m\\x22key\\x5c", 0),
            0u)
      << error;
  EXPECT_LT(error.size(), 160u);
}

TEST(NotificationParseTest, FailureLeavesNoPartialAlerts) {
  Notification n;
  std::string error;
  ASSERT_TRUE(ParseNotification(ReadTestdata("firing.json"), &n, &error));
  std::string bad = Mutated([](rapidjson::Document& d) {
    rapidjson::Pointer("/alerts/1/status").Set(d, "pending");
  });
  EXPECT_FALSE(ParseNotification(bad, &n, &error));
  EXPECT_TRUE(n.alerts.empty());
  EXPECT_TRUE(n.receiver.empty());
}

// ------------------------------------------------------------ RFC 3339

TEST(AlertmanagerTimeTest, ParsesGoFormats) {
  const TimePoint noon = At(sys_days{2024y / 5 / 1}, 12h);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00Z"), noon);
  EXPECT_EQ(ParseRfc3339("2024-05-01t12:00:00z"), noon);
  EXPECT_EQ(ParseRfc3339("2024-05-01T14:00:00+02:00"), noon);
  EXPECT_EQ(ParseRfc3339("2024-05-01T07:30:00-04:30"), noon);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00+00:00"), noon);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00.5Z"), noon + 500ms);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00.000000001Z"), noon + 1ns);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00.123456789Z"), noon + 123456789ns);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"),
            At(sys_days{2024y / 2 / 29}, 0s));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), TimePoint{});
  EXPECT_EQ(ParseRfc3339("2000-01-01T00:30:00+01:00"),
            At(sys_days{1999y / 12 / 31}, 23h + 30min));
}

TEST(AlertmanagerTimeTest, GoZeroTimeIsNoTime) {
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00Z"), TimePoint{});
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00.000Z"), TimePoint{});
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00+00:00"), TimePoint{});
  EXPECT_FALSE(ParseRfc3339("0001-01-01T00:00:00+01:00"));
  EXPECT_EQ(FormatRfc3339(TimePoint{}), "0001-01-01T00:00:00Z");
}

TEST(AlertmanagerTimeTest, FormatsLikeRfc3339Nano) {
  const TimePoint noon = At(sys_days{2024y / 5 / 1}, 12h);
  EXPECT_EQ(FormatRfc3339(noon), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatRfc3339(noon + 500ms), "2024-05-01T12:00:00.5Z");
  EXPECT_EQ(FormatRfc3339(noon + 1ns), "2024-05-01T12:00:00.000000001Z");
  EXPECT_EQ(FormatRfc3339(noon + 123456789ns),
            "2024-05-01T12:00:00.123456789Z");
  EXPECT_EQ(FormatRfc3339(At(sys_days{2261y / 12 / 31}, 23h + 59min + 59s)),
            "2261-12-31T23:59:59Z");
}

TEST(AlertmanagerTimeTest, RoundTrips) {
  for (const char* s :
       {"2024-05-01T12:00:03.123456789Z", "2024-05-01T12:00:03.1Z",
        "1970-01-01T00:00:00.000000001Z", "2038-01-19T03:14:08Z",
        "2100-03-01T00:00:00Z", "0001-01-01T00:00:00Z"}) {
    auto t = ParseRfc3339(s);
    ASSERT_TRUE(t) << s;
    EXPECT_EQ(FormatRfc3339(*t), s);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(*t)), t);
  }
}

}  // namespace
}  // namespace drf::actuator
