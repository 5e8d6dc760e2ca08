#include "rdns/policy/policy.h"

#include <fmt/format.h>

#include <algorithm>

#include "rdns/dns/name.h"

namespace rdns::policy {
namespace {

int rank(Action action) {
  switch (action) {
    case Action::accept: return 0;
    case Action::tag: return 1;
    case Action::tempfail: return 2;
    case Action::reject: return 3;
  }
  return 0;
}

/// A 4xx form of a reply: a temporary failure must never be refused permanently.
Reply temporary_reply(Reply reply) {
  if (reply.code.empty() || reply.code[0] != '4') {
    reply.code = "451";
  }
  if (reply.enhanced.empty() || reply.enhanced[0] != '4') {
    reply.enhanced = reply.enhanced.size() > 1 ? "4" + reply.enhanced.substr(1) : "4.7.1";
  }
  return reply;
}

using Vars = std::vector<std::pair<std::string, std::string>>;

/// The finding a rule gives: its action, and for reject/tempfail its reply with the
/// placeholders expanded (or `text` when given: an explanation the sender should read).
Finding apply_rule(Finding finding, const Rule& rule, const Vars& vars,
                   std::optional<std::string> text = std::nullopt) {
  finding.action = rule.action;
  if (rule.action == Action::reject || rule.action == Action::tempfail) {
    Reply reply = rule.reply;
    reply.text = text ? *text : expand(reply.text, vars);
    // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF; the code and the
    // enhanced code take up to 14 of them.
    constexpr std::size_t max_text = 480;
    if (reply.text.size() > max_text) {
      reply.text.resize(max_text - 3);
      reply.text += "...";
    }
    finding.reply = std::move(reply);
  }
  return finding;
}

}  // namespace

std::string Reply::to_string() const {
  std::string line = code;
  if (!enhanced.empty()) {
    line += ' ';
    line += enhanced;
  }
  if (!text.empty()) {
    line += ' ';
    line += text;
  }
  return line;
}

Exemption client_exemption(const Exemptions& exemptions, const dns::IpAddress& client,
                           bool authenticated, const std::vector<std::string>& verified_names) {
  const auto matches = [&client](const std::vector<dns::Network>& networks) {
    return std::any_of(networks.begin(), networks.end(),
                       [&client](const dns::Network& n) { return n.contains(client); });
  };
  if (matches(exemptions.trusted_networks)) return Exemption::trusted_network;
  if (authenticated) return Exemption::authenticated;
  if (matches(exemptions.allow_addresses)) return Exemption::allowlisted_address;
  for (const auto& name : verified_names) {
    for (const auto& domain : exemptions.allow_domains) {
      if (dns::at_or_below(name, domain)) {
        return Exemption::allowlisted_domain;
      }
    }
  }
  return Exemption::none;
}

bool recipient_exempt(const Exemptions& exemptions, std::string_view recipient) {
  if (recipient.size() >= 2 && recipient.front() == '<' && recipient.back() == '>') {
    recipient = recipient.substr(1, recipient.size() - 2);
  }
  const std::string address = dns::to_lower(recipient);
  const auto at = address.rfind('@');
  const std::string local = at == std::string::npos ? address : address.substr(0, at);
  return std::any_of(
      exemptions.recipients.begin(), exemptions.recipients.end(), [&](const std::string& entry) {
        return entry.find('@') == std::string::npos ? entry == local : entry == address;
      });
}

std::string_view to_string(Action action) {
  switch (action) {
    case Action::accept: return "accept";
    case Action::tag: return "tag";
    case Action::tempfail: return "tempfail";
    case Action::reject: return "reject";
  }
  return "?";
}

std::optional<Action> parse_action(std::string_view text) {
  if (text == "reject") return Action::reject;
  if (text == "tempfail") return Action::tempfail;
  if (text == "tag") return Action::tag;
  if (text == "ignore" || text == "accept") return Action::accept;
  return std::nullopt;
}

std::string_view to_string(Exemption exemption) {
  switch (exemption) {
    case Exemption::none: return "none";
    case Exemption::trusted_network: return "trusted-network";
    case Exemption::authenticated: return "authenticated";
    case Exemption::recipient: return "recipient";
    case Exemption::allowlisted_address: return "allowlisted-address";
    case Exemption::allowlisted_domain: return "allowlisted-domain";
    case Exemption::dnswl: return "dnswl";
  }
  return "?";
}

std::string expand(std::string_view text,
                   const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find("%{", pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    const auto close = text.find('}', open + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    const auto name = text.substr(open + 2, close - open - 2);
    bool found = false;
    for (const auto& [key, value] : vars) {
      if (key == name) {
        out += value;
        found = true;
        break;
      }
    }
    if (!found) {
      out.append(text.substr(open, close - open + 1));
    }
    pos = close + 1;
  }
  return out;
}

Finding judge_iprev(const IprevPolicy& policy, const checks::Iprev& iprev) {
  Finding finding;
  finding.check = "iprev";
  finding.label =
      fmt::format("{}({}{})", checks::to_string(iprev.result), checks::to_string(iprev.reason),
                  iprev.generic.generic ? ",generic" : "");
  const Rule* rule = nullptr;
  switch (iprev.result) {
    case checks::IprevResult::pass:
      if (!iprev.generic.generic) return finding;
      rule = &policy.generic;
      break;
    case checks::IprevResult::fail:
      rule =
          iprev.reason == checks::IprevReason::no_ptr ? &policy.no_ptr : &policy.no_forward_match;
      break;
    case checks::IprevResult::temperror:
      rule = &policy.temperror;
      finding.temporary = true;
      break;
    case checks::IprevResult::permerror: rule = &policy.permerror; break;
  }
  return apply_rule(
      std::move(finding), *rule,
      {{"ip", iprev.client.to_string()},
       {"ptr", iprev.ptr.empty() ? "none" : fmt::format("{}", fmt::join(iprev.ptr, ", "))},
       {"reason", std::string(checks::to_string(iprev.reason))},
       {"result", std::string(checks::to_string(iprev.result))},
       {"generic", iprev.generic.reason}});
}

Finding judge_helo(const HeloPolicy& policy, const checks::Helo& helo,
                   const dns::IpAddress& client) {
  Finding finding;
  finding.check = "helo";
  finding.label =
      fmt::format("{}({})", checks::to_string(helo.result), checks::to_string(helo.reason));
  const Rule* rule = nullptr;
  switch (helo.reason) {
    case checks::HeloReason::ok:
    case checks::HeloReason::no_helo: return finding;
    case checks::HeloReason::syntax: rule = &policy.syntax; break;
    case checks::HeloReason::not_fqdn: rule = &policy.not_fqdn; break;
    case checks::HeloReason::bad_tld: rule = &policy.bad_tld; break;
    case checks::HeloReason::no_address: rule = &policy.no_address; break;
    case checks::HeloReason::mismatch: rule = &policy.mismatch; break;
    case checks::HeloReason::forged_local: rule = &policy.forged_local; break;
    case checks::HeloReason::dns_error:
      rule = &policy.temperror;
      finding.temporary = true;
      break;
  }
  return apply_rule(std::move(finding), *rule,
                    {{"ip", client.unmapped().to_string()},
                     {"helo", helo.helo.substr(0, 64)},
                     {"reason", std::string(checks::to_string(helo.reason))},
                     {"result", std::string(checks::to_string(helo.result))},
                     {"detail", helo.parsed.error}});
}

Finding judge_spf(const SpfPolicy& policy, const checks::Spf& spf, const dns::IpAddress& client,
                  bool enforce) {
  Finding finding;
  finding.check = spf.identity == checks::SpfIdentity::helo ? "spf-helo" : "spf";
  finding.label = std::string(checks::to_string(spf.result));
  const Rule* rule = nullptr;
  switch (spf.result) {
    case checks::SpfResult::pass: return finding;
    case checks::SpfResult::fail: rule = &policy.fail; break;
    case checks::SpfResult::softfail: rule = &policy.softfail; break;
    case checks::SpfResult::neutral: rule = &policy.neutral; break;
    case checks::SpfResult::none: rule = &policy.none; break;
    case checks::SpfResult::temperror:
      rule = &policy.temperror;
      finding.temporary = true;
      break;
    case checks::SpfResult::permerror: rule = &policy.permerror; break;
  }
  if (!enforce) {
    return finding;
  }
  // RFC 7208 §6.2: the domain's own explanation is what the sender should read.
  std::optional<std::string> explanation;
  if (spf.result == checks::SpfResult::fail && !spf.explanation.empty()) {
    explanation = "SPF: " + spf.explanation;
  }
  return apply_rule(std::move(finding), *rule,
                    {{"ip", client.unmapped().to_string()},
                     {"domain", spf.domain},
                     {"sender", spf.sender},
                     {"result", std::string(checks::to_string(spf.result))},
                     {"reason", std::string(checks::to_string(spf.result))},
                     {"problem", spf.problem},
                     {"mechanism", spf.mechanism}},
                    explanation);
}

namespace {

std::string dnsbl_label(const checks::Dnsbl& dnsbl) {
  std::string label = std::to_string(dnsbl.score);
  std::vector<std::string> hits;
  for (const auto& hit : dnsbl.hits) {
    std::vector<std::string> answers;
    for (const auto& address : hit.answer) answers.push_back(address.to_string());
    hits.push_back(fmt::format("{}{}:{}", hit.domain.empty() ? "" : hit.domain + "@", hit.zone,
                               fmt::join(answers, "+")));
  }
  if (!hits.empty()) label += fmt::format("({})", fmt::join(hits, ","));
  return label;
}

}  // namespace

Finding judge_dnsbl(const DnsblPolicy& policy, const checks::Dnsbl& dnsbl,
                    const dns::IpAddress& client) {
  Finding finding;
  finding.check = "dnsbl";
  finding.label = dnsbl_label(dnsbl);
  if (dnsbl.result == checks::DnsblResult::listed) {
    // The list that weighs most names the reason.
    const auto top = std::max_element(
        dnsbl.hits.begin(), dnsbl.hits.end(),
        [](const checks::DnsblHit& a, const checks::DnsblHit& b) { return a.weight < b.weight; });
    const std::string txt = top->txt.empty() ? "" : "; " + dns::printable_ascii(top->txt, 250);
    return apply_rule(std::move(finding), policy.listed,
                      {{"ip", client.unmapped().to_string()},
                       {"zone", top->zone},
                       {"txt", txt},
                       {"answer", top->answer.empty() ? "" : top->answer.front().to_string()},
                       {"score", std::to_string(dnsbl.score)},
                       {"threshold", std::to_string(dnsbl.threshold)}});
  }
  if (dnsbl.dns_failure && policy.tempfail_on_error) {
    finding.temporary = true;
    std::string zone;
    for (const auto& error : dnsbl.errors) {
      if (error.outcome == "servfail" || error.outcome == "timeout" || error.outcome == "bogus") {
        zone = error.zone;
        break;
      }
    }
    return apply_rule(std::move(finding), policy.temperror,
                      {{"ip", client.unmapped().to_string()}, {"zone", zone}});
  }
  return finding;
}

Verdict decide(std::vector<Finding> findings, Exemption exemption, bool dry_run) {
  Verdict verdict;
  const Finding* decisive = nullptr;
  for (auto& finding : findings) {
    // Note: a temporary DNS failure never produces a permanent reject, whatever the rule says.
    if (finding.temporary && finding.action == Action::reject) {
      finding.action = Action::tempfail;
    }
    if (finding.action == Action::tempfail && finding.reply) {
      finding.reply = temporary_reply(*finding.reply);
    }
    if (decisive == nullptr || rank(finding.action) > rank(decisive->action)) {
      decisive = &finding;
    }
  }
  if (decisive != nullptr && decisive->action != Action::accept) {
    verdict.wanted = decisive->action;
    verdict.check = decisive->check;
    if (verdict.wanted == Action::reject || verdict.wanted == Action::tempfail) {
      verdict.reply = decisive->reply;
    }
  }
  verdict.action = verdict.wanted;
  const bool refusing = verdict.wanted == Action::reject || verdict.wanted == Action::tempfail;
  if (refusing && exemption != Exemption::none) {
    verdict.exemption = exemption;
    verdict.action = Action::tag;
  } else if (refusing && dry_run) {
    verdict.dry_run = true;
    verdict.action = Action::tag;
  }
  verdict.findings = std::move(findings);
  return verdict;
}

}  // namespace rdns::policy
