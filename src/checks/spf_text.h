#pragma once
/// The SPF files' escaping for logs and messages (spf.cpp, spf_record.cpp, spf_macro.cpp);
/// private to them. Character classes and case come from rdns/dns/name.h.

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "rdns/dns/name.h"

namespace rdns::checks::spf_text {

/// `text` safe for a log line or a header comment: non-printable octets as \xHH, at most 200.
inline std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    if (!dns::is_ascii_printable(c) || c == '\\') {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  if (text.size() > 200) {
    out += "...";
  }
  return out;
}

}  // namespace rdns::checks::spf_text
