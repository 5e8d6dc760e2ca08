#pragma once
/// RFC 7208 §4.5, §4.6 and §12: recognising an SPF record and parsing it into terms. Pure: no
/// DNS; macros stay unexpanded (spf_macro.h) until the evaluator knows <domain>.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/checks/spf.h"
#include "rdns/checks/spf_macro.h"
#include "rdns/dns/ip_address.h"

namespace rdns::checks {

/// The mechanisms of RFC 7208 §5.
enum class SpfMechanismKind : std::uint8_t { all, include, a, mx, ptr, ip4, ip6, exists };

/// One mechanism with its qualifier and arguments.
struct SpfMechanism {
  SpfResult qualifier = SpfResult::pass;
  SpfMechanismKind kind = SpfMechanismKind::all;
  std::string text;                    ///< as written, for Spf::mechanism
  std::optional<SpfMacroString> spec;  ///< domain-spec, when given
  std::optional<unsigned> cidr4;       ///< a, mx
  std::optional<unsigned> cidr6;       ///< a, mx
  dns::Network network;                ///< ip4, ip6

  bool operator==(const SpfMechanism&) const = default;
};

/// A parsed record: the mechanisms in order and the two modifiers of RFC 7208 §6 (unknown
/// modifiers are checked and dropped).
struct SpfRecord {
  std::vector<SpfMechanism> mechanisms;
  std::optional<SpfMacroString> redirect;
  std::string redirect_text;  ///< the redirect= term as written
  std::optional<SpfMacroString> exp;

  bool operator==(const SpfRecord&) const = default;
};

/// True if `text` is an SPF record: "v=spf1" (any case) followed by a space or the end
/// (RFC 7208 §4.5).
[[nodiscard]] bool is_spf_record(std::string_view text);

/// Parses and validates a whole record that passed is_spf_record (RFC 7208 §4.6: any syntax
/// error anywhere is permerror, before anything is evaluated). On error returns nullopt and says
/// why in `problem`.
[[nodiscard]] std::optional<SpfRecord> parse_spf_record(std::string_view text,
                                                        std::string& problem);

}  // namespace rdns::checks
