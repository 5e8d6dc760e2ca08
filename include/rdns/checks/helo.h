#pragma once
/// HELO/EHLO checks (RFC 5321 §4.1.1.1, §4.1.2, §4.1.3): syntax, FQDN in a real TLD, resolves,
/// matches the client, not us. Pure parsing and decision plus async orchestration.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"

namespace rdns::checks {

/// A HELO argument, parsed.
struct HeloName {
  enum class Kind : std::uint8_t { domain, address_literal, invalid };
  Kind kind = Kind::invalid;
  std::string domain;                     ///< lower-case, no trailing dot (domain)
  std::optional<dns::IpAddress> literal;  ///< the address (address_literal)
  std::string error;                      ///< why it is invalid, in plain words
  bool operator==(const HeloName&) const = default;
};

/// Parses per RFC 5321 §4.1.2/§4.1.3: LDH labels of 1-63 octets, no leading or trailing hyphen,
/// at most 253 octets, one optional trailing dot; or [a.b.c.d] / [IPv6:...]. Anything else
/// (bare address, empty, spaces, underscores, non-ASCII, controls) is invalid.
[[nodiscard]] HeloName parse_helo(std::string_view text);

/// True for special-use and private top-level names that are never public (RFC 6761, RFC 6762,
/// RFC 8375, RFC 9476 and common private ones): local, localhost, localdomain, invalid, test,
/// example, internal, lan, home.arpa, ... `domain` is lower-case without trailing dot.
[[nodiscard]] bool is_private_name(std::string_view domain);

/// Why a private name (is_private_name) is not a public host name, in one sentence naming the
/// RFC: "example.com is a special-use name reserved for documentation (RFC 6761 section 6.5),
/// not a public host name"; empty for other names.
[[nodiscard]] std::string special_use_reason(std::string_view domain);

enum class HeloResult : std::uint8_t { pass, fail, temperror, none };

enum class HeloReason : std::uint8_t {
  ok,            ///< pass
  syntax,        ///< not a domain or address literal
  not_fqdn,      ///< a single label
  bad_tld,       ///< special-use/private TLD, or the TLD does not exist in the DNS
  no_address,    ///< no A, AAAA or MX
  mismatch,      ///< resolves, but not to the client (and not a verified PTR name)
  forged_local,  ///< claims to be us
  dns_error,     ///< temperror: a lookup the verdict needed failed temporarily
  no_helo,       ///< none: no HELO seen
};

[[nodiscard]] std::string_view to_string(HeloResult result);
[[nodiscard]] std::string_view to_string(HeloReason reason);

/// Who "we" are, for the forged-local check.
struct HeloIdentity {
  std::vector<std::string> own_names;         ///< lower-case host names (j macro, configured)
  std::vector<dns::IpAddress> own_addresses;  ///< addresses the MTA listens on
  bool client_trusted = false;                ///< trusted clients may use our names
};

/// DNS answers about the HELO domain.
struct HeloAnswers {
  std::optional<dns::Answer> tld;  ///< SOA of the TLD
  std::optional<dns::Answer> a;
  std::optional<dns::Answer> aaaa;
  std::optional<dns::Answer> mx;
};

/// The HELO verdict and its evidence.
struct Helo {
  std::string helo;  ///< as sent, sanitized for display
  HeloName parsed;
  HeloResult result = HeloResult::none;
  HeloReason reason = HeloReason::no_helo;
  std::vector<dns::IpAddress> addresses;  ///< A/AAAA of the HELO domain
  bool matched_by_ptr = false;            ///< matched because it is a verified iprev name
  std::vector<dns::Answer> evidence;
  bool operator==(const Helo&) const = default;
};

/// Verdict without DNS, if one is possible (syntax, FQDN, private TLD, forged, literal);
/// nullopt when the DNS has to be asked.
[[nodiscard]] std::optional<Helo> decide_helo_offline(std::string_view helo,
                                                      const dns::IpAddress& client,
                                                      const HeloIdentity& identity);

/// Pure decision from DNS answers; `verified_ptr_names` are the iprev-verified names.
[[nodiscard]] Helo decide_helo(std::string_view helo, const dns::IpAddress& client,
                               const HeloIdentity& identity, const HeloAnswers& answers,
                               const std::vector<std::string>& verified_ptr_names);

/// The DNS part, asynchronously: TLD SOA, A, AAAA and MX in parallel. `done` receives the
/// answers (empty when no DNS is needed).
void start_helo_lookups(dns::Resolver& resolver, std::string_view helo,
                        std::function<void(HeloAnswers)> done);

}  // namespace rdns::checks
