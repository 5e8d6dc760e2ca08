#pragma once
/// Generic (dynamic, address-pool) PTR names: the client address or a pool keyword with a
/// number inside the name. Pure: no DNS.
///
/// The name is generic when
///  - it holds the client address: IPv4 as 3 or 4 adjacent octets in order or reversed with
///    any separators ("c-73-22-100-5", "5.100.22.73", "dslb-088-065-123-045", "ip68-2-3-4"), as
///    one number of 6 or more digits made of the 4 octets, each plain or zero-padded, in order or
///    reversed ("static851056487", "085105064087"), or as 8 hex digits ("p5df65090"); IPv6 as
///    its 32 nibbles or its /64 prefix in hex ("p200300e5bf1a4d00..."), as 4 or more leading
///    groups ("2001-db8-0-0-..."), or as a label that is the address with '-' for ':'
///    ("2001-db8--5");
///  - or it has a keyword as a whole token (the parts between dots, hyphens and underscores),
///    and a number with it: digits glued to the keyword ("dip0", "dsl5", "123ppp"), a token of
///    digits in the same label ("pool-12", "dhcp-0012"), or 2 adjacent octets of the client
///    anywhere ("dhcp-22-44.campus.example").
/// A keyword alone is not enough ("customer-service.example.com", "pool.ntp.org",
/// "mx-1.dyn.com"), nor a part of a word ("dipper"), nor digits alone ("smtp-out-23.example.org",
/// "mx1.example.net"), nor another address than the client's.

#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/ip_address.h"

namespace rdns::checks {

/// Whether a PTR name looks like an address pool's generic name, and why.
struct GenericPtr {
  bool generic = false;
  std::string reason;  ///< what was found, printable ASCII; empty when not generic

  bool operator==(const GenericPtr&) const = default;
};

/// The built-in keywords (the default of the option generic-ptr-keywords), lower-case.
[[nodiscard]] const std::vector<std::string>& default_generic_ptr_keywords();

/// True if `keyword` can match a token: 1 to 63 lower-case letters and digits, at least one
/// letter.
[[nodiscard]] bool valid_generic_ptr_keyword(std::string_view keyword) noexcept;

/// Judges one PTR name (any case, one trailing dot ignored) of `client` (an IPv4-mapped IPv6
/// address counts as IPv4). `keywords` are lower-case.
[[nodiscard]] GenericPtr detect_generic_ptr(const dns::IpAddress& client, std::string_view name,
                                            const std::vector<std::string>& keywords);

}  // namespace rdns::checks
