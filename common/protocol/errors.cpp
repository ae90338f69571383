#include "common/protocol/errors.hpp"

#include <array>

namespace calma::protocol {

namespace {
constexpr std::array<std::string_view, static_cast<std::size_t>(error_code::count_)> names{
    "bad_request", "unauthorized", "forbidden",  "not_found",
    "rate_limited", "too_large",   "unavailable"};
}

std::string_view to_string(error_code c) {
  auto i = static_cast<std::size_t>(c);
  return i < names.size() ? names[i] : "internal";
}

std::optional<error_code> error_code_from_string(std::string_view s) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<error_code>(i);
  return std::nullopt;
}

}  // namespace calma::protocol
