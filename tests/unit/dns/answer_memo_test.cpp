// AnswerMemo: TTLs count down, negative answers capped, failures and confirmations never kept,
// entry and byte bounds, least recently used first out.
#include "rdns/dns/answer_memo.h"

#include <gtest/gtest.h>

#include "testutil/fake_resolver.h"

namespace rdns::dns {
namespace {

using namespace std::chrono_literals;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::ptr_answer;

const AnswerMemo::Clock::time_point t0{std::chrono::hours(1000)};

Answer with_ttl(Answer answer, std::uint32_t ttl) {
  answer.ttl = ttl;
  return answer;
}

TEST(AnswerMemo, TheTtlCountsDownAndTheAnswerExpires) {
  AnswerMemo memo({});
  auto answer = with_ttl(a_answer("mail.example", {"192.0.2.7"}), 300);
  answer.security = Security::secure;
  memo.store(answer, t0);
  auto hit = memo.find("mail.example", RrType::a, t0 + 100s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->ttl, 200U);
  EXPECT_EQ(hit->security, Security::secure);
  hit->ttl = answer.ttl;
  EXPECT_EQ(*hit, answer);  // the rest as stored
  EXPECT_EQ(memo.find("mail.example", RrType::a, t0 + 299s)->ttl, 1U);
  EXPECT_FALSE(memo.find("mail.example", RrType::a, t0 + 300s));
  EXPECT_EQ(memo.size(), 0U);  // the expired entry is gone
  EXPECT_EQ(memo.bytes(), 0U);
}

TEST(AnswerMemo, NameAndTypeAreTheKey) {
  AnswerMemo memo({});
  memo.store(with_ttl(a_answer("mail.example", {"192.0.2.7"}), 60), t0);
  EXPECT_FALSE(memo.find("mail.example", RrType::aaaa, t0));
  EXPECT_FALSE(memo.find("other.example", RrType::a, t0));
  EXPECT_TRUE(memo.find("mail.example", RrType::a, t0));
}

TEST(AnswerMemo, NegativeAnswersAreCappedByTheNegativeTtl) {
  AnswerMemo memo({.max_ttl = 86400, .max_negative_ttl = 30});
  memo.store(
      with_ttl(failure_answer("12.2.0.192.in-addr.arpa", RrType::ptr, Outcome::nxdomain), 3600),
      t0);
  const auto hit = memo.find("12.2.0.192.in-addr.arpa", RrType::ptr, t0 + 10s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->outcome, Outcome::nxdomain);
  EXPECT_EQ(hit->ttl, 20U);
  EXPECT_FALSE(memo.find("12.2.0.192.in-addr.arpa", RrType::ptr, t0 + 30s));
  // Positive answers: the other cap.
  memo.store(with_ttl(a_answer("a.example", {"192.0.2.1"}), 100000), t0);
  EXPECT_EQ(memo.find("a.example", RrType::a, t0)->ttl, 86400U);
}

TEST(AnswerMemo, FailuresBogusConfirmedAndZeroTtlAreNeverKept) {
  AnswerMemo memo({});
  for (const auto outcome : {Outcome::servfail, Outcome::timeout, Outcome::bogus}) {
    memo.store(with_ttl(failure_answer("f.example", RrType::a, outcome), 60), t0);
  }
  auto bogus = with_ttl(a_answer("b.example", {"192.0.2.1"}), 60);
  bogus.security = Security::bogus;
  memo.store(bogus, t0);
  auto confirmed = with_ttl(failure_answer("c.example", RrType::ptr, Outcome::nxdomain), 60);
  confirmed.confirmed = true;
  memo.store(confirmed, t0);
  memo.store(with_ttl(a_answer("z.example", {"192.0.2.1"}), 0), t0);
  EXPECT_EQ(memo.size(), 0U);
  EXPECT_FALSE(memo.find("f.example", RrType::a, t0));
  EXPECT_FALSE(memo.find("c.example", RrType::ptr, t0));
}

TEST(AnswerMemo, TheEntryBoundEvictsTheLeastRecentlyUsed) {
  AnswerMemo memo({.max_entries = 2});
  memo.store(with_ttl(a_answer("one.example", {"192.0.2.1"}), 60), t0);
  memo.store(with_ttl(a_answer("two.example", {"192.0.2.2"}), 60), t0);
  EXPECT_TRUE(memo.find("one.example", RrType::a, t0));  // now the most recently used
  memo.store(with_ttl(a_answer("three.example", {"192.0.2.3"}), 60), t0);
  EXPECT_EQ(memo.size(), 2U);
  EXPECT_TRUE(memo.find("one.example", RrType::a, t0));
  EXPECT_FALSE(memo.find("two.example", RrType::a, t0));
  EXPECT_TRUE(memo.find("three.example", RrType::a, t0));
}

TEST(AnswerMemo, TheByteBoundHoldsAndHugeAnswersAreNotKept) {
  const auto one = AnswerMemo::footprint(with_ttl(a_answer("n0.example", {"192.0.2.1"}), 60));
  AnswerMemo memo({.max_bytes = one * 40});
  for (int i = 0; i < 200; ++i) {
    memo.store(with_ttl(a_answer("n" + std::to_string(i) + ".example", {"192.0.2.1"}), 60), t0);
    EXPECT_LE(memo.bytes(), one * 40);
  }
  EXPECT_GT(memo.size(), 10U);
  EXPECT_LT(memo.size(), 41U);
  EXPECT_TRUE(memo.find("n199.example", RrType::a, t0));
  EXPECT_FALSE(memo.find("n0.example", RrType::a, t0));
  Answer huge = with_ttl(a_answer("huge.example", {}), 60);
  huge.texts.assign(1, std::string(one * 40, 'x'));
  huge.type = RrType::txt;
  memo.store(huge, t0);
  EXPECT_FALSE(memo.find("huge.example", RrType::txt, t0));
}

TEST(AnswerMemo, AStoreReplacesAndClearForgets) {
  AnswerMemo memo({});
  memo.store(with_ttl(ptr_answer("7.2.0.192.in-addr.arpa", {"old.example"}), 60), t0);
  memo.store(with_ttl(ptr_answer("7.2.0.192.in-addr.arpa", {"new.example"}), 60), t0);
  EXPECT_EQ(memo.size(), 1U);
  EXPECT_EQ(memo.find("7.2.0.192.in-addr.arpa", RrType::ptr, t0)->names,
            std::vector<std::string>{"new.example"});
  memo.clear();
  EXPECT_EQ(memo.size(), 0U);
  EXPECT_EQ(memo.bytes(), 0U);
  EXPECT_FALSE(memo.find("7.2.0.192.in-addr.arpa", RrType::ptr, t0));
}

}  // namespace
}  // namespace rdns::dns
