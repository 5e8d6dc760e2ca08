#pragma once
/// DNS answers as plain values: what the checks reason about and the CLI prints.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/ip_address.h"

namespace rdns::dns {

/// Record types the checks ask for (RFC 1035, RFC 3596, RFC 7208).
enum class RrType : std::uint16_t {
  a = 1,
  ns = 2,
  cname = 5,
  soa = 6,
  ptr = 12,
  mx = 15,
  txt = 16,
  aaaa = 28,
  spf = 99,
};

/// How a query ended.
enum class Outcome : std::uint8_t {
  ok,        ///< NOERROR with records of the asked type
  nxdomain,  ///< the name does not exist
  nodata,    ///< the name exists, no records of the type
  servfail,  ///< SERVFAIL, REFUSED, resolver error
  timeout,   ///< no answer before the deadline
  bogus,     ///< DNSSEC validation failed
};

/// DNSSEC status of an answer (RFC 4035 terms).
enum class Security : std::uint8_t { insecure, secure, bogus };

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;
  bool operator==(const MxRecord&) const = default;
};

/// One DNS answer. Names are lower-case without the trailing dot.
struct Answer {
  std::string name;  ///< the name asked for
  RrType type = RrType::a;
  Outcome outcome = Outcome::servfail;
  std::uint32_t ttl = 0;  ///< smallest TTL of the records (0 for failures)
  Security security = Security::insecure;
  std::string why_bogus;                 ///< validator's reason when bogus
  std::string error;                     ///< resolver's reason for servfail/timeout
  std::vector<std::string> cname_chain;  ///< CNAME targets followed, in order
  std::vector<std::string> names;        ///< PTR, CNAME, NS targets
  std::vector<IpAddress> addresses;      ///< A, AAAA
  std::vector<std::string> texts;        ///< TXT/SPF, character-strings joined
  std::vector<MxRecord> mx;              ///< MX
  /// Negative answers: the owner of the SOA in the authority section (the zone that holds
  /// the name); set by parse_packet, empty when the packet had none.
  std::string zone;
  /// Came from a cache-bypassing re-check (QueryOptions::bypass_cache); set by the resolver.
  bool confirmed = false;

  /// True for NXDOMAIN and NODATA.
  [[nodiscard]] bool negative() const {
    return outcome == Outcome::nxdomain || outcome == Outcome::nodata;
  }
  /// True for SERVFAIL, timeout and bogus: worth trying again later.
  [[nodiscard]] bool temporary_failure() const {
    return outcome == Outcome::servfail || outcome == Outcome::timeout || outcome == Outcome::bogus;
  }
  bool operator==(const Answer&) const = default;
};

[[nodiscard]] std::string_view to_string(RrType type);
[[nodiscard]] std::string_view to_string(Outcome outcome);
[[nodiscard]] std::string_view to_string(Security security);

/// Lower-cases a domain name and strips one trailing dot.
[[nodiscard]] std::string normalize_name(std::string_view name);

/// One line describing an answer: "7.2.0.192.in-addr.arpa PTR -> mail.example.com (TTL 3600,
/// insecure)".
[[nodiscard]] std::string describe(const Answer& answer);

}  // namespace rdns::dns
