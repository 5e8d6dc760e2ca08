#pragma once
/// `rdns-milter --check IP`: run the engine once and print evidence, verdict and fix.

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/checks/iprev.h"
#include "rdns/config/config.h"
#include "rdns/dns/authority_probe.h"
#include "rdns/dns/resolver.h"
#include "rdns/dns/trace.h"
#include "rdns/policy/policy.h"

namespace rdns::cli {

/// Everything one check run found.
struct Report {
  checks::Iprev iprev;
  std::optional<checks::Helo> helo;             ///< with --helo
  std::vector<checks::Spf> spf;                 ///< with --mail-from: MAIL FROM identity, then HELO
  std::optional<checks::Dnsbl> dnsbl;           ///< with dnsbl-sites or rhsbl-sites
  std::vector<checks::ListHealth> list_health;  ///< the lists' RFC 5782 section 5 check
  bool client_lists = false;                    ///< dnsbl-sites set: JSON checks.dnsbl
  bool domain_lists = false;                    ///< rhsbl-sites set: JSON checks.rhsbl
  policy::Verdict verdict;
  std::vector<std::string> headers;  ///< "Authentication-Results: ..." lines
  std::string cache_source;          ///< where cached answers come from ("forwarder ...")
  std::vector<dns::Trace> traces;    ///< with --trace: the delegation paths (cli/trace.h)
  /// A trust anchor is configured (trust-anchor-file, or one in the unbound-config): without
  /// one an answer is "not validated", not "insecure".
  bool validating = true;
  unsigned cache_max_negative_ttl = 300;  ///< what the cache keeps of a negative answer
  /// libunbound's built-in local zones (RFC 6303, RFC 6761) that the configuration does not
  /// free with `local-zone: "X" nodefault`: negative answers there come from no server.
  std::vector<std::string> builtin_local_zones;
  /// When a lookup failed temporarily: the resolver's answer for ". NS", i.e. whether our own
  /// resolver (or forwarder) answers at all; nullopt when not asked.
  std::optional<dns::Answer> resolver_health;
};

/// Runs the checks for `ip` with `config` over `resolver`, as the daemon would for a client
/// connecting from `ip` (exemptions included). `authority` confirms negative answers (null:
/// they stay unconfirmed).
[[nodiscard]] Report run_check(dns::Resolver& resolver, const config::Config& config,
                               const dns::IpAddress& ip,
                               const std::optional<std::string>& helo = std::nullopt,
                               const std::optional<std::string>& mail_from = std::nullopt,
                               std::shared_ptr<dns::AuthorityProbe> authority = nullptr);

/// Plain-words advice for an iprev result; empty for pass.
[[nodiscard]] std::string iprev_fix(const checks::Iprev& iprev);

/// Plain-words advice for a HELO result; empty for pass and none.
[[nodiscard]] std::string helo_fix(const checks::Helo& helo, const checks::Iprev& iprev);

/// Plain-words advice for an SPF result; empty when there is nothing to fix.
[[nodiscard]] std::string spf_fix(const checks::Spf& spf, const dns::IpAddress& client);

/// One finding of --check, for the JSON "diagnosis" array.
struct Diagnosis {
  std::string code;   ///< "no-ptr", "stale-negative-cache", "servers-disagree", ...
  std::string party;  ///< "sender-isp", "sender-domain" or "receiver"
  std::string summary;
  std::string fix;
  bool operator==(const Diagnosis&) const = default;
};

/// What the report says is wrong and whose side must act; empty when all is well
/// (src/cli/diagnosis.cpp; the codes are README's table).
[[nodiscard]] std::vector<Diagnosis> diagnose(const Report& report);

/// libunbound's default local zones (unbound 1.17 `local-zone` defaults: RFC 6303 reverse
/// zones, RFC 6761 names, ...), normalized, without those `unbound_conf_text` frees with
/// `nodefault` (or serves itself with another type).
[[nodiscard]] std::vector<std::string> builtin_local_zones(std::string_view unbound_conf_text);

/// The built-in local zone a negative `answer` came from (its SOA owner is one of
/// `report.builtin_local_zones`, or the authority probe found the zone served by the resolver
/// itself); empty when a server answered.
[[nodiscard]] std::string builtin_zone_of(const Report& report, const dns::Answer& answer);

/// True when the resolver itself did not answer (". NS" failed too): a receiver problem.
[[nodiscard]] bool resolver_down(const Report& report);

/// Human-readable report.
void print_text(std::ostream& out, const Report& report);
/// JSON report (the stable contract in README).
void print_json(std::ostream& out, const Report& report);

}  // namespace rdns::cli
