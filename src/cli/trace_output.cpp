// --check --trace: which names are traced, what the traces say about whose side must act, and
// their text and JSON forms. The walk itself is dns::Tracer (src/dns/trace_walk.cpp).

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "rdns/cli/trace.h"
#include "rdns/dns/name.h"

namespace rdns::cli {
namespace {

using dns::RrType;

std::string zone_or_root(const std::string& zone) {
  return zone.empty() ? std::string(".") : zone;
}

/// The name with its trailing dot, as in a zone file.
std::string fqdn(std::string_view name) {
  return name.empty() || name == "." ? std::string(".") : fmt::format("{}.", name);
}

bool is_reverse(std::string_view name) {
  return dns::at_or_below(name, "in-addr.arpa") || dns::at_or_below(name, "ip6.arpa");
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// The HELO domain when the report has one.
std::string helo_domain(const Report& report) {
  if (!report.helo || report.helo->parsed.kind != checks::HeloName::Kind::domain) return {};
  return report.helo->parsed.domain;
}

/// The address record type of the client's family.
RrType client_type(const Report& report) {
  return report.iprev.client.unmapped().is_v4() ? RrType::a : RrType::aaaa;
}

/// The zone to put a missing record in: the SOA owner of the negative answer, else the zone
/// whose servers answered.
std::string zone_for(const dns::Trace& trace, const dns::Judgement& view) {
  return view.answer.zone.empty() ? dns::answering_zone(trace) : view.answer.zone;
}

std::string cache_source(const Report& report) {
  return report.cache_source.empty() ? std::string("the resolver's cache") : report.cache_source;
}

/// A cached view that is not the authoritative one: the receiver's side.
std::optional<Diagnosis> cache_finding(const Report& report, const dns::Trace& trace) {
  const auto match = dns::compare_views(trace);
  if (match == dns::ViewMatch::same || match == dns::ViewMatch::unconfirmed) return std::nullopt;
  // Note: a bogus (DNSSEC) answer beside a plain authoritative one is most often the zone's
  // signatures or DS; diagnose() names that, not the receiver's cache.
  if (trace.cached.outcome == dns::Outcome::bogus) return std::nullopt;
  const auto view = dns::authoritative_view(trace);
  const auto source = cache_source(report);
  auto summary = fmt::format("{} answers {}, but the authoritative servers {} answer {}", source,
                             dns::describe(trace.cached), dns::answering_servers(trace),
                             dns::describe(view.answer));
  std::string fix;
  if (match == dns::ViewMatch::cache_failure) {
    fix = fmt::format(
        "Check {}: it fails ({}) where the authoritative servers answer (its forwarder, trust "
        "anchor or route to the servers). Nothing to change in the DNS of {}.",
        source, dns::to_string(trace.cached.outcome), zone_for(trace, view));
  } else {
    fix = fmt::format(
        "Flush {0} from the cache of {1} (unbound: unbound-control flush_negative, or flush {0}; "
        "BIND: rndc flushname {0}); otherwise it lasts until its TTL runs out. Nothing to change "
        "in the DNS of {2}.",
        trace.name, source, zone_for(trace, view));
  }
  return Diagnosis{"cached-view-differs", "receiver", std::move(summary), std::move(fix)};
}

/// The walk stopped at a zone whose servers do not answer: its owner's side.
std::optional<Diagnosis> delegation_finding(const dns::Trace& trace) {
  if (trace.failure.empty()) return std::nullopt;
  const auto zone = zone_or_root(trace.failed_zone);
  std::vector<std::string> said;
  for (const auto& step : trace.authority.steps) {
    if (step.zone != trace.failed_zone) continue;
    for (const auto& server : step.servers) {
      said.push_back(fmt::format("{} {} {}", server.ns_name, server.address,
                                 !server.responded ? server.failure
                                 : server.aa       ? fmt::format("rcode {}", server.rcode)
                                                   : std::string("not authoritative")));
    }
  }
  return Diagnosis{
      "delegation-broken", is_reverse(trace.name) ? "sender-isp" : "sender-domain",
      fmt::format("the trace of {} {} stopped at {}: {}{}", trace.name, dns::to_string(trace.type),
                  zone, trace.failure,
                  said.empty() ? std::string() : fmt::format(" ({})", fmt::join(said, "; "))),
      fmt::format("Whoever runs {0} must make its name servers answer authoritatively for it, or "
                  "have the NS records (and glue) of {0} in its parent zone changed to servers "
                  "that do.",
                  fqdn(zone))};
}

/// The record the authoritative servers confirm missing, when the check needs it.
std::optional<Diagnosis> missing_record(const Report& report, const dns::Trace& trace) {
  const auto view = dns::authoritative_view(trace);
  if (view.verdict != dns::ProbeVerdict::confirmed_negative) return std::nullopt;
  const auto& iprev = report.iprev;
  const auto ip = iprev.client.unmapped().to_string();
  const auto type = dns::to_string(client_type(report));
  const auto zone = zone_for(trace, view);
  const auto host =
      helo_domain(report).empty() ? std::string("mail.example.com") : helo_domain(report);
  const auto final_name = trace.cname_chain.empty() ? trace.name : trace.cname_chain.back();
  if (trace.type == RrType::ptr && iprev.reason == checks::IprevReason::no_ptr) {
    const auto record = fmt::format("{} PTR {}", fqdn(final_name), fqdn(host));
    return Diagnosis{
        "missing-record", "sender-isp",
        fmt::format("the authoritative servers {} confirm that {} has no PTR{}",
                    dns::answering_servers(trace), final_name,
                    trace.cname_chain.empty()
                        ? std::string()
                        : fmt::format(" (reached from {} through the RFC 2317 CNAME)", trace.name)),
        fmt::format("Whoever controls the address block {} (the ISP or hosting provider) must add "
                    "`{}` to the zone {}{}, and {} must resolve back to it: `{} {} {}`.",
                    ip, record, fqdn(zone),
                    helo_domain(report).empty() ? " (with the mail server's real host name)" : "",
                    host, fqdn(host), type, ip)};
  }
  std::string record;
  if ((trace.type == RrType::a || trace.type == RrType::aaaa) &&
      trace.type == client_type(report)) {
    const bool forward =
        contains(iprev.ptr, trace.name) && iprev.reason == checks::IprevReason::no_forward_match;
    const bool helo =
        trace.name == helo_domain(report) && report.helo->reason == checks::HeloReason::no_address;
    if (forward || helo) record = fmt::format("{} {} {}", fqdn(final_name), type, ip);
  } else if (trace.type == RrType::txt) {
    for (const auto& spf : report.spf) {
      if (spf.result == checks::SpfResult::none && spf.domain == trace.name) {
        record = fmt::format("{} TXT \"v=spf1 {}:{} -all\"", fqdn(trace.name),
                             iprev.client.unmapped().is_v4() ? "ip4" : "ip6", ip);
      }
    }
  }
  if (record.empty()) return std::nullopt;
  return Diagnosis{
      "missing-record", "sender-domain",
      fmt::format("the authoritative servers {} confirm that {} has no {} record",
                  dns::answering_servers(trace), final_name, dns::to_string(trace.type)),
      fmt::format("The owner of {} must add `{}` to the zone {}.", final_name, record, fqdn(zone))};
}

}  // namespace

std::vector<std::pair<std::string, RrType>> trace_questions(const Report& report) {
  std::vector<std::pair<std::string, RrType>> questions;
  const auto add = [&](const std::string& name, RrType type) {
    const std::pair<std::string, RrType> question{dns::normalize_name(name), type};
    if (question.first.empty()) return;
    if (std::find(questions.begin(), questions.end(), question) == questions.end()) {
      questions.push_back(question);
    }
  };
  add(report.iprev.client.reverse_name(), RrType::ptr);
  for (const auto& name : report.iprev.ptr) add(name, client_type(report));
  if (const auto helo = helo_domain(report); !helo.empty()) {
    for (const auto type : {RrType::a, RrType::aaaa, RrType::mx}) add(helo, type);
  }
  for (const auto& spf : report.spf) {
    for (const auto& answer : spf.evidence) {
      if (answer.type == RrType::txt) add(answer.name, RrType::txt);
    }
  }
  return questions;
}

void add_traces(Report& report, dns::Resolver& resolver, std::vector<dns::StubZone> stubs,
                dns::TraceLimits limits) {
  const dns::Tracer tracer(resolver, std::move(stubs), limits);
  report.traces = tracer.trace_all(trace_questions(report));
}

std::vector<Diagnosis> trace_findings(const Report& report) {
  std::vector<Diagnosis> found;
  const auto add = [&found](std::optional<Diagnosis> finding) {
    if (finding && std::find(found.begin(), found.end(), *finding) == found.end()) {
      found.push_back(std::move(*finding));
    }
  };
  for (const auto& trace : report.traces) {
    add(cache_finding(report, trace));
    add(delegation_finding(trace));
    add(missing_record(report, trace));
  }
  return found;
}

}  // namespace rdns::cli
