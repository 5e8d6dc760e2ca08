// --check's diagnosis: what is wrong, whose side must act, and the exact record that fixes it.
// Pure: it reads a Report (the resolver's answers, the authority probe's per-server evidence,
// the HELO and SPF results) and asks nothing.

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "rdns/cli/check.h"
#include "rdns/dns/name.h"

namespace rdns::cli {
namespace {

using checks::IprevReason;
using Found = std::vector<Diagnosis>;

constexpr std::string_view sender_isp = "sender-isp";
constexpr std::string_view sender_domain = "sender-domain";
constexpr std::string_view receiver = "receiver";

bool is_reverse(std::string_view name) {
  return dns::at_or_below(name, "in-addr.arpa") || dns::at_or_below(name, "ip6.arpa");
}

/// Who runs the DNS of `name`: the address block's holder for reverse names, else the domain.
std::string party_of(std::string_view name) {
  return std::string(is_reverse(name) ? sender_isp : sender_domain);
}

std::string address_type(const dns::IpAddress& ip) {
  return ip.unmapped().is_v4() ? "A" : "AAAA";
}

/// The host name to put in a suggested record: a verified or published PTR name, else a
/// placeholder the reader replaces.
std::string host_for(const checks::Iprev& iprev) {
  if (!iprev.verified.empty()) return iprev.verified.front();
  if (!iprev.ptr.empty()) return iprev.ptr.front();
  return "mail.example.com";
}

std::string source_of(const Report& report) {
  return report.cache_source.starts_with("forwarder") ? report.cache_source
                                                      : std::string("the resolver");
}

std::string outcome_text(const dns::Answer& answer) {
  switch (answer.outcome) {
    case dns::Outcome::ok: return "records";
    case dns::Outcome::nxdomain: return "NXDOMAIN";
    case dns::Outcome::nodata: return fmt::format("no {} record", dns::to_string(answer.type));
    case dns::Outcome::servfail:
      return answer.error.empty() || answer.error == "SERVFAIL"
                 ? std::string("SERVFAIL")
                 : fmt::format("SERVFAIL ({})", answer.error);
    case dns::Outcome::timeout: return "timed out";
    case dns::Outcome::bogus: return fmt::format("BOGUS ({})", answer.why_bogus);
  }
  return "?";
}

/// The records of an answer as text: names, addresses, texts.
std::vector<std::string> data_of(const dns::Answer& answer) {
  std::vector<std::string> data = answer.names;
  for (const auto& address : answer.addresses) data.push_back(address.to_string());
  for (const auto& text : answer.texts) data.push_back(fmt::format("\"{}\"", text));
  return data;
}

/// "ns1.test 127.0.0.3: REFUSED", the way one server failed to answer authoritatively.
std::string server_failure(const dns::ServerAnswer& server) {
  if (!server.responded)
    return fmt::format("{} {}: {}", server.ns_name, server.address, server.failure);
  if (server.rcode == 5) return fmt::format("{} {}: REFUSED", server.ns_name, server.address);
  if (server.rcode != 0 && server.rcode != 3) {
    return fmt::format("{} {}: rcode {}", server.ns_name, server.address, server.rcode);
  }
  return fmt::format("{} {}: answered without the AA flag (not authoritative)", server.ns_name,
                     server.address);
}

/// The PTR owner the record belongs at: the end of the resolver's CNAME chain (RFC 2317).
std::string ptr_owner(const checks::Iprev& iprev) {
  for (const auto& answer : iprev.evidence) {
    if (answer.type == dns::RrType::ptr && !answer.cname_chain.empty()) {
      return answer.cname_chain.back();
    }
  }
  return iprev.client.reverse_name();
}

/// The zone that should hold the PTR: the probe's, else the negative answer's SOA owner.
std::string reverse_zone_of(const checks::Iprev& iprev) {
  for (const auto& probe : iprev.authority) {
    if (!probe.steps.empty() && !probe.steps.back().zone.empty()) return probe.steps.back().zone;
  }
  for (const auto& answer : iprev.evidence) {
    if (answer.type == dns::RrType::ptr && !answer.zone.empty()) return answer.zone;
  }
  return {};
}

const dns::Answer* last_answer(const checks::Iprev& iprev, std::string_view name,
                               dns::RrType type) {
  const dns::Answer* found = nullptr;
  for (const auto& answer : iprev.evidence) {
    if (answer.type == type && answer.name == name) found = &answer;
  }
  return found;
}

void add(Found& found, std::string code, std::string_view party, std::string summary,
         std::string fix) {
  found.push_back({std::move(code), std::string(party), std::move(summary), std::move(fix)});
}

// ---- the resolver itself ---------------------------------------------------------------

/// The first answer of the report that failed temporarily (not bogus).
const dns::Answer* first_failure(const Report& report) {
  for (const auto& answer : report.iprev.evidence) {
    if (answer.outcome == dns::Outcome::servfail || answer.outcome == dns::Outcome::timeout) {
      return &answer;
    }
  }
  return nullptr;
}

void diagnose_resolver(const Report& report, Found& found) {
  const auto* failed = first_failure(report);
  if (failed == nullptr) return;
  const auto source = source_of(report);
  add(found, "upstream-failure", receiver,
      fmt::format("{} did not answer {} {} ({}), nor the root zone's NS ({}): our own "
                  "resolver is not working, the sender's DNS was never reached",
                  source, failed->name, dns::to_string(failed->type), outcome_text(*failed),
                  outcome_text(*report.resolver_health)),
      report.cache_source.starts_with("forwarder")
          ? fmt::format("On the receiving side: start {} or correct the forwarder option "
                        "(try: dig @ADDRESS . NS); the sender has nothing to fix.",
                        source)
          : "On the receiving side: let the resolver reach the DNS (outbound port 53 over UDP "
            "and TCP) or correct the unbound-config; the sender has nothing to fix.");
}

// ---- iprev: the PTR and the forward names ------------------------------------------------

void diagnose_no_ptr(const Report& report, Found& found) {
  const auto& iprev = report.iprev;
  const auto* ptr = last_answer(iprev, iprev.client.reverse_name(), dns::RrType::ptr);
  const auto reverse = iprev.client.reverse_name();
  if (ptr != nullptr) {
    if (const auto local = builtin_zone_of(report, *ptr); !local.empty()) {
      add(found, "no-ptr", receiver,
          fmt::format("{} PTR: {} was made up by libunbound's built-in local zone {} (RFC 6303 "
                      "/ RFC 6761), no server was asked",
                      reverse, outcome_text(*ptr), local),
          fmt::format("If {} really has a PTR (an address range your own servers serve), free "
                      "the zone in an unbound-config: local-zone: \"{}.\" nodefault (and a "
                      "stub-zone for it).",
                      iprev.client.to_string(), local));
      return;
    }
  }
  const auto zone = reverse_zone_of(iprev);
  const auto host = host_for(iprev);
  const auto owner = ptr_owner(iprev);
  // Note: behind an RFC 2317 CNAME the record belongs in the target's zone (rfc2317-broken).
  const auto where = owner != reverse ? std::string("the zone that holds the CNAME target")
                     : zone.empty()   ? std::string("the zone of the address block")
                                      : "the zone " + zone;
  add(found, "no-ptr", sender_isp,
      fmt::format("{} PTR: {} from {}{}", reverse, ptr != nullptr ? outcome_text(*ptr) : "none",
                  source_of(report),
                  iprev.authority.empty()
                      ? ""
                      : fmt::format(", confirmed by the authoritative servers of {}",
                                    zone.empty() ? reverse : zone)),
      fmt::format("The holder of the address block (ISP or hosting provider, not the domain "
                  "registrar) adds {}. PTR {}. in {} (your mail server's real host name), and "
                  "the domain publishes {}. {} {}.",
                  owner, host, where, host, address_type(iprev.client), iprev.client.to_string()));
}

void diagnose_forward(const Report& report, Found& found) {
  const auto& iprev = report.iprev;
  const auto ip = iprev.client.to_string();
  const auto type = address_type(iprev.client);
  const auto rtype = iprev.client.unmapped().is_v4() ? dns::RrType::a : dns::RrType::aaaa;
  for (const auto& name : iprev.ptr) {
    const auto* answer = last_answer(iprev, name, rtype);
    if (answer == nullptr) continue;
    if (answer->negative()) {
      add(found, "ptr-no-address", sender_domain,
          fmt::format("{} PTR {}, but {} {}: {} from {}", iprev.client.reverse_name(), name, name,
                      type, outcome_text(*answer), source_of(report)),
          fmt::format("Publish {}. {} {} in the zone of {} (or have the PTR changed to a name "
                      "that has it).",
                      name, type, ip, name));
    } else if (answer->outcome == dns::Outcome::ok) {
      std::vector<std::string> addresses;
      for (const auto& address : answer->addresses) addresses.push_back(address.to_string());
      add(found, "ptr-mismatch", sender_domain,
          fmt::format("{} PTR {}, but {} {} is {}, not {}", iprev.client.reverse_name(), name, name,
                      type, fmt::join(addresses, ", "), ip),
          fmt::format("Add {}. {} {} (next to the addresses it has), or have {}. PTR changed to "
                      "the name whose {} record is {}.",
                      name, type, ip, iprev.client.reverse_name(), type, ip));
    }
  }
}

/// SERVFAIL or timeout from the sender's side (our resolver answers other questions).
void diagnose_upstream(const Report& report, Found& found) {
  const auto& iprev = report.iprev;
  for (const auto& answer : iprev.evidence) {
    // Note: a confirmed failure is the probe's judgement, told below with the servers' evidence.
    if (answer.confirmed ||
        (answer.outcome != dns::Outcome::servfail && answer.outcome != dns::Outcome::timeout)) {
      continue;
    }
    std::string servers;
    for (const auto& probe : iprev.authority) {
      if (probe.name == answer.name)
        servers = "; the authoritative servers: " + dns::describe(probe);
    }
    add(found, "upstream-failure", party_of(answer.name),
        fmt::format("{} {}: {} from {}{}", answer.name, dns::to_string(answer.type),
                    outcome_text(answer), source_of(report), servers),
        fmt::format("Mail is tempfailed, never rejected, while this lasts. Whoever runs the name "
                    "servers of {} must make them answer (check each listed server: dig +norec "
                    "@SERVER {} {}).",
                    answer.zone.empty() ? answer.name : answer.zone, answer.name,
                    dns::to_string(answer.type)));
  }
  if (iprev.reason == IprevReason::unconfirmed) {
    for (const auto& probe : iprev.authority) {
      const auto judgement = dns::judge(probe);
      if (judgement.verdict != dns::ProbeVerdict::unconfirmed) continue;
      add(found, "upstream-failure", party_of(probe.name),
          fmt::format("{} {}: the negative answer could not be confirmed: {}", probe.name,
                      dns::to_string(probe.type), judgement.answer.error),
          fmt::format("Mail is tempfailed, never rejected, while this lasts. The servers of {} "
                      "must answer authoritatively (with the AA flag) for {}.",
                      probe.steps.empty() || probe.steps.back().zone.empty()
                          ? probe.name
                          : probe.steps.back().zone,
                      probe.name));
    }
  }
}

void diagnose_bogus(const std::vector<dns::Answer>& answers, Found& found) {
  for (const auto& answer : answers) {
    if (answer.outcome != dns::Outcome::bogus) continue;
    add(found, "dnssec-bogus", party_of(answer.name),
        fmt::format("{} {} failed DNSSEC validation: {}", answer.name, dns::to_string(answer.type),
                    answer.why_bogus.empty() ? "validation failed" : answer.why_bogus),
        fmt::format("Fix the DNSSEC chain of the zone of {}: the DS records in the parent zone "
                    "must match a DNSKEY of the zone and its signatures must be current (check: "
                    "delv {} {}); a zone no longer signed must have its DS removed at the parent.",
                    answer.name, answer.name, dns::to_string(answer.type)));
  }
}

// ---- the authority probe's per-server evidence ---------------------------------------------

void diagnose_disagree(const dns::ProbeResult& probe, Found& found) {
  if (!dns::judge(probe).servers_disagree || probe.steps.empty()) return;
  const auto& step = probe.steps.back();
  std::vector<std::string> said;
  std::string record;
  for (const auto& server : step.servers) {
    if (!server.authoritative()) continue;
    said.push_back(fmt::format("{} {}: {}", server.ns_name, server.address,
                               server.answer.outcome == dns::Outcome::ok
                                   ? fmt::format("{} {}", dns::to_string(server.answer.type),
                                                 fmt::join(data_of(server.answer), ", "))
                                   : outcome_text(server.answer)));
    if (record.empty() && server.answer.outcome == dns::Outcome::ok &&
        !server.answer.names.empty()) {
      record = fmt::format(" (the record some serve: {}. {} {}.)", step.name,
                           dns::to_string(step.type), server.answer.names.front());
    }
  }
  add(found, "servers-disagree", party_of(probe.name),
      fmt::format("the authoritative servers of {} give different answers for {} {}: {}", step.zone,
                  step.name, dns::to_string(step.type), fmt::join(said, "; ")),
      fmt::format("Bring every server of {} in sync with the primary: compare the SOA serial on "
                  "each (dig +norec @SERVER {} SOA) and fix the zone transfer{}.",
                  step.zone, step.zone, record));
}

void diagnose_lame(const dns::ProbeResult& probe, Found& found) {
  for (const auto& step : probe.steps) {
    if (step.local_zone) continue;
    const bool any_responded = std::any_of(step.servers.begin(), step.servers.end(),
                                           [](const auto& s) { return s.responded; });
    if (!any_responded) continue;  // nobody answered: an upstream failure, not a lame server
    for (const auto& server : step.servers) {
      if (server.authoritative()) continue;
      const auto zone = step.zone.empty() ? step.name : step.zone;
      add(found, "lame-delegation", step.from_stub ? receiver : party_of(zone),
          fmt::format("{} is listed as a server of {} but does not answer authoritatively for "
                      "{} {}: {}",
                      step.from_stub ? "stub-addr " + server.address : server.ns_name, zone,
                      step.name, dns::to_string(step.type), server_failure(server)),
          step.from_stub
              ? fmt::format("Correct the stub-zone for {} in the unbound-config: {} does not "
                            "serve it.",
                            zone, server.address)
              : fmt::format("Make {} ({}) serve the zone {} (load it, answer queries), or "
                            "remove it from the NS records of {} and from its delegation in the "
                            "parent zone.",
                            server.ns_name, server.address, zone, zone));
    }
  }
}

/// A CNAME (RFC 2317) followed into a zone that does not answer or lacks the target.
void diagnose_rfc2317_target(const Report& report, const dns::ProbeResult& probe,
                             const dns::ZoneProbe& step, Found& found) {
  const auto host = host_for(report.iprev);
  const auto judgement = dns::judge({probe.name, probe.type, {step}});
  if (judgement.verdict == dns::ProbeVerdict::unconfirmed) {
    add(found, "rfc2317-broken", sender_isp,
        fmt::format("{} is a CNAME to {}, whose zone {} does not answer: {}", probe.name, step.name,
                    step.zone.empty() ? "(none found)" : step.zone, judgement.answer.error),
        fmt::format("Delegate the RFC 2317 zone of {} (NS records in the parent zone) to "
                    "servers that serve it, or replace the CNAME by {}. PTR {}.",
                    step.name, probe.name, host));
  } else if (judgement.verdict == dns::ProbeVerdict::confirmed_negative) {
    add(found, "rfc2317-broken", sender_isp,
        fmt::format("{} is a CNAME to {}, which its zone {} answers {}", probe.name, step.name,
                    step.zone, outcome_text(judgement.answer)),
        fmt::format("Add {}. PTR {}. in the zone {}.", step.name, host, step.zone));
  }
}

/// A CNAME (RFC 2317) whose target does not exist or whose zone nobody serves.
void diagnose_rfc2317(const Report& report, const dns::ProbeResult& probe, Found& found) {
  const auto host = host_for(report.iprev);
  for (std::size_t i = 0; i < probe.steps.size(); ++i) {
    const auto& step = probe.steps[i];
    if (!is_reverse(step.name)) continue;
    if (i > 0) {
      diagnose_rfc2317_target(report, probe, step, found);
      return;
    }
    for (const auto& server : step.servers) {
      const auto& answer = server.answer;
      if (!server.authoritative() || answer.cname_chain.empty() || !answer.negative() ||
          dns::leaves_zone(answer)) {
        continue;
      }
      // The CNAME target is inside the zone that answered: missing there, or below a cut the
      // zone does not have.
      const auto& target = answer.cname_chain.back();
      const std::string target_zone(dns::parent(target));
      const auto zone = answer.zone.empty() ? step.zone : answer.zone;
      const bool in_zone = zone == target_zone;
      add(found, "rfc2317-broken", sender_isp,
          fmt::format("{} is a CNAME to {}, which {} {} answers {}{}", step.name, target,
                      server.ns_name, server.address, outcome_text(answer),
                      in_zone ? "" : fmt::format(" (the zone {} is not delegated)", target_zone)),
          in_zone ? fmt::format("Add {}. PTR {}. in the zone {}.", target, host, zone)
                  : fmt::format("Delegate {} (NS records in {}) to servers that serve it with "
                                "{}. PTR {}., or replace the CNAME by {}. PTR {}.",
                                target_zone, zone, target, host, step.name, host));
      return;
    }
  }
}

/// The resolver saw a CNAME into nothing, and no probe ran to say more.
void diagnose_rfc2317_resolver(const Report& report, Found& found) {
  const auto& iprev = report.iprev;
  if (!iprev.authority.empty()) return;
  for (const auto& answer : iprev.evidence) {
    if (answer.type != dns::RrType::ptr || answer.cname_chain.empty() || !answer.negative()) {
      continue;
    }
    add(found, "rfc2317-broken", sender_isp,
        fmt::format("{} is a CNAME to {}, which is {} ({})", answer.name, answer.cname_chain.back(),
                    outcome_text(answer), source_of(report)),
        fmt::format("Add {}. PTR {}. in the zone that holds it (or delegate that RFC 2317 zone "
                    "to servers that serve it).",
                    answer.cname_chain.back(), host_for(iprev)));
  }
}

void diagnose_stale(const Report& report, Found& found) {
  const auto& iprev = report.iprev;
  // Note: when the servers disagree, the negative came from an out-of-sync server, not a cache.
  for (const auto& probe : iprev.authority) {
    if (dns::judge(probe).servers_disagree) return;
  }
  const auto source =
      report.cache_source.empty() ? std::string("the resolver's cache") : report.cache_source;
  for (const auto& line : checks::stale_negative_warnings(iprev, source)) {
    add(found, "stale-negative-cache", receiver, line,
        source.starts_with("forwarder")
            ? "Flush the forwarder's cache for the name (or lower its negative-cache TTL); "
              "rdns-milter asked the authoritative servers and did not reject."
            : "Nothing to do: the cached negative answer expires by itself, and rdns-milter "
              "asked the authoritative servers instead of rejecting.");
  }
}

void diagnose_iprev(const Report& report, Found& found) {
  const auto& iprev = report.iprev;
  if (resolver_down(report)) {
    diagnose_resolver(report, found);
    return;  // nothing the sender's DNS said can be judged
  }
  diagnose_stale(report, found);
  for (const auto& probe : iprev.authority) {
    diagnose_disagree(probe, found);
    diagnose_lame(probe, found);
    diagnose_rfc2317(report, probe, found);
  }
  diagnose_rfc2317_resolver(report, found);
  diagnose_bogus(iprev.evidence, found);
  switch (iprev.reason) {
    case IprevReason::no_ptr: diagnose_no_ptr(report, found); break;
    case IprevReason::no_forward_match: diagnose_forward(report, found); break;
    case IprevReason::ptr_servfail:
    case IprevReason::ptr_timeout:
    case IprevReason::unconfirmed:
    case IprevReason::forward_temperror: diagnose_upstream(report, found); break;
    default: break;
  }
}

// ---- HELO and SPF ----------------------------------------------------------------------------

void diagnose_helo(const Report& report, Found& found) {
  if (!report.helo) return;
  const auto& helo = *report.helo;
  const auto& iprev = report.iprev;
  const auto ip = iprev.client.to_string();
  const auto type = address_type(iprev.client);
  const auto host = host_for(iprev);
  const auto use_host = fmt::format(
      "Set the HELO name to the server's public host name, e.g. "
      "{}, published as {}. {} {}.",
      host, host, type, ip);
  using checks::HeloReason;
  switch (helo.reason) {
    case HeloReason::not_fqdn:
      add(found, "helo-not-fqdn", sender_domain,
          fmt::format("HELO {} is a bare name, not a fully qualified domain name", helo.helo),
          use_host);
      break;
    case HeloReason::bad_tld: {
      const auto special = checks::special_use_reason(helo.parsed.domain);
      add(found, "helo-bad-tld", sender_domain,
          special.empty() ? fmt::format("HELO {}: the top-level domain .{} does not exist (the "
                                        "root zone answers NXDOMAIN)",
                                        helo.helo, dns::top_label(helo.parsed.domain))
                          : fmt::format("HELO {}: {}", helo.helo, special),
          use_host);
      break;
    }
    case HeloReason::mismatch:
    case HeloReason::no_address: {
      std::vector<std::string> addresses;
      for (const auto& address : helo.addresses) addresses.push_back(address.to_string());
      add(found, "helo-mismatch", sender_domain,
          addresses.empty() ? fmt::format("HELO {} has no A, AAAA or MX record", helo.helo)
                            : fmt::format("HELO {} resolves to {}, not {}", helo.helo,
                                          fmt::join(addresses, ", "), ip),
          fmt::format("Publish {}. {} {}, or set the HELO name to {} (whose {} record is {}).",
                      helo.parsed.domain, type, ip, host, type, ip));
      break;
    }
    default: break;
  }
  diagnose_bogus(helo.evidence, found);
}

/// The SPF record with `mechanism` inserted before its final "all" (or appended).
std::string spf_with(const std::string& record, const std::string& mechanism) {
  if (record.empty()) return fmt::format("v=spf1 {} -all", mechanism);
  for (const std::string_view all : {" -all", " ~all", " ?all", " +all", " all"}) {
    if (const auto at = record.rfind(all); at != std::string::npos) {
      return record.substr(0, at) + " " + mechanism + record.substr(at);
    }
  }
  return record + " " + mechanism;
}

void diagnose_spf(const Report& report, Found& found) {
  const auto client = report.iprev.client.unmapped();
  const auto ip = client.to_string();
  const auto mechanism = (client.is_v4() ? "ip4:" : "ip6:") + ip;
  for (const auto& spf : report.spf) {
    const auto identity = checks::to_string(spf.identity);
    if (spf.result == checks::SpfResult::fail) {
      add(found, "spf-fail", sender_domain,
          fmt::format("SPF ({}) of {}: \"{}\" does not allow {}{}", identity, spf.domain,
                      spf.record, ip,
                      spf.mechanism.empty() ? "" : fmt::format(" (matched {})", spf.mechanism)),
          fmt::format("If {} sends for {}: {}. TXT \"{}\".", ip, spf.domain, spf.domain,
                      spf_with(spf.record, mechanism)));
    } else if (spf.result == checks::SpfResult::permerror) {
      add(found, "spf-permerror", sender_domain,
          fmt::format("SPF ({}) of {}: permanent error: {}", identity, spf.domain,
                      spf.problem.empty() ? "invalid record" : spf.problem),
          fmt::format("Correct the SPF record of {}{}: one TXT record starting v=spf1, valid "
                      "terms, at most 10 DNS-querying terms; e.g. {}. TXT \"v=spf1 {} -all\".",
                      spf.domain,
                      spf.record.empty() ? "" : fmt::format(" (now \"{}\")", spf.record),
                      spf.domain, mechanism));
    } else if (spf.result == checks::SpfResult::temperror && !resolver_down(report)) {
      add(found, "upstream-failure", sender_domain,
          fmt::format("SPF ({}) of {}: temporary DNS error: {}", identity, spf.domain, spf.problem),
          fmt::format("Whoever runs the name servers of {} must make them answer.", spf.domain));
    }
  }
}

}  // namespace

bool resolver_down(const Report& report) {
  return report.resolver_health && report.resolver_health->temporary_failure() &&
         report.resolver_health->outcome != dns::Outcome::bogus;
}

std::vector<std::string> builtin_local_zones(std::string_view unbound_conf_text) {
  // unbound 1.17's default local zones (unbound.conf(5), "local-zone" defaults), the ones
  // served unless a configuration frees them.
  static constexpr std::array<std::string_view, 25> defaults{
      "localhost",
      "127.in-addr.arpa",
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
      "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
      "onion",
      "test",
      "invalid",
      "home.arpa",
      "resolver.arpa",
      "service.arpa",
      "0.in-addr.arpa",
      "254.169.in-addr.arpa",
      "2.0.192.in-addr.arpa",
      "100.51.198.in-addr.arpa",
      "113.0.203.in-addr.arpa",
      "255.255.255.255.in-addr.arpa",
      "d.f.ip6.arpa",
      "8.e.f.ip6.arpa",
      "9.e.f.ip6.arpa",
      "a.e.f.ip6.arpa",
      "b.e.f.ip6.arpa",
      "8.b.d.0.1.0.0.2.ip6.arpa",
      "10.in-addr.arpa",
      "168.192.in-addr.arpa",
      "64.100.in-addr.arpa",
  };
  std::vector<std::string> zones(defaults.begin(), defaults.end());
  for (int i = 16; i <= 31; ++i) zones.push_back(fmt::format("{}.172.in-addr.arpa", i));
  // Note: a zone the configuration names in any local-zone line is the operator's, not a
  // default; "local-zone: "X" nodefault" (and transparent) make the resolver ask servers.
  std::string_view text = unbound_conf_text;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = dns::to_lower(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const auto key = line.find("local-zone:");
    if (key == std::string::npos || line.find('#') < key) continue;
    auto rest = std::string_view(line).substr(key + 11);
    rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t\"'")));
    const auto name = dns::normalize_name(rest.substr(0, rest.find_first_of(" \t\"'")));
    std::erase(zones, name);
  }
  return zones;
}

std::string builtin_zone_of(const Report& report, const dns::Answer& answer) {
  // Note: a re-check (confirmed) goes through libunbound too, with the same local zones.
  if (!answer.negative()) return {};
  for (const auto& probe : report.iprev.authority) {
    for (const auto& step : probe.steps) {
      if (step.local_zone && !step.zone.empty() && dns::at_or_below(answer.name, step.zone)) {
        return step.zone;
      }
    }
  }
  const auto& zones = report.builtin_local_zones;
  if (!answer.zone.empty() && std::find(zones.begin(), zones.end(), answer.zone) != zones.end()) {
    return answer.zone;
  }
  return {};
}

std::vector<Diagnosis> diagnose(const Report& report) {
  Found found;
  diagnose_iprev(report, found);
  diagnose_helo(report, found);
  diagnose_spf(report, found);
  return found;
}

}  // namespace rdns::cli
