#pragma once

#include <string>
#include <string_view>

namespace drf {

/// Compares a presented secret with the expected one in time that depends
/// only on the expected length, never on where they first differ.
bool ConstantTimeEquals(std::string_view presented, std::string_view expected);

/// The token of an "Authorization: Bearer <token>" header, "" if none.
std::string_view BearerToken(std::string_view authorization);

/// Reads a secret from `file` (trailing whitespace trimmed) when `file` is
/// set, else from the environment variable `env`. Throws std::runtime_error
/// naming the file or variable (never the secret) when there is none.
std::string LoadSecret(const std::string& file, const char* env,
                       const std::string& what);

}  // namespace drf
