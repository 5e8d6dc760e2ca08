#pragma once
/// Character helpers shared by the SPF files in src/checks (spf.cpp, spf_record.cpp,
/// spf_macro.cpp); private to them. ASCII only and locale-independent, as RFC 7208's ABNF is.

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace rdns::checks::spf_text {

inline bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

inline bool iequals(std::string_view x, std::string_view y) {
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(),
                                            [](char a, char b) { return lower(a) == lower(b); });
}

/// `text` safe for a log line or a header comment: non-printable octets as \xHH, at most 200.
inline std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet < 0x20 || octet >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", octet);
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
