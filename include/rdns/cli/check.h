#pragma once
/// `rdns-milter --check IP`: run the engine once and print evidence, verdict and fix.

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
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

/// What the report says is wrong and whose side must act; empty when all is well.
[[nodiscard]] std::vector<Diagnosis> diagnose(const Report& report);

/// Human-readable report.
void print_text(std::ostream& out, const Report& report);
/// JSON report (the stable contract in README).
void print_json(std::ostream& out, const Report& report);

}  // namespace rdns::cli
