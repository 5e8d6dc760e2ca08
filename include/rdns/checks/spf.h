#pragma once
/// SPF (RFC 7208) for the HELO and MAIL FROM identities. Record selection, §12 syntax
/// (spf_record.h), term order, include/redirect, macros (spf_macro.h), limits and exp= are
/// handled here; libspf2 evaluates the DNS mechanisms (a, mx, ptr, exists) one at a time, behind
/// dns::SpfCheckDns. Note: libspf2 1.2.10 itself silently
/// drops every mechanism past 511 bytes of compiled record, so it never sees whole records.
/// Every DNS lookup goes through our Resolver. Synchronous: run it off the MTA's thread when it
/// should overlap the dialogue.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"

namespace rdns::checks {

/// RFC 7208 §2.6 results.
enum class SpfResult : std::uint8_t { none, neutral, pass, fail, softfail, temperror, permerror };

/// Which identity was checked (RFC 7208 §2.3, §2.4).
enum class SpfIdentity : std::uint8_t { mailfrom, helo };

[[nodiscard]] std::string_view to_string(SpfResult result);
[[nodiscard]] std::string_view to_string(SpfIdentity identity);

/// What to check.
struct SpfRequest {
  dns::IpAddress client;  ///< IPv4-mapped IPv6 is checked as IPv4
  std::string helo;       ///< the HELO/EHLO argument as sent
  /// MAIL FROM address without angle brackets; empty for the null sender, which is then checked
  /// as postmaster@<helo> (RFC 7208 §2.4).
  std::string mail_from;
  SpfIdentity identity = SpfIdentity::mailfrom;
  std::string receiver;  ///< our host name, for %{r} and the Received-SPF receiver= key
};

/// The outcome with its evidence.
struct Spf {
  SpfResult result = SpfResult::none;
  SpfIdentity identity = SpfIdentity::mailfrom;
  std::string domain;                 ///< the domain whose policy was evaluated
  std::string sender;                 ///< the checked sender, e.g. "postmaster@helo.example" for <>
  std::string record;                 ///< the SPF record fetched for `domain`, if any
  std::string mechanism;              ///< the mechanism that matched ("ip4:192.0.2.0/24"), if any
  std::string explanation;            ///< for fail: the domain's exp= text, if it has one
  std::string problem;                ///< for permerror/temperror: what was wrong, in plain words
  std::vector<dns::Answer> evidence;  ///< every DNS answer used, in the order asked
  /// Each record fetched and each term evaluated, in order, indented by include depth:
  /// "example.com: \"v=spf1 ip4:192.0.2.0/24 -all\"", "  ip4:192.0.2.0/24: no match", ...
  std::vector<std::string> steps;

  bool operator==(const Spf&) const = default;
};

/// Runs one SPF check. Never throws for DNS or record problems (they are results).
/// Thread-safe: concurrent checks may share the resolver.
[[nodiscard]] Spf check_spf(dns::Resolver& resolver, const SpfRequest& request);

/// True if `domain` can be checked at all for the HELO identity (a domain, not an address
/// literal; RFC 7208 §2.3).
[[nodiscard]] bool spf_helo_checkable(std::string_view helo);

}  // namespace rdns::checks
