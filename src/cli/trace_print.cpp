// --check --trace: the text and JSON forms of the traces and of the verdict paragraph.

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "rdns/cli/trace.h"

namespace rdns::cli {
namespace {

using dns::RrType;

std::string zone_or_root(const std::string& zone) {
  return zone.empty() ? std::string(".") : zone;
}

nlohmann::json answer_data(const dns::Answer& answer) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& name : answer.names) data.push_back(name);
  for (const auto& address : answer.addresses) data.push_back(address.to_string());
  for (const auto& text : answer.texts) data.push_back(text);
  for (const auto& mx : answer.mx) data.push_back(fmt::format("{} {}", mx.preference, mx.exchange));
  return data;
}

nlohmann::json view_json(const dns::Answer& answer) {
  nlohmann::json json{{"name", answer.name},
                      {"type", dns::to_string(answer.type)},
                      {"outcome", dns::to_string(answer.outcome)},
                      {"ttl", answer.ttl},
                      {"data", answer_data(answer)},
                      {"cname_chain", answer.cname_chain}};
  if (!answer.zone.empty()) json["zone"] = answer.zone;
  if (!answer.error.empty()) json["error"] = answer.error;
  if (answer.security != dns::Security::insecure) json["dnssec"] = dns::to_string(answer.security);
  return json;
}

nlohmann::json server_json(const dns::TraceServer& server) {
  const auto& reply = server.reply;
  nlohmann::json json{
      {"ns", reply.ns_name}, {"address", reply.address}, {"responded", reply.responded}};
  if (!reply.responded) {
    json["failure"] = reply.failure;
    return json;
  }
  json["rcode"] = reply.rcode;
  json["aa"] = reply.aa;
  json["tcp"] = reply.tcp;
  json["latency_ms"] = reply.latency.count();
  json["answer"] = view_json(reply.answer);
  if (server.referral) {
    nlohmann::json glue = nlohmann::json::array();
    for (const auto& [name, address] : server.referral->glue) {
      glue.push_back({{"name", name}, {"address", address}});
    }
    json["referral"] = {
        {"zone", server.referral->zone}, {"ns", server.referral->ns}, {"glue", glue}};
  }
  return json;
}

/// Which traces belong to which part of the report.
bool for_iprev(const Report& report, const dns::Trace& trace) {
  return trace.type == RrType::ptr || ((trace.type == RrType::a || trace.type == RrType::aaaa) &&
                                       std::find(report.iprev.ptr.begin(), report.iprev.ptr.end(),
                                                 trace.name) != report.iprev.ptr.end());
}

bool for_helo(const Report& report, const dns::Trace& trace) {
  return report.helo && report.helo->parsed.kind == checks::HeloName::Kind::domain &&
         trace.name == report.helo->parsed.domain && trace.type != RrType::txt &&
         trace.type != RrType::ptr;
}

void print_one(std::ostream& out, const dns::Trace& trace) {
  std::vector<std::string> zones;
  for (const auto& zone : trace.path) zones.push_back(zone_or_root(zone.zone));
  out << fmt::format("\n  {} {} ({} ms): {}\n", trace.name, dns::to_string(trace.type),
                     trace.elapsed.count(), fmt::join(zones, " -> "));
  for (const auto& zone : trace.path) {
    out << "    " << dns::describe(zone) << "\n";
  }
  if (!trace.cname_chain.empty()) {
    out << fmt::format("    RFC 2317 chain: {} -> CNAME {}\n", trace.name,
                       fmt::join(trace.cname_chain, " -> CNAME "));
  }
  const auto view = dns::authoritative_view(trace);
  out << "    cached view:        " << dns::describe(trace.cached) << "\n";
  out << fmt::format("    authoritative view: {} [{}]", dns::describe(view.answer),
                     dns::to_string(view.verdict));
  if (const auto servers = dns::answering_servers(trace); !servers.empty()) {
    out << " from " << servers;
  }
  out << fmt::format("\n    views: {}{}\n", dns::to_string(dns::compare_views(trace)),
                     view.servers_disagree ? " (the authoritative servers disagree)" : "");
  if (!trace.failure.empty()) {
    out << fmt::format("    stopped at {}: {}\n", zone_or_root(trace.failed_zone), trace.failure);
  }
}

}  // namespace

nlohmann::json trace_json(const dns::Trace& trace) {
  nlohmann::json path = nlohmann::json::array();
  std::vector<std::string> zones;
  for (const auto& zone : trace.path) {
    nlohmann::json servers = nlohmann::json::array();
    for (const auto& server : zone.servers) servers.push_back(server_json(server));
    zones.push_back(zone_or_root(zone.zone));
    path.push_back({{"zone", zone_or_root(zone.zone)},
                    {"name", zone.name},
                    {"servers_from", zone.servers_from},
                    {"step", dns::to_string(dns::next_step(zone).kind)},
                    {"servers", servers}});
  }
  const auto view = dns::authoritative_view(trace);
  nlohmann::json json{
      {"name", trace.name},
      {"type", dns::to_string(trace.type)},
      {"elapsed_ms", trace.elapsed.count()},
      {"zones", zones},
      {"path", path},
      {"cname_chain", trace.cname_chain},
      {"cached", view_json(trace.cached)},
      {"authoritative",
       {{"verdict", dns::to_string(view.verdict)},
        {"servers_disagree", view.servers_disagree},
        {"zone", dns::answering_zone(trace)},
        {"servers", dns::answering_servers(trace)},
        {"answer", view_json(view.answer)}}},
      {"views", dns::to_string(dns::compare_views(trace))},
  };
  if (!trace.failure.empty()) {
    json["failure"] = trace.failure;
    json["failed_zone"] = zone_or_root(trace.failed_zone);
  }
  return json;
}

void print_trace_text(std::ostream& out, const Report& report) {
  if (report.traces.empty()) return;
  out << "\nTrace (each name from the root; RD=0 to each zone's servers):\n";
  for (const auto& trace : report.traces) print_one(out, trace);
  out << "\nVerdict:\n";
  auto findings = diagnose(report);
  for (auto& finding : trace_findings(report)) findings.push_back(std::move(finding));
  if (findings.empty()) {
    out << "  Nothing to fix: the cached and the authoritative views agree, and the checks "
           "found no missing record.\n";
  }
  for (const auto& finding : findings) {
    out << fmt::format("  {} ({}): {}.\n", finding.party, finding.code, finding.summary);
    if (!finding.fix.empty()) out << fmt::format("    Fix: {}\n", finding.fix);
  }
}

void add_trace_json(nlohmann::json& json, const Report& report) {
  if (report.traces.empty()) return;
  auto& checks = json["checks"];
  checks["iprev"]["trace"] = nlohmann::json::array();
  for (const auto& trace : report.traces) {
    if (for_iprev(report, trace)) checks["iprev"]["trace"].push_back(trace_json(trace));
    if (for_helo(report, trace) && checks.contains("helo")) {
      checks["helo"]["trace"].push_back(trace_json(trace));
    }
    if (trace.type == RrType::txt && checks.contains("spf")) {
      checks["spf"]["trace"].push_back(trace_json(trace));
    }
  }
  nlohmann::json verdict = nlohmann::json::array();
  for (const auto& d : trace_findings(report)) {
    verdict.push_back(
        {{"code", d.code}, {"party", d.party}, {"summary", d.summary}, {"fix", d.fix}});
  }
  json["trace_verdict"] = verdict;
}

}  // namespace rdns::cli
