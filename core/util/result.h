#pragma once

#include <optional>
#include <utility>

namespace drf {

/// A value of type T, or the error E that prevented it. Each adapter
/// (Linode, DynamoDB, SSH) names its own: `template <class T> using
/// Result = drf::Result<T, Error>;`.
template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit
  Result(E error) : error_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  /// Only when ok().
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  /// Meaningful only when !ok().
  const E& error() const { return error_; }

 private:
  std::optional<T> value_;
  E error_;
};

/// The empty success of a step that returns nothing.
struct Done {};

}  // namespace drf
