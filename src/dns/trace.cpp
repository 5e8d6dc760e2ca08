// The pure half of the delegation trace: reading referrals, deciding where a zone's answers
// lead, and comparing the cached view with the authoritative one. No sockets.

#include "rdns/dns/trace.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "rdns/dns/name.h"

namespace rdns::dns {
namespace {

struct LdnsPktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};

std::string dname_text(const ldns_rdf* rdf) {
  char* text = ldns_rdf2str(rdf);
  if (text == nullptr) return {};
  std::string out = normalize_name(text);
  free(text);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  return out;
}

/// "." for the root, else the name.
std::string zone_label(std::string_view zone) {
  return zone.empty() ? std::string(".") : std::string(zone);
}

/// `child` is strictly below `zone` ("." or "" is the root).
bool strictly_below(std::string_view child, std::string_view zone) {
  const auto z = zone == "." ? std::string_view() : zone;
  return !child.empty() && child != "." && !iequals(child, z) && at_or_below(child, z);
}

std::vector<std::string> data_of(const Answer& answer) {
  std::vector<std::string> data = answer.names;
  for (const auto& address : answer.addresses) data.push_back(address.to_string());
  for (const auto& text : answer.texts) data.push_back(text);
  for (const auto& mx : answer.mx) data.push_back(fmt::format("{} {}", mx.preference, mx.exchange));
  std::sort(data.begin(), data.end());
  return data;
}

/// What one server said, in a few words.
std::string said(const TraceServer& server) {
  const auto& reply = server.reply;
  if (!reply.responded) return reply.failure;
  std::string flags = reply.aa ? "AA " : "";
  if (reply.tcp) flags += "TCP ";
  if (!reply.aa && server.referral && reply.rcode == 0) {
    return fmt::format("{}referral to {} [{}]", flags, zone_label(server.referral->zone),
                       fmt::join(server.referral->ns, ", "));
  }
  if (reply.rcode != 0 && reply.rcode != 3) return fmt::format("{}rcode {}", flags, reply.rcode);
  if (!reply.aa) return fmt::format("not authoritative ({})", to_string(reply.answer.outcome));
  const auto& answer = reply.answer;
  std::string text = flags;
  for (const auto& target : answer.cname_chain) text += fmt::format("CNAME {} ", target);
  if (answer.outcome == Outcome::ok) {
    return text + fmt::format("{} {}", to_string(answer.type), fmt::join(data_of(answer), ", "));
  }
  return text + (answer.outcome == Outcome::nxdomain ? "NXDOMAIN" : "NODATA");
}

}  // namespace

std::string_view to_string(TraceStepKind kind) {
  switch (kind) {
    case TraceStepKind::answer: return "answer";
    case TraceStepKind::referral: return "referral";
    case TraceStepKind::lame: return "lame";
    case TraceStepKind::unreachable: return "unreachable";
  }
  return "?";
}

std::string_view to_string(ViewMatch match) {
  switch (match) {
    case ViewMatch::same: return "same";
    case ViewMatch::stale_negative: return "stale-negative";
    case ViewMatch::stale_positive: return "stale-positive";
    case ViewMatch::different_data: return "different-data";
    case ViewMatch::cache_failure: return "cache-failure";
    case ViewMatch::unconfirmed: return "unconfirmed";
  }
  return "?";
}

TraceStep next_step(const TraceZone& zone) {
  TraceStep step;
  for (const auto& server : zone.servers) {
    if (!server.reply.authoritative()) continue;
    step.kind = TraceStepKind::answer;
    if (leaves_zone(server.reply.answer))
      step.cname_target = server.reply.answer.cname_chain.back();
    return step;
  }
  bool responded = false;
  for (const auto& server : zone.servers) {
    responded = responded || server.reply.responded;
    const auto& referral = server.referral;
    if (server.reply.responded && server.reply.rcode == 0 && referral &&
        strictly_below(referral->zone, zone.zone) && at_or_below(zone.name, referral->zone) &&
        !referral->ns.empty()) {
      step.kind = TraceStepKind::referral;
      step.referral = *referral;
      return step;
    }
  }
  step.kind = responded ? TraceStepKind::lame : TraceStepKind::unreachable;
  return step;
}

std::optional<Referral> parse_referral(std::span<const std::uint8_t> wire) {
  ldns_pkt* raw = nullptr;
  if (wire.empty() || ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    return std::nullopt;
  }
  const std::unique_ptr<ldns_pkt, LdnsPktDeleter> pkt(raw);
  Referral referral;
  const auto* authority = ldns_pkt_authority(pkt.get());
  for (std::size_t i = 0; authority != nullptr && i < ldns_rr_list_rr_count(authority); ++i) {
    const auto* rr = ldns_rr_list_rr(authority, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || ldns_rr_rd_count(rr) < 1) continue;
    const auto owner = dname_text(ldns_rr_owner(rr));
    if (!referral.ns.empty() && owner != referral.zone) continue;  // one zone per referral
    referral.zone = owner;
    referral.ns.push_back(dname_text(ldns_rr_rdf(rr, 0)));
  }
  if (referral.ns.empty()) return std::nullopt;
  std::sort(referral.ns.begin(), referral.ns.end());
  referral.ns.erase(std::unique(referral.ns.begin(), referral.ns.end()), referral.ns.end());
  const auto* additional = ldns_pkt_additional(pkt.get());
  for (std::size_t i = 0; additional != nullptr && i < ldns_rr_list_rr_count(additional); ++i) {
    const auto* rr = ldns_rr_list_rr(additional, i);
    const auto type = ldns_rr_get_type(rr);
    if ((type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA) || ldns_rr_rd_count(rr) < 1) {
      continue;
    }
    const auto owner = dname_text(ldns_rr_owner(rr));
    if (!std::binary_search(referral.ns.begin(), referral.ns.end(), owner)) continue;
    char* text = ldns_rdf2str(ldns_rr_rdf(rr, 0));
    if (text == nullptr) continue;
    referral.glue.emplace_back(owner, text);
    free(text);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  }
  return referral;
}

Judgement authoritative_view(const Trace& trace) {
  return judge(trace.authority);
}

ViewMatch compare_views(const Trace& trace) {
  const auto view = authoritative_view(trace);
  const auto& cached = trace.cached;
  if (view.verdict == ProbeVerdict::unconfirmed) return ViewMatch::unconfirmed;
  if (cached.temporary_failure()) return ViewMatch::cache_failure;
  const bool has = view.verdict == ProbeVerdict::has_record;
  if (cached.negative()) return has ? ViewMatch::stale_negative : ViewMatch::same;
  if (!has) return ViewMatch::stale_positive;
  return data_of(cached) == data_of(view.answer) ? ViewMatch::same : ViewMatch::different_data;
}

std::string answering_zone(const Trace& trace) {
  const auto& steps = trace.authority.steps;
  for (std::size_t i = steps.size(); i-- > 0;) {
    for (const auto& server : steps[i].servers) {
      if (server.authoritative()) return zone_label(steps[i].zone);
    }
  }
  return {};
}

std::string answering_servers(const Trace& trace) {
  if (trace.authority.steps.empty()) return {};
  const auto& step = trace.authority.steps.back();
  std::vector<std::string> servers;
  for (const auto& server : step.servers) {
    if (server.authoritative())
      servers.push_back(fmt::format("{} {}", server.ns_name, server.address));
  }
  if (servers.empty()) return {};
  return fmt::format("{} (zone {})", fmt::join(servers, ", "), zone_label(step.zone));
}

std::string describe(const TraceZone& zone) {
  std::vector<std::string> servers;
  for (const auto& server : zone.servers) {
    const auto& reply = server.reply;
    servers.push_back(fmt::format(
        "{} {}: {}{}", reply.ns_name, reply.address, said(server),
        reply.responded ? fmt::format(", {} ms", reply.latency.count()) : std::string()));
  }
  return fmt::format(
      "{} ({}) {} {}: {}", zone_label(zone.zone),
      zone.servers_from.empty() ? "no servers" : zone.servers_from, zone.name, to_string(zone.type),
      servers.empty() ? std::string("nobody asked") : fmt::format("{}", fmt::join(servers, "; ")));
}

}  // namespace rdns::dns
