#pragma once
/// What the daemon remembers about DNS lists across connections: zones paused after an error
/// answer and lists found broken by the RFC 5782 §5 health check. Thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rdns/checks/dnsbl.h"
#include "rdns/dns/resolver.h"

namespace rdns::checks {

/// The health of one list as the last check found it.
struct ListHealth {
  enum class State : std::uint8_t { ok, broken, no_test_entry, error, unreachable };
  std::string zone;
  State state = State::ok;
  std::string reason;  ///< empty for ok
  bool operator==(const ListHealth&) const = default;
};
[[nodiscard]] std::string_view to_string(ListHealth::State state);

/// Shared state of the DNS lists. Every method may be called from any thread.
class DnsblRegistry {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  /// One line to log: syslog-style priority (LOG_WARNING, ...) and text.
  struct Note {
    int priority = 0;
    std::string line;
    bool operator==(const Note&) const = default;
  };

  explicit DnsblRegistry(Clock clock = &std::chrono::steady_clock::now);

  /// Why `zone` must not be asked now (paused or broken), or nullopt when it may.
  [[nodiscard]] std::optional<DnsblSkipped> skip(const std::string& zone) const;

  /// An error answer from `zone`: pauses it for `pause`. Returns the warning to log, at most
  /// one per zone per pause interval.
  /// `shown` is the zone's name for logs (dnsbl-reply-map).
  [[nodiscard]] std::optional<Note> report_error(const std::string& zone, const std::string& shown,
                                                 const std::string& answer,
                                                 const std::string& reason,
                                                 std::chrono::seconds pause);

  /// Records a health check result; returns what to log (a broken list every time it is
  /// still broken, a recovery once, a missing test entry once until it changes).
  [[nodiscard]] std::optional<Note> record_health(const ListHealth& health,
                                                  const std::string& shown);

  /// The last health of each zone checked, by zone.
  [[nodiscard]] std::vector<ListHealth> health() const;

 private:
  struct Zone {
    std::chrono::steady_clock::time_point paused_until{};
    std::chrono::steady_clock::time_point warned_until{};
    std::string answer;
    std::string reason;
    std::optional<ListHealth> health;
  };
  Clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Zone, std::less<>> zones_;
};

/// The lists to check and how to read their answers.
struct HealthCheckConfig {
  std::vector<DnsblSite> sites;  ///< address lists
  std::vector<DnsblSite> rhsbl;  ///< domain lists
  DnsblScoring scoring;          ///< the error codes and the reply map
  std::chrono::seconds error_pause{300};
};

/// RFC 5782 §5 for each distinct zone, blocking: an address list must not list 127.0.0.1 (nor
/// ::ffff:127.0.0.1) and should list 127.0.0.2 (or ::ffff:127.0.0.2); a domain list must not
/// list "invalid" and should list "test". A listed must-not entry marks the list broken (not
/// used until a later check finds it healthy); an error code answered pauses it like any error
/// answer. Results go to `registry`; `log` gets its notes.
[[nodiscard]] std::vector<ListHealth> check_dnsbl_health(
    dns::Resolver& resolver, const HealthCheckConfig& config, DnsblRegistry& registry,
    const std::function<void(const DnsblRegistry::Note&)>& log);

}  // namespace rdns::checks
