// Where the server finds its default files when none are configured.
#pragma once
#include <string>

namespace calma {
/// `relative` under the current directory if it exists there, else under the
/// source tree this binary was built from; empty if neither has it.
std::string find_default(const std::string& relative);
}  // namespace calma
