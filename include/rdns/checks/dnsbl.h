#pragma once
/// DNS block and allow lists (DNSBL, DNSWL, RHSBL; RFC 5782) with postscreen's site syntax:
/// parsing, filters, once-per-pattern scoring, error-answer classification (pure) and the
/// asynchronous lookups over dns::Resolver.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"

namespace rdns::checks {

/// The values one octet of a filter allows: inclusive ranges.
struct OctetSet {
  std::vector<std::pair<std::uint8_t, std::uint8_t>> ranges;
  [[nodiscard]] bool contains(std::uint8_t value) const;
  bool operator==(const OctetSet&) const = default;
};

/// One `domain[=filter][*weight]` entry of dnsbl-sites or rhsbl-sites (postscreen_dnsbl_sites).
struct DnsblSite {
  std::string domain;                             ///< the list's zone, lower-case, no trailing dot
  std::optional<std::array<OctetSet, 4>> filter;  ///< none: any non-error answer matches
  int weight = 1;                                 ///< negative: an allow-list
  std::string text;                               ///< the entry as written (canonical form)

  /// True when `answer` (an A record of the list) passes the filter.
  [[nodiscard]] bool matches(const dns::IpAddress& answer) const;
  bool operator==(const DnsblSite&) const = default;
};

/// A parsed site, or why the text is not one.
struct DnsblSiteParse {
  std::optional<DnsblSite> site;
  std::string error;  ///< what was expected, when site is empty
};

/// Parses one entry: `domain[=d.d.d.d][*weight]`, each d a number 0..255 or `[...]` of
/// `;`-separated numbers or `a..b` ranges; weight an integer (negative allowed).
[[nodiscard]] DnsblSiteParse parse_dnsbl_site(std::string_view text);

/// Splits an option value into entries (commas and white space separate them; a `[...]`
/// keeps its inside together).
[[nodiscard]] std::vector<std::string> split_dnsbl_sites(std::string_view text);

/// Where a looked-up name came from.
enum class DnsblSource : std::uint8_t { client, helo, mailfrom, ptr };
[[nodiscard]] std::string_view to_string(DnsblSource source);

/// Error answers: codes the list operators use to say "not an answer" (never a listing).
struct DnsblErrorCodes {
  std::vector<dns::Network> extra;  ///< option dnsbl-error-codes
  bool operator==(const DnsblErrorCodes&) const = default;
};

/// Why `answer` from list `zone` is an error code, with the fix; nullopt for a real answer.
/// Built in: anything outside 127.0.0.0/8 (and any IPv6 answer), 127.255.255.0/24 (Spamhaus:
/// 252 typing error, 254 public/unattributable resolver, 255 excessive queries), 127.0.1.255
/// (DBL: IP query to a domain list), 127.0.0.255 (DNSWL: blocked), plus `codes.extra`.
[[nodiscard]] std::optional<std::string> dnsbl_error_reason(std::string_view zone,
                                                            const dns::IpAddress& answer,
                                                            const DnsblErrorCodes& codes);

/// The query name for a client address under `zone` (RFC 5782 §2.1/§2.4): IPv4 reversed
/// octets, IPv6 32 reversed nibbles. An IPv4-mapped address is NOT unmapped here.
[[nodiscard]] std::string dnsbl_query_name(const dns::IpAddress& client, std::string_view zone);
/// The query name for a domain under `zone` (RFC 5782 §2.3).
[[nodiscard]] std::string rhsbl_query_name(std::string_view domain, std::string_view zone);

/// One name looked up in one list, with its answers.
struct DnsblLookup {
  std::string zone;
  std::string query;
  std::string domain;  ///< RHSBL: the domain; empty for address lists
  DnsblSource source = DnsblSource::client;
  dns::Answer a;
  std::optional<dns::Answer> txt;  ///< asked when the A answer holds a non-error address
  bool operator==(const DnsblLookup&) const = default;
};

/// A list not asked (paused after an error answer, or broken by the health check).
struct DnsblSkipped {
  std::string zone;
  std::string outcome;  ///< "paused" or "broken"
  std::string answer;   ///< the error answer that paused it, if any
  std::string reason;
  std::string query;  ///< the lookup not made
  std::string domain;
  DnsblSource source = DnsblSource::client;
  bool operator==(const DnsblSkipped&) const = default;
};

/// One pattern that matched.
struct DnsblHit {
  std::string zone;  ///< as shown (dnsbl-reply-map applied)
  std::string query;
  std::string domain;  ///< RHSBL only
  DnsblSource source = DnsblSource::client;
  std::vector<dns::IpAddress> answer;  ///< the addresses that passed the pattern's filter
  int weight = 0;
  std::string txt;  ///< the list's TXT record, empty without one
  bool operator==(const DnsblHit&) const = default;
};

/// A list that gave no usable answer.
struct DnsblError {
  std::string zone;  ///< as shown
  std::string query;
  std::string domain;
  DnsblSource source = DnsblSource::client;
  std::string answer;   ///< the error code answered (empty for a DNS failure or a skip)
  std::string outcome;  ///< "servfail", "timeout", "bogus", "paused", "broken"; empty for answer
  std::string reason;
  std::string real_zone;  ///< the configured zone (not shown to senders)
  bool operator==(const DnsblError&) const = default;
};

enum class DnsblResult : std::uint8_t { clean, listed, allowlisted, error };
[[nodiscard]] std::string_view to_string(DnsblResult result);

/// How the score is judged.
struct DnsblScoring {
  int threshold = 1;            ///< dnsbl-threshold: listed at or above
  int allowlist_threshold = 0;  ///< dnsbl-allowlist-threshold: allow-listed at or below (<0)
  int generic_ptr_weight = 0;   ///< generic-ptr-weight: added when the PTR name is generic
  DnsblErrorCodes error_codes;
  /// dnsbl-reply-map: configured zone -> the name shown in replies, headers and logs.
  std::vector<std::pair<std::string, std::string>> reply_map;
  bool operator==(const DnsblScoring&) const = default;
};

/// The lists' verdict on one client (its address and the domains it named).
struct Dnsbl {
  int score = 0;
  int threshold = 1;
  int generic_weight = 0;  ///< generic-ptr-weight, when it was added (the PTR name is generic)
  DnsblResult result = DnsblResult::clean;
  std::vector<DnsblHit> hits;
  std::vector<DnsblError> errors;
  bool dns_failure = false;          ///< some list answered SERVFAIL, timed out or was bogus
  std::vector<DnsblLookup> lookups;  ///< the evidence: every lookup, in the order asked
  bool operator==(const Dnsbl&) const = default;
};

/// The zone name to show for `zone` under the reply map.
[[nodiscard]] std::string shown_zone(const DnsblScoring& scoring, std::string_view zone);

/// Pure scoring: every site (client `sites` for address lookups, `rhsbl` for domain lookups)
/// whose filter some answer passes adds its weight once per looked-up name; error answers,
/// failures and skipped lists add nothing and become errors. `generic_ptr`: the client's
/// verified PTR name is generic (iprev), which adds scoring.generic_ptr_weight.
[[nodiscard]] Dnsbl decide_dnsbl(const std::vector<DnsblSite>& sites,
                                 const std::vector<DnsblSite>& rhsbl,
                                 const std::vector<DnsblLookup>& lookups,
                                 const std::vector<DnsblSkipped>& skipped,
                                 const DnsblScoring& scoring, bool generic_ptr = false);

/// One name to look up in some lists.
struct DnsblTarget {
  std::string zone;
  std::string query;
  std::string domain;
  DnsblSource source = DnsblSource::client;
};

/// The targets for a client address: one per distinct zone of `sites`.
[[nodiscard]] std::vector<DnsblTarget> dnsbl_targets(const std::vector<DnsblSite>& sites,
                                                     const dns::IpAddress& client);
/// The targets for a domain from `source`: one per distinct zone of `rhsbl`.
[[nodiscard]] std::vector<DnsblTarget> rhsbl_targets(const std::vector<DnsblSite>& rhsbl,
                                                     std::string_view domain, DnsblSource source);

/// Looks up every target in parallel: A, then TXT when the A answer holds a non-error
/// address. `done` runs exactly once, on whichever thread delivers the last answer (at once
/// when there is nothing to ask).
void start_dnsbl(dns::Resolver& resolver, std::vector<DnsblTarget> targets, DnsblErrorCodes codes,
                 std::function<void(std::vector<DnsblLookup>)> done);

}  // namespace rdns::checks
