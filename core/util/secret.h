#pragma once

#include <string>
#include <string_view>

namespace drf {

/// Compares a presented secret with the expected one in time that depends
/// only on the expected length, never on where they first differ.
bool ConstantTimeEquals(std::string_view presented, std::string_view expected);

/// The token of an "Authorization: Bearer <token>" header, "" if none.
std::string_view BearerToken(std::string_view authorization);

/// The longest secret accepted (bearer tokens are far shorter).
inline constexpr std::size_t kMaxSecretBytes = 4096;

/// True for a token an HTTP header can carry: printable ASCII, no spaces.
bool HeaderSafe(std::string_view token);

/// Reads a bearer token from `file` (trailing whitespace trimmed) when it
/// is set, else from the environment variable `env`. Throws
/// std::runtime_error when there is none, the file is unreadable, empty or
/// larger than kMaxSecretBytes, or the token is not HeaderSafe. Messages
/// name the setting (`file_setting`, e.g. "dns.token_file"), the file or
/// the variable, never the token.
std::string LoadSecret(const std::string& file, std::string_view file_setting,
                       const char* env, std::string_view what);

}  // namespace drf
