// Tests of the test double itself: later tests rely on each of these behaviours.

#include "testutil/fake_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testutil/printers.h"

namespace rdns::testutil {
namespace {

using dns::Outcome;
using dns::RrType;
using ::testing::ElementsAre;

struct Collected {
  std::vector<dns::Answer> answers;
  dns::Resolver::Callback callback() {
    return [this](dns::Answer a) { answers.push_back(std::move(a)); };
  }
};

TEST(FakeResolverTest, UnknownNameIsNxdomain) {
  FakeResolver fake;
  Collected got;
  fake.resolve_async("nowhere.example", RrType::a, {}, got.callback());
  ASSERT_EQ(got.answers.size(), 1U);
  EXPECT_EQ(got.answers[0].outcome, Outcome::nxdomain);
  EXPECT_EQ(got.answers[0].name, "nowhere.example");
  EXPECT_EQ(got.answers[0].type, RrType::a);
  EXPECT_FALSE(got.answers[0].confirmed);
}

TEST(FakeResolverTest, TableAnswerMatchesNameAndTypeIgnoringCaseAndTrailingDot) {
  FakeResolver fake;
  fake.add(a_answer("mail.example.com", {"192.0.2.7"}));
  Collected got;
  fake.resolve_async("MAIL.example.com.", RrType::a, {}, got.callback());
  fake.resolve_async("mail.example.com", RrType::aaaa, {}, got.callback());
  ASSERT_EQ(got.answers.size(), 2U);
  EXPECT_EQ(got.answers[0].outcome, Outcome::ok);
  EXPECT_THAT(got.answers[0].addresses, ElementsAre(ip("192.0.2.7")));
  EXPECT_EQ(got.answers[1].outcome, Outcome::nxdomain);
}

TEST(FakeResolverTest, RecordsEveryQueryAndAnswerInOrder) {
  FakeResolver fake;
  fake.add(a_answer("a.example", {"192.0.2.1"}));
  Collected got;
  fake.resolve_async("a.example", RrType::a, {}, got.callback());
  fake.resolve_async("B.example", RrType::aaaa, {.bypass_cache = true}, got.callback());
  EXPECT_THAT(fake.queries(), ElementsAre(Query{"a.example", RrType::a, false},
                                          Query{"B.example", RrType::aaaa, true}));
  EXPECT_EQ(fake.answers(), got.answers);
  EXPECT_EQ(fake.count(RrType::a, false), 1U);
  EXPECT_EQ(fake.count(RrType::aaaa, true), 1U);
  EXPECT_EQ(fake.bypass_count(), 1U);
  fake.clear_log();
  EXPECT_TRUE(fake.queries().empty());
}

TEST(FakeResolverTest, BypassQueriesSeeTheAuthoritativeTableAndAreConfirmed) {
  FakeResolver fake;
  fake.add(failure_answer("7.2.0.192.in-addr.arpa", RrType::ptr, Outcome::nxdomain));
  fake.add_authoritative(ptr_answer("7.2.0.192.in-addr.arpa", {"mail.example.com"}));
  fake.add(a_answer("mail.example.com", {"192.0.2.7"}));
  Collected got;
  fake.resolve_async("7.2.0.192.in-addr.arpa", RrType::ptr, {}, got.callback());
  fake.resolve_async("7.2.0.192.in-addr.arpa", RrType::ptr, {.bypass_cache = true}, got.callback());
  // No authoritative entry: falls back to the normal table.
  fake.resolve_async("mail.example.com", RrType::a, {.bypass_cache = true}, got.callback());
  ASSERT_EQ(got.answers.size(), 3U);
  EXPECT_EQ(got.answers[0].outcome, Outcome::nxdomain);
  EXPECT_FALSE(got.answers[0].confirmed);
  EXPECT_EQ(got.answers[1].outcome, Outcome::ok);
  EXPECT_THAT(got.answers[1].names, ElementsAre("mail.example.com"));
  EXPECT_TRUE(got.answers[1].confirmed);
  EXPECT_EQ(got.answers[2].outcome, Outcome::ok);
  EXPECT_TRUE(got.answers[2].confirmed);
}

TEST(FakeResolverTest, HandlerComesFirstAndCanFallThrough) {
  FakeResolver fake;
  fake.add(a_answer("a.example", {"192.0.2.1"}));
  fake.set_handler([](const Query& q) -> std::optional<dns::Answer> {
    if (q.name == "special.example") {
      return failure_answer(q.name, q.type, Outcome::timeout);
    }
    return std::nullopt;
  });
  Collected got;
  fake.resolve_async("special.example", RrType::a, {}, got.callback());
  fake.resolve_async("a.example", RrType::a, {}, got.callback());
  ASSERT_EQ(got.answers.size(), 2U);
  EXPECT_EQ(got.answers[0].outcome, Outcome::timeout);
  EXPECT_EQ(got.answers[1].outcome, Outcome::ok);
}

TEST(FakeResolverTest, DeferredModeQueuesUntilReleasedInAnyOrder) {
  FakeResolver fake;
  fake.set_deferred(true);
  std::vector<std::string> order;
  for (const char* name : {"one.example", "two.example", "three.example"}) {
    fake.resolve_async(name, RrType::a, {},
                       [&order](const dns::Answer& a) { order.push_back(a.name); });
  }
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(fake.pending(), 3U);
  EXPECT_EQ(fake.pending_queries()[1].name, "two.example");
  EXPECT_TRUE(fake.release(1));
  EXPECT_TRUE(fake.release_last());
  EXPECT_TRUE(fake.release_first());
  EXPECT_FALSE(fake.release_first());
  EXPECT_THAT(order, ElementsAre("two.example", "three.example", "one.example"));
}

TEST(FakeResolverTest, ReleaseAllAlsoReleasesCallbacksQueuedByCallbacks) {
  FakeResolver fake;
  fake.set_deferred(true);
  int done = 0;
  fake.resolve_async("first.example", RrType::ptr, {}, [&](const dns::Answer&) {
    ++done;
    fake.resolve_async("second.example", RrType::a, {}, [&](const dns::Answer&) { ++done; });
  });
  fake.release_all_reversed();
  EXPECT_EQ(done, 2);
  EXPECT_EQ(fake.pending(), 0U);
}

TEST(FakeResolverTest, ReleaseOnOtherThreadRunsCallbacksThere) {
  FakeResolver fake;
  fake.set_deferred(true);
  std::thread::id ran_on;
  fake.resolve_async("x.example", RrType::a, {},
                     [&](const dns::Answer&) { ran_on = std::this_thread::get_id(); });
  fake.release_all_on_other_thread();
  EXPECT_NE(ran_on, std::thread::id{});
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(FakeResolverTest, ConcurrentAndShuffledReleaseDeliverEachCallbackOnce) {
  for (std::uint32_t seed = 0; seed < 5; ++seed) {
    FakeResolver fake;
    fake.set_deferred(true);
    std::atomic<int> done{0};
    for (int i = 0; i < 50; ++i) {
      fake.resolve_async("n" + std::to_string(i) + ".example", RrType::a, {},
                         [&](const dns::Answer&) { ++done; });
    }
    if (seed % 2 == 0) {
      fake.release_all_concurrently(4);
    } else {
      fake.release_all_shuffled(seed);
    }
    EXPECT_EQ(done.load(), 50);
    EXPECT_EQ(fake.pending(), 0U);
  }
}

}  // namespace
}  // namespace rdns::testutil
