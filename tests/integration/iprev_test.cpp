// iprev (RFC 8601 §3) over UnboundResolver against the DNS fixture.
// Names and addresses: tests/fixture/README.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

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
using dns::Security;
using dns::UnboundResolver;
using rdns::test::DnsFixture;
using rdns::test::fixture_resolver_config;
using rdns::test::ip;
using rdns::test::short_timeout;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const auto* const fixture_env = ::testing::AddGlobalTestEnvironment(new DnsFixture);

/// Everything worth printing when an expectation fails.
std::string explain(const Iprev& iprev) {
  std::string text =
      std::string(to_string(iprev.result)) + "/" + std::string(to_string(iprev.reason));
  for (const auto& answer : iprev.evidence) text += "\n  " + dns::describe(answer);
  return text;
}

class IprevTest : public ::testing::Test {
 protected:
  Iprev check(std::string_view address, IprevOptions options = {}) {
    if (options.authority == nullptr) options.authority = probe_.get();
    return check_iprev(*resolver_, ip(address), options);
  }

  std::shared_ptr<UnboundResolver> resolver_ =
      std::make_shared<UnboundResolver>(fixture_resolver_config());
  /// The production probe: the fixture's stub zones name the authoritative server.
  std::shared_ptr<dns::AuthorityProbe> probe_ =
      dns::make_authority_probe(resolver_, fixture_resolver_config().unbound_config);
};

TEST_F(IprevTest, PassesForwardConfirmedIpv4) {
  const Iprev r = check("192.0.2.7");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_EQ(r.client, ip("192.0.2.7"));
  EXPECT_THAT(r.ptr, ElementsAre("good.test"));
  EXPECT_THAT(r.verified, ElementsAre("good.test"));
  EXPECT_EQ(r.dnssec, Security::insecure);
  ASSERT_FALSE(r.evidence.empty());
  EXPECT_EQ(r.evidence.front().name, "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(r.evidence.front().type, RrType::ptr);
  EXPECT_THAT(r.evidence, Contains(Field(&Answer::name, "good.test")));
}

TEST_F(IprevTest, PassesForwardConfirmedIpv6) {
  const Iprev r = check("2001:db8::7");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.ptr, ElementsAre("good6.test"));
  EXPECT_THAT(r.verified, ElementsAre("good6.test"));
  ASSERT_FALSE(r.evidence.empty());
  EXPECT_EQ(r.evidence.front().name, ip("2001:db8::7").reverse_name());
  EXPECT_THAT(r.evidence, Contains(Field(&Answer::type, RrType::aaaa)));
}

TEST_F(IprevTest, TreatsV4MappedAddressAsIpv4) {
  const Iprev r = check("::ffff:192.0.2.7");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_THAT(r.verified, ElementsAre("good.test"));
  ASSERT_FALSE(r.evidence.empty());
  EXPECT_EQ(r.evidence.front().name, "7.2.0.192.in-addr.arpa");
  EXPECT_THAT(r.evidence, Contains(Field(&Answer::type, RrType::a)));
}

TEST_F(IprevTest, DualStackNamePassesForBothFamilies) {
  EXPECT_EQ(check("192.0.2.21").result, IprevResult::pass);
  const Iprev r = check("2001:db8::21");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_THAT(r.verified, ElementsAre("dual.test"));
}

TEST_F(IprevTest, OneOfSeveralPtrNamesConfirms) {
  const Iprev r = check("192.0.2.8");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_THAT(r.ptr, ElementsAre("multi-bad1.test", "multi-bad2.test", "multi-good.test"));
  EXPECT_THAT(r.verified, ElementsAre("multi-good.test"));
}

TEST_F(IprevTest, PtrNameWithoutAddressFails) {
  const Iprev r = check("192.0.2.9");
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_THAT(r.ptr, ElementsAre("noaddr.test"));
  EXPECT_THAT(r.verified, IsEmpty());
}

TEST_F(IprevTest, PtrNamePointingElsewhereFails) {
  const Iprev r = check("192.0.2.10");
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_THAT(r.ptr, ElementsAre("elsewhere.test"));
  EXPECT_THAT(r.verified, IsEmpty());
}

TEST_F(IprevTest, CnameLoopIsTemperror) {
  const Iprev r = check("192.0.2.11");
  EXPECT_EQ(r.result, IprevResult::temperror) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::forward_temperror);
  EXPECT_THAT(r.ptr, ElementsAre("loop1.test"));
}

TEST_F(IprevTest, ForwardServfailIsTemperror) {
  const Iprev r = check("192.0.2.13");
  EXPECT_EQ(r.result, IprevResult::temperror) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::forward_temperror);
}

TEST_F(IprevTest, NxdomainIsNoPtrAfterConfirmation) {
  const Iprev r = check("192.0.2.12");
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(r.ptr, IsEmpty());
  EXPECT_THAT(r.verified, IsEmpty());
  // confirm_no_ptr is on by default: the authoritative server confirmed the negative answer.
  EXPECT_THAT(r.evidence, Contains(Field(&Answer::confirmed, true))) << explain(r);
}

TEST_F(IprevTest, NxdomainWithoutConfirmation) {
  const Iprev r = check("192.0.2.12", IprevOptions{.confirm_no_ptr = false});
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(r.evidence, Not(Contains(Field(&Answer::confirmed, true)))) << explain(r);
}

TEST_F(IprevTest, NodataIsNoPtr) {
  const Iprev r = check("192.0.2.17");
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
}

TEST_F(IprevTest, Rfc2317DelegationPasses) {
  const Iprev r = check("192.0.2.70");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_THAT(r.ptr, ElementsAre("classless.test"));
  EXPECT_THAT(r.verified, ElementsAre("classless.test"));
}

TEST_F(IprevTest, Rfc2317DelegationWithoutPtrFails) {
  const Iprev r = check("192.0.2.71");
  EXPECT_EQ(r.result, IprevResult::fail) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
}

TEST_F(IprevTest, PtrServfailIsTemperror) {
  const Iprev r = check("198.51.100.7");
  EXPECT_EQ(r.result, IprevResult::temperror) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::ptr_servfail);
  EXPECT_THAT(r.ptr, IsEmpty());
}

TEST(IprevTimeout, PtrTimeoutIsTemperror) {
  UnboundResolver resolver(fixture_resolver_config(short_timeout));
  const auto started = Clock::now();
  const Iprev r = check_iprev(resolver, ip("203.0.113.7"));
  const auto elapsed = Clock::now() - started;
  EXPECT_EQ(r.result, IprevResult::temperror) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::ptr_timeout);
  // The outcome shows the deadline fired; the bound only catches a hang (generous for CI).
  EXPECT_LT(elapsed, short_timeout + 5s);
}

TEST_F(IprevTest, SignedReverseAndForwardAreSecure) {
  const Iprev r = check("2001:db8:5::7");
  EXPECT_EQ(r.result, IprevResult::pass) << explain(r);
  EXPECT_THAT(r.verified, ElementsAre("host.secure.test"));
  EXPECT_EQ(r.dnssec, Security::secure);
}

TEST_F(IprevTest, BogusPtrIsTemperror) {
  const Iprev r = check("2001:db8:6::7");
  EXPECT_EQ(r.result, IprevResult::temperror) << explain(r);
  EXPECT_EQ(r.reason, IprevReason::ptr_bogus);
}

TEST_F(IprevTest, ConcurrentChecksFromSeveralThreads) {
  const std::map<std::string, IprevResult> expected{
      {"192.0.2.7", IprevResult::pass},         {"192.0.2.8", IprevResult::pass},
      {"192.0.2.9", IprevResult::fail},         {"192.0.2.10", IprevResult::fail},
      {"192.0.2.11", IprevResult::temperror},   {"192.0.2.12", IprevResult::fail},
      {"192.0.2.70", IprevResult::pass},        {"2001:db8::7", IprevResult::pass},
      {"198.51.100.9", IprevResult::temperror},
  };
  constexpr int threads = 3;
  constexpr int rounds = 5;
  const int total = threads * rounds * static_cast<int>(expected.size());
  std::mutex mutex;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        for (const auto& [address, result] : expected) {
          start_iprev(*resolver_, ip(address), IprevOptions{.authority = probe_.get()},
                      [&, address = address, result = result](const Iprev& r) {
                        const std::lock_guard lock(mutex);
                        if (r.result != result) errors.push_back(address + ": " + explain(r));
                        ++done;
                        cv.notify_all();
                      });
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return done == total; }))
      << done << " of " << total << " checks finished";
  EXPECT_THAT(errors, IsEmpty());
}

}  // namespace
}  // namespace rdns::checks
