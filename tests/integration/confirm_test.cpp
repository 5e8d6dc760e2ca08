// Confirm-before-reject: a negative PTR answer stuck in the cache is re-checked past the cache
// before it leads to fail/no-ptr. Its own test binary: it changes the fixture's zones and needs
// a long negative-cache TTL (a per-process libunbound setting).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "rdns/checks/iprev.h"
#include "rdns/dns/unbound_resolver.h"
#include "testutil/dns_fixture.h"

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::IpAddress;
using dns::Outcome;
using dns::QueryOptions;
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

TEST(ConfirmBeforeReject, ConfirmationSeesARecordTheCacheHides) {
  auto config = fixture_resolver_config();
  config.cache_max_negative_ttl = 3600;
  UnboundResolver resolver(config);
  const IpAddress client = *IpAddress::parse("192.0.2.30");
  const std::string ptr_name = "30.2.0.192.in-addr.arpa";

  // No PTR yet: fail/no-ptr, and the NXDOMAIN (SOA minimum 3600) is now in the cache.
  const Iprev before = check_iprev(resolver, client, IprevOptions{.confirm_no_ptr = true});
  ASSERT_EQ(before.result, IprevResult::fail) << explain(before);
  ASSERT_EQ(before.reason, IprevReason::no_ptr);

  DnsFixture::get().add_record("2.0.192.in-addr.arpa", "30 300 PTR late.test.");
  DnsFixture::get().add_record("test", "late 300 A 192.0.2.30");

  // The cache still says NXDOMAIN...
  const Answer cached = resolver.resolve(ptr_name, RrType::ptr);
  EXPECT_EQ(cached.outcome, Outcome::nxdomain) << dns::describe(cached);
  EXPECT_FALSE(cached.confirmed);
  // ...while a cache-bypassing query sees the new record.
  const Answer fresh = resolver.resolve(ptr_name, RrType::ptr, QueryOptions{.bypass_cache = true});
  EXPECT_EQ(fresh.outcome, Outcome::ok) << dns::describe(fresh);
  EXPECT_TRUE(fresh.confirmed);
  EXPECT_THAT(fresh.names, ElementsAre("late.test"));

  // With confirmation the check passes...
  const Iprev confirmed = check_iprev(resolver, client, IprevOptions{.confirm_no_ptr = true});
  EXPECT_EQ(confirmed.result, IprevResult::pass) << explain(confirmed);
  EXPECT_EQ(confirmed.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(confirmed.ptr, ElementsAre("late.test"));
  EXPECT_THAT(confirmed.verified, ElementsAre("late.test"));
  EXPECT_THAT(confirmed.evidence, Contains(Field(&Answer::confirmed, true)));

  // ...and without it the stale negative answer still decides: confirmation is what fixed it.
  const Iprev stale = check_iprev(resolver, client, IprevOptions{.confirm_no_ptr = false});
  EXPECT_EQ(stale.result, IprevResult::fail) << explain(stale);
  EXPECT_EQ(stale.reason, IprevReason::no_ptr);
}

TEST(ConfirmBeforeReject, ConfirmedNegativeStillFails) {
  auto config = fixture_resolver_config();
  config.cache_max_negative_ttl = 3600;
  UnboundResolver resolver(config);
  const Iprev r =
      check_iprev(resolver, *IpAddress::parse("192.0.2.12"), IprevOptions{.confirm_no_ptr = true});
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(r.evidence, Contains(Field(&Answer::confirmed, true))) << explain(r);
}

}  // namespace
}  // namespace rdns::checks
