#include "rdns/checks/dnsbl_registry.h"

#include <syslog.h>

#include <fmt/format.h>

namespace rdns::checks {

std::string_view to_string(ListHealth::State state) {
  switch (state) {
    case ListHealth::State::ok: return "ok";
    case ListHealth::State::broken: return "broken";
    case ListHealth::State::no_test_entry: return "no-test-entry";
    case ListHealth::State::error: return "error";
    case ListHealth::State::unreachable: return "unreachable";
  }
  return "?";
}

DnsblRegistry::DnsblRegistry(Clock clock) : clock_(std::move(clock)) {}

std::optional<DnsblSkipped> DnsblRegistry::skip(const std::string& zone) const {
  const std::lock_guard lock(mutex_);
  const auto found = zones_.find(zone);
  if (found == zones_.end()) return std::nullopt;
  const auto& state = found->second;
  if (state.health && state.health->state == ListHealth::State::broken) {
    DnsblSkipped skipped;
    skipped.zone = zone;
    skipped.outcome = "broken";
    skipped.reason = state.health->reason;
    return skipped;
  }
  const auto now = clock_();
  if (now < state.paused_until) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(state.paused_until - now).count();
    DnsblSkipped skipped;
    skipped.zone = zone;
    skipped.outcome = "paused";
    skipped.answer = state.answer;
    skipped.reason = fmt::format("{} (paused for another {} s)", state.reason, left);
    return skipped;
  }
  return std::nullopt;
}

std::optional<DnsblRegistry::Note> DnsblRegistry::report_error(const std::string& zone,
                                                               const std::string& shown,
                                                               const std::string& answer,
                                                               const std::string& reason,
                                                               std::chrono::seconds pause) {
  const std::lock_guard lock(mutex_);
  auto& state = zones_[zone];
  const auto now = clock_();
  state.paused_until = std::max(state.paused_until, now + pause);
  state.answer = answer;
  state.reason = reason;
  if (now < state.warned_until) return std::nullopt;
  state.warned_until = now + std::max(pause, std::chrono::seconds(1));
  return Note{LOG_WARNING, fmt::format("DNS list {} answers {}: {}; not used for {} s", shown,
                                       answer, reason, pause.count())};
}

std::optional<DnsblRegistry::Note> DnsblRegistry::record_health(const ListHealth& health,
                                                                const std::string& shown) {
  const std::lock_guard lock(mutex_);
  auto& state = zones_[health.zone];
  const auto before = state.health;
  state.health = health;
  using State = ListHealth::State;
  switch (health.state) {
    case State::broken:
      return Note{LOG_ERR,
                  fmt::format("DNS list {} is broken and not used: {}", shown, health.reason)};
    case State::ok:
      if (before && before->state == State::broken) {
        return Note{LOG_NOTICE, fmt::format("DNS list {} has recovered and is used again", shown)};
      }
      return std::nullopt;
    case State::no_test_entry:
    case State::unreachable:
      if (before && *before == health) return std::nullopt;
      return Note{LOG_WARNING, fmt::format("DNS list {}: {}", shown, health.reason)};
    case State::error: return std::nullopt;  // report_error() warned already
  }
  return std::nullopt;
}

std::vector<ListHealth> DnsblRegistry::health() const {
  const std::lock_guard lock(mutex_);
  std::vector<ListHealth> out;
  for (const auto& [zone, state] : zones_) {
    if (state.health) out.push_back(*state.health);
  }
  return out;
}

namespace {

/// The first error code in a positive answer, with its reason.
std::optional<std::pair<std::string, std::string>> error_in(const dns::Answer& answer,
                                                            const std::string& zone,
                                                            const DnsblErrorCodes& codes) {
  if (answer.outcome != dns::Outcome::ok) return std::nullopt;
  for (const auto& address : answer.addresses) {
    if (auto reason = dnsbl_error_reason(zone, address, codes)) {
      return std::pair{address.to_string(), std::move(*reason)};
    }
  }
  return std::nullopt;
}

struct Probe {
  std::string must_not;  ///< RFC 5782 §5: must never be listed
  std::string must;      ///< should be listed
  std::string must_not_text;
  std::string must_text;
};

std::vector<Probe> probes(const std::string& zone, bool domain_list) {
  if (domain_list) {
    return {{rhsbl_query_name("invalid", zone), rhsbl_query_name("test", zone), "invalid", "test"}};
  }
  const auto v4 = [&zone](const char* text) {
    return dnsbl_query_name(*dns::IpAddress::parse(text), zone);
  };
  return {{v4("127.0.0.1"), v4("127.0.0.2"), "127.0.0.1", "127.0.0.2"},
          {v4("::ffff:127.0.0.1"), v4("::ffff:127.0.0.2"), "::ffff:127.0.0.1", "::ffff:127.0.0.2"}};
}

/// One zone's health, reporting error answers to the registry.
ListHealth check_zone(dns::Resolver& resolver, const std::string& zone, bool domain_list,
                      const HealthCheckConfig& config, DnsblRegistry& registry,
                      const std::function<void(const DnsblRegistry::Note&)>& log) {
  ListHealth health{zone, ListHealth::State::ok, ""};
  bool test_entry = false;
  bool failed = false;
  for (const auto& probe : probes(zone, domain_list)) {
    const auto must_not = resolver.resolve(probe.must_not, dns::RrType::a);
    if (auto error = error_in(must_not, zone, config.scoring.error_codes)) {
      if (auto note = registry.report_error(zone, shown_zone(config.scoring, zone), error->first,
                                            error->second, config.error_pause)) {
        log(*note);
      }
      return {zone, ListHealth::State::error,
              fmt::format("answers {}: {}", error->first, error->second)};
    }
    if (must_not.outcome == dns::Outcome::ok) {
      return {zone, ListHealth::State::broken,
              fmt::format("it lists {}, which RFC 5782 section 5 says must never be listed: "
                          "it answers everything (a dead list's wildcard) or refuses us",
                          probe.must_not_text)};
    }
    failed = failed || must_not.temporary_failure();
    const auto must = resolver.resolve(probe.must, dns::RrType::a);
    test_entry = test_entry || must.outcome == dns::Outcome::ok;
    failed = failed || must.temporary_failure();
  }
  if (!test_entry && failed) {
    health = {zone, ListHealth::State::unreachable,
              "its test entries could not be asked (SERVFAIL or timeout)"};
  } else if (!test_entry) {
    health = {zone, ListHealth::State::no_test_entry,
              domain_list ? "it does not list the RFC 5782 test entry \"test\""
                          : "it does not list the RFC 5782 test entry 127.0.0.2 "
                            "(nor ::ffff:127.0.0.2)"};
  }
  return health;
}

}  // namespace

std::vector<ListHealth> check_dnsbl_health(
    dns::Resolver& resolver, const HealthCheckConfig& config, DnsblRegistry& registry,
    const std::function<void(const DnsblRegistry::Note&)>& log) {
  std::vector<ListHealth> out;
  std::vector<std::string> done;
  for (const auto* group : {&config.sites, &config.rhsbl}) {
    const bool domain_list = group == &config.rhsbl;
    for (const auto& site : *group) {
      const auto key = (domain_list ? "d:" : "a:") + site.domain;
      if (std::find(done.begin(), done.end(), key) != done.end()) continue;
      done.push_back(key);
      auto health = check_zone(resolver, site.domain, domain_list, config, registry, log);
      const auto shown = shown_zone(config.scoring, health.zone);
      if (auto note = registry.record_health(health, shown)) log(*note);
      health.zone = shown;
      out.push_back(std::move(health));
    }
  }
  return out;
}

}  // namespace rdns::checks
