#include "actuator/ssh/env_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace drf::ssh {
namespace {

const EnvPairs kRegion = {{"AWS_REGION", "eu-west-1"}};

std::string Rewrite(std::string_view content, const EnvPairs& env = kRegion) {
  return RewriteEnv(content, env);
}

// ------------------------------------------------------------ replace

TEST(RewriteEnvTest, ReplacesTheValueAndKeepsEverythingElse) {
  const std::string in =
      "# Application settings\n"
      "APP_NAME=shop\n"
      "\n"
      "# where DynamoDB lives\n"
      "AWS_REGION=us-east-1\n"
      "DB_TABLE=user_profiles\n";
  EXPECT_EQ(Rewrite(in),
            "# Application settings\n"
            "APP_NAME=shop\n"
            "\n"
            "# where DynamoDB lives\n"
            "AWS_REGION=eu-west-1\n"
            "DB_TABLE=user_profiles\n");
}

TEST(RewriteEnvTest, SameValueLeavesTheTextByteIdentical) {
  const std::string in =
      "# c\r\nAPP=1\r\n  export   AWS_REGION = eu-west-1   # region\r\nX=\"y\"";
  EXPECT_EQ(Rewrite(in), in);
}

TEST(RewriteEnvTest, SecondRewriteChangesNothing) {
  const std::string once = Rewrite("A=1\nAWS_REGION=us-east-1\nB=2");
  EXPECT_EQ(Rewrite(once), once);
  const EnvPairs hostile = {{"K", "a b $(x) `y` \"z\" 'w' \\ #"}};
  const std::string h = RewriteEnv("K=old\n", hostile);
  EXPECT_EQ(RewriteEnv(h, hostile), h);
}

TEST(RewriteEnvTest, AcceptsEquivalentQuotingOfTheSameValue) {
  for (std::string line :
       {"AWS_REGION='eu-west-1'\n", "AWS_REGION=\"eu-west-1\"\n",
        "AWS_REGION=eu-west-1\n"}) {
    EXPECT_EQ(Rewrite(line), line) << line;
  }
}

TEST(RewriteEnvTest, RewritesADoubleQuotedValueThatWouldExpand) {
  // "$X" is not the literal text $X for a dotenv loader or a shell.
  const EnvPairs env = {{"K", "$X"}};
  EXPECT_EQ(RewriteEnv("K=\"$X\"\n", env), "K='$X'\n");
}

TEST(RewriteEnvTest, KeepsExportPrefixAndSpacing) {
  EXPECT_EQ(Rewrite("export AWS_REGION=us-east-1\n"),
            "export AWS_REGION=eu-west-1\n");
  EXPECT_EQ(Rewrite("\texport\tAWS_REGION = 'us-east-1'\n"),
            "\texport\tAWS_REGION = eu-west-1\n");
}

TEST(RewriteEnvTest, KeepsAnInlineComment) {
  EXPECT_EQ(Rewrite("AWS_REGION=us-east-1  # set by dr-failover\n"),
            "AWS_REGION=eu-west-1  # set by dr-failover\n");
  EXPECT_EQ(Rewrite("AWS_REGION='us east' # c\n"),
            "AWS_REGION=eu-west-1 # c\n");
}

TEST(RewriteEnvTest, ReplacesAnEmptyValue) {
  EXPECT_EQ(Rewrite("AWS_REGION=\n"), "AWS_REGION=eu-west-1\n");
  EXPECT_EQ(Rewrite("AWS_REGION= # none yet\n"),
            "AWS_REGION= eu-west-1 # none yet\n");
  EXPECT_EQ(Rewrite("AWS_REGION=''\n"), "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, WritesAnEmptyValueBare) {
  const EnvPairs env = {{"K", ""}};
  EXPECT_EQ(RewriteEnv("K=x\n", env), "K=\n");
  EXPECT_EQ(RewriteEnv("K=\n", env), "K=\n");
  EXPECT_EQ(RewriteEnv("K=''\n", env), "K=''\n");
  EXPECT_EQ(RewriteEnv("", env), "K=\n");
}

TEST(RewriteEnvTest, DropsGarbageAfterAClosingQuote) {
  EXPECT_EQ(Rewrite("AWS_REGION=\"us\"east\n"), "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, KeysAreCaseSensitiveAndWhole) {
  const std::string in =
      "aws_region=x\nAWS_REGION_OLD=x\nMY_AWS_REGION=x\nAWS_REGION=x\n";
  EXPECT_EQ(Rewrite(in),
            "aws_region=x\nAWS_REGION_OLD=x\nMY_AWS_REGION=x\n"
            "AWS_REGION=eu-west-1\n");
}

// ------------------------------------------------------------ duplicates

TEST(RewriteEnvTest, RemovesLaterDuplicatesOfTheKey) {
  // What the seed article's appends leave behind.
  const std::string in =
      "AWS_REGION=us-east-1\nAPP=1\nAWS_REGION=eu-west-1\n"
      "AWS_REGION=us-east-1\n";
  EXPECT_EQ(Rewrite(in), "AWS_REGION=eu-west-1\nAPP=1\n");
  EXPECT_EQ(Rewrite(Rewrite(in)), "AWS_REGION=eu-west-1\nAPP=1\n");
}

TEST(RewriteEnvTest, RemovesADuplicateWithoutTrailingNewline) {
  EXPECT_EQ(Rewrite("AWS_REGION=a\nB=1\nexport AWS_REGION=b"),
            "AWS_REGION=eu-west-1\nB=1\n");
}

TEST(RewriteEnvTest, DuplicatesMakeAnOtherwiseRightFileChange) {
  EXPECT_EQ(Rewrite("AWS_REGION=eu-west-1\nAWS_REGION=eu-west-1\n"),
            "AWS_REGION=eu-west-1\n");
}

// ------------------------------------------------------------ add

TEST(RewriteEnvTest, AppendsAMissingKey) {
  EXPECT_EQ(Rewrite("APP=1\n"), "APP=1\nAWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, AppendsAfterALastLineWithoutNewline) {
  EXPECT_EQ(Rewrite("APP=1"), "APP=1\nAWS_REGION=eu-west-1\n");
  EXPECT_EQ(Rewrite("# only a comment"),
            "# only a comment\nAWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, AppendsToAnEmptyFile) {
  EXPECT_EQ(Rewrite(""), "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, CommentedOutAssignmentIsNotTheKey) {
  EXPECT_EQ(Rewrite("# AWS_REGION=us-east-1\n  #AWS_REGION=x\n"),
            "# AWS_REGION=us-east-1\n  #AWS_REGION=x\nAWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, AppendsMissingKeysInConfigOrder) {
  const EnvPairs env = {{"Z", "1"}, {"A", "2"}, {"M", "3"}};
  EXPECT_EQ(RewriteEnv("A=0\n", env), "A=2\nZ=1\nM=3\n");
}

TEST(RewriteEnvTest, LaterPairForTheSameKeyWins) {
  const EnvPairs env = {{"K", "1"}, {"K", "2"}};
  EXPECT_EQ(RewriteEnv("", env), "K=2\n");
}

TEST(RewriteEnvTest, NoPairsChangeNothing) {
  EXPECT_EQ(RewriteEnv("A=1\nA=2\n", {}), "A=1\nA=2\n");
}

// ------------------------------------------------------------ line endings

TEST(RewriteEnvTest, KeepsCrlfAndAppendsCrlf) {
  EXPECT_EQ(Rewrite("# c\r\nAWS_REGION=us-east-1\r\nB=2\r\n"),
            "# c\r\nAWS_REGION=eu-west-1\r\nB=2\r\n");
  EXPECT_EQ(Rewrite("A=1\r\nB=2"), "A=1\r\nB=2\r\nAWS_REGION=eu-west-1\r\n");
  EXPECT_EQ(Rewrite("A=1\r\n"), "A=1\r\nAWS_REGION=eu-west-1\r\n");
}

TEST(RewriteEnvTest, MixedEndingsFollowTheFirstLine) {
  EXPECT_EQ(Rewrite("A=1\nB=2\r\n"), "A=1\nB=2\r\nAWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, KeepsAByteOrderMark) {
  EXPECT_EQ(Rewrite("\xEF\xBB\xBF"
                    "AWS_REGION=us-east-1\n"),
            "\xEF\xBB\xBF"
            "AWS_REGION=eu-west-1\n");
}

// ------------------------------------------------------------ multi-line

TEST(RewriteEnvTest, LinesInsideAnotherKeysMultilineValueAreNotKeys) {
  const std::string in =
      "CERT=\"-----BEGIN-----\n"
      "AWS_REGION=not-a-key-here\n"
      "-----END-----\"\n"
      "APP=1\n";
  EXPECT_EQ(Rewrite(in), in + "AWS_REGION=eu-west-1\n");
  const std::string single = "NOTE='line one\nAWS_REGION=inside\nline three'\n";
  EXPECT_EQ(Rewrite(single), single + "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, ReplacesAMultilineValueOfTheKeyWhole) {
  EXPECT_EQ(Rewrite("AWS_REGION=\"us\neast\" # c\nB=1\n"),
            "AWS_REGION=eu-west-1 # c\nB=1\n");
}

TEST(RewriteEnvTest, EscapedQuoteDoesNotEndADoubleQuotedValue) {
  const std::string in = "X=\"a \\\" \nAWS_REGION=inside\"\n";
  EXPECT_EQ(Rewrite(in), in + "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, UnclosedQuoteIsReadAsOneLine) {
  EXPECT_EQ(Rewrite("X=\"never closed\nAWS_REGION=us-east-1\n"),
            "X=\"never closed\nAWS_REGION=eu-west-1\n");
}

// ------------------------------------------------------------ odd lines

TEST(RewriteEnvTest, KeepsLinesThatAreNotAssignments) {
  const std::string in =
      "just text\n=novalue\n1BAD=x\nexport\nexport AWS_REGION\n"
      "AWS_REGION\n   \n\t\n";
  EXPECT_EQ(Rewrite(in), in + "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, KeepsOtherDotenvKeyStyles) {
  const std::string in = "spring.profile=x\nmy-key=y\n";
  EXPECT_EQ(Rewrite(in), in + "AWS_REGION=eu-west-1\n");
}

TEST(RewriteEnvTest, KeyNamedExport) {
  const EnvPairs env = {{"export", "1"}};
  EXPECT_EQ(RewriteEnv("export=0\n", env), "export=1\n");
}

// ------------------------------------------------------------ quoting

TEST(QuoteEnvValueTest, BareWhenNothingNeedsQuoting) {
  EXPECT_EQ(QuoteEnvValue("us-east-1"), "us-east-1");
  EXPECT_EQ(QuoteEnvValue("192.0.2.10"), "192.0.2.10");
  EXPECT_EQ(QuoteEnvValue("https://x.example/a_b?"),
            "'https://x.example/a_b?'");
  EXPECT_EQ(QuoteEnvValue("a=b,c+d@e%f:g/h"), "a=b,c+d@e%f:g/h");
  EXPECT_EQ(QuoteEnvValue(""), "");
}

TEST(QuoteEnvValueTest, SingleQuotesAnythingSpecial) {
  EXPECT_EQ(QuoteEnvValue("two words"), "'two words'");
  EXPECT_EQ(QuoteEnvValue("a#b"), "'a#b'");
  EXPECT_EQ(QuoteEnvValue("~/x"), "'~/x'");
  EXPECT_EQ(QuoteEnvValue("\"quoted\""), "'\"quoted\"'");
  EXPECT_EQ(QuoteEnvValue("caf\xC3\xA9"), "'caf\xC3\xA9'");
}

TEST(QuoteEnvValueTest, DoubleQuotesAValueWithASingleQuote) {
  EXPECT_EQ(QuoteEnvValue("it's"), "\"it's\"");
  EXPECT_EQ(QuoteEnvValue("it's $HOME \"x\" \\n"),
            "\"it's \\$HOME \\\"x\\\" \\\\n\"");
}

TEST(RewriteEnvTest, HostileValuesLandAsInertQuotedText) {
  const EnvPairs env = {
      {"A", "$(reboot)"}, {"B", "\"; rm -rf / #"},     {"C", "`reboot`"},
      {"D", "${PATH}"},   {"E", "x'; reboot; echo '"}, {"F", "a\\"},
  };
  EXPECT_EQ(RewriteEnv("", env),
            "A='$(reboot)'\n"
            "B='\"; rm -rf / #'\n"
            "C='`reboot`'\n"
            "D='${PATH}'\n"
            "E=\"x'; reboot; echo '\"\n"
            "F='a\\'\n");
}

// ------------------------------------------------------------ validation

TEST(ValidateEnvTest, RefusesLineBreaksAndNul) {
  EXPECT_TRUE(EnvValueIsSafe("anything $(x) `y` \"w\""));
  EXPECT_TRUE(EnvValueIsSafe("anything $(x) 'z' \"w\""));
  EXPECT_FALSE(EnvValueIsSafe("a\nB=evil"));
  EXPECT_FALSE(EnvValueIsSafe("a\rB=evil"));
  EXPECT_FALSE(EnvValueIsSafe(std::string("a\0b", 3)));
  EXPECT_EQ(ValidateEnv({{"K", "ok"}}), "");
  EXPECT_NE(ValidateEnv({{"K", "x\ny"}}), "");
  EXPECT_EQ(ValidateEnv({{"K", "x\nsecret"}}).find("secret"),
            std::string::npos);
  EXPECT_NE(ValidateEnv({{"1K", "x"}}), "");
}

TEST(ValidateEnvTest, RefusesAQuoteWithABacktick) {
  // No quoting keeps it literal for both phpdotenv and a shell: in double
  // quotes (needed for the ') the ` would run in a shell sourcing the file.
  EXPECT_FALSE(EnvValueIsSafe("it's `reboot`"));
  EXPECT_NE(ValidateEnv({{"K", "it's `reboot`"}}), "");
  EXPECT_EQ(ValidateEnv({{"K", "it's `reboot`"}}).find("reboot"),
            std::string::npos);
  EXPECT_EQ(RewriteEnv("K=old\n", {{"K", "it's `reboot`"}}), "K=old\n");
}

TEST(ValidateEnvTest, KeyNames) {
  EXPECT_TRUE(EnvKeyIsValid("AWS_REGION"));
  EXPECT_TRUE(EnvKeyIsValid("_x9"));
  EXPECT_FALSE(EnvKeyIsValid(""));
  EXPECT_FALSE(EnvKeyIsValid("9X"));
  EXPECT_FALSE(EnvKeyIsValid("A-B"));
  EXPECT_FALSE(EnvKeyIsValid("A B"));
  EXPECT_FALSE(EnvKeyIsValid("A=B"));
}

TEST(RewriteEnvTest, SkipsPairsThatWouldAddLines) {
  const EnvPairs env = {{"K", "x\nINJECTED=1"}, {"A-B", "1"}, {"OK", "1"}};
  EXPECT_EQ(RewriteEnv("K=old\n", env), "K=old\nOK=1\n");
}

// ------------------------------------------------------------ read back

TEST(ReadEnvValueTest, ReadsTheFirstAssignmentInEveryQuoting) {
  EXPECT_EQ(ReadEnvValue("A=1\nK=bare # c\nK=later\n", "K"), "bare");
  EXPECT_EQ(ReadEnvValue("export K = 'a $b \\ c'\n", "K"), "a $b \\ c");
  EXPECT_EQ(ReadEnvValue("K=\"it's \\$x \\\\ \\\" \\n\"", "K"),
            "it's $x \\ \" \\n");
  EXPECT_EQ(ReadEnvValue("K=", "K"), "");
  EXPECT_EQ(ReadEnvValue("# K=1\nKK=2\n", "K"), std::nullopt);
}

TEST(ReadEnvValueTest, SkipsAnotherKeysMultilineValue) {
  EXPECT_EQ(ReadEnvValue("A='x\nK=inside'\nK=real\n", "K"), "real");
}

TEST(ReadEnvValueTest, ReadsWhatRewriteEnvWrote) {
  for (const std::string value :
       {"", "eu-west-1", "a b", "$(x) `y`", "it's", "it's $HOME \\ \""}) {
    EXPECT_EQ(ReadEnvValue(RewriteEnv("K=old\n", {{"K", value}}), "K"), value)
        << value;
  }
}

// ------------------------------------------------------------ a real shell

// Sources the rewritten file in /bin/sh (the least forgiving reader: it runs
// whatever is not quoted) and reads each variable back. The hostile values
// only ever try to create marker files, never anything harmful.
class ShellSourcingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drf-envtest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The value of `key` after `. file` in sh, or "<error>".
  std::string Sourced(const std::string& file, const std::string& key) {
    const std::string out = dir_ + "/out";
    pid_t pid = fork();
    if (pid == 0) {
      const std::string script =
          "set -a; . \"$1\" || exit 9; eval \"printf %s \\\"\\$$2\\\"\" > "
          "\"$3\"";
      execl("/bin/sh", "sh", "-c", script.c_str(), "sh", file.c_str(),
            key.c_str(), out.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "<error>";
    std::ifstream in(out, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};

TEST_F(ShellSourcingTest, HostileValuesReadBackLiterallyAndRunNothing) {
  const std::string m = dir_ + "/pwned";
  const EnvPairs env = {
      {"SUBST", "$(touch " + m + "1)"},
      {"TICKS", "`touch " + m + "2`"},
      {"BREAKOUT", "\"; touch " + m + "3; echo \""},
      {"SQUOTE", "'; touch " + m + "4; echo '"},
      {"BOTH", "it's $(touch " + m + "5) \\ \"q\""},
      {"VAR", "${HOME} $HOME"},
      {"SEMI", "a; touch " + m + "6"},
      {"GLOB", "* ? [a]"},
      {"TILDE", "~"},
      {"EMPTY", ""},
  };
  const std::string file = dir_ + "/.env";
  {
    std::ofstream out(file, std::ios::binary);
    out << RewriteEnv("# app\nSUBST=old\n", env);
  }
  for (const auto& [key, value] : env) {
    EXPECT_EQ(Sourced(file, key), value) << key;
  }
  for (int i = 1; i <= 6; ++i) {
    EXPECT_FALSE(std::filesystem::exists(m + std::to_string(i))) << i;
  }
}

TEST(EnvFileTest, AQuoteNeverClosedIsFoundByLine) {
  EXPECT_EQ(UnterminatedQuoteLine(""), 0u);
  EXPECT_EQ(UnterminatedQuoteLine("A=1\nB='x'\nC=\"multi\nline\"\n"), 0u);
  EXPECT_EQ(UnterminatedQuoteLine("A=it's\n# \"\n"), 0u);  // not opening
  EXPECT_EQ(UnterminatedQuoteLine("A=1\nREGION=\"us# old\nK=x\n"), 2u);
  EXPECT_EQ(UnterminatedQuoteLine("A='never\n"), 1u);
}

// Found by fuzzing: a value written in double quotes after a quote that is
// never closed closes it, and its assignment disappears into the other
// key's value. Such a file is refused (UnterminatedQuoteLine) before any
// rewrite; this shows why.
TEST(EnvFileTest, WhyAFileWithAQuoteNeverClosedIsRefused) {
  const std::string content = "_REGION=\"us# old\nK=x\n";
  ASSERT_EQ(UnterminatedQuoteLine(content), 1u);
  const std::string out = RewriteEnv(content, {{"K", "it's"}});
  EXPECT_NE(ReadEnvValue(out, "K"), std::optional<std::string>("it's"));
}

}  // namespace
}  // namespace drf::ssh
