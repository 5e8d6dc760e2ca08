// Tracer: the delegation walk from the root (or the closest stub-zone), asking each zone's
// servers with RD=0 (server_query.cpp), following referrals and CNAMEs, within the limits.

#include <future>

#include <fmt/format.h>

#include "rdns/dns/name.h"
#include "rdns/dns/trace.h"
#include "server_query.h"

namespace rdns::dns {
namespace {

using detail::addresses_of;
using detail::ask_resolver;
using detail::ask_servers;
using detail::Clock;
using detail::closest_stub;
using detail::ServerTarget;

/// A zone and the servers to ask for it.
struct Cut {
  std::string zone;  // "." for the root
  std::vector<ServerTarget> targets;
  std::string from;
};

bool encloses(const std::string& zone, const std::string& name) {
  return zone == "." || at_or_below(name, zone);
}

class Walk {
 public:
  Walk(Resolver& resolver, const std::vector<StubZone>& stubs, const TraceLimits& limits,
       Trace& out)
      : resolver_(resolver),
        stubs_(stubs),
        limits_(limits),
        out_(out),
        deadline_(Clock::now() + limits.total) {}

  void run() {
    out_.cached = ask_resolver(resolver_, out_.name, out_.type, deadline_);
    auto cut = start_cut(out_.name);
    if (!cut) return;
    std::string name = out_.name;
    for (;;) {
      if (out_.path.size() >= limits_.max_zones) {
        return stop(cut->zone, fmt::format("more than {} zones on the path", limits_.max_zones));
      }
      if (Clock::now() >= deadline_) return stop(cut->zone, "the trace's time ran out");
      out_.path.push_back(ask_zone(*cut, name));
      const auto& zone = out_.path.back();
      const auto step = next_step(zone);
      if (step.kind == TraceStepKind::answer) {
        add_authority(zone);
        if (!step.cname_target) return;
        if (out_.cname_chain.size() > limits_.max_cnames) {
          return stop(zone.zone, fmt::format("more than {} CNAMEs to follow", limits_.max_cnames));
        }
        name = *step.cname_target;
        cut = known_cut(name);
      } else if (step.kind == TraceStepKind::referral) {
        cut = referral_cut(step.referral);
      } else {
        add_authority(zone);
        return stop(zone.zone,
                    step.kind == TraceStepKind::lame
                        ? fmt::format("the servers of {} gave no authoritative answer and no "
                                      "referral for {}",
                                      zone.zone, name)
                        : fmt::format("no server of {} answered", zone.zone));
      }
      if (!cut) return;
    }
  }

 private:
  void stop(const std::string& zone, std::string why) {
    out_.failed_zone = zone;
    out_.failure = std::move(why);
  }

  /// The closest stub-zone of the name, else the root servers as the resolver knows them.
  std::optional<Cut> start_cut(const std::string& name) {
    if (const auto* stub = closest_stub(stubs_, name); stub != nullptr) {
      Cut cut{stub->name, {}, "stub-addr"};
      for (const auto& address : stub->addresses) {
        if (cut.targets.size() < limits_.max_servers) cut.targets.push_back({"stub-addr", address});
      }
      known_.push_back(cut);
      return cut;
    }
    const auto ns = ask_resolver(resolver_, ".", RrType::ns, deadline_);
    if (ns.outcome != Outcome::ok || ns.names.empty()) {
      stop(".", fmt::format("the resolver knows no root servers (NS . {})", to_string(ns.outcome)));
      return std::nullopt;
    }
    Cut cut{".", addresses_of(resolver_, ns.names, limits_.max_servers, deadline_), "resolver"};
    if (cut.targets.empty()) {
      stop(".", fmt::format("no address for the root servers ({})", fmt::join(ns.names, ", ")));
      return std::nullopt;
    }
    known_.push_back(cut);
    return cut;
  }

  /// The servers of a referral: a stub-zone of that name wins, then glue, then the resolver.
  std::optional<Cut> referral_cut(const Referral& referral) {
    const auto* stub = closest_stub(stubs_, referral.zone);
    if (stub != nullptr && stub->name == referral.zone) return start_cut(referral.zone);
    Cut cut{referral.zone, {}, ""};
    std::vector<std::string> missing;
    for (const auto& ns : referral.ns) {
      bool glued = false;
      for (const auto& [owner, address] : referral.glue) {
        if (owner != ns) continue;
        glued = true;
        if (cut.targets.size() < limits_.max_servers) cut.targets.push_back({ns, address});
      }
      if (!glued) missing.push_back(ns);
    }
    const bool glue = !cut.targets.empty();
    bool resolved = false;
    if (!missing.empty() && cut.targets.size() < limits_.max_servers) {
      for (auto& target :
           addresses_of(resolver_, missing, limits_.max_servers - cut.targets.size(), deadline_)) {
        cut.targets.push_back(std::move(target));
        resolved = true;
      }
    }
    cut.from = glue && resolved ? "glue+resolver" : glue ? "glue" : "resolver";
    if (cut.targets.empty()) {
      stop(referral.zone, fmt::format("no address for the servers of {} ({})", referral.zone,
                                      fmt::join(referral.ns, ", ")));
      return std::nullopt;
    }
    known_.push_back(cut);
    return cut;
  }

  /// The deepest zone already walked that encloses `name` (a CNAME target), else a fresh start.
  std::optional<Cut> known_cut(const std::string& name) {
    const Cut* best = nullptr;
    for (const auto& cut : known_) {
      if (encloses(cut.zone, name) &&
          (best == nullptr || best->zone == "." || cut.zone.size() > best->zone.size())) {
        best = &cut;
      }
    }
    if (best != nullptr) return *best;
    return start_cut(name);
  }

  TraceZone ask_zone(const Cut& cut, const std::string& name) {
    TraceZone zone;
    zone.zone = cut.zone;
    zone.name = name;
    zone.type = out_.type;
    zone.servers_from = cut.from;
    for (auto& reply : ask_servers(name, out_.type, cut.targets, limits_.per_server, deadline_)) {
      auto referral = parse_referral(reply.wire);
      zone.servers.push_back({std::move(reply.answer), std::move(referral)});
    }
    return zone;
  }

  /// A zone that answered (or failed) joins the authoritative view; its CNAMEs the chain.
  void add_authority(const TraceZone& zone) {
    ZoneProbe step;
    step.name = zone.name;
    step.type = zone.type;
    step.zone = zone.zone;
    step.from_stub = zone.servers_from == "stub-addr";
    for (const auto& server : zone.servers) step.servers.push_back(server.reply);
    for (const auto& server : zone.servers) {
      if (!server.reply.authoritative()) continue;
      const auto& chain = server.reply.answer.cname_chain;
      out_.cname_chain.insert(out_.cname_chain.end(), chain.begin(), chain.end());
      break;
    }
    out_.authority.steps.push_back(std::move(step));
  }

  Resolver& resolver_;
  const std::vector<StubZone>& stubs_;
  const TraceLimits& limits_;
  Trace& out_;
  Clock::time_point deadline_;
  std::vector<Cut> known_;
};

}  // namespace

Tracer::Tracer(Resolver& resolver, std::vector<StubZone> stubs, TraceLimits limits)
    : resolver_(resolver), stubs_(std::move(stubs)), limits_(limits) {}

Trace Tracer::trace(const std::string& name, RrType type) const {
  const auto started = Clock::now();
  Trace trace;
  trace.name = normalize_name(name);
  trace.type = type;
  trace.authority.name = trace.name;
  trace.authority.type = type;
  Walk(resolver_, stubs_, limits_, trace).run();
  trace.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return trace;
}

std::vector<Trace> Tracer::trace_all(
    const std::vector<std::pair<std::string, RrType>>& questions) const {
  std::vector<std::future<Trace>> pending;
  pending.reserve(questions.size());
  for (const auto& [name, type] : questions) {
    pending.push_back(std::async(std::launch::async,
                                 [this, name = name, type = type] { return trace(name, type); }));
  }
  std::vector<Trace> traces;
  traces.reserve(pending.size());
  for (auto& future : pending) traces.push_back(future.get());
  return traces;
}

}  // namespace rdns::dns
