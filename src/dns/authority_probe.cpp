// DirectAuthorityProbe: the zone and its servers through the normal resolver, then every server
// asked directly (RD=0) over UDP, TCP when truncated, in one poll loop per zone (server_query.cpp:
// ldns packets).

#include "rdns/dns/authority_probe.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "rdns/dns/name.h"
#include "server_query.h"

namespace rdns::dns {
namespace {

using detail::addresses_of;
using detail::ask_resolver;
using detail::ask_servers;
using detail::Clock;
using detail::closest_stub;
using detail::ServerTarget;

/// Labels walked up looking for the zone when no SOA names it (an ip6.arpa name has 34).
constexpr int max_walk = 40;

/// The zone that holds `name` (the SOA of a negative answer, else the closest name with NS
/// records), or nullopt. `ns` receives the zone's NS names when the walk found them.
std::optional<std::string> find_zone(Resolver& resolver, const std::string& name, RrType type,
                                     Clock::time_point deadline, std::vector<std::string>& ns) {
  const auto first = ask_resolver(resolver, name, type, deadline);
  if (first.negative() && !first.zone.empty()) return first.zone;
  std::string candidate = name;
  for (int i = 0; i < max_walk && !candidate.empty() && Clock::now() < deadline; ++i) {
    const auto answer = ask_resolver(resolver, candidate, RrType::ns, deadline);
    if (answer.outcome == Outcome::ok && !answer.names.empty() && answer.cname_chain.empty()) {
      ns = answer.names;
      return candidate;
    }
    if (answer.negative() && !answer.zone.empty()) return answer.zone;
    candidate = std::string(parent(candidate));
  }
  return std::nullopt;
}

/// The CNAME target to follow out of the zone, if every authoritative answer is only a CNAME
/// chain leaving `zone`.
std::optional<std::string> cname_out_of_zone(const ZoneProbe& step) {
  std::optional<std::string> target;
  for (const auto& server : step.servers) {
    if (!server.authoritative()) continue;
    const auto& answer = server.answer;
    if (!leaves_zone(answer)) return std::nullopt;
    target = answer.cname_chain.back();
  }
  return target;
}

}  // namespace

struct DirectAuthorityProbe::Impl {
  struct Job {
    std::string name;
    RrType type;
    Callback done;
  };

  std::shared_ptr<Resolver> resolver;
  std::vector<StubZone> stubs;
  ProbeLimits limits;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> jobs;   // guarded by mutex
  bool stopping = false;  // guarded by mutex
  std::vector<std::thread> workers;

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job.done(probe(job.name, job.type));
    }
  }

  /// The addresses to ask for `zone`: the stub-zone's when it is the zone's own (or the zone
  /// is unknown), else the NS names' addresses, a stub above the zone as the last resort.
  std::vector<ServerTarget> servers(ZoneProbe& step, std::vector<std::string> ns,
                                    Clock::time_point deadline) {
    const auto* stub = closest_stub(stubs, step.zone.empty() ? step.name : step.zone);
    std::vector<ServerTarget> targets;
    const auto from_stub = [&] {
      step.from_stub = true;
      for (const auto& address : stub->addresses) {
        if (targets.size() < limits.max_servers) targets.push_back({"stub-addr", address});
      }
    };
    if (stub != nullptr && (step.zone.empty() || stub->name == step.zone)) {
      from_stub();
      return targets;
    }
    if (step.zone.empty()) {
      step.failure = fmt::format("no zone found for {}", step.name);
      return targets;
    }
    if (ns.empty()) {
      const auto answer = ask_resolver(*resolver, step.zone, RrType::ns, deadline);
      if (answer.outcome == Outcome::ok) ns = answer.names;
    }
    std::sort(ns.begin(), ns.end());
    ns.erase(std::unique(ns.begin(), ns.end()), ns.end());
    if (ns == std::vector<std::string>{"localhost"}) {
      step.local_zone = true;  // RFC 6303: the resolver serves the zone itself
      return targets;
    }
    targets = addresses_of(*resolver, ns, limits.max_servers, deadline);
    if (targets.empty() && stub != nullptr) {
      from_stub();
    } else if (targets.empty()) {
      step.failure = ns.empty() ? fmt::format("no NS records found for {}", step.zone)
                                : fmt::format("no address found for the servers of {} ({})",
                                              step.zone, fmt::join(ns, ", "));
    }
    return targets;
  }

  ZoneProbe probe_zone(const std::string& name, RrType type) {
    const auto deadline = Clock::now() + limits.total;
    ZoneProbe step;
    step.name = normalize_name(name);
    step.type = type;
    std::vector<std::string> ns;
    step.zone = find_zone(*resolver, step.name, type, deadline, ns).value_or("");
    const auto targets = servers(step, std::move(ns), deadline);
    if (step.local_zone) {
      // The resolver's own data is the authoritative view of a locally served zone.
      const auto answer = ask_resolver(*resolver, step.name, type, deadline);
      ServerAnswer local;
      local.ns_name = "localhost";
      local.address = "local-zone";
      local.responded = !answer.temporary_failure();
      local.rcode = answer.outcome == Outcome::nxdomain ? 3 : 0;
      local.aa = true;
      local.answer = answer;
      step.servers.push_back(std::move(local));
      return step;
    }
    if (!targets.empty()) {
      for (auto& reply : ask_servers(step.name, type, targets, limits.per_server, deadline)) {
        step.servers.push_back(std::move(reply.answer));
      }
    }
    return step;
  }

  ProbeResult probe(const std::string& name, RrType type) {
    ProbeResult result;
    result.name = normalize_name(name);
    result.type = type;
    std::string next = result.name;
    for (std::size_t i = 0; i < std::max<std::size_t>(1, limits.max_steps); ++i) {
      result.steps.push_back(probe_zone(next, type));
      const auto target = cname_out_of_zone(result.steps.back());
      if (!target) break;
      next = *target;
    }
    return result;
  }
};

DirectAuthorityProbe::DirectAuthorityProbe(std::shared_ptr<Resolver> resolver,
                                           std::vector<StubZone> stubs, ProbeLimits limits)
    : impl_(std::make_shared<Impl>()) {
  impl_->resolver = std::move(resolver);
  impl_->stubs = std::move(stubs);
  impl_->limits = limits;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, limits.workers); ++i) {
    // Note: each worker owns the state too. A callback may drop the last owner of the probe
    // on a worker thread; that thread then outlives the probe and ends on its own.
    impl_->workers.emplace_back([impl = impl_] { impl->work(); });
  }
}

DirectAuthorityProbe::~DirectAuthorityProbe() {
  {
    const std::scoped_lock lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (auto& worker : impl_->workers) {
    if (worker.get_id() == std::this_thread::get_id()) {
      worker.detach();  // the last owner let go inside a callback: the thread ends by itself
    } else {
      worker.join();
    }
  }
}

void DirectAuthorityProbe::probe_async(const std::string& name, RrType type, Callback done) {
  {
    const std::scoped_lock lock(impl_->mutex);
    if (!impl_->stopping && impl_->jobs.size() < impl_->limits.max_queued) {
      impl_->jobs.push_back({name, type, std::move(done)});
      impl_->wake.notify_one();
      return;
    }
  }
  ProbeResult busy;
  busy.name = normalize_name(name);
  busy.type = type;
  ZoneProbe step;
  step.name = busy.name;
  step.type = type;
  step.failure = "too many probes waiting";
  busy.steps.push_back(std::move(step));
  done(std::move(busy));
}

std::vector<StubZone> read_stub_zones(const std::string& unbound_config) {
  if (unbound_config.empty()) return {};
  std::ifstream in(unbound_config);
  if (!in) {
    throw std::runtime_error(fmt::format("cannot read unbound-config {}", unbound_config));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_stub_zones(text.str());
}

std::shared_ptr<AuthorityProbe> make_authority_probe(std::shared_ptr<Resolver> resolver,
                                                     const std::string& unbound_config) {
  return std::make_shared<CachingAuthorityProbe>(
      std::make_shared<DirectAuthorityProbe>(std::move(resolver), read_stub_zones(unbound_config)));
}

}  // namespace rdns::dns
