// The pure half of the authority probe: judging what the servers said, reading stub zones from
// an unbound.conf, and the short-lived cache of judgements. No ldns, no sockets.

#include <algorithm>
#include <list>
#include <map>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "rdns/dns/authority_probe.h"
#include "rdns/dns/name.h"

namespace rdns::dns {
namespace {

/// How long an unconfirmed result is kept at most: long enough to absorb a flood, short
/// enough that a server coming back is seen soon.
constexpr std::chrono::seconds unconfirmed_max_age{5};

bool has_records(const Answer& answer) {
  return answer.outcome == Outcome::ok;
}

}  // namespace

bool leaves_zone(const Answer& answer) {
  // Note: a name missing in the zone comes back NXDOMAIN, one without the type NOERROR with the
  // zone's SOA; a CNAME into a zone the server does not serve (an RFC 2317 delegation below
  // it, or another domain) has neither.
  return answer.outcome == Outcome::nodata && !answer.cname_chain.empty() && answer.zone.empty();
}

namespace {

/// The data of an answer, for comparing what two servers said.
std::vector<std::string> data_of(const Answer& answer) {
  std::vector<std::string> data = answer.names;
  for (const auto& address : answer.addresses) data.push_back(address.to_string());
  for (const auto& text : answer.texts) data.push_back(text);
  for (const auto& mx : answer.mx) data.push_back(fmt::format("{} {}", mx.preference, mx.exchange));
  std::sort(data.begin(), data.end());
  return data;
}

/// Why a step confirmed nothing.
std::string unconfirmed_reason(const ZoneProbe& step, bool cname_only) {
  if (!step.failure.empty()) return step.failure;
  if (cname_only)
    return fmt::format("{} is a CNAME chain longer than the probe follows", step.name);
  if (step.servers.empty()) return fmt::format("no server of {} to ask", step.zone);
  std::vector<std::string> why;
  for (const auto& server : step.servers) {
    why.push_back(fmt::format("{} {}", server.address,
                              !server.responded ? server.failure
                              : !server.aa      ? std::string("not authoritative")
                                                : fmt::format("rcode {}", server.rcode)));
  }
  return fmt::format("no authoritative answer from the servers of {} ({})",
                     step.zone.empty() ? step.name : step.zone, fmt::join(why, ", "));
}

/// The CNAME targets followed across all steps, in order.
std::vector<std::string> chain_of(const ProbeResult& result, const Answer* last) {
  std::vector<std::string> chain;
  for (std::size_t i = 0; i + 1 < result.steps.size(); ++i) {
    for (const auto& server : result.steps[i].servers) {
      if (server.authoritative() && !server.answer.cname_chain.empty()) {
        chain.insert(chain.end(), server.answer.cname_chain.begin(),
                     server.answer.cname_chain.end());
        break;
      }
    }
  }
  if (last != nullptr) {
    chain.insert(chain.end(), last->cname_chain.begin(), last->cname_chain.end());
  }
  return chain;
}

}  // namespace

std::string_view to_string(ProbeVerdict verdict) {
  switch (verdict) {
    case ProbeVerdict::confirmed_negative: return "confirmed-negative";
    case ProbeVerdict::has_record: return "has-record";
    case ProbeVerdict::unconfirmed: return "unconfirmed";
  }
  return "?";
}

Judgement judge(const ProbeResult& result) {
  Judgement judgement;
  judgement.answer.name = normalize_name(result.name);
  judgement.answer.type = result.type;
  judgement.answer.confirmed = true;
  if (result.steps.empty()) {
    judgement.answer.outcome = Outcome::servfail;
    judgement.answer.error = "the authoritative servers were not asked";
    return judgement;
  }
  const auto& step = result.steps.back();
  const Answer* positive = nullptr;
  const Answer* negative = nullptr;
  bool cname_only = false;
  std::vector<std::vector<std::string>> seen;
  for (const auto& server : step.servers) {
    if (!server.authoritative()) continue;
    const auto& answer = server.answer;
    if (has_records(answer)) {
      if (positive == nullptr) positive = &answer;
      seen.push_back(data_of(answer));
    } else if (leaves_zone(answer)) {
      cname_only = true;  // only a CNAME out of the zone: this step proves nothing
    } else if (answer.negative()) {
      if (negative == nullptr || answer.ttl < negative->ttl) negative = &answer;
      seen.emplace_back();
    }
  }
  std::sort(seen.begin(), seen.end());
  judgement.servers_disagree = std::unique(seen.begin(), seen.end()) - seen.begin() > 1;
  const Answer* used = positive != nullptr ? positive : negative;
  if (used == nullptr) {
    judgement.answer.outcome = Outcome::servfail;
    judgement.answer.error = unconfirmed_reason(step, cname_only);
    return judgement;
  }
  auto& answer = judgement.answer;
  answer = *used;
  answer.name = normalize_name(result.name);
  answer.type = result.type;
  answer.confirmed = true;
  if (result.steps.size() > 1) answer.cname_chain = chain_of(result, used);
  judgement.verdict =
      positive != nullptr ? ProbeVerdict::has_record : ProbeVerdict::confirmed_negative;
  return judgement;
}

std::string describe(const ProbeResult& result) {
  std::vector<std::string> parts;
  for (const auto& step : result.steps) {
    std::vector<std::string> servers;
    for (const auto& server : step.servers) {
      std::string line = fmt::format("{} {}", server.ns_name, server.address);
      if (!server.responded) {
        line += " " + server.failure;
      } else {
        line += fmt::format("{}{} {} {} ms", server.aa ? " AA" : "", server.tcp ? " TCP" : "",
                            server.rcode == 0 || server.rcode == 3
                                ? std::string(to_string(server.answer.outcome))
                                : fmt::format("rcode {}", server.rcode),
                            server.latency.count());
      }
      servers.push_back(std::move(line));
    }
    parts.push_back(
        fmt::format("{} {} in {}: {}", step.name, to_string(step.type),
                    step.zone.empty() ? std::string("?") : step.zone,
                    servers.empty() ? step.failure : fmt::to_string(fmt::join(servers, "; "))));
  }
  return fmt::format("{}", fmt::join(parts, " -> "));
}

// ---- unbound.conf stub zones --------------------------------------------------------------

namespace {

/// One line without its comment ('#' outside quotes), trimmed.
std::string_view strip_comment(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    if (line[i] == '#' && !quoted) {
      line = line.substr(0, i);
      break;
    }
  }
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = line.find_last_not_of(" \t\r");
  return line.substr(first, last - first + 1);
}

std::string unquote(std::string_view value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return std::string(value);
}

}  // namespace

std::vector<StubZone> parse_stub_zones(std::string_view text) {
  std::vector<StubZone> zones;
  bool in_stub = false;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = strip_comment(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto key = to_lower(line.substr(0, colon));
    const auto value = strip_comment(line.substr(colon + 1));
    if (value.empty() && key.find_first_of(" \t") == std::string::npos) {
      // A clause header: "server:", "stub-zone:", "forward-zone:", ...
      in_stub = key == "stub-zone";
      if (in_stub) zones.emplace_back();
      continue;
    }
    if (!in_stub) continue;
    if (key == "name") {
      const auto name = normalize_name(unquote(value));
      zones.back().name = name.empty() ? "." : name;
    } else if (key == "stub-addr") {
      auto address = unquote(value);
      address = address.substr(0, address.find('#'));  // "addr@853#tls-name"
      zones.back().addresses.push_back(std::move(address));
    }
  }
  std::erase_if(zones, [](const StubZone& z) { return z.name.empty() || z.addresses.empty(); });
  return zones;
}

// ---- CachingAuthorityProbe ------------------------------------------------------------------

struct CachingAuthorityProbe::Impl {
  using Key = std::pair<std::string, RrType>;
  struct Entry {
    ProbeResult result;
    std::chrono::steady_clock::time_point expires;
    std::list<Key>::iterator age;
  };

  std::shared_ptr<AuthorityProbe> inner;
  std::chrono::seconds max_age;
  std::size_t max_entries;
  Clock clock;
  mutable std::mutex mutex;
  std::map<Key, Entry> entries;                   // guarded by mutex
  std::list<Key> order;                           // oldest first; guarded by mutex
  std::map<Key, std::vector<Callback>> inflight;  // guarded by mutex

  [[nodiscard]] std::chrono::steady_clock::time_point now() const {
    return clock ? clock() : std::chrono::steady_clock::now();
  }

  [[nodiscard]] std::chrono::seconds lifetime(const ProbeResult& result) const {
    const auto judgement = judge(result);
    if (judgement.verdict == ProbeVerdict::unconfirmed) {
      return std::min(max_age, unconfirmed_max_age);
    }
    return std::min(max_age, std::chrono::seconds(judgement.answer.ttl));
  }

  /// Stores a result; drops expired entries, then the oldest, to stay within max_entries.
  void store(const Key& key, const ProbeResult& result) {
    const auto life = lifetime(result);
    if (life.count() <= 0 || max_entries == 0) return;
    const auto at = now();
    if (auto it = entries.find(key); it != entries.end()) {
      order.erase(it->second.age);
      entries.erase(it);
    }
    std::erase_if(entries, [&](const auto& item) {
      if (item.second.expires > at) return false;
      order.erase(item.second.age);
      return true;
    });
    while (entries.size() >= max_entries && !order.empty()) {
      entries.erase(order.front());
      order.pop_front();
    }
    order.push_back(key);
    entries.emplace(key, Entry{result, at + life, std::prev(order.end())});
  }
};

CachingAuthorityProbe::CachingAuthorityProbe(std::shared_ptr<AuthorityProbe> inner,
                                             std::chrono::seconds max_age, std::size_t max_entries,
                                             Clock clock)
    : impl_(std::make_shared<Impl>()) {
  impl_->inner = std::move(inner);
  impl_->max_age = max_age;
  impl_->max_entries = max_entries;
  impl_->clock = std::move(clock);
}

CachingAuthorityProbe::~CachingAuthorityProbe() = default;

void CachingAuthorityProbe::probe_async(const std::string& name, RrType type, Callback done) {
  const Impl::Key key{normalize_name(name), type};
  {
    std::unique_lock lock(impl_->mutex);
    if (const auto it = impl_->entries.find(key);
        it != impl_->entries.end() && it->second.expires > impl_->now()) {
      auto result = it->second.result;
      lock.unlock();
      done(std::move(result));
      return;
    }
    auto [slot, first] = impl_->inflight.try_emplace(key);
    slot->second.push_back(std::move(done));
    if (!first) return;  // the probe under way answers this one too
  }
  impl_->inner->probe_async(name, type, [impl = impl_, key](const ProbeResult& result) {
    std::vector<Callback> waiting;
    {
      const std::scoped_lock lock(impl->mutex);
      impl->store(key, result);
      waiting = std::move(impl->inflight[key]);
      impl->inflight.erase(key);
    }
    for (auto& callback : waiting) callback(result);
  });
}

std::size_t CachingAuthorityProbe::size() const {
  const std::scoped_lock lock(impl_->mutex);
  return impl_->entries.size();
}

}  // namespace rdns::dns
