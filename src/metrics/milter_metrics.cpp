#include "rdns/metrics/milter_metrics.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace rdns::metrics {
namespace {

using checks::HeloResult;
using checks::IprevResult;
using checks::SpfResult;

constexpr std::array actions{policy::Action::accept, policy::Action::tag, policy::Action::tempfail,
                             policy::Action::reject};
constexpr std::array iprev_values{IprevResult::pass, IprevResult::fail, IprevResult::temperror,
                                  IprevResult::permerror};
constexpr std::array helo_values{HeloResult::pass, HeloResult::fail, HeloResult::temperror,
                                 HeloResult::none};
constexpr std::array spf_values{SpfResult::none,     SpfResult::neutral,  SpfResult::pass,
                                SpfResult::fail,     SpfResult::softfail, SpfResult::temperror,
                                SpfResult::permerror};
constexpr std::array rr_types{dns::RrType::a,  dns::RrType::aaaa, dns::RrType::ptr,
                              dns::RrType::mx, dns::RrType::txt,  dns::RrType::spf,
                              dns::RrType::ns, dns::RrType::soa,  dns::RrType::cname};
constexpr std::array outcomes{dns::Outcome::ok,       dns::Outcome::nxdomain, dns::Outcome::nodata,
                              dns::Outcome::servfail, dns::Outcome::timeout,  dns::Outcome::bogus};

/// The series slot of an enum value: the enums counted here number their values from 0 up.
template <typename Enum>
std::size_t slot(Enum value) {
  return static_cast<std::size_t>(value);
}

std::size_t type_slot(dns::RrType type) {
  return static_cast<std::size_t>(std::find(rr_types.begin(), rr_types.end(), type) -
                                  rr_types.begin());
}

/// One results_total series per value of `values`, at the value's slot.
template <typename Enum, std::size_t N>
void result_series(Family<Counter>& family, const char* check, const std::array<Enum, N>& values,
                   std::array<Counter*, N>& out) {
  for (const auto value : values) {
    out.at(slot(value)) = &family.with({check, std::string(checks::to_string(value))});
  }
}

std::vector<double> bounds(std::span<const double> values) {
  return {values.begin(), values.end()};
}

}  // namespace

MilterMetrics::MilterMetrics(std::string_view version) {
  auto& r = registry_;
  sessions_total_ = &r.counter("rdns_milter_sessions_total", "Milter connections opened.").with({});
  sessions_active_ =
      &r.gauge("rdns_milter_sessions_active", "Milter connections open now.").with({});
  auto& action_family = r.counter("rdns_milter_actions_total",
                                  "Verdicts by the action applied (dry-run: a reject or tempfail "
                                  "that dry-run turned into a tag).",
                                  {"action"});
  for (const auto action : actions) {
    actions_.at(slot(action)) = &action_family.with({std::string(policy::to_string(action))});
  }
  actions_.back() = &action_family.with({"dry-run"});
  auto& results = r.counter("rdns_milter_results_total", "Check results by check and result.",
                            {"check", "result"});
  result_series(results, "iprev", iprev_values, iprev_results_);
  result_series(results, "helo", helo_values, helo_results_);
  result_series(results, "spf", spf_values, spf_results_);
  result_series(results, "spf-helo", spf_values, spf_helo_results_);
  auto& queries = r.counter("rdns_milter_dns_queries_total",
                            "DNS queries by record type and outcome.", {"type", "outcome"});
  for (const auto type : rr_types) {
    for (const auto outcome : outcomes) {
      dns_queries_.at(type_slot(type)).at(slot(outcome)) =
          &queries.with({std::string(dns::to_string(type)), std::string(dns::to_string(outcome))});
    }
  }
  dns_seconds_ = &r.histogram("rdns_milter_dns_query_seconds",
                              "Time from asking a DNS query to its answer or deadline.", {},
                              bounds(dns_query_buckets))
                      .with({});
  decision_seconds_ = &r.histogram("rdns_milter_decision_seconds",
                                   "Time from connect to the connection's first verdict.", {},
                                   bounds(decision_buckets))
                           .with({});
  stale_negative_ = &r.counter("rdns_milter_stale_negative_total",
                               "Negative DNS answers that the re-check without cache "
                               "contradicted (confirm-negative).")
                         .with({});
  auto& reloads = r.counter("rdns_milter_config_reloads_total",
                            "Configuration reloads (SIGHUP) by outcome.", {"outcome"});
  reloads_ok_ = &reloads.with({"ok"});
  reloads_failed_ = &reloads.with({"failed"});
  r.gauge("rdns_milter_build_info", "Always 1; the version in a label.", {"version"})
      .with({std::string(version)})
      .set(1);
}

void MilterMetrics::session_opened() {
  sessions_total_->inc();
  sessions_active_->add();
}

void MilterMetrics::session_closed() {
  sessions_active_->sub();
}

void MilterMetrics::verdict(const policy::Verdict& verdict) {
  actions_.at(verdict.dry_run ? actions_.size() - 1 : slot(verdict.action))->inc();
}

void MilterMetrics::decision_time(Seconds elapsed) {
  decision_seconds_->observe(elapsed.count());
}

void MilterMetrics::iprev(const checks::Iprev& iprev) {
  iprev_results_.at(slot(iprev.result))->inc();
  stale_negative_->inc(checks::contradicted_negatives(iprev));
}

void MilterMetrics::helo(const checks::Helo& helo) {
  helo_results_.at(slot(helo.result))->inc();
}

void MilterMetrics::spf(const checks::Spf& spf) {
  auto& series = spf.identity == checks::SpfIdentity::helo ? spf_helo_results_ : spf_results_;
  series.at(slot(spf.result))->inc();
}

void MilterMetrics::dns_query(dns::RrType type, dns::Outcome outcome, Seconds elapsed) {
  const auto row = type_slot(type);
  if (row < dns_queries_.size()) dns_queries_.at(row).at(slot(outcome))->inc();
  dns_seconds_->observe(elapsed.count());
}

void MilterMetrics::config_reload(bool ok) {
  (ok ? reloads_ok_ : reloads_failed_)->inc();
}

SessionMeter::SessionMeter(std::shared_ptr<MilterMetrics> metrics)
    : metrics_(std::move(metrics)), opened_(std::chrono::steady_clock::now()) {
  if (metrics_) metrics_->session_opened();
}

SessionMeter::~SessionMeter() {
  if (metrics_) metrics_->session_closed();
}

void SessionMeter::verdict(const policy::Verdict& verdict) {
  if (!metrics_) return;
  metrics_->verdict(verdict);
  if (!decided_) {
    decided_ = true;
    metrics_->decision_time(std::chrono::steady_clock::now() - opened_);
  }
}

void SessionMeter::iprev(const checks::Iprev& iprev) const {
  if (metrics_) metrics_->iprev(iprev);
}

void SessionMeter::helo(const checks::Helo& helo) const {
  if (metrics_) metrics_->helo(helo);
}

void SessionMeter::spf(const checks::Spf& spf) const {
  if (metrics_) metrics_->spf(spf);
}

namespace {

/// The decorator behind metered(): times each query from the call to its callback.
class MeteredResolver final : public dns::Resolver {
 public:
  MeteredResolver(std::shared_ptr<dns::Resolver> inner, std::shared_ptr<MilterMetrics> metrics)
      : inner_(std::move(inner)), metrics_(std::move(metrics)) {}

  void resolve_async(const std::string& name, dns::RrType type, dns::QueryOptions options,
                     Callback done) override {
    const auto asked = std::chrono::steady_clock::now();
    inner_->resolve_async(
        name, type, options,
        [metrics = metrics_, type, asked, done = std::move(done)](dns::Answer answer) {
          metrics->dns_query(type, answer.outcome, std::chrono::steady_clock::now() - asked);
          done(std::move(answer));
        });
  }

  void forget_answers() override { inner_->forget_answers(); }

 private:
  std::shared_ptr<dns::Resolver> inner_;
  std::shared_ptr<MilterMetrics> metrics_;
};

}  // namespace

std::shared_ptr<dns::Resolver> metered(std::shared_ptr<dns::Resolver> inner,
                                       std::shared_ptr<MilterMetrics> metrics) {
  if (!metrics) return inner;
  return std::make_shared<MeteredResolver>(std::move(inner), std::move(metrics));
}

void count_reload(MilterMetrics* metrics, bool ok) {
  if (metrics != nullptr) metrics->config_reload(ok);
}

}  // namespace rdns::metrics
