#pragma once
/// Check results + exemptions -> one action and the SMTP reply. Pure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/checks/dnsbl.h"
#include "rdns/checks/helo.h"
#include "rdns/checks/iprev.h"
#include "rdns/checks/spf.h"
#include "rdns/dns/ip_address.h"

namespace rdns::policy {

/// What to do with the transaction. `accept` is also what the option value "ignore" means.
enum class Action : std::uint8_t { accept, tag, tempfail, reject };

/// An SMTP reply: "550 5.7.25 text".
struct Reply {
  std::string code;      ///< "550"
  std::string enhanced;  ///< "5.7.25" (RFC 3463 / RFC 7372)
  std::string text;

  [[nodiscard]] std::string to_string() const;
  bool operator==(const Reply&) const = default;
};

/// How one check result is handled.
struct Rule {
  Action action = Action::accept;
  Reply reply;  ///< used for reject/tempfail; text may hold %{ip}, %{ptr}, %{reason}, ...
  bool operator==(const Rule&) const = default;
};

/// Policy for iprev results (option names: iprev-no-ptr, iprev-no-forward-match, ...).
struct IprevPolicy {
  Rule no_ptr{Action::reject,
              {"550", "5.7.25",
               "Client address %{ip} has no PTR (reverse DNS) record; ask whoever controls the "
               "address block to publish one whose name resolves back to %{ip}"}};
  Rule no_forward_match{
      Action::tag,
      {"550", "5.7.25",
       "The PTR name of %{ip} (%{ptr}) does not resolve back to %{ip}; give it an A/AAAA "
       "record for %{ip}"}};
  Rule temperror{
      Action::tempfail,
      {"450", "4.7.25", "Reverse DNS of %{ip} could not be checked (%{reason}); try again later"}};
  Rule permerror{Action::tag,
                 {"550", "5.7.25", "Reverse DNS data for %{ip} is malformed (%{reason})"}};
  /// A pass whose verified names are all generic (checks::Iprev::generic); %{generic} is why.
  Rule generic{Action::tag,
               {"550", "5.7.25",
                "The PTR name of %{ip} (%{ptr}) is the generic name of an address pool; a mail "
                "server needs a PTR name of its own, such as mail.example.com, that resolves back "
                "to %{ip}: ask your ISP or hosting provider for one, or send through your "
                "provider's mail server"}};
  bool operator==(const IprevPolicy&) const = default;
};

/// Policy for HELO results (options helo-syntax, helo-not-fqdn, ...). RFC 5321 §4.1.4: a
/// mismatch alone must not refuse mail, hence tag by default.
struct HeloPolicy {
  Rule syntax{Action::reject,
              {"550", "5.5.2",
               "Your HELO/EHLO name \"%{helo}\" is not a valid host name (%{detail}); use your "
               "server's public host name"}};
  Rule not_fqdn{Action::reject,
                {"550", "5.5.2",
                 "Your HELO/EHLO name \"%{helo}\" is not a fully qualified domain name; use your "
                 "server's public host name, e.g. mail.example.com"}};
  Rule bad_tld{Action::reject,
               {"550", "5.5.2",
                "Your HELO/EHLO name \"%{helo}\" is not in a public top-level domain; use your "
                "server's public host name"}};
  Rule no_address{Action::tag,
                  {"550", "5.7.1", "Your HELO/EHLO name \"%{helo}\" has no address in the DNS"}};
  Rule mismatch{
      Action::tag,
      {"550", "5.7.1", "Your HELO/EHLO name \"%{helo}\" does not resolve to your address %{ip}"}};
  Rule forged_local{
      Action::reject,
      {"550", "5.7.1", "You are not %{helo}: do not use our own name or address in HELO/EHLO"}};
  Rule temperror{Action::tag,
                 {"451", "4.4.3",
                  "The HELO/EHLO name \"%{helo}\" could not be checked; try "
                  "again later"}};
  bool operator==(const HeloPolicy&) const = default;
};

/// Policy for SPF results of the MAIL FROM identity (options spf-fail, spf-softfail, ...).
/// The HELO identity is recorded in the headers only.
struct SpfPolicy {
  /// The reply text is the domain's explanation (exp=) when it has one.
  Rule fail{Action::reject,
            {"550", "5.7.23", "SPF: %{domain} does not allow %{ip} to send mail from %{sender}"}};
  Rule softfail{Action::tag,
                {"550", "5.7.23", "SPF: %{domain} does not fully allow %{ip} (softfail)"}};
  Rule neutral{Action::tag, {"550", "5.7.23", "SPF: %{domain} makes no statement for %{ip}"}};
  Rule none{Action::tag, {"550", "5.7.23", "SPF: %{domain} publishes no SPF record"}};
  Rule temperror{Action::tempfail,
                 {"451", "4.7.24",
                  "SPF: the DNS of %{domain} failed temporarily; try again "
                  "later"}};
  Rule permerror{Action::tag,
                 {"550", "5.7.24", "SPF: the SPF record of %{domain} is invalid (%{problem})"}};
  bool operator==(const SpfPolicy&) const = default;
};

/// Policy for the DNS lists (options dnsbl-listed, dnsbl-tempfail-on-error). The reply text
/// may hold %{zone} (the list with the largest weight, as dnsbl-reply-map shows it), %{txt}
/// ("; " and its TXT record, or nothing), %{answer}, %{score} and %{threshold}.
struct DnsblPolicy {
  Rule listed{Action::reject,
              {"554", "5.7.1", "Service unavailable; client [%{ip}] blocked using %{zone}%{txt}"}};
  /// Used only with tempfail_on_error: a list answered SERVFAIL or timed out.
  Rule temperror{Action::tempfail,
                 {"451", "4.7.1", "DNS list %{zone} could not be asked; try again later"}};
  bool tempfail_on_error = false;
  bool operator==(const DnsblPolicy&) const = default;
};

/// Who is exempt from reject/tempfail (headers are still added).
struct Exemptions {
  std::vector<dns::Network> trusted_networks;  ///< option trusted-networks
  std::vector<dns::Network> allow_addresses;   ///< read from allow-address-file
  std::vector<std::string> allow_domains;      ///< read from allow-domain-file, lower-case
  std::vector<std::string> recipients;         ///< "postmaster" (any domain) or "user@example.org"
  bool operator==(const Exemptions&) const = default;
};

struct Policy {
  IprevPolicy iprev;
  HeloPolicy helo;
  SpfPolicy spf;
  DnsblPolicy dnsbl;
  Exemptions exemptions;
  /// Never reject or tempfail; log what would have happened.
  bool dry_run = false;
  bool operator==(const Policy&) const = default;
};

/// Why a session is exempt from reject/tempfail, if it is.
enum class Exemption : std::uint8_t {
  none,
  trusted_network,
  authenticated,
  recipient,
  allowlisted_address,
  allowlisted_domain,
  dnswl,  ///< the DNS lists' score is at or below dnsbl-allowlist-threshold
};

/// One check's contribution to the verdict.
struct Finding {
  std::string check;  ///< "iprev"
  std::string label;  ///< "fail(no-ptr)", for logs
  Action action = Action::accept;
  bool temporary = false;  ///< a DNS failure: never a permanent reject
  std::optional<Reply> reply;
  bool operator==(const Finding&) const = default;
};

/// The decision for a transaction.
struct Verdict {
  Action action = Action::accept;  ///< what is done
  Action wanted = Action::accept;  ///< what the findings asked for before exemptions/dry-run
  std::optional<Reply> reply;      ///< for reject/tempfail
  std::string check;               ///< the check that decided, empty for accept
  Exemption exemption = Exemption::none;
  bool dry_run = false;
  std::vector<Finding> findings;
  bool operator==(const Verdict&) const = default;
};

/// The connection-level exemption for a client, if any: trusted network, SASL-authenticated,
/// allow-listed address, or a verified PTR name at or below an allow-listed domain.
[[nodiscard]] Exemption client_exemption(const Exemptions& exemptions, const dns::IpAddress& client,
                                         bool authenticated,
                                         const std::vector<std::string>& verified_names);

/// True if mail to `recipient` (an address, angle brackets allowed) is always accepted
/// (RFC 5321 §4.5.1 postmaster; abuse per RFC 2142).
[[nodiscard]] bool recipient_exempt(const Exemptions& exemptions, std::string_view recipient);

[[nodiscard]] std::string_view to_string(Action action);
[[nodiscard]] std::optional<Action> parse_action(std::string_view text);
[[nodiscard]] std::string_view to_string(Exemption exemption);

/// Expands %{name} placeholders from `vars` (name, value pairs); unknown names stay as they are.
[[nodiscard]] std::string expand(std::string_view text,
                                 const std::vector<std::pair<std::string, std::string>>& vars);

/// Maps an iprev result to a finding under the policy, with the reply text expanded.
[[nodiscard]] Finding judge_iprev(const IprevPolicy& policy, const checks::Iprev& iprev);

/// Maps a HELO result to a finding (none and pass give accept).
[[nodiscard]] Finding judge_helo(const HeloPolicy& policy, const checks::Helo& helo,
                                 const dns::IpAddress& client);

/// Maps an SPF result to a finding; `enforce` is false for an identity that is only reported.
[[nodiscard]] Finding judge_spf(const SpfPolicy& policy, const checks::Spf& spf,
                                const dns::IpAddress& client, bool enforce = true);

/// Maps the DNS lists' verdict to a finding: listed gives the dnsbl-listed rule, a list's
/// DNS failure the temperror rule when tempfail_on_error (a temporary finding), anything else
/// accept. The label is the score and each hit: "3(zen.spamhaus.org:127.0.0.4)".
[[nodiscard]] Finding judge_dnsbl(const DnsblPolicy& policy, const checks::Dnsbl& dnsbl,
                                  const dns::IpAddress& client);

/// Combines findings: the strongest action wins (reject > tempfail > tag > accept), the first
/// finding with it supplies the reply. A temporary finding never yields a 5xx: reject becomes
/// tempfail with a 4xx code. An exemption or dry-run turns reject/tempfail into tag.
[[nodiscard]] Verdict decide(std::vector<Finding> findings, Exemption exemption, bool dry_run);

}  // namespace rdns::policy
