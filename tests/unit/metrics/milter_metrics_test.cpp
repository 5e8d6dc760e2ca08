// The daemon's metrics through a real Session over the fake resolver: what each kind of
// connection adds, the metered resolver, the stale-negative count, and metrics-listen parsing.
#include "rdns/metrics/milter_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "rdns/config/config.h"
#include "rdns/session/session.h"
#include "testutil/fake_resolver.h"

namespace rdns::metrics {
namespace {

using dns::Outcome;
using dns::RrType;
using ::testing::HasSubstr;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::FakeResolver;
using testutil::ip;
using testutil::ptr_answer;

/// The samples of an exposition, "name{labels}" -> value; a malformed line fails the test.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    const auto space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    const auto value = line.substr(space + 1);
    out[line.substr(0, space)] = value == "+Inf" ? HUGE_VAL : std::stod(value);
  }
  return out;
}

/// The sum of every sample whose key starts with `prefix`.
double sum_of(const std::map<std::string, double>& all, const std::string& prefix) {
  double total = 0;
  for (const auto& [key, value] : all) {
    if (key.starts_with(prefix)) total += value;
  }
  return total;
}

class MilterMetricsTest : public ::testing::Test {
 protected:
  MilterMetricsTest()
      : fake_(std::make_shared<FakeResolver>()),
        metrics_(std::make_shared<MilterMetrics>("1.2.3")) {
    fake_->add(ptr_answer("7.2.0.192.in-addr.arpa", {"good.test"}));
    fake_->add(a_answer("good.test", {"192.0.2.7"}));
    config_.authserv_id = "mx.test";
  }

  std::unique_ptr<session::Session> make() {
    return std::make_unique<session::Session>(
        session::Runtime{std::make_shared<const config::Config>(config_), metered(fake_, metrics_),
                         metrics_, std::make_shared<testutil::FakeAuthorityProbe>(*fake_)},
        nullptr);
  }

  /// One connection from `client` (HELO its address literal) up to the RCPT reply; the
  /// session is closed on return.
  session::Response run(const std::string& client) {
    auto session = make();
    (void)session->connect("unknown", ip(client), "mx.test");
    (void)session->helo("[" + client + "]");
    (void)session->mail("<a@b.example>", "", "Q1");
    return session->rcpt("<user@example.org>", "Q1");
  }

  [[nodiscard]] std::map<std::string, double> now() const {
    return samples(metrics_->exposition());
  }

  std::shared_ptr<FakeResolver> fake_;
  std::shared_ptr<MilterMetrics> metrics_;
  config::Config config_ = config::defaults();
};

TEST_F(MilterMetricsTest, EverySeriesExistsFromTheStart) {
  const auto s = now();
  EXPECT_EQ(s.at("rdns_milter_sessions_total"), 0);
  EXPECT_EQ(s.at("rdns_milter_sessions_active"), 0);
  for (const char* action : {"accept", "tag", "tempfail", "reject", "dry-run"}) {
    EXPECT_EQ(s.at(std::string("rdns_milter_actions_total{action=\"") + action + "\"}"), 0);
  }
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"iprev\",result=\"fail\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"helo\",result=\"none\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"spf\",result=\"softfail\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"spf-helo\",result=\"pass\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"PTR\",outcome=\"nxdomain\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"AAAA\",outcome=\"timeout\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_dns_query_seconds_bucket{le=\"+Inf\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_decision_seconds_count"), 0);
  EXPECT_EQ(s.at("rdns_milter_stale_negative_total"), 0);
  EXPECT_EQ(s.at("rdns_milter_config_reloads_total{outcome=\"ok\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_config_reloads_total{outcome=\"failed\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_THAT(metrics_->exposition(),
              HasSubstr("# TYPE rdns_milter_dns_query_seconds histogram\n"
                        "rdns_milter_dns_query_seconds_bucket{le=\"0.0005\"}"));
}

TEST_F(MilterMetricsTest, NoPtrConnectionIsOneRejectOneIprevFailAndItsQueries) {
  {
    auto session = make();
    (void)session->connect("unknown", ip("192.0.2.12"), "mx.test");
    (void)session->helo("client.example");
    (void)session->mail("<a@b.example>", "", "Q1");
    EXPECT_EQ(session->rcpt("<user@example.org>", "Q1").kind, session::Response::Kind::reject);
    const auto open = now();
    EXPECT_EQ(open.at("rdns_milter_sessions_active"), 1);
    EXPECT_EQ(open.at("rdns_milter_sessions_total"), 1);
  }
  const auto s = now();
  EXPECT_EQ(s.at("rdns_milter_sessions_active"), 0);
  EXPECT_EQ(s.at("rdns_milter_sessions_total"), 1);
  EXPECT_EQ(s.at("rdns_milter_actions_total{action=\"reject\"}"), 1);
  EXPECT_EQ(sum_of(s, "rdns_milter_actions_total"), 1);
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"iprev\",result=\"fail\"}"), 1);
  EXPECT_EQ(sum_of(s, "rdns_milter_results_total{check=\"iprev\""), 1);
  EXPECT_EQ(sum_of(s, "rdns_milter_results_total{check=\"helo\""), 1);
  EXPECT_EQ(sum_of(s, "rdns_milter_results_total{check=\"spf\""), 1);
  // The NXDOMAIN, confirmed by the authority probe (its questions to the zone's servers are
  // not resolver queries): not contradicted.
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"PTR\",outcome=\"nxdomain\"}"), 1);
  EXPECT_EQ(s.at("rdns_milter_stale_negative_total"), 0);
  const auto asked = static_cast<double>(fake_->queries().size() - fake_->bypass_count());
  EXPECT_EQ(sum_of(s, "rdns_milter_dns_queries_total"), asked);
  EXPECT_EQ(s.at("rdns_milter_dns_query_seconds_count"), asked);
  EXPECT_EQ(s.at("rdns_milter_dns_query_seconds_bucket{le=\"+Inf\"}"), asked);
  EXPECT_EQ(s.at("rdns_milter_decision_seconds_count"), 1);
}

TEST_F(MilterMetricsTest, PassingClientCountsIprevPassAndForwardQuery) {
  config_.policy.iprev.no_forward_match.action = policy::Action::reject;
  EXPECT_EQ(run("192.0.2.7").kind, session::Response::Kind::proceed);
  const auto s = now();
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"iprev\",result=\"pass\"}"), 1);
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"PTR\",outcome=\"ok\"}"), 1);
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"A\",outcome=\"ok\"}"), 1);
  EXPECT_EQ(s.at("rdns_milter_actions_total{action=\"reject\"}"), 0);
}

TEST_F(MilterMetricsTest, DryRunIsCountedApartFromTag) {
  config_.policy.dry_run = true;
  EXPECT_EQ(run("192.0.2.12").kind, session::Response::Kind::proceed);
  const auto s = now();
  EXPECT_EQ(s.at("rdns_milter_actions_total{action=\"dry-run\"}"), 1);
  EXPECT_EQ(s.at("rdns_milter_actions_total{action=\"tag\"}"), 0);
  EXPECT_EQ(s.at("rdns_milter_actions_total{action=\"reject\"}"), 0);
}

TEST_F(MilterMetricsTest, NegativeContradictedByTheRecheckIsAStaleNegative) {
  // The cache says NXDOMAIN; the authoritative server has the PTR by now.
  fake_->add(failure_answer("9.2.0.192.in-addr.arpa", RrType::ptr, Outcome::nxdomain));
  fake_->add_authoritative(ptr_answer("9.2.0.192.in-addr.arpa", {"new.test"}));
  fake_->add(a_answer("new.test", {"192.0.2.9"}));
  EXPECT_EQ(run("192.0.2.9").kind, session::Response::Kind::proceed);
  const auto s = now();
  EXPECT_EQ(s.at("rdns_milter_stale_negative_total"), 1);
  EXPECT_EQ(s.at("rdns_milter_results_total{check=\"iprev\",result=\"pass\"}"), 1);
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"PTR\",outcome=\"nxdomain\"}"), 1);
  // The PTR came from the authoritative server, asked directly, not through the resolver.
  EXPECT_EQ(s.at("rdns_milter_dns_queries_total{type=\"PTR\",outcome=\"ok\"}"), 0);
}

TEST_F(MilterMetricsTest, ContradictedNegativesCountsOnlyRecordsAfterANegative) {
  checks::Iprev iprev;
  auto first = failure_answer("x.test", RrType::a, Outcome::nodata);
  auto confirmed_ok = a_answer("x.test", {"192.0.2.1"});
  confirmed_ok.confirmed = true;
  auto other_name = a_answer("y.test", {"192.0.2.1"});
  other_name.confirmed = true;
  auto confirmed_negative = failure_answer("z.test", RrType::a, Outcome::nxdomain);
  auto z_first = confirmed_negative;
  confirmed_negative.confirmed = true;
  iprev.evidence = {first, z_first, confirmed_ok, other_name, confirmed_negative};
  EXPECT_EQ(checks::contradicted_negatives(iprev), 1U);
  iprev.evidence = {confirmed_ok, first};  // a re-check before the negative answer: not one
  EXPECT_EQ(checks::contradicted_negatives(iprev), 0U);
}

TEST_F(MilterMetricsTest, ReloadsAreCountedByOutcome) {
  count_reload(metrics_.get(), true);
  count_reload(metrics_.get(), true);
  count_reload(metrics_.get(), false);
  count_reload(nullptr, false);  // metrics off: nothing to count, no crash
  const auto s = now();
  EXPECT_EQ(s.at("rdns_milter_config_reloads_total{outcome=\"ok\"}"), 2);
  EXPECT_EQ(s.at("rdns_milter_config_reloads_total{outcome=\"failed\"}"), 1);
}

TEST_F(MilterMetricsTest, WithoutMetricsTheResolverIsNotWrapped) {
  const std::shared_ptr<dns::Resolver> inner = fake_;
  EXPECT_EQ(metered(inner, nullptr), inner);
  EXPECT_NE(metered(inner, metrics_), inner);
}

// ----- metrics-listen ----------------------------------------------------------------------

std::string error_of(const std::vector<std::string>& args) {
  try {
    (void)config::parse_arguments(args);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(MetricsListenOption, OffByDefaultAndParsed) {
  EXPECT_FALSE(config::defaults().metrics_listen);
  const auto v4 = config::parse_arguments({"--metrics-listen", "127.0.0.1:9466"}).config;
  ASSERT_TRUE(v4.metrics_listen);
  EXPECT_EQ(v4.metrics_listen->to_string(), "127.0.0.1:9466");
  const auto v6 = config::parse_arguments({"--metrics-listen", "[::1]:9466"}).config;
  ASSERT_TRUE(v6.metrics_listen);
  EXPECT_EQ(v6.metrics_listen->to_string(), "[::1]:9466");
  EXPECT_FALSE(config::parse_arguments({"--metrics-listen", ""}).config.metrics_listen);
}

TEST(MetricsListenOption, BadValueNamesOptionAndValue) {
  const auto message = error_of({"--metrics-listen", "localhost:9466"});
  EXPECT_THAT(message, HasSubstr("command line: option 'metrics-listen'"));
  EXPECT_THAT(message, HasSubstr("'localhost:9466'"));
  EXPECT_THAT(error_of({"--metrics-listen", "127.0.0.1:70000"}), HasSubstr("'127.0.0.1:70000'"));

  char path[] = "/tmp/rdns-metrics-test.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "metrics-listen = 9466\n";
  const auto from_file = error_of({"--config", path});
  std::remove(path);
  EXPECT_THAT(from_file, HasSubstr(std::string(path) + ":1: option 'metrics-listen'"));
  EXPECT_THAT(from_file, HasSubstr("'9466'"));
}

}  // namespace
}  // namespace rdns::metrics
