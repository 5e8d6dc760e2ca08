#include "rdns/cli/check.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <future>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>

#include <fmt/format.h>

#include "rdns/cli/trace.h"
#include "rdns/dns/name.h"
#include "rdns/header/auth_results.h"
#include "rdns/session/session.h"

namespace rdns::cli {
namespace {

using checks::IprevReason;
using checks::IprevResult;

std::string list_or_none(const std::vector<std::string>& items) {
  return items.empty() ? "none" : fmt::format("{}", fmt::join(items, ", "));
}

/// The forward answer for a name, if the evidence holds one.
const dns::Answer* forward_for(const checks::Iprev& iprev, const std::string& name) {
  const dns::Answer* found = nullptr;
  for (const auto& answer : iprev.evidence) {
    if ((answer.type == dns::RrType::a || answer.type == dns::RrType::aaaa) &&
        answer.name == name) {
      found = &answer;  // the last one: a re-check supersedes the first answer
    }
  }
  return found;
}

nlohmann::json answer_json(const dns::Answer& answer) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& name : answer.names) data.push_back(name);
  for (const auto& address : answer.addresses) data.push_back(address.to_string());
  for (const auto& text : answer.texts) data.push_back(text);
  for (const auto& mx : answer.mx) data.push_back(fmt::format("{} {}", mx.preference, mx.exchange));
  nlohmann::json json{
      {"name", answer.name},
      {"type", dns::to_string(answer.type)},
      {"outcome", dns::to_string(answer.outcome)},
      {"ttl", answer.ttl},
      {"dnssec", dns::to_string(answer.security)},
      {"data", data},
      {"cname_chain", answer.cname_chain},
      {"confirmed", answer.confirmed},
  };
  if (!answer.why_bogus.empty()) json["why_bogus"] = answer.why_bogus;
  if (!answer.error.empty()) json["error"] = answer.error;
  return json;
}

std::string addresses_text(const std::vector<dns::IpAddress>& addresses) {
  std::vector<std::string> texts;
  texts.reserve(addresses.size());
  for (const auto& address : addresses) texts.push_back(address.to_string());
  return fmt::format("{}", fmt::join(texts, ", "));
}

bool client_source(checks::DnsblSource source) {
  return source == checks::DnsblSource::client;
}

void print_dnsbl_text(std::ostream& out, const Report& report) {
  if (!report.dnsbl) return;
  const auto& lists = *report.dnsbl;
  out << "\nDNS lists:\n";
  for (const auto& lookup : lists.lookups) {
    out << "  " << dns::describe(lookup.a) << "\n";
    if (lookup.txt) out << "  " << dns::describe(*lookup.txt) << "\n";
  }
  for (const auto& hit : lists.hits) {
    out << fmt::format("  hit: {} {} -> {} weight {}", hit.zone, hit.query,
                       addresses_text(hit.answer), hit.weight);
    if (!client_source(hit.source)) {
      out << fmt::format(" ({} {})", checks::to_string(hit.source), hit.domain);
    }
    if (!hit.txt.empty()) out << fmt::format(" TXT \"{}\"", hit.txt);
    out << "\n";
  }
  for (const auto& error : lists.errors) {
    out << fmt::format("  error: {} {}: {}\n", error.zone,
                       error.answer.empty() ? error.outcome : "answers " + error.answer,
                       error.reason);
  }
  for (const auto& health : report.list_health) {
    out << fmt::format("  health: {} {}{}\n", health.zone, checks::to_string(health.state),
                       health.reason.empty() ? "" : ": " + health.reason);
  }
  if (lists.generic_weight != 0) {
    out << fmt::format("  generic PTR name: weight {}\n", lists.generic_weight);
  }
  out << fmt::format("dnsbl: score {}, threshold {}: {}\n", lists.score, lists.threshold,
                     checks::to_string(lists.result));
}

/// checks.dnsbl (client lists) or checks.rhsbl (domain lists): the hits and errors of that
/// kind, their own score, and the result of the whole (both kinds share the threshold).
nlohmann::json dnsbl_json(const checks::Dnsbl& lists, bool domains) {
  const auto optional_text = [](const std::string& text) {
    return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
  };
  nlohmann::json hits = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  // The generic-name weight counts on the client side.
  int score = domains ? 0 : lists.generic_weight;
  for (const auto& hit : lists.hits) {
    if (client_source(hit.source) == domains) continue;
    std::vector<std::string> answer;
    for (const auto& address : hit.answer) answer.push_back(address.to_string());
    nlohmann::json entry{{"zone", hit.zone},
                         {"query", hit.query},
                         {"answer", answer},
                         {"weight", hit.weight},
                         {"txt", optional_text(hit.txt)}};
    if (domains) {
      entry["domain"] = hit.domain;
      entry["source"] = checks::to_string(hit.source);
    }
    score += hit.weight;
    hits.push_back(std::move(entry));
  }
  for (const auto& error : lists.errors) {
    if (client_source(error.source) == domains) continue;
    nlohmann::json entry{{"zone", error.zone}, {"reason", error.reason}};
    if (!error.answer.empty()) entry["answer"] = error.answer;
    if (!error.outcome.empty()) entry["outcome"] = error.outcome;
    if (domains) {
      entry["domain"] = error.domain;
      entry["source"] = checks::to_string(error.source);
    }
    errors.push_back(std::move(entry));
  }
  nlohmann::json out{{"score", score},
                     {"threshold", lists.threshold},
                     {"result", checks::to_string(lists.result)},
                     {"hits", hits},
                     {"errors", errors}};
  if (!domains && lists.generic_weight != 0) out["generic_weight"] = lists.generic_weight;
  return out;
}

nlohmann::json probe_json(const dns::ProbeResult& probe) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : probe.steps) {
    nlohmann::json servers = nlohmann::json::array();
    for (const auto& server : step.servers) {
      nlohmann::json entry{
          {"ns", server.ns_name}, {"address", server.address}, {"responded", server.responded}};
      if (server.responded) {
        entry["rcode"] = server.rcode;
        entry["aa"] = server.aa;
        entry["tcp"] = server.tcp;
        entry["latency_ms"] = server.latency.count();
        entry["answer"] = answer_json(server.answer);
      } else {
        entry["failure"] = server.failure;
      }
      servers.push_back(std::move(entry));
    }
    nlohmann::json json{
        {"name", step.name},           {"type", dns::to_string(step.type)}, {"zone", step.zone},
        {"from_stub", step.from_stub}, {"local_zone", step.local_zone},     {"servers", servers}};
    if (!step.failure.empty()) json["failure"] = step.failure;
    steps.push_back(std::move(json));
  }
  const auto judgement = dns::judge(probe);
  return {{"name", probe.name},
          {"type", dns::to_string(probe.type)},
          {"verdict", dns::to_string(judgement.verdict)},
          {"servers_disagree", judgement.servers_disagree},
          {"steps", steps}};
}

/// The unbound-config's text; empty when there is none or it cannot be read.
std::string read_text(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool temporary(const dns::Answer& answer) {
  return answer.outcome == dns::Outcome::servfail || answer.outcome == dns::Outcome::timeout;
}

/// What the diagnosis needs to know about our own resolver: validation, cache limits, the
/// built-in local zones and, after a temporary failure, whether it answers at all (`health`:
/// its answer for ". NS", asked alongside the checks).
void add_resolver_facts(const dns::ResolverConfig& config, std::future<dns::Answer>& health,
                        Report& report) {
  const auto conf = read_text(config.unbound_config);
  report.validating =
      !config.trust_anchor_file.empty() || conf.find("trust-anchor") != std::string::npos;
  report.cache_max_negative_ttl = config.cache_max_negative_ttl;
  report.builtin_local_zones = builtin_local_zones(conf);
  bool failed = std::any_of(report.iprev.evidence.begin(), report.iprev.evidence.end(), temporary);
  for (const auto& spf : report.spf) {
    failed = failed || spf.result == checks::SpfResult::temperror;
  }
  auto answer = health.get();
  if (failed) report.resolver_health = std::move(answer);
}

/// Asks the resolver for ". NS" now. Note: asked after a failure, the answer would say less:
/// libunbound may have marked its only forwarder unusable after the forwarder's SERVFAIL.
std::future<dns::Answer> ask_health(dns::Resolver& resolver) {
  auto promise = std::make_shared<std::promise<dns::Answer>>();
  auto future = promise->get_future();
  resolver.resolve_async(".", dns::RrType::ns, {},
                         [promise](dns::Answer answer) { promise->set_value(std::move(answer)); });
  return future;
}

}  // namespace

Report run_check(dns::Resolver& resolver, const config::Config& config, const dns::IpAddress& ip,
                 const std::optional<std::string>& helo,
                 const std::optional<std::string>& mail_from,
                 std::shared_ptr<dns::AuthorityProbe> authority) {
  // The same Session the daemon runs per connection, driven once; the resolver is borrowed.
  session::Runtime runtime{std::make_shared<const config::Config>(config),
                           std::shared_ptr<dns::Resolver>(&resolver, [](dns::Resolver*) {}),
                           nullptr, std::move(authority)};
  Report report;
  // The lists' health first: a broken or erring list is skipped, as the daemon would.
  runtime.dnsbl_registry = std::make_shared<checks::DnsblRegistry>();
  if (config.dnsbl.any()) {
    report.list_health = checks::check_dnsbl_health(resolver, config::health_check_config(config),
                                                    *runtime.dnsbl_registry,
                                                    [](const checks::DnsblRegistry::Note&) {});
  }

  auto health = ask_health(resolver);
  session::Session session(runtime, nullptr);
  (void)session.connect("", ip, "");
  if (helo) {
    (void)session.helo(*helo);
  }
  if (mail_from) {
    const auto sender =
        mail_from->empty() || mail_from->front() == '<' ? *mail_from : "<" + *mail_from + ">";
    (void)session.mail(sender.empty() ? "<>" : sender, "", "");
  }
  report.verdict = session.current_verdict();
  report.dnsbl = session.dnsbl();
  report.client_lists = !config.dnsbl.sites.empty();
  report.domain_lists = !config.dnsbl.rhsbl.empty();
  report.iprev = *session.iprev();
  if (helo) {
    report.helo = session.helo_result();
  }
  report.spf = session.spf_results();
  report.cache_source = session::cache_source(config.resolver);
  add_resolver_facts(config.resolver, health, report);
  const auto edits = session.end_of_message("");
  for (const auto& [name, body] : edits.insert) {
    report.headers.push_back(fmt::format("{}:{}", name, body));
  }
  return report;
}

std::string iprev_fix(const checks::Iprev& iprev) {
  const std::string ip = iprev.client.to_string();
  const std::string reverse = iprev.client.reverse_name();
  const std::string type = iprev.client.is_v4() ? "A" : "AAAA";
  switch (iprev.reason) {
    case IprevReason::forward_confirmed:
      if (!iprev.generic.generic) return {};
      return fmt::format(
          "{0} passes, but its PTR name is the generic name of an address pool: {1}. A mail "
          "server needs a name of its own: ask whoever controls the address block (your ISP or "
          "hosting provider) to set {2} PTR mail.example.com (your mail server's real host "
          "name) with an {3} record {0}, or send through your provider's mail server.",
          ip, iprev.generic.reason, reverse, type);
    case IprevReason::no_ptr:
      return fmt::format(
          "No PTR record for {0}. Ask whoever controls the address block (your ISP or hosting "
          "provider, not your domain registrar) to create {1} PTR mail.example.com (your mail "
          "server's real host name), and give mail.example.com an {2} record {0}.",
          ip, reverse, type);
    case IprevReason::no_forward_match: {
      std::string found;
      for (const auto& name : iprev.ptr) {
        const auto* answer = forward_for(iprev, name);
        if (answer == nullptr) continue;
        std::vector<std::string> addresses;
        for (const auto& a : answer->addresses) addresses.push_back(a.to_string());
        found += fmt::format(
            " {} has {}.", name,
            answer->outcome == dns::Outcome::ok
                ? fmt::format("{} {}", type, list_or_none(addresses))
                : fmt::format("no {} record ({})", type, dns::to_string(answer->outcome)));
      }
      const std::string first = iprev.ptr.empty() ? "the PTR name" : iprev.ptr.front();
      return fmt::format(
          "{0} has PTR {1}, but no such name resolves back to {0}.{2} Add an {3} record "
          "{4} -> {0} in the DNS of {4}, or have the PTR changed to a name that has an {3} "
          "record {0}.",
          ip, list_or_none(iprev.ptr), found, type, first);
    }
    case IprevReason::ptr_servfail:
    case IprevReason::ptr_timeout:
    case IprevReason::ptr_bogus:
    case IprevReason::unconfirmed:
      return fmt::format(
          "The reverse DNS of {0} could not be read ({1}); mail is tempfailed, not rejected, and "
          "the sender will retry. If this persists, whoever runs the name servers of {2} should "
          "check them (try: dig +trace PTR {2}){3}.",
          ip, checks::to_string(iprev.reason), reverse,
          iprev.reason == IprevReason::ptr_bogus ? " and their DNSSEC signatures and DS records"
                                                 : "");
    case IprevReason::forward_temperror:
      return fmt::format(
          "{0} has PTR {1}, but looking up {2} failed temporarily, so the match could not be "
          "confirmed. Check the name servers of {1}.",
          ip, list_or_none(iprev.ptr), type);
    case IprevReason::malformed:
      return fmt::format(
          "The PTR data of {0} ({1}) does not name a usable host. Ask whoever controls the "
          "address block to set {2} PTR to your mail server's host name.",
          ip, list_or_none(iprev.ptr), reverse);
  }
  return {};
}

std::string helo_fix(const checks::Helo& helo, const checks::Iprev& iprev) {
  using checks::HeloReason;
  const std::string ip = iprev.client.to_string();
  const std::string name = helo.helo;
  const std::string example =
      !iprev.verified.empty() ? iprev.verified.front() : std::string("mail.example.com");
  const std::string advice = fmt::format(
      "Set its HELO name to its public host name, e.g. {}, whose {} record is {} and whose PTR "
      "points back to it.",
      example, iprev.client.is_v4() ? "A" : "AAAA", ip);
  switch (helo.reason) {
    case HeloReason::ok:
    case HeloReason::no_helo: return {};
    case HeloReason::syntax:
      return fmt::format(
          "Your server introduces itself as \"{}\", which is not a valid host "
          "name or address literal: {}. {}",
          name, helo.parsed.error, advice);
    case HeloReason::not_fqdn:
      return fmt::format("Your server introduces itself as {}, a bare name without a domain. {}",
                         name, advice);
    case HeloReason::bad_tld:
      if (const auto special = checks::special_use_reason(helo.parsed.domain); !special.empty()) {
        return fmt::format("Your server introduces itself as {}; {}. {}", name, special, advice);
      }
      return fmt::format(
          "Your server introduces itself as {}; .{} is not a top-level domain in the DNS (the "
          "root zone has no such name). {}",
          name, dns::top_label(helo.parsed.domain), advice);
    case HeloReason::no_address:
      return fmt::format(
          "{} has no A, AAAA or MX record. Publish {} A {} (or use a name that "
          "has it).",
          name, name, ip);
    case HeloReason::mismatch:
      return fmt::format(
          "{} resolves, but not to {}. Either add {} to its records or use the "
          "host name that does (e.g. the PTR name {}).",
          name, ip, ip, example);
    case HeloReason::forged_local:
      return fmt::format(
          "The client claims to be {}, which is this server's own name or "
          "address. A real client never does that.",
          name);
    case HeloReason::dns_error:
      return fmt::format("The DNS lookups for {} failed temporarily; check its name servers.",
                         name);
  }
  return {};
}

std::string spf_fix(const checks::Spf& spf, const dns::IpAddress& client) {
  const std::string ip = client.unmapped().to_string();
  const std::string ipmech = client.unmapped().is_v4() ? "ip4:" + ip : "ip6:" + ip;
  switch (spf.result) {
    case checks::SpfResult::pass:
    case checks::SpfResult::neutral: return {};
    case checks::SpfResult::fail:
    case checks::SpfResult::softfail:
      return fmt::format(
          "The SPF record of {0} does not list {1}: add {2}, or a/mx if this host is the "
          "domain's A or MX host, or include: the provider that sends for {0}.",
          spf.domain, ip, ipmech);
    case checks::SpfResult::none:
      return fmt::format(
          "{0} publishes no SPF record. Publish a TXT record such as "
          "\"v=spf1 {1} -all\" (listing every host that sends for {0}).",
          spf.domain, ipmech);
    case checks::SpfResult::permerror:
      return fmt::format(
          "The SPF record of {} is invalid: {}. Fix the record; receivers treat "
          "it as a permanent error.",
          spf.domain, spf.problem.empty() ? "see the record" : spf.problem);
    case checks::SpfResult::temperror:
      return fmt::format(
          "The DNS lookups for the SPF record of {} failed temporarily ({}); "
          "check its name servers.",
          spf.domain, spf.problem);
  }
  return {};
}

namespace {

/// One evidence line: dns::describe, with what the answer's flags really say: "not validated"
/// without a trust anchor, the negative TTL next to what the cache keeps, and answers that
/// libunbound made up from a built-in local zone.
std::string evidence_line(const Report& report, const dns::Answer& answer) {
  auto line = dns::describe(answer);
  if (answer.outcome == dns::Outcome::servfail && answer.error == "SERVFAIL") {
    return line.substr(0, line.rfind(" (SERVFAIL)"));
  }
  if (answer.outcome != dns::Outcome::ok && !answer.negative()) return line;
  line = line.substr(0, line.rfind(" (TTL "));
  const auto local = builtin_zone_of(report, answer);
  std::vector<std::string> notes;
  if (answer.negative()) {
    // Note: what the cache keeps matters for the resolver's answers, not for the re-check.
    const auto kept = answer.confirmed && local.empty()
                          ? answer.ttl
                          : std::min<unsigned>(answer.ttl, report.cache_max_negative_ttl);
    notes.push_back(kept == answer.ttl ? fmt::format("negative TTL {}", answer.ttl)
                                       : fmt::format("negative TTL {} in the answer, cached {} s "
                                                     "(cache-max-negative-ttl)",
                                                     answer.ttl, kept));
  } else {
    notes.push_back(fmt::format("TTL {}", answer.ttl));
  }
  notes.emplace_back(report.validating || answer.security != dns::Security::insecure
                         ? std::string(dns::to_string(answer.security))
                         : std::string("not validated"));
  if (!local.empty()) {
    notes.push_back(fmt::format(
        "made up by libunbound's built-in local zone {} (RFC 6303), no server was asked", local));
  } else if (answer.confirmed) {
    notes.emplace_back("asked the authoritative servers");
  }
  return fmt::format("{} ({})", line, fmt::join(notes, ", "));
}

std::string dnssec_text(const Report& report, dns::Security security) {
  if (!report.validating && security == dns::Security::insecure) {
    return "not validated (no trust anchor)";
  }
  return std::string(dns::to_string(security));
}

/// The iprev fix: our own resolver's failure is ours to fix, not the sender's.
std::string iprev_fix_of(const Report& report) {
  // Note: a dead resolver, or a PTR answer from a built-in local zone, is nothing the sender's
  // ISP can fix.
  for (const auto& d : diagnose(report)) {
    if (d.party == "receiver" && (d.code == "upstream-failure" || d.code == "no-ptr")) {
      return d.fix;
    }
  }
  return iprev_fix(report.iprev);
}

/// The iprev part of the text report: the answers, the result and the authoritative view.
void print_iprev(std::ostream& out, const Report& report) {
  const auto& iprev = report.iprev;
  out << fmt::format("Client {}\n\nDNS:\n", iprev.client.to_string());
  for (const auto& answer : iprev.evidence) {
    out << "  " << evidence_line(report, answer) << "\n";
  }
  out << fmt::format("\niprev: {} ({})", checks::to_string(iprev.result),
                     checks::to_string(iprev.reason));
  if (!iprev.verified.empty()) {
    out << fmt::format(", verified {}", fmt::join(iprev.verified, ", "));
  }
  out << fmt::format(", DNSSEC {}\n", dnssec_text(report, iprev.dnssec));
  if (iprev.generic.generic) {
    out << fmt::format("generic PTR name: yes ({})\n", iprev.generic.reason);
  } else if (!iprev.ptr.empty()) {
    out << "generic PTR name: no\n";
  }
  for (const auto& probe : iprev.authority) {
    out << fmt::format("  authoritative servers ({}): {}\n",
                       dns::to_string(dns::judge(probe).verdict), dns::describe(probe));
  }
}

/// The diagnosis, one block per finding.
void print_diagnosis(std::ostream& out, const Report& report) {
  const auto found = diagnose(report);
  if (found.empty()) return;
  out << "\nDiagnosis:\n";
  for (const auto& d : found) {
    out << fmt::format("  {} [{}]: {}\n    fix: {}\n", d.code, d.party, d.summary, d.fix);
  }
}

}  // namespace

void print_text(std::ostream& out, const Report& report) {
  const auto& iprev = report.iprev;
  print_iprev(out, report);
  if (report.helo) {
    const auto& helo = *report.helo;
    out << fmt::format("\nHELO {}:\n", helo.helo);
    switch (helo.parsed.kind) {
      case checks::HeloName::Kind::invalid:
        out << fmt::format("  syntax: invalid ({})\n", helo.parsed.error);
        break;
      case checks::HeloName::Kind::address_literal:
        out << fmt::format("  syntax: address literal {}\n", helo.parsed.literal->to_string());
        break;
      case checks::HeloName::Kind::domain:
        out << fmt::format("  syntax: domain {}\n", helo.parsed.domain);
        break;
    }
    for (const auto& answer : helo.evidence) {
      out << "  " << evidence_line(report, answer) << "\n";
    }
    out << fmt::format("helo: {} ({}){}\n", checks::to_string(helo.result),
                       checks::to_string(helo.reason),
                       helo.matched_by_ptr ? ", matches the verified PTR name" : "");
  }
  for (const auto& spf : report.spf) {
    out << fmt::format("\nSPF ({} identity, {}):\n", checks::to_string(spf.identity), spf.sender);
    for (const auto& answer : spf.evidence) {
      out << "  " << evidence_line(report, answer) << "\n";
    }
    if (!spf.steps.empty()) out << "  evaluation:\n";
    for (const auto& line : spf.steps) {
      out << "    " << line << "\n";
    }
    out << fmt::format("spf: {}", checks::to_string(spf.result));
    if (!spf.mechanism.empty()) out << fmt::format(" (matched {})", spf.mechanism);
    if (!spf.problem.empty()) out << fmt::format(" ({})", spf.problem);
    if (!spf.explanation.empty()) out << fmt::format(", explanation: {}", spf.explanation);
    out << "\n";
  }
  print_dnsbl_text(out, report);
  const auto& verdict = report.verdict;
  out << fmt::format("\nAction: {}", policy::to_string(verdict.action));
  if (verdict.exemption != policy::Exemption::none) {
    out << fmt::format(" (exempt: {}; would {})", policy::to_string(verdict.exemption),
                       policy::to_string(verdict.wanted));
  } else if (verdict.dry_run) {
    out << fmt::format(" (dry-run; would {})", policy::to_string(verdict.wanted));
  }
  out << "\n";
  if (verdict.reply) {
    out << "Reply: " << verdict.reply->to_string() << "\n";
  }
  for (const auto& header : report.headers) {
    out << header << "\n";
  }
  if (const auto fix = iprev_fix_of(report); !fix.empty()) {
    out << "\nFix: " << fix << "\n";
  }
  if (report.helo) {
    if (const auto fix = helo_fix(*report.helo, iprev); !fix.empty()) {
      out << "\nFix (HELO): " << fix << "\n";
    }
  }
  for (const auto& spf : report.spf) {
    if (spf.identity != checks::SpfIdentity::mailfrom) continue;
    if (const auto fix = spf_fix(spf, iprev.client); !fix.empty()) {
      out << "\nFix (SPF): " << fix << "\n";
    }
  }
  // With --trace the verdict paragraph holds the diagnosis and what the traces add.
  if (report.traces.empty()) {
    print_diagnosis(out, report);
  } else {
    print_trace_text(out, report);
  }
}

namespace {

/// checks.helo, when there was a HELO.
void add_helo_json(nlohmann::json& json, const Report& report) {
  const auto& iprev = report.iprev;
  if (report.helo) {
    const auto& helo = *report.helo;
    nlohmann::json helo_answers = nlohmann::json::array();
    for (const auto& answer : helo.evidence) helo_answers.push_back(answer_json(answer));
    std::vector<std::string> addresses;
    for (const auto& address : helo.addresses) addresses.push_back(address.to_string());
    json["checks"]["helo"] = {
        {"result", checks::to_string(helo.result)},
        {"reason", checks::to_string(helo.reason)},
        {"helo", helo.helo},
        {"addresses", addresses},
        {"matched_by_ptr", helo.matched_by_ptr},
        {"answers", helo_answers},
        {"fix", helo_fix(helo, iprev)},
    };
    if (!helo.parsed.error.empty()) json["checks"]["helo"]["syntax_error"] = helo.parsed.error;
  }
}

/// checks.spf and checks.spf_helo.
void add_spf_json(nlohmann::json& json, const Report& report) {
  const auto& iprev = report.iprev;
  const auto optional_text = [](const std::string& text) {
    return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
  };
  for (const auto& spf : report.spf) {
    if (spf.identity != checks::SpfIdentity::mailfrom) {
      json["checks"]["spf_helo"] = {{"result", checks::to_string(spf.result)},
                                    {"domain", spf.domain}};
      continue;
    }
    nlohmann::json spf_answers = nlohmann::json::array();
    for (const auto& answer : spf.evidence) spf_answers.push_back(answer_json(answer));
    json["checks"]["spf"] = {
        {"result", checks::to_string(spf.result)},
        {"identity", checks::to_string(spf.identity)},
        {"domain", spf.domain},
        {"sender", spf.sender},
        {"record", optional_text(spf.record)},
        {"mechanism", optional_text(spf.mechanism)},
        {"explanation", optional_text(spf.explanation)},
        {"problem", optional_text(spf.problem)},
        {"answers", spf_answers},
        {"steps", spf.steps},
        {"fix", spf_fix(spf, iprev.client)},
    };
  }
}

/// checks.dnsbl, checks.rhsbl and dnsbl_health, with DNS lists.
void add_dnsbl_json(nlohmann::json& json, const Report& report) {
  if (report.dnsbl) {
    if (report.client_lists) json["checks"]["dnsbl"] = dnsbl_json(*report.dnsbl, false);
    if (report.domain_lists) json["checks"]["rhsbl"] = dnsbl_json(*report.dnsbl, true);
    nlohmann::json health = nlohmann::json::array();
    for (const auto& list : report.list_health) {
      health.push_back(
          {{"zone", list.zone}, {"state", checks::to_string(list.state)}, {"reason", list.reason}});
    }
    json["dnsbl_health"] = health;
  }
}

}  // namespace

void print_json(std::ostream& out, const Report& report) {
  const auto& iprev = report.iprev;
  nlohmann::json answers = nlohmann::json::array();
  for (const auto& answer : iprev.evidence) answers.push_back(answer_json(answer));
  nlohmann::json json{
      {"ip", iprev.client.to_string()},
      {"action", policy::to_string(report.verdict.action)},
      {"reply", report.verdict.reply ? nlohmann::json(report.verdict.reply->to_string())
                                     : nlohmann::json(nullptr)},
      {"checks",
       {{"iprev",
         {{"result", checks::to_string(iprev.result)},
          {"reason", checks::to_string(iprev.reason)},
          {"ptr", iprev.ptr},
          {"verified", iprev.verified},
          {"dnssec", dns::to_string(iprev.dnssec)},
          {"generic", {{"generic", iprev.generic.generic}, {"reason", iprev.generic.reason}}},
          {"answers", answers},
          {"fix", iprev_fix_of(report)}}}}},
      {"headers", report.headers},
  };
  nlohmann::json authority = nlohmann::json::array();
  for (const auto& probe : iprev.authority) authority.push_back(probe_json(probe));
  json["checks"]["iprev"]["authority"] = authority;
  nlohmann::json diagnosis = nlohmann::json::array();
  for (const auto& d : diagnose(report)) {
    diagnosis.push_back(
        {{"code", d.code}, {"party", d.party}, {"summary", d.summary}, {"fix", d.fix}});
  }
  json["diagnosis"] = diagnosis;
  add_helo_json(json, report);
  add_spf_json(json, report);
  add_dnsbl_json(json, report);
  add_trace_json(json, report);  // --trace
  if (report.verdict.exemption != policy::Exemption::none) {
    json["exemption"] = policy::to_string(report.verdict.exemption);
  }
  if (report.verdict.action != report.verdict.wanted) {
    json["wanted"] = policy::to_string(report.verdict.wanted);
  }
  out << json.dump(2) << "\n";
}

}  // namespace rdns::cli
