#include "rdns/checks/spf.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "rdns/checks/spf_macro.h"
#include "rdns/checks/spf_record.h"
#include "rdns/dns/name.h"
#include "rdns/dns/spf_dns.h"
#include "spf_text.h"

// Division of labour: this file owns check_host()'s control flow —
// record lookup and selection (RFC 7208 §4.4, §4.5), term order, include and redirect (§5.2,
// §6.1), the §4.6.4 limits and exp= (§6.2). The §12 syntax of the whole record is parsed by
// spf_record.cpp, macros (§7) are expanded by spf_macro.cpp. libspf2 evaluates each
// DNS-querying mechanism (a, mx, ptr, exists) behind dns::SpfCheckDns (src/dns/spf_dns.cpp): it
// compiles the single mechanism, walks MX and PTR names and matches addresses, with every lookup
// answered by the check's Resolver. Note: libspf2 1.2.10's own record handling is not used
// because it is wrong in ways no rewrite fully hides: it silently drops every mechanism past 511
// compiled bytes (a 70-ip4 record ending in -all evaluates to neutral), resets the lookup count
// at each include, evaluates redirect= where it stands, refuses valid /0 and '.' in modifier
// names, accepts invalid domain-specs, and passes every 127/8 client in
// SPF_request_query_mailfrom.

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::IpAddress;
using dns::Outcome;
using dns::RrType;
using dns::SpfTerm;
using spf_text::printable;

/// RFC 7208 §4.3: a domain check_host() can start from — a name dns::spf_queryable_name accepts
/// (1-63 octet labels, at most 253 octets, printable ASCII) that also has at least two labels and
/// no space, and is neither an address literal nor an IPv4 address (an all-digit last label).
bool is_spf_domain(std::string_view domain) {
  if (!dns::spf_queryable_name(domain) || domain.front() == '[') {
    return false;
  }
  const std::string_view name = dns::strip_trailing_dot(domain);
  const auto parts = dns::labels(name);
  return parts.size() >= 2 && std::all_of(name.begin(), name.end(), dns::is_ascii_visible) &&
         !std::all_of(parts.back().begin(), parts.back().end(), dns::is_ascii_digit);
}

// Note: each name given to dns::strip_trailing_dot below passed is_spf_domain or
// dns::spf_queryable_name, which reject the root ".", the one name it keeps its dot on.

// ---------------------------------------------------------------------------------------------
// check_host() (RFC 7208 §4)

/// The outcome of one check_host() with what the caller needs besides the result.
struct HostResult {
  SpfResult result = SpfResult::none;
  std::string problem;    ///< permerror, temperror
  std::string mechanism;  ///< the matching term, as written
  /// exp= of the record that decided (RFC 7208 §6.2: the original domain's, or the redirect
  /// target's), and that record's domain.
  std::optional<SpfMacroString> exp;
  std::string exp_domain;
};

HostResult error(SpfResult result, std::string problem) {
  HostResult out;
  out.result = result;
  out.problem = std::move(problem);
  return out;
}

/// Whether a mechanism matched, or the error that ended the evaluation.
struct Match {
  bool matched = false;
  std::optional<HostResult> error;
};

constexpr std::string_view kLimitProblem =
    "more than 10 DNS-querying mechanisms and modifiers (RFC 7208 section 4.6.4)";
constexpr std::string_view kVoidProblem =
    "more than 2 lookups found no records (RFC 7208 section 4.6.4)";

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const SpfRequest& request, IpAddress client,
             SpfMacroValues values)
      : dns_(resolver, client, request.receiver), client_(client), values_(std::move(values)) {
    values_.validated_name = [this](std::string_view domain) { return validated_name(domain); };
  }
  Evaluation(const Evaluation&) = delete;
  Evaluation& operator=(const Evaluation&) = delete;
  Evaluation(Evaluation&&) = delete;
  Evaluation& operator=(Evaluation&&) = delete;
  ~Evaluation() = default;

  /// check_host(<ip>, <domain>, <sender>) (RFC 7208 §4).
  HostResult check_host(const std::string& domain, unsigned depth) {
    if (!is_spf_domain(domain)) {
      return {};  // RFC 7208 §4.3: none
    }
    if (depth > 20) {  // Note: cannot happen within the lookup limit; a guard, not a rule.
      return error(SpfResult::permerror, "include/redirect nested too deeply");
    }
    const Answer txt = dns_.resolve(dns::strip_trailing_dot(domain), RrType::txt);
    if (txt.temporary_failure()) {
      return error(SpfResult::temperror, fmt::format("looking up the SPF record of {}: {}",
                                                     printable(domain), dns::describe(txt)));
    }
    std::vector<const std::string*> records;
    for (const auto& text : txt.texts) {
      if (is_spf_record(text)) {
        records.push_back(&text);
      }
    }
    if (txt.outcome != Outcome::ok || records.empty()) {
      return {};  // RFC 7208 §4.5: none
    }
    if (records.size() > 1) {
      return error(SpfResult::permerror, fmt::format("{} SPF records at {} (RFC 7208 section 4.5)",
                                                     records.size(), printable(domain)));
    }
    if (depth == 0) {
      top_record_ = *records.front();
    }
    step(depth, fmt::format("{}: \"{}\"", printable(domain), printable(*records.front())));
    std::string problem;
    const auto record = parse_spf_record(*records.front(), problem);
    if (!record) {
      return error(SpfResult::permerror,
                   fmt::format("invalid SPF record at {}: {}", printable(domain), problem));
    }
    return evaluate(*record, domain, depth);
  }

  /// RFC 7208 §6.2: the explanation for a fail, or "" when there is none or it is unusable.
  std::string explanation(const HostResult& host) {
    if (!host.exp) {
      return {};
    }
    const std::string target = expand(*host.exp, host.exp_domain, SpfMacroUse::domain);
    if (!dns::spf_queryable_name(target)) {
      return {};
    }
    const Answer txt = dns_.resolve(target, RrType::txt);  // not a term: no limits apply
    if (txt.outcome != Outcome::ok || txt.texts.size() != 1) {
      return {};
    }
    std::string problem;
    const auto text = parse_spf_macro_string(txt.texts.front(), SpfMacroUse::explanation, problem);
    if (!text) {
      return {};
    }
    return expand(*text, host.exp_domain, SpfMacroUse::explanation);
  }

  [[nodiscard]] const std::string& top_record() const { return top_record_; }
  std::vector<std::string> take_steps() { return std::move(steps_); }
  [[nodiscard]] bool out_of_time() const { return dns_.out_of_time(); }
  std::vector<Answer> take_evidence() { return dns_.take_evidence(); }

 private:
  HostResult evaluate(const SpfRecord& record, const std::string& domain, unsigned depth) {
    for (const auto& mech : record.mechanisms) {
      Match match = evaluate(mech, domain, depth);
      step(depth + 1, fmt::format("{}: {}", printable(mech.text),
                                  match.error     ? std::string(to_string(match.error->result))
                                  : match.matched ? std::string("match")
                                                  : std::string("no match")));
      if (match.error) {
        return std::move(*match.error);
      }
      if (match.matched) {
        HostResult out;
        out.result = mech.qualifier;
        out.mechanism = mech.text;
        out.exp = record.exp;
        out.exp_domain = domain;
        return out;
      }
    }
    if (record.redirect) {
      // RFC 7208 §6.1: only when no mechanism matched; the target's result is the result.
      if (!dns_.charge_term()) {
        return error(SpfResult::permerror, std::string(kLimitProblem));
      }
      const std::string target = expand(*record.redirect, domain, SpfMacroUse::domain);
      HostResult sub = check_host(target, depth + 1);
      if (sub.result == SpfResult::none) {
        return error(SpfResult::permerror,
                     fmt::format("{}: no SPF record at {}", printable(record.redirect_text),
                                 printable(target)));
      }
      return sub;
    }
    HostResult out;
    out.result = SpfResult::neutral;  // RFC 7208 §4.7
    out.exp = record.exp;
    out.exp_domain = domain;
    return out;
  }

  Match evaluate(const SpfMechanism& mech, const std::string& domain, unsigned depth) {
    switch (mech.kind) {
      case SpfMechanismKind::all: return {true, std::nullopt};
      case SpfMechanismKind::ip4:
      case SpfMechanismKind::ip6:
        return {client_.in_network(mech.network.prefix, mech.network.length), std::nullopt};
      case SpfMechanismKind::include: return include(mech, domain, depth);
      case SpfMechanismKind::a: return lookup(mech, SpfTerm::a, domain);
      case SpfMechanismKind::mx: return lookup(mech, SpfTerm::mx, domain);
      case SpfMechanismKind::ptr: return lookup(mech, SpfTerm::ptr, domain);
      case SpfMechanismKind::exists: return lookup(mech, SpfTerm::exists, domain);
    }
    return {};
  }

  /// RFC 7208 §5.2.
  Match include(const SpfMechanism& mech, const std::string& domain, unsigned depth) {
    if (!dns_.charge_term()) {
      return {false, error(SpfResult::permerror, std::string(kLimitProblem))};
    }
    const std::string target = expand(*mech.spec, domain, SpfMacroUse::domain);
    HostResult sub = check_host(target, depth + 1);
    switch (sub.result) {
      case SpfResult::pass: return {true, std::nullopt};
      case SpfResult::fail:
      case SpfResult::softfail:
      case SpfResult::neutral: return {false, std::nullopt};
      case SpfResult::temperror:
      case SpfResult::permerror: return {false, std::move(sub)};
      case SpfResult::none: break;
    }
    return {false,
            error(SpfResult::permerror,
                  fmt::format("{}: no SPF record at {}", printable(mech.text), printable(target)))};
  }

  /// a, mx, ptr, exists: libspf2 evaluates the single mechanism, asking our Resolver.
  Match lookup(const SpfMechanism& mech, SpfTerm term, const std::string& domain) {
    if (!dns_.charge_term()) {
      return {false, error(SpfResult::permerror, std::string(kLimitProblem))};
    }
    dns::SpfTermQuery query;
    query.term = term;
    query.target = mech.spec ? expand(*mech.spec, domain, SpfMacroUse::domain)
                             : std::string(dns::strip_trailing_dot(domain));
    if (!dns::spf_queryable_name(query.target)) {
      return {};  // RFC 7208 §4.8: a target that cannot be a DNS name does not exist
    }
    query.domain = domain;
    query.cidr4 = mech.cidr4;
    query.cidr6 = mech.cidr6;
    const dns::SpfTermResult result = dns_.evaluate(query);
    if (dns_.void_limit_exceeded()) {
      return {false, error(SpfResult::permerror, std::string(kVoidProblem))};
    }
    switch (result.outcome) {
      case dns::SpfTermOutcome::match: return {true, std::nullopt};
      case dns::SpfTermOutcome::no_match: return {};
      case dns::SpfTermOutcome::temperror:
        return {false, error(SpfResult::temperror,
                             fmt::format("{}: {}", printable(mech.text), result.problem))};
      case dns::SpfTermOutcome::permerror: break;
    }
    return {false, error(SpfResult::permerror,
                         fmt::format("{}: {}", printable(mech.text), result.problem))};
  }

  /// Expands a macro-string with <domain> = `domain` (RFC 7208 §7).
  std::string expand(const SpfMacroString& spec, std::string_view domain, SpfMacroUse use) {
    values_.domain = std::string(domain);
    values_.time = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    return expand_spf_macros(spec, values_, use);
  }

  /// The p macro (RFC 7208 §7.3): a validated name of the client, preferring <domain> or a
  /// subdomain of it; "unknown" if none. Note: its lookups are evidence but no term.
  std::string validated_name(std::string_view domain) {
    if (!validated_) {
      validated_.emplace();
      const Answer ptr = dns_.resolve(client_.reverse_name(), RrType::ptr);
      if (ptr.outcome == Outcome::ok) {
        const auto type = client_.is_v4() ? RrType::a : RrType::aaaa;
        const std::size_t count = std::min<std::size_t>(ptr.names.size(), 10);
        for (std::size_t i = 0; i < count; ++i) {
          const auto& name = ptr.names[i];
          if (!dns::spf_queryable_name(name)) {
            continue;
          }
          const Answer forward = dns_.resolve(name, type);
          if (std::find(forward.addresses.begin(), forward.addresses.end(), client_) !=
              forward.addresses.end()) {
            validated_->emplace_back(dns::strip_trailing_dot(name));
          }
        }
      }
    }
    if (validated_->empty()) {
      return "unknown";
    }
    const std::string_view wanted = dns::strip_trailing_dot(domain);
    for (const auto& name : *validated_) {
      if (dns::iequals(name, wanted)) {
        return name;
      }
    }
    for (const auto& name : *validated_) {
      if (dns::at_or_below(name, wanted)) {  // below it: an equal name was returned above
        return name;
      }
    }
    return validated_->front();
  }

  dns::SpfCheckDns dns_;
  IpAddress client_;
  SpfMacroValues values_;
  std::string top_record_;
  std::vector<std::string> steps_;  // what --check shows: each record and term, indented

  void step(unsigned depth, std::string line) {
    if (steps_.size() < 200)
      steps_.push_back(std::string(std::size_t{2} * depth, ' ') + std::move(line));
  }
  std::optional<std::vector<std::string>> validated_;
};

}  // namespace

std::string_view to_string(SpfResult result) {
  switch (result) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
  }
  return "?";
}

std::string_view to_string(SpfIdentity identity) {
  switch (identity) {
    case SpfIdentity::mailfrom: return "mailfrom";
    case SpfIdentity::helo: return "helo";
  }
  return "?";
}

bool spf_helo_checkable(std::string_view helo) {
  return is_spf_domain(helo);
}

Spf check_spf(dns::Resolver& resolver, const SpfRequest& request) {
  Spf out;
  out.identity = request.identity;
  const IpAddress client = request.client.unmapped();  // RFC 7208 §5: mapped IPv4 is IPv4

  // RFC 7208 §2.3, §2.4, §4.3: the identity, its domain, and "postmaster" for a missing
  // local-part.
  std::string local;
  std::string domain;
  if (request.identity == SpfIdentity::helo || request.mail_from.empty()) {
    local = "postmaster";
    domain = request.helo;
  } else {
    const auto at = request.mail_from.rfind('@');
    if (at == std::string::npos) {
      local = "postmaster";
      domain = request.mail_from;
    } else {
      local = request.mail_from.substr(0, at);
      domain = request.mail_from.substr(at + 1);
      if (local.empty()) {
        local = "postmaster";
      }
    }
  }
  out.sender = local + "@" + domain;
  out.domain = dns::normalize_name(domain);
  if (!is_spf_domain(domain)) {
    return out;  // RFC 7208 §4.3: none
  }

  SpfMacroValues values;
  values.sender = out.sender;
  values.local = local;
  values.sender_domain = dns::strip_trailing_dot(domain);
  values.ip = spf_macro_ip(client);
  values.pretty_ip = client.to_string();
  values.version = client.is_v4() ? "in-addr" : "ip6";
  values.helo = request.helo;
  values.receiver = request.receiver.empty() ? "unknown" : request.receiver;

  Evaluation evaluation(resolver, request, client, std::move(values));
  HostResult host = evaluation.check_host(std::string(dns::strip_trailing_dot(domain)), 0);
  if (evaluation.out_of_time()) {
    // Note: whatever the terms said once answers stopped (a PTR name skipped, say), the
    // evaluation is incomplete.
    host = error(SpfResult::temperror,
                 fmt::format("evaluation took longer than {} ms (RFC 7208 section 4.6.4)",
                             dns::SpfLimits{}.max_elapsed.count()));
  }
  out.result = host.result;
  out.record = evaluation.top_record();
  out.mechanism = std::move(host.mechanism);
  out.problem = std::move(host.problem);
  if (out.result == SpfResult::fail) {
    out.explanation = evaluation.explanation(host);
  }
  out.evidence = evaluation.take_evidence();
  out.steps = evaluation.take_steps();
  return out;
}

}  // namespace rdns::checks
