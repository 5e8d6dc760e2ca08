#pragma once
/// The daemon's metrics (names and labels documented in README.md, "Metrics"). Every series is
/// created in the constructor: the hooks below only add to atomics, from any thread.

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "rdns/checks/helo.h"
#include "rdns/checks/iprev.h"
#include "rdns/checks/spf.h"
#include "rdns/dns/answer.h"
#include "rdns/dns/resolver.h"
#include "rdns/metrics/registry.h"
#include "rdns/policy/policy.h"

namespace rdns::metrics {

/// Upper bounds of rdns_milter_dns_query_seconds.
inline constexpr std::array dns_query_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
/// Upper bounds of rdns_milter_decision_seconds.
inline constexpr std::array decision_buckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                             0.5,   1.0,   2.5,  5.0,   10.0, 30.0, 60.0};

/// The metrics of one rdns-milter process.
class MilterMetrics {
 public:
  using Seconds = std::chrono::duration<double>;

  /// `version` is the value of rdns_milter_build_info's label.
  explicit MilterMetrics(std::string_view version);

  /// The text exposition of every metric (what GET /metrics returns).
  [[nodiscard]] std::string exposition() const { return write_text(registry_); }

  void session_opened();
  void session_closed();
  /// One verdict: rdns_milter_actions_total (action "dry-run" when dry-run turned a reject or
  /// tempfail into a tag).
  void verdict(const policy::Verdict& verdict);
  void decision_time(Seconds elapsed);
  /// An iprev result, and each negative answer the cache-bypassing re-check contradicted.
  void iprev(const checks::Iprev& iprev);
  void helo(const checks::Helo& helo);
  /// An SPF result: check "spf" for the MAIL FROM identity, "spf-helo" for the HELO one.
  void spf(const checks::Spf& spf);
  void dns_query(dns::RrType type, dns::Outcome outcome, Seconds elapsed);
  void config_reload(bool ok);

 private:
  Registry registry_;
  Counter* sessions_total_ = nullptr;
  Gauge* sessions_active_ = nullptr;
  std::array<Counter*, 5> actions_{};  // policy::Action order, then dry-run
  std::array<Counter*, 4> iprev_results_{};
  std::array<Counter*, 4> helo_results_{};
  std::array<Counter*, 7> spf_results_{};
  std::array<Counter*, 7> spf_helo_results_{};
  std::array<std::array<Counter*, 6>, 9> dns_queries_{};  // RrType (listed order) x Outcome
  Histogram* dns_seconds_ = nullptr;
  Histogram* decision_seconds_ = nullptr;
  Counter* stale_negative_ = nullptr;
  Counter* reloads_ok_ = nullptr;
  Counter* reloads_failed_ = nullptr;
};

/// What one connection reports. Every call does nothing without metrics (the CLI, tests).
/// Counts the session from construction to destruction.
class SessionMeter {
 public:
  explicit SessionMeter(std::shared_ptr<MilterMetrics> metrics);
  SessionMeter(const SessionMeter&) = delete;
  SessionMeter& operator=(const SessionMeter&) = delete;
  SessionMeter(SessionMeter&&) = delete;
  SessionMeter& operator=(SessionMeter&&) = delete;
  ~SessionMeter();

  /// Counts the action; the connection's first verdict also gives decision_seconds (from the
  /// construction of this meter, which is the connect).
  void verdict(const policy::Verdict& verdict);
  /// Thread-safe (called where the lookups end).
  void iprev(const checks::Iprev& iprev) const;
  void helo(const checks::Helo& helo) const;
  /// Thread-safe (called where the check ends).
  void spf(const checks::Spf& spf) const;

 private:
  std::shared_ptr<MilterMetrics> metrics_;
  std::chrono::steady_clock::time_point opened_;
  bool decided_ = false;
};

/// A Resolver that counts and times every query of `inner` (rdns_milter_dns_queries_total,
/// rdns_milter_dns_query_seconds); `inner` itself when `metrics` is null.
[[nodiscard]] std::shared_ptr<dns::Resolver> metered(std::shared_ptr<dns::Resolver> inner,
                                                     std::shared_ptr<MilterMetrics> metrics);

/// Counts a reload's outcome (rdns_milter_config_reloads_total); nothing without metrics.
void count_reload(MilterMetrics* metrics, bool ok);

}  // namespace rdns::metrics
