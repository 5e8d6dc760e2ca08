#pragma once
/// iprev / forward-confirmed reverse DNS (RFC 8601 §3): pure decision plus async orchestration.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/checks/generic_ptr.h"
#include "rdns/dns/answer.h"
#include "rdns/dns/authority_probe.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"

namespace rdns::checks {

/// RFC 8601 §2.7.3 iprev results.
enum class IprevResult : std::uint8_t { pass, fail, temperror, permerror };

/// Why the result is what it is.
enum class IprevReason : std::uint8_t {
  forward_confirmed,  ///< pass: some PTR name has an A/AAAA equal to the client
  no_ptr,             ///< fail: NXDOMAIN or NODATA for the PTR (confirmed when enabled)
  no_forward_match,   ///< fail: PTR names exist, none maps back to the client
  ptr_servfail,       ///< temperror: PTR lookup SERVFAIL
  ptr_timeout,        ///< temperror: PTR lookup timed out
  ptr_bogus,          ///< temperror: PTR answer failed DNSSEC validation
  forward_temperror,  ///< temperror: no match while some forward lookup failed temporarily
  unconfirmed,        ///< temperror: a negative answer could not be re-checked
  malformed,          ///< permerror: the PTR data cannot name a host
};

struct IprevOptions {
  /// Ask the authoritative servers (through `authority`) before reporting no-ptr.
  bool confirm_no_ptr = true;
  /// Ask the authoritative servers about negative forward answers before no-forward-match.
  bool confirm_no_forward_match = false;
  /// The probe the confirmations use; must outlive the run. Without one, a negative answer
  /// that asks for confirmation stays unconfirmed (temperror), never fail.
  dns::AuthorityProbe* authority = nullptr;
  /// At most this many PTR names are forward-confirmed (RFC 8601 §3 suggests a limit).
  std::size_t max_names = 10;
  /// Keywords of generic (address-pool) PTR names, lower-case (option generic-ptr-keywords);
  /// empty: only the client address inside a name makes it generic.
  std::vector<std::string> generic_keywords = default_generic_ptr_keywords();
};

/// The iprev verdict with all the evidence behind it.
struct Iprev {
  dns::IpAddress client;  ///< as checked: an IPv4-mapped IPv6 client is its IPv4 address
  IprevResult result = IprevResult::temperror;
  IprevReason reason = IprevReason::ptr_servfail;
  /// Every PTR name found: lower-case, no trailing dot, sorted, deduplicated, unusable ones
  /// included (only names of LDH labels, underscores tolerated, are looked up).
  std::vector<std::string> ptr;
  std::vector<std::string> verified;  ///< PTR names whose A/AAAA include the client, sorted
  /// pass: secure if the PTR and every verified forward answer are; otherwise the PTR
  /// answer's status (a validated NXDOMAIN is secure), bogus if any answer used was bogus.
  dns::Security dnssec = dns::Security::insecure;
  std::vector<dns::Answer> evidence;  ///< every DNS answer used, in the order asked
  /// Whether the names look like an address pool's generic names (see generic_ptr_of).
  GenericPtr generic;
  /// What the authoritative servers said, one probe per confirmation, in the order asked.
  std::vector<dns::ProbeResult> authority;

  bool operator==(const Iprev&) const = default;
};

[[nodiscard]] std::string_view to_string(IprevResult result);
[[nodiscard]] std::string_view to_string(IprevReason reason);

/// Pure decision. `ptr` is the (final) PTR answer for client.unmapped(); `forward` holds the
/// A/AAAA answers for the PTR names that were looked up (any order). A `ptr` that is a
/// confirmed (re-checked) temporary failure gives temperror/unconfirmed. Fills every field
/// except evidence.
[[nodiscard]] Iprev decide_iprev(const dns::IpAddress& client, const dns::Answer& ptr,
                                 const std::vector<dns::Answer>& forward);

/// The PTR names worth forward-confirming: valid host names, sorted, deduplicated, at most
/// `max_names`.
[[nodiscard]] std::vector<std::string> ptr_names_to_confirm(const dns::Answer& ptr,
                                                            std::size_t max_names);

/// How many negative answers (NXDOMAIN, NODATA) in `iprev.evidence` the authoritative servers
/// (the confirmed answer of the same name and type) contradicted with records: a stale negative
/// cache entry that confirm-negative kept from becoming a reject.
[[nodiscard]] std::size_t contradicted_negatives(const Iprev& iprev);

/// The generic-name verdict for `iprev`: for a pass, generic when every verified name is (a
/// host with one name of its own is not a pool address), the reason that of the first; for a
/// fail with PTR names (no-forward-match), the same over the usable PTR names (reported only:
/// no policy rule looks at it); otherwise not generic.
[[nodiscard]] GenericPtr generic_ptr_of(const Iprev& iprev,
                                        const std::vector<std::string>& keywords);
/// One sentence per contradicted negative answer in `iprev.evidence`, naming `source` (where
/// the cached answer came from: "forwarder 192.0.2.53", "the resolver's cache"): "forwarder
/// 192.0.2.53 answered NXDOMAIN for X but its authoritative servers publish PTR Y: a stale
/// negative cache at the forwarder".
[[nodiscard]] std::vector<std::string> stale_negative_warnings(const Iprev& iprev,
                                                               std::string_view source);

/// Runs the check asynchronously: PTR, optional confirmation, forward lookups in parallel.
/// `done` runs exactly once, on whichever thread delivers the last answer.
void start_iprev(dns::Resolver& resolver, const dns::IpAddress& client, IprevOptions options,
                 std::function<void(Iprev)> done);

/// Blocking helper around start_iprev.
[[nodiscard]] Iprev check_iprev(dns::Resolver& resolver, const dns::IpAddress& client,
                                IprevOptions options = {});

}  // namespace rdns::checks
