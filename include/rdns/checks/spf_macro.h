#pragma once
/// RFC 7208 §7 macros: parsing a macro-string and expanding it. Pure: no DNS and no clock; the
/// caller supplies every value, the p macro's through a callback asked only when %{p} occurs.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/ip_address.h"

namespace rdns::checks {

/// Where a macro-string stands (RFC 7208 §7.1, §12).
enum class SpfMacroUse : std::uint8_t {
  domain,       ///< domain-spec or unknown-modifier value: no c, r, t; no spaces
  explanation,  ///< the exp= TXT: explain-string = *( macro-string / SP ), c, r, t allowed
};

/// One piece of a parsed macro-string.
struct SpfMacroToken {
  enum class Kind : std::uint8_t { literal, escape, macro };
  Kind kind = Kind::literal;
  std::string text;         ///< literal text, or an escape's expansion ("%", " ", "%20")
  char letter = 0;          ///< lower-case macro letter
  bool url_escape = false;  ///< the letter was upper case (RFC 7208 §7.3)
  unsigned keep = 0;        ///< rightmost parts to keep; 0 = all
  bool reverse = false;
  std::string delimiters;  ///< empty = "."

  bool operator==(const SpfMacroToken&) const = default;
};
/// A parsed macro-string: literals, escapes and macros in order.
using SpfMacroString = std::vector<SpfMacroToken>;

/// Parses a macro-string (RFC 7208 §7.1); on error returns nullopt and says why in `problem`.
[[nodiscard]] std::optional<SpfMacroString> parse_spf_macro_string(std::string_view text,
                                                                   SpfMacroUse use,
                                                                   std::string& problem);

/// The values macros expand to (RFC 7208 §7.2).
struct SpfMacroValues {
  std::string sender;         ///< s
  std::string local;          ///< l
  std::string sender_domain;  ///< o
  std::string domain;         ///< d: the current <domain>
  std::string ip;             ///< i (see spf_macro_ip)
  std::string pretty_ip;      ///< c
  std::string version;        ///< v: "in-addr" or "ip6"
  std::string helo;           ///< h
  std::string receiver;       ///< r
  std::int64_t time = 0;      ///< t: seconds since the epoch
  /// p: a validated name of the client for the given <domain> (RFC 7208 §7.3); "unknown" when
  /// unset. Called once per %{p}, only when one is expanded (it may ask the DNS).
  std::function<std::string(std::string_view domain)> validated_name;
};

/// Expands `spec` (RFC 7208 §7.3). For a domain name (SpfMacroUse::domain) one trailing dot is
/// dropped and whole labels are removed from the left until the name fits in 253 octets.
[[nodiscard]] std::string expand_spf_macros(const SpfMacroString& spec,
                                            const SpfMacroValues& values, SpfMacroUse use);

/// The i macro's value for `client`: the dotted quad, or 32 dot-separated nibbles for IPv6 (upper
/// case, as the RFC 7208 test suite and pyspf write them).
[[nodiscard]] std::string spf_macro_ip(const dns::IpAddress& client);

}  // namespace rdns::checks
