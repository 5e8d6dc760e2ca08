#pragma once
// What the fuzz targets assert: abort (libFuzzer reports a crash) when a property fails.

#include <cstddef>
#include <cstdlib>
#include <string_view>

#include "rdns/dns/name.h"

namespace rdns::fuzz {

inline void require(bool condition) {
  if (!condition) std::abort();
}

/// Printable ASCII only (no CR, LF, NUL, other controls or 8-bit bytes).
inline bool printable(std::string_view text) {
  for (const char c : text) {
    if (!dns::is_ascii_printable(c)) return false;
  }
  return true;
}

/// A header field body as libmilter takes it: printable ASCII and tabs, folded only with "\n\t".
inline void require_header_safe(std::string_view body) {
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n') {
      require(i + 1 < body.size() && body[i + 1] == '\t');
    } else if (body[i] != '\t') {
      require(dns::is_ascii_printable(body[i]));
    }
  }
}

}  // namespace rdns::fuzz
