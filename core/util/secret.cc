#include "core/util/secret.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
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

bool HeaderSafe(std::string_view token) {
  if (token.empty() || token.size() > kMaxSecretBytes) return false;
  for (char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

namespace {

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && std::strchr(" \t\r\n", s.back()) != nullptr) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string LoadSecret(const std::string& file, std::string_view file_setting,
                       const char* env, std::string_view what) {
  if (!file.empty()) {
    const std::string where = std::string(file_setting) + " " + file;
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw std::runtime_error(where +
                               ": cannot open: " + std::strerror(errno));
    }
    std::string content;
    char buf[1024];
    int read_errno = 0;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_errno = errno;
      if (n <= 0) break;
      content.append(buf, static_cast<std::size_t>(n));
      if (content.size() > kMaxSecretBytes) break;
    }
    ::close(fd);
    if (read_errno != 0) {
      throw std::runtime_error(where +
                               ": cannot read: " + std::strerror(read_errno));
    }
    if (content.size() > kMaxSecretBytes) {
      throw std::runtime_error(where + ": larger than " +
                               std::to_string(kMaxSecretBytes) +
                               " bytes; expected one token");
    }
    std::string_view token = TrimRight(content);
    if (token.empty()) throw std::runtime_error(where + ": empty");
    if (!HeaderSafe(token)) {
      throw std::runtime_error(
          where + ": the token holds spaces, control or non-ASCII characters");
    }
    return std::string(token);
  }
  const char* value = std::getenv(env);
  std::string_view token = TrimRight(value != nullptr ? value : "");
  if (token.empty()) {
    throw std::runtime_error("no " + std::string(what) + ": set " +
                             std::string(file_setting) + " or the " + env +
                             " environment variable");
  }
  if (!HeaderSafe(token)) {
    throw std::runtime_error(
        std::string(env) +
        ": the token holds spaces, control or non-ASCII characters");
  }
  return std::string(token);
}

}  // namespace drf
