#include "server/paths.hpp"

#include <filesystem>

namespace calma {

std::string find_default(const std::string& relative) {
  std::error_code ec;
  if (std::filesystem::exists(relative, ec)) return std::filesystem::absolute(relative, ec).string();
  std::string in_source = std::string(CALMA_SOURCE_DIR) + "/" + relative;
  if (std::filesystem::exists(in_source, ec)) return in_source;
  return {};
}

}  // namespace calma
