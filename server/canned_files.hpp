// Reads the prepared answers from disk: <dir>/<lang>.json for every language
// a store speaks, then <dir>/<store>/<lang>.json on top (a store's own answers
// replace the shared ones of the same id). A file that does not exist is
// fine; a file that does not parse is a start-up error.
#pragma once

#include <string>
#include <vector>

#include "common/canned/canned.hpp"
#include "common/config/config.hpp"

namespace calma {

canned::library load_canned(const std::string& dir, const std::vector<store_config>& stores,
                            std::vector<std::string>& errors);

}  // namespace calma
