#include "core/util/env_value.h"

#include <gtest/gtest.h>

#include <string>

namespace drf {
namespace {

using namespace std::string_literals;

TEST(EnvValueTest, OneLineValuesWithAtMostOneKindOfQuoteMayBeWritten) {
  for (const std::string& v :
       {""s, "plain"s, "it's"s, "`date`"s, "$HOME \"x\" \\ # ;"s, "\t"s}) {
    EXPECT_EQ(CheckEnvValue(v), EnvValueProblem::kNone) << v;
  }
  EXPECT_EQ(EnvValueProblemText(EnvValueProblem::kNone), "");
}

TEST(EnvValueTest, ALineBreakOrNulIsRefused) {
  for (const std::string& v :
       {"a\nb"s, "a\rb"s, "a\0b"s, "\n"s, "it's\n`x`"s}) {
    EXPECT_EQ(CheckEnvValue(v), EnvValueProblem::kMultiLine) << v;
  }
  EXPECT_EQ(EnvValueProblemText(EnvValueProblem::kMultiLine),
            "must be a single line");
}

TEST(EnvValueTest, BothQuoteAndBacktickIsRefused) {
  EXPECT_EQ(CheckEnvValue("it's `date`"), EnvValueProblem::kBothQuotes);
  EXPECT_EQ(EnvValueProblemText(EnvValueProblem::kBothQuotes),
            "must not hold both ' and `");
}

}  // namespace
}  // namespace drf
