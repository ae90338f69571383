// The conversations of a report as CSV for a spreadsheet (RFC 4180: fields
// quoted when needed, CRLF line ends). Cells that a spreadsheet would run as
// a formula (starting with = + - @ or a tab) are prefixed with ' so that a
// shopper's comment can never execute in someone's spreadsheet.
#pragma once

#include <string>
#include <string_view>

#include "common/model/model.hpp"

namespace calma::reports {

std::string csv_header();
std::string csv_row(const conversation_record& c);
/// One field, quoted and defused as above.
std::string csv_field(std::string_view v);

}  // namespace calma::reports
