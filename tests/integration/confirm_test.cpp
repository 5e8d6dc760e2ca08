// Confirm-before-reject: a negative PTR answer stuck in the cache is checked with the zone's
// authoritative servers (the authority probe, the fixture's stub-addr) before it leads to
// fail/no-ptr. Its own test binary: it changes the fixture's zones and needs
// a long negative-cache TTL (a per-process libunbound setting).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "rdns/checks/iprev.h"
#include "rdns/dns/authority_probe.h"
#include "rdns/dns/unbound_resolver.h"
#include "testutil/dns_fixture.h"

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::IpAddress;
using dns::Outcome;
using dns::RrType;
using dns::UnboundResolver;
using rdns::test::DnsFixture;
using rdns::test::fixture_resolver_config;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;

const auto* const fixture_env = ::testing::AddGlobalTestEnvironment(new DnsFixture);

std::string explain(const Iprev& iprev) {
  std::string text =
      std::string(to_string(iprev.result)) + "/" + std::string(to_string(iprev.reason));
  for (const auto& answer : iprev.evidence) text += "\n  " + dns::describe(answer);
  return text;
}

/// The fixture's unbound.conf, for its stub zones.
std::string fixture_text() {
  std::ifstream in(DnsFixture::get().unbound_conf());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A resolver and the production authority probe over it (the fixture's stub zones).
struct Stack {
  explicit Stack(dns::ResolverConfig config)
      : resolver(std::make_shared<UnboundResolver>(config)),
        probe(dns::make_authority_probe(resolver, config.unbound_config)) {}

  Iprev check(const IpAddress& client, bool confirm) const {
    IprevOptions options;
    options.confirm_no_ptr = confirm;
    options.authority = probe.get();
    return check_iprev(*resolver, client, options);
  }

  std::shared_ptr<UnboundResolver> resolver;
  std::shared_ptr<dns::AuthorityProbe> probe;
};

TEST(ConfirmBeforeReject, ConfirmationSeesARecordTheCacheHides) {
  auto config = fixture_resolver_config();
  config.cache_max_negative_ttl = 3600;
  const Stack stack(config);
  const IpAddress client = *IpAddress::parse("192.0.2.30");
  const std::string ptr_name = "30.2.0.192.in-addr.arpa";

  // No PTR yet: fail/no-ptr, and the NXDOMAIN (SOA minimum 3600) is now in the cache.
  const Iprev before = stack.check(client, true);
  ASSERT_EQ(before.result, IprevResult::fail) << explain(before);
  ASSERT_EQ(before.reason, IprevReason::no_ptr);
  ASSERT_EQ(before.authority.size(), 1U);
  const auto& step = before.authority[0].steps.at(0);
  EXPECT_EQ(step.zone, "2.0.192.in-addr.arpa");
  EXPECT_TRUE(step.from_stub) << "the fixture's stub-addr wins over DNS";
  ASSERT_FALSE(step.servers.empty());
  EXPECT_TRUE(step.servers[0].aa) << dns::describe(before.authority[0]);
  EXPECT_EQ(step.servers[0].rcode, 3);

  DnsFixture::get().add_record("2.0.192.in-addr.arpa", "30 300 PTR late.test.");
  DnsFixture::get().add_record("test", "late 300 A 192.0.2.30");

  // The cache still says NXDOMAIN...
  const Answer cached = stack.resolver->resolve(ptr_name, RrType::ptr);
  EXPECT_EQ(cached.outcome, Outcome::nxdomain) << dns::describe(cached);
  EXPECT_FALSE(cached.confirmed);
  // ...while the authoritative server, asked directly, has the record. (A fresh probe: the
  // production one remembers its confirmed negative for up to a minute.)
  const auto direct = std::make_shared<dns::DirectAuthorityProbe>(
      stack.resolver, dns::parse_stub_zones(fixture_text()));
  std::promise<dns::ProbeResult> promise;
  direct->probe_async(ptr_name, RrType::ptr,
                      [&promise](dns::ProbeResult r) { promise.set_value(std::move(r)); });
  const auto judgement = dns::judge(promise.get_future().get());
  EXPECT_EQ(judgement.verdict, dns::ProbeVerdict::has_record);
  EXPECT_THAT(judgement.answer.names, ElementsAre("late.test"));

  // With confirmation (a fresh stack: same stale cache entry via a new check) the check
  // passes...
  IprevOptions options;
  options.authority = direct.get();
  const Iprev confirmed = check_iprev(*stack.resolver, client, options);
  EXPECT_EQ(confirmed.result, IprevResult::pass) << explain(confirmed);
  EXPECT_EQ(confirmed.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(confirmed.ptr, ElementsAre("late.test"));
  EXPECT_THAT(confirmed.verified, ElementsAre("late.test"));
  EXPECT_THAT(confirmed.evidence, Contains(Field(&Answer::confirmed, true)));
  EXPECT_EQ(contradicted_negatives(confirmed), 1U);

  // ...and without it the stale negative answer still decides: confirmation is what fixed it.
  const Iprev stale = stack.check(client, false);
  EXPECT_EQ(stale.result, IprevResult::fail) << explain(stale);
  EXPECT_EQ(stale.reason, IprevReason::no_ptr);
}

TEST(ConfirmBeforeReject, ConfirmedNegativeStillFails) {
  auto config = fixture_resolver_config();
  config.cache_max_negative_ttl = 3600;
  const Stack stack(config);
  const Iprev r = stack.check(*IpAddress::parse("192.0.2.12"), true);
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(r.evidence, Contains(Field(&Answer::confirmed, true))) << explain(r);
}

TEST(ConfirmBeforeReject, SilentAuthoritativeServerIsUnconfirmed) {
  // 113.0.203.in-addr.arpa's stub points at the fixture's blackhole: a negative answer there
  // cannot be confirmed, so it never rejects.
  auto config = fixture_resolver_config();
  const auto resolver = std::make_shared<UnboundResolver>(config);
  dns::ProbeLimits limits;
  limits.per_server = std::chrono::milliseconds(300);
  limits.total = std::chrono::milliseconds(1000);
  dns::DirectAuthorityProbe probe(resolver, dns::parse_stub_zones(fixture_text()), limits);
  std::promise<dns::ProbeResult> promise;
  probe.probe_async("7.113.0.203.in-addr.arpa", RrType::ptr,
                    [&promise](dns::ProbeResult r) { promise.set_value(std::move(r)); });
  const auto result = promise.get_future().get();
  const auto judgement = dns::judge(result);
  EXPECT_EQ(judgement.verdict, dns::ProbeVerdict::unconfirmed) << dns::describe(result);
  EXPECT_EQ(judgement.answer.outcome, Outcome::servfail);
}

}  // namespace
}  // namespace rdns::checks
