#include "core/util/secret.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace drf {

bool ConstantTimeEquals(std::string_view presented, std::string_view expected) {
  // Walk the expected secret whole whatever was presented; fold the length
  // difference into the result instead of returning early.
  volatile unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    unsigned char p =
        i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff = static_cast<unsigned char>(
        diff | (p ^ static_cast<unsigned char>(expected[i])));
  }
  return diff == 0 && !expected.empty();
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.size() <= kPrefix.size()) return {};
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kPrefix[i]))) {
      return {};
    }
  }
  return authorization.substr(kPrefix.size());
}

std::string LoadSecret(const std::string& file, const char* env,
                       const std::string& what) {
  std::string secret;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      throw std::runtime_error("cannot read " + what + " from " + file + ": " +
                               std::strerror(errno));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    secret = ss.str();
  } else if (const char* v = std::getenv(env)) {
    secret = v;
  } else {
    throw std::runtime_error("no " + what + ": set its file in the config or " +
                             env);
  }
  while (!secret.empty() && std::strchr(" \t\r\n", secret.back()) != nullptr) {
    secret.pop_back();
  }
  if (secret.empty()) {
    throw std::runtime_error(what + " is empty (" +
                             (file.empty() ? std::string(env) : file) + ")");
  }
  for (char c : secret) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) {
      throw std::runtime_error(what +
                               " holds characters a header cannot carry (" +
                               (file.empty() ? std::string(env) : file) + ")");
    }
  }
  return secret;
}

}  // namespace drf
