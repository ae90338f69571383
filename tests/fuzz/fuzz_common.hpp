// Small helpers shared by the fuzz targets.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

namespace calma::fuzz {

/// Strict serialization, as the hub's frames use it: false where dump() throws (invalid UTF-8).
inline bool strict_ok(const nlohmann::json& j) {
  try {
    (void)j.dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

/// A whole file ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace calma::fuzz
