#include "core/util/secret.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

namespace drf {
namespace {

TEST(SecretTest, ConstantTimeEqualsComparesWholeSecrets) {
  EXPECT_TRUE(ConstantTimeEquals("s3cret", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("s3cre", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("s3cretX", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("S3cret", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("", "s3cret"));
  // An empty expected secret never matches: a missing token is no token.
  EXPECT_FALSE(ConstantTimeEquals("", ""));
}

TEST(SecretTest, BearerToken) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(SecretTest, LoadSecretFromFileOrEnvironmentNeverEchoesIt) {
  char path[] = "/tmp/dr-secret-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "tok-123\n";
  EXPECT_EQ(LoadSecret(path, "t.token_file", "DRF_TEST_SECRET", "test token"),
            "tok-123");
  setenv("DRF_TEST_SECRET", "from-env", 1);
  EXPECT_EQ(LoadSecret("", "t.token_file", "DRF_TEST_SECRET", "test token"),
            "from-env");
  setenv("DRF_TEST_SECRET", "bad token", 1);
  try {
    LoadSecret("", "t.token_file", "DRF_TEST_SECRET", "test token");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find("bad token"), std::string::npos);
  }
  unsetenv("DRF_TEST_SECRET");
  EXPECT_THROW(LoadSecret("", "t.token_file", "DRF_TEST_SECRET", "test token"),
               std::runtime_error);
  std::ofstream(path) << "\n";
  EXPECT_THROW(
      LoadSecret(path, "t.token_file", "DRF_TEST_SECRET", "test token"),
      std::runtime_error);
  unlink(path);
  EXPECT_THROW(
      LoadSecret(path, "t.token_file", "DRF_TEST_SECRET", "test token"),
      std::runtime_error);
}

}  // namespace
}  // namespace drf
