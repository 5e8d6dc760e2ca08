// UnboundResolver against the DNS fixture: answers, failures, DNSSEC, CNAMEs, concurrency.
// Names and addresses: tests/fixture/README.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "rdns/dns/answer.h"
#include "rdns/dns/unbound_resolver.h"
#include "testutil/dns_fixture.h"

namespace rdns::dns {
namespace {

using rdns::test::DnsFixture;
using rdns::test::fixture_resolver_config;
using rdns::test::ip;
using rdns::test::short_timeout;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const auto* const fixture_env = ::testing::AddGlobalTestEnvironment(new DnsFixture);

class ResolverTest : public ::testing::Test {
 protected:
  UnboundResolver resolver_{fixture_resolver_config()};
};

TEST_F(ResolverTest, AnswersA) {
  const Answer a = resolver_.resolve("good.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "good.test");
  EXPECT_EQ(a.type, RrType::a);
  EXPECT_THAT(a.addresses, ElementsAre(ip("192.0.2.7")));
  EXPECT_LE(a.ttl, 300U);
  EXPECT_GE(a.ttl, 295U);
  EXPECT_EQ(a.security, Security::insecure);
  EXPECT_FALSE(a.negative());
  EXPECT_FALSE(a.temporary_failure());
  EXPECT_THAT(a.cname_chain, IsEmpty());
}

TEST_F(ResolverTest, NormalizesTheQueriedName) {
  const Answer a = resolver_.resolve("GOOD.Test.", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "good.test");
  EXPECT_THAT(a.addresses, ElementsAre(ip("192.0.2.7")));
}

TEST_F(ResolverTest, AnswersAaaa) {
  const Answer a = resolver_.resolve("good6.test", RrType::aaaa);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.type, RrType::aaaa);
  EXPECT_THAT(a.addresses, ElementsAre(ip("2001:db8::7")));
  EXPECT_GE(a.ttl, 295U);
  EXPECT_LE(a.ttl, 300U);
}

TEST_F(ResolverTest, AnswersPtr) {
  const Answer a = resolver_.resolve("7.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "7.2.0.192.in-addr.arpa");
  EXPECT_THAT(a.names, ElementsAre("good.test"));
  EXPECT_GE(a.ttl, 295U);
  EXPECT_LE(a.ttl, 300U);
}

TEST_F(ResolverTest, AnswersSeveralPtr) {
  const Answer a = resolver_.resolve("8.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.names,
              UnorderedElementsAre("multi-bad1.test", "multi-good.test", "multi-bad2.test"));
}

TEST_F(ResolverTest, AnswersIp6Ptr) {
  const Answer a = resolver_.resolve(ip("2001:db8::7").reverse_name(), RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_THAT(a.names, ElementsAre("good6.test"));
}

TEST_F(ResolverTest, AnswersMx) {
  const Answer a = resolver_.resolve("mx.test", RrType::mx);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.mx, UnorderedElementsAre(MxRecord{10, "mail1.test"}, MxRecord{20, "mail2.test"}));
  EXPECT_GE(a.ttl, 895U);
  EXPECT_LE(a.ttl, 900U);
}

TEST_F(ResolverTest, AnswersNullMx) {
  const Answer a = resolver_.resolve("nullmx.test", RrType::mx);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  ASSERT_EQ(a.mx.size(), 1U);
  EXPECT_EQ(a.mx[0].preference, 0);
  EXPECT_THAT(a.mx[0].exchange, AnyOf("", "."));
}

TEST_F(ResolverTest, AnswersTxt) {
  const Answer a = resolver_.resolve("txt.test", RrType::txt);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.texts, ElementsAre("hello world"));
  EXPECT_GE(a.ttl, 595U);
  EXPECT_LE(a.ttl, 600U);
}

TEST_F(ResolverTest, JoinsTxtCharacterStrings) {
  const Answer a = resolver_.resolve("txt-split.test", RrType::txt);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.texts, ElementsAre("v=spf1 ip4:192.0.2.0/24 -all"));
}

TEST_F(ResolverTest, ReportsNxdomain) {
  const Answer a = resolver_.resolve("12.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::nxdomain) << describe(a);
  EXPECT_TRUE(a.negative());
  EXPECT_FALSE(a.temporary_failure());
  EXPECT_THAT(a.names, IsEmpty());
  EXPECT_FALSE(a.confirmed);
}

TEST_F(ResolverTest, ReportsNodata) {
  const Answer a = resolver_.resolve("noaddr.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::nodata) << describe(a);
  EXPECT_TRUE(a.negative());
  EXPECT_THAT(a.addresses, IsEmpty());

  const Answer ptr = resolver_.resolve("17.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(ptr.outcome, Outcome::nodata) << describe(ptr);
}

TEST_F(ResolverTest, ReportsServfail) {
  for (const char* name : {"host.servfail.test", "7.100.51.198.in-addr.arpa"}) {
    const auto started = Clock::now();
    const Answer a = resolver_.resolve(name, name[0] == 'h' ? RrType::a : RrType::ptr);
    EXPECT_EQ(a.outcome, Outcome::servfail) << describe(a);
    EXPECT_TRUE(a.temporary_failure());
    EXPECT_EQ(a.ttl, 0U);
    EXPECT_LT(Clock::now() - started, 1s) << name;
  }
}

TEST_F(ResolverTest, CnameLoopIsServfail) {
  const Answer a = resolver_.resolve("loop1.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::servfail) << describe(a);
  EXPECT_THAT(a.addresses, IsEmpty());
}

TEST(ResolverTimeout, TimesOutAtTheDeadline) {
  // A fresh resolver per query: libunbound marks the blackhole down after its first give-up
  // and answers SERVFAIL at once afterwards (tests/fixture/README.md).
  for (const auto& [name, type] : {std::pair{"host.timeout.test", RrType::a},
                                   std::pair{"7.113.0.203.in-addr.arpa", RrType::ptr}}) {
    UnboundResolver resolver(fixture_resolver_config(short_timeout));
    const auto started = Clock::now();
    const Answer a = resolver.resolve(name, type);
    const auto elapsed = Clock::now() - started;
    EXPECT_EQ(a.outcome, Outcome::timeout) << describe(a);
    EXPECT_TRUE(a.temporary_failure());
    // Never before the deadline (load only makes it later); the upper bound only catches a
    // hang, generous for a loaded CI machine.
    EXPECT_GE(elapsed, short_timeout - 20ms) << name;
    EXPECT_LT(elapsed, short_timeout + 5s) << name;
  }
}

TEST_F(ResolverTest, SilentServerFailsFast) {
  // With the 2 s deadline libunbound gives up first (infra-cache-max-rtt 500): well under 2 s.
  const auto started = Clock::now();
  const Answer a = resolver_.resolve("host.timeout.test", RrType::a);
  EXPECT_TRUE(a.temporary_failure()) << describe(a);
  EXPECT_THAT(a.outcome, AnyOf(Outcome::servfail, Outcome::timeout));
  // The 2 s deadline (or libunbound before it) ends the query: the bound only catches a hang,
  // generous for a loaded CI machine.
  EXPECT_LT(Clock::now() - started, 2s + 5s);
}

TEST_F(ResolverTest, NamesOutsideTheTestDataFailFast) {
  // The test root answers everything else, so nothing goes to the real root servers.
  const auto started = Clock::now();
  const Answer a = resolver_.resolve("www.example.com", RrType::a);
  EXPECT_NE(a.outcome, Outcome::ok) << describe(a);
  EXPECT_NE(a.outcome, Outcome::timeout) << describe(a);
  EXPECT_LT(Clock::now() - started, 1s);
}

TEST_F(ResolverTest, ValidatesSignedZone) {
  const Answer a = resolver_.resolve("www.secure.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.security, Security::secure);
  EXPECT_THAT(a.addresses, ElementsAre(ip("192.0.2.50")));
  EXPECT_THAT(a.why_bogus, IsEmpty());

  const Answer mx = resolver_.resolve("secure.test", RrType::mx);
  EXPECT_EQ(mx.outcome, Outcome::ok) << describe(mx);
  EXPECT_EQ(mx.security, Security::secure);
  EXPECT_THAT(mx.mx, ElementsAre(MxRecord{10, "mail.secure.test"}));
}

TEST_F(ResolverTest, ValidatesSignedNxdomain) {
  const Answer a = resolver_.resolve("nope.secure.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::nxdomain) << describe(a);
  EXPECT_EQ(a.security, Security::secure);
}

TEST_F(ResolverTest, ReportsBogus) {
  const Answer a = resolver_.resolve("www.bogus.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::bogus) << describe(a);
  EXPECT_EQ(a.security, Security::bogus);
  EXPECT_THAT(a.why_bogus, HasSubstr("bogus.test"));
  EXPECT_TRUE(a.temporary_failure());
}

TEST_F(ResolverTest, SignedReverseZoneIsSecureOrBogus) {
  const Answer good = resolver_.resolve(ip("2001:db8:5::7").reverse_name(), RrType::ptr);
  EXPECT_EQ(good.outcome, Outcome::ok) << describe(good);
  EXPECT_EQ(good.security, Security::secure);
  EXPECT_THAT(good.names, ElementsAre("host.secure.test"));

  const Answer bad = resolver_.resolve(ip("2001:db8:6::7").reverse_name(), RrType::ptr);
  EXPECT_EQ(bad.outcome, Outcome::bogus) << describe(bad);
  EXPECT_EQ(bad.security, Security::bogus);
  EXPECT_THAT(bad.why_bogus, Not(IsEmpty()));
}

TEST_F(ResolverTest, RecordsCnameChain) {
  const Answer a = resolver_.resolve("chain.test", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "chain.test");
  EXPECT_THAT(a.cname_chain, ElementsAre("chain2.test", "good.test"));
  EXPECT_THAT(a.addresses, ElementsAre(ip("192.0.2.7")));
}

TEST_F(ResolverTest, KeepsRfc2317NamesIntact) {
  // libunbound's canonname shows "70.64?26..."; the answer must keep the '/'.
  const Answer a = resolver_.resolve("70.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "70.2.0.192.in-addr.arpa");
  EXPECT_THAT(a.cname_chain, ElementsAre("70.64/26.2.0.192.in-addr.arpa"));
  EXPECT_THAT(a.names, ElementsAre("classless.test"));
}

TEST_F(ResolverTest, Rfc2317CnameToNothingIsNxdomain) {
  const Answer a = resolver_.resolve("71.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::nxdomain) << describe(a);
  EXPECT_THAT(a.names, IsEmpty());
}

TEST_F(ResolverTest, QueriesTheDirectlyNamedRfc2317Zone) {
  const Answer a = resolver_.resolve("70.64/26.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "70.64/26.2.0.192.in-addr.arpa");
  EXPECT_THAT(a.names, ElementsAre("classless.test"));
}

TEST_F(ResolverTest, BypassCacheMarksAnswerConfirmed) {
  const Answer cached = resolver_.resolve("good.test", RrType::a);
  const Answer fresh =
      resolver_.resolve("good.test", RrType::a, QueryOptions{.bypass_cache = true});
  EXPECT_FALSE(cached.confirmed);
  EXPECT_TRUE(fresh.confirmed);
  EXPECT_EQ(fresh.outcome, Outcome::ok) << describe(fresh);
  EXPECT_THAT(fresh.addresses, ElementsAre(ip("192.0.2.7")));
}

// The answer memo and the merging of identical questions: a warm answer is the same answer
// (DNSSEC status included) with a TTL no larger; a re-check bypasses the memo; many identical
// questions at once each get the one answer.
TEST_F(ResolverTest, RepeatedQuestionsGetTheSameAnswer) {
  const Answer first = resolver_.resolve("www.secure.test", RrType::a);
  ASSERT_EQ(first.outcome, Outcome::ok) << describe(first);
  const Answer again = resolver_.resolve("www.secure.test", RrType::a);
  EXPECT_EQ(again.security, Security::secure);
  EXPECT_LE(again.ttl, first.ttl);
  Answer same_ttl = again;
  same_ttl.ttl = first.ttl;
  EXPECT_EQ(same_ttl, first);
  const Answer negative = resolver_.resolve("nope.secure.test", RrType::a);
  const Answer negative_again = resolver_.resolve("nope.secure.test", RrType::a);
  EXPECT_EQ(negative_again.outcome, Outcome::nxdomain);
  EXPECT_EQ(negative_again.security, Security::secure);
  EXPECT_LE(negative_again.ttl, negative.ttl);
  const Answer fresh =
      resolver_.resolve("www.secure.test", RrType::a, QueryOptions{.bypass_cache = true});
  EXPECT_TRUE(fresh.confirmed);
  EXPECT_FALSE(resolver_.resolve("www.secure.test", RrType::a).confirmed);  // not kept
}

TEST_F(ResolverTest, IdenticalQuestionsAtOnceAllGetTheAnswer) {
  constexpr int count = 200;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Answer> answers;
  for (int round = 0; round < 3; ++round) {
    // Names not asked before in this test: the first round finds nothing in the memo.
    const std::string name = round == 0 ? "70.2.0.192.in-addr.arpa" : "7.2.0.192.in-addr.arpa";
    for (int i = 0; i < count; ++i) {
      resolver_.resolve_async(name, RrType::ptr, {}, [&](Answer answer) {
        const std::lock_guard lock(mutex);
        answers.push_back(std::move(answer));
        cv.notify_all();
      });
    }
  }
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return answers.size() == 3U * count; }));
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.outcome, Outcome::ok) << describe(answer);
    EXPECT_EQ(answer.names.size(), 1U) << describe(answer);
  }
}

TEST_F(ResolverTest, CallbackMayStartFurtherQueries) {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Answer> forward;
  resolver_.resolve_async("7.2.0.192.in-addr.arpa", RrType::ptr, {}, [&](const Answer& ptr) {
    ASSERT_EQ(ptr.names.size(), 1U) << describe(ptr);
    resolver_.resolve_async(ptr.names[0], RrType::a, {}, [&](Answer a) {
      const std::lock_guard lock(mutex);
      forward = std::move(a);
      cv.notify_all();
    });
  });
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return forward.has_value(); }));
  EXPECT_THAT(forward->addresses, ElementsAre(ip("192.0.2.7")));
}

TEST_F(ResolverTest, ManyThreadsManyAsyncQueries) {
  struct Case {
    const char* name;
    RrType type;
    Outcome outcome;
    const char* first;  // first address or name, empty for none
  };
  const std::vector<Case> cases{
      {"good.test", RrType::a, Outcome::ok, "192.0.2.7"},
      {"good6.test", RrType::aaaa, Outcome::ok, "2001:db8::7"},
      {"multi-good.test", RrType::a, Outcome::ok, "192.0.2.8"},
      {"7.2.0.192.in-addr.arpa", RrType::ptr, Outcome::ok, "good.test"},
      {"70.2.0.192.in-addr.arpa", RrType::ptr, Outcome::ok, "classless.test"},
      {"12.2.0.192.in-addr.arpa", RrType::ptr, Outcome::nxdomain, ""},
      {"noaddr.test", RrType::a, Outcome::nodata, ""},
      {"host.servfail.test", RrType::a, Outcome::servfail, ""},
  };
  constexpr int threads = 4;
  constexpr int rounds = 25;
  const int total = threads * rounds * static_cast<int>(cases.size());
  std::mutex mutex;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int r = 0; r < rounds; ++r) {
        for (const auto& c : cases) {
          resolver_.resolve_async(c.name, c.type, {}, [&, c](const Answer& a) {
            std::string first;
            if (!a.addresses.empty()) first = a.addresses.front().to_string();
            if (!a.names.empty()) first = a.names.front();
            const std::lock_guard lock(mutex);
            if (a.outcome != c.outcome || first != c.first) errors.push_back(describe(a));
            ++done;
            cv.notify_all();
          });
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return done == total; }))
      << done << " of " << total << " callbacks ran";
  EXPECT_THAT(errors, IsEmpty());
  // No callback runs twice: give stragglers a moment, the count must not move.
  lock.unlock();
  std::this_thread::sleep_for(100ms);
  lock.lock();
  EXPECT_EQ(done, total);
}

TEST_F(ResolverTest, BlockingResolveFromSeveralThreads) {
  std::atomic<int> good{0};
  constexpr int per_thread = 50;
  constexpr int threads = 4;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        const Answer a = resolver_.resolve(i % 2 ? "good.test" : "dual.test", RrType::a);
        if (a.outcome == Outcome::ok && a.addresses.size() == 1) ++good;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(good.load(), threads * per_thread);
}

TEST(ResolverConstruction, RejectsUnreadableUnboundConfig) {
  auto config = fixture_resolver_config();
  config.unbound_config = DnsFixture::get().dir() + "/does-not-exist.conf";
  EXPECT_THROW(UnboundResolver resolver(config), std::runtime_error);
}

}  // namespace
}  // namespace rdns::dns
