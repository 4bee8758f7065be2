#include "core/json/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

namespace drf::json {
namespace {

using rapidjson::Document;

std::optional<ParseError> ParseWith(const std::string& body,
                                    const Limits& limits = {}) {
  Document doc;
  return Parse(body, limits, &doc);
}

// The document of a body that must parse.
Document Doc(const std::string& body) {
  Document doc;
  std::optional<ParseError> err = Parse(body, {}, &doc);
  EXPECT_FALSE(err) << body << " -> " << err->message;
  return doc;
}

TEST(JsonParseTest, AcceptsOneValue) {
  Document doc;
  ASSERT_FALSE(Parse(R"({"a": [1, "x", true, null, 1.5]})", {}, &doc));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["a"].Size(), 5u);
  ASSERT_FALSE(Parse("42", {}, &doc));
  EXPECT_EQ(doc.GetInt(), 42);
}

TEST(JsonParseTest, MalformedNamesTheOffset) {
  std::optional<ParseError> err = ParseWith("{'a': 1}");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->failure, ParseFailure::kSyntax);
  EXPECT_EQ(err->offset, 1u);
  EXPECT_EQ(err->message,
            "invalid JSON at offset 1: Missing a name for object member.");
  for (const char* body : {"{\"a\": NaN}", "{\"a\": 1,}", "[1 2]", "   "}) {
    err = ParseWith(body);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->failure, ParseFailure::kSyntax) << body;
    EXPECT_EQ(err->message.rfind("invalid JSON at offset ", 0), 0u) << body;
  }
}

TEST(JsonParseTest, TruncatedIsRefused) {
  const std::string whole = R"({"alerts": [{"labels": {"site": "a"}}]})";
  for (std::size_t n = 1; n < whole.size(); ++n) {
    std::optional<ParseError> err = ParseWith(whole.substr(0, n));
    ASSERT_TRUE(err) << n;
    EXPECT_EQ(err->failure, ParseFailure::kSyntax) << n;
  }
}

TEST(JsonParseTest, TrailingContentIsRefused) {
  for (const char* body : {"{} {}", "{}x", "1 2", "{}}"}) {
    std::optional<ParseError> err = ParseWith(body);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->failure, ParseFailure::kSyntax) << body;
  }
  EXPECT_FALSE(ParseWith("{} \n\t"));
}

TEST(JsonParseTest, EmptyIsItsOwnFailure) {
  std::optional<ParseError> err = ParseWith("");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->failure, ParseFailure::kEmpty);
  EXPECT_EQ(err->message, "empty");
  // As rapidjson reports it, for callers that treat it as a syntax error.
  EXPECT_EQ(err->code, rapidjson::kParseErrorDocumentEmpty);
  EXPECT_EQ(err->offset, 0u);
}

TEST(JsonParseTest, TooDeepIsRefusedWithoutOverflowingTheStack) {
  constexpr std::size_t kDepth = 100000;
  for (const std::string& body :
       {std::string(kDepth, '['),
        std::string(kDepth, '[') + std::string(kDepth, ']')}) {
    std::optional<ParseError> err = ParseWith(body);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->failure, ParseFailure::kTooDeep);
    EXPECT_EQ(err->limit, 32u);
    EXPECT_EQ(err->message, "nested deeper than 32 levels");
  }
  std::string objects;
  for (std::size_t i = 0; i < kDepth; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kDepth, '}');
  std::optional<ParseError> err = ParseWith(objects, {.max_bytes = 1 << 24});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->failure, ParseFailure::kTooDeep);
}

TEST(JsonParseTest, DepthLimitIsInclusive) {
  const Limits limits{.max_depth = 3};
  EXPECT_FALSE(ParseWith("[[[1]]]", limits));
  EXPECT_FALSE(ParseWith(R"({"a": {"b": [1]}})", limits));
  std::optional<ParseError> err = ParseWith("[[[[1]]]]", limits);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message, "nested deeper than 3 levels");
}

TEST(JsonParseTest, UnlimitedDepthStillNeverRecurses) {
  constexpr std::size_t kDepth = 100000;
  const Limits limits{.max_depth = std::numeric_limits<std::size_t>::max()};
  EXPECT_FALSE(
      ParseWith(std::string(kDepth, '[') + std::string(kDepth, ']'), limits));
}

TEST(JsonParseTest, OversizedIsRefusedBeforeParsing) {
  std::string body = "\"" + std::string(100, 'x') + "\"";
  std::optional<ParseError> err = ParseWith(body, {.max_bytes = 101});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->failure, ParseFailure::kTooLarge);
  EXPECT_EQ(err->limit, 101u);
  EXPECT_EQ(err->message, "larger than 101 bytes");
  EXPECT_FALSE(ParseWith(body, {.max_bytes = 102}));
}

TEST(JsonParseTest, TooManyValuesIsRefused) {
  std::optional<ParseError> err = ParseWith("[1, 2, 3, 4]", {.max_values = 4});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->failure, ParseFailure::kTooManyValues);
  EXPECT_EQ(err->message, "holds more than 4 values");
  // The array itself is one of them; keys count too.
  EXPECT_FALSE(ParseWith("[1, 2, 3]", {.max_values = 4}));
  EXPECT_TRUE(ParseWith(R"({"a": 1, "b": 2})", {.max_values = 4}));
}

TEST(JsonParseTest, NulByteIsRefusedWherever) {
  using namespace std::string_literals;
  for (const std::string& body :
       {"{}\0garbage"s, "{\"a\": \"x\0y\"}"s, "\0"s}) {
    std::optional<ParseError> err = ParseWith(body);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->failure, ParseFailure::kNulByte);
    EXPECT_EQ(err->message, "holds a NUL byte");
  }
  // An escaped NUL is valid JSON.
  EXPECT_FALSE(ParseWith(R"({"a": "x\u0000y"})"));
}

TEST(JsonParseTest, InvalidUtf8IsRefused) {
  for (const char* body : {"\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"",
                           "{\"\xc0\xaf\": 1}", "\"\xe2\x82\""}) {
    std::optional<ParseError> err = ParseWith(body);
    ASSERT_TRUE(err) << body;
    EXPECT_EQ(err->failure, ParseFailure::kSyntax);
    EXPECT_EQ(err->code, rapidjson::kParseErrorStringInvalidEncoding);
  }
  EXPECT_FALSE(
      ParseWith("\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\""));
}

TEST(JsonParseTest, ALoneSurrogateEscapeIsRefused) {
  rapidjson::Document d;
  // Found by fuzzing: a Linode record target that could not be written back.
  auto e = Parse(R"({"target": "192.0.2.1\udeef"})", {}, &d);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, ParseFailure::kSyntax);
  EXPECT_NE(e->message.find("lone surrogate"), std::string::npos) << e->message;
  EXPECT_TRUE(Parse(R"({"k\ud800": 1})", {}, &d));  // in a key too
  // A pair is one code point: fine.
  EXPECT_FALSE(Parse(R"({"s": "\ud83d\ude00"})", {}, &d));
  EXPECT_EQ(std::string(d["s"].GetString()), "\xF0\x9F\x98\x80");
}

TEST(JsonPathTest, JoinAndIndex) {
  EXPECT_EQ(Join("", "alerts"), "alerts");
  EXPECT_EQ(Join(Index("alerts", 3), "labels"), "alerts[3].labels");
  EXPECT_EQ(Index("", 0), "[0]");
}

TEST(JsonPrintableTest, EscapesAndShortens) {
  EXPECT_EQ(Printable("site"), "site");
  EXPECT_EQ(Printable("a\"b\\c\n\xff"), "a\\x22b\\x5cc\\x0a\\xff");
  EXPECT_EQ(Printable(std::string(100, 'k')), std::string(64, 'k') + "...");
  EXPECT_EQ(Printable("abcdef", 3), "abc...");
}

TEST(JsonReaderTest, WrongTypesNameTheFieldPath) {
  Document doc = Doc(R"({"alerts": [{"labels": {"site": 1}}, 7]})");
  Reader r;
  const rapidjson::Value* alerts = r.Array(doc, "", "alerts", Need::kRequired);
  ASSERT_NE(alerts, nullptr);
  std::string path = Join(Index("alerts", 0), "labels");
  const rapidjson::Value* labels =
      r.Object((*alerts)[0], Index("alerts", 0), "labels", Need::kRequired);
  ASSERT_NE(labels, nullptr);
  std::string site;
  EXPECT_FALSE(r.String(*labels, path, "site", Need::kRequired, &site));
  EXPECT_EQ(r.error(), "alerts[0].labels.site: must be a string");
}

TEST(JsonReaderTest, EveryTypeCheckSaysWhatWasExpected) {
  Document doc = Doc(R"({"s": 1, "i": "1", "b": 0, "o": [], "a": {}})");
  struct Case {
    std::function<bool(Reader&)> read;
    const char* must_be;
    const char* expected;
  };
  std::string s;
  std::int64_t i = 0;
  bool b = false;
  const Case cases[] = {
      {[&](Reader& r) { return r.String(doc, "", "s", Need::kRequired, &s); },
       "s: must be a string", "s: expected a string"},
      {[&](Reader& r) {
         return r.Int(doc, "", "i", Need::kRequired, 0, 9, &i);
       },
       "i: must be an integer in [0, 9]", "i: expected an integer in [0, 9]"},
      {[&](Reader& r) { return r.Bool(doc, "", "b", Need::kRequired, &b); },
       "b: must be a boolean", "b: expected a boolean"},
      {[&](Reader& r) {
         return r.Object(doc, "", "o", Need::kRequired) != nullptr;
       },
       "o: must be an object", "o: expected an object"},
      {[&](Reader& r) {
         return r.Array(doc, "", "a", Need::kRequired) != nullptr;
       },
       "a: must be an array", "a: expected an array"},
  };
  for (const Case& c : cases) {
    Reader must_be;
    EXPECT_FALSE(c.read(must_be));
    EXPECT_EQ(must_be.error(), c.must_be);
    Reader expected({.wording = Wording::kExpected});
    EXPECT_FALSE(c.read(expected));
    EXPECT_EQ(expected.error(), c.expected);
  }
}

TEST(JsonReaderTest, IntegerOutOfRangeOrNotIntegral) {
  Document doc = Doc(R"({"a": 10, "b": -1, "c": 1.5, "d": 5})");
  std::int64_t v = 42;
  for (const char* name : {"a", "b", "c"}) {
    Reader r;
    EXPECT_FALSE(r.Int(doc, "x", name, Need::kRequired, 0, 9, &v));
    EXPECT_EQ(r.error(),
              std::string("x.") + name + ": must be an integer in [0, 9]");
  }
  EXPECT_EQ(v, 42);
  Reader r;
  EXPECT_TRUE(r.Int(doc, "x", "d", Need::kRequired, 0, 9, &v));
  EXPECT_EQ(v, 5);
}

TEST(JsonReaderTest, MissingAndOptional) {
  Document doc = Doc(R"({"n": null})");
  std::string s = "kept";
  Reader r;
  EXPECT_TRUE(r.String(doc, "", "absent", Need::kOptional, &s));
  EXPECT_EQ(s, "kept");
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.String(doc, "", "absent", Need::kRequired, &s));
  EXPECT_EQ(r.error(), "absent: missing");

  // null is a value of the wrong type, unless the reader is told otherwise.
  Reader strict;
  EXPECT_FALSE(strict.String(doc, "root", "n", Need::kOptional, &s));
  EXPECT_EQ(strict.error(), "root.n: must be a string");
  Reader lenient({.null_is_absent = true});
  EXPECT_TRUE(lenient.String(doc, "root", "n", Need::kOptional, &s));
  EXPECT_FALSE(lenient.String(doc, "root", "n", Need::kRequired, &s));
  EXPECT_EQ(lenient.error(), "root.n: missing");
}

TEST(JsonReaderTest, StringLongerThanTheLimit) {
  Document doc = Doc(R"({"s": "abcd"})");
  std::string s;
  Reader r;
  EXPECT_TRUE(r.String(doc, "", "s", Need::kRequired, &s, 4));
  EXPECT_EQ(s, "abcd");
  EXPECT_FALSE(r.String(doc, "", "s", Need::kRequired, &s, 3));
  EXPECT_EQ(r.error(), "s: longer than 3 bytes");
}

TEST(JsonReaderTest, DuplicateKeysAreRefused) {
  Document doc = Doc(R"({"site": "a", "x": {"k": 1, "k": 2}, "site": "b"})");
  Reader r;
  EXPECT_FALSE(r.NoDuplicateKeys(doc, "body"));
  EXPECT_EQ(r.error(), "body: duplicate key \"site\"");
  Reader nested;
  EXPECT_FALSE(nested.NoDuplicateKeys(doc["x"], "x"));
  EXPECT_EQ(nested.error(), "x: duplicate key \"k\"");
  Reader quoted;
  Document odd = Doc("{\"a\\nb\": 1, \"a\\nb\": 2}");
  EXPECT_FALSE(quoted.NoDuplicateKeys(odd, "o"));
  EXPECT_EQ(quoted.error(), "o: duplicate key \"a\\x0ab\"");
}

TEST(JsonReaderTest, FirstErrorWinsAndLaterReadsChangeNothing) {
  Document doc = Doc(R"({"a": 1, "b": "x"})");
  Reader r;
  std::string s = "kept";
  EXPECT_FALSE(r.String(doc, "", "a", Need::kRequired, &s));
  EXPECT_FALSE(r.String(doc, "", "b", Need::kRequired, &s));
  EXPECT_EQ(s, "kept");
  EXPECT_EQ(r.Member(doc, "", "b", Need::kRequired), nullptr);
  EXPECT_FALSE(r.Fail("c", "later"));
  EXPECT_EQ(r.error(), "a: must be a string");
}

TEST(JsonReaderTest, RootErrorsHaveNoPrefix) {
  Document doc = Doc("[]");
  Reader r;
  EXPECT_EQ(r.Member(doc, "", "a", Need::kRequired), nullptr);
  EXPECT_EQ(r.error(), "must be an object");
  EXPECT_TRUE(Reader().error().empty());
}

}  // namespace
}  // namespace drf::json
