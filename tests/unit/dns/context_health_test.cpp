// ContextHealth: a context counts as wedged after a streak of only failures long and large
// enough; a probe that gets an answer then asks for a rebuild, once.

#include "rdns/dns/context_health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace rdns::dns {
namespace {

using Clock = ContextHealth::Clock;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr ContextHealth::Limits limits{10s, 10, 5s};

Answer outcome(Outcome what, const std::string& name = "7.2.0.192.in-addr.arpa",
               RrType type = RrType::ptr) {
  Answer answer;
  answer.name = name;
  answer.type = type;
  answer.outcome = what;
  return answer;
}

/// Records `count` failures spread evenly over `span` from `start`.
void fail(ContextHealth& health, Clock::time_point start, int count, Clock::duration span,
          Outcome what = Outcome::servfail) {
  for (int i = 0; i < count; ++i) {
    health.record(outcome(what), start + span * i / (count > 1 ? count - 1 : 1));
  }
}

const Clock::time_point t0{};

TEST(ContextHealth, HealthyAtFirst) {
  ContextHealth health(limits);
  EXPECT_FALSE(health.wedged(t0 + 1h));
  EXPECT_EQ(health.start_probe(t0 + 1h), std::nullopt);
}

TEST(ContextHealth, WedgedAfterEnoughFailuresOverTheWindow) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  EXPECT_TRUE(health.wedged(t0 + 10s));
  EXPECT_THAT(health.start_probe(t0 + 10s),
              Optional(ContextHealth::Question{"7.2.0.192.in-addr.arpa", RrType::ptr}));
}

TEST(ContextHealth, TimeoutsCountAsFailures) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s, Outcome::timeout);
  EXPECT_TRUE(health.wedged(t0 + 10s));
}

TEST(ContextHealth, NotWedgedBeforeTheWindowEnds) {
  ContextHealth health(limits);
  fail(health, t0, 50, 9s);
  EXPECT_FALSE(health.wedged(t0 + 9s));
  EXPECT_EQ(health.start_probe(t0 + 9s), std::nullopt);
  EXPECT_TRUE(health.wedged(t0 + 10s));  // the streak goes on without new queries
}

TEST(ContextHealth, NotWedgedWithTooFewFailures) {
  ContextHealth health(limits);
  fail(health, t0, 9, 60s);
  EXPECT_FALSE(health.wedged(t0 + 60s));
  health.record(outcome(Outcome::servfail), t0 + 61s);
  EXPECT_TRUE(health.wedged(t0 + 61s));
}

class AnyAnswerEndsTheStreak : public ::testing::TestWithParam<Outcome> {};

TEST_P(AnyAnswerEndsTheStreak, AndTheCountStartsAgain) {
  ContextHealth health(limits);
  fail(health, t0, 9, 9s);
  health.record(outcome(GetParam()), t0 + 9s);
  fail(health, t0 + 10s, 9, 10s);
  EXPECT_FALSE(health.wedged(t0 + 20s));
  EXPECT_EQ(health.start_probe(t0 + 20s), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Outcomes, AnyAnswerEndsTheStreak,
                         ::testing::Values(Outcome::ok, Outcome::nxdomain, Outcome::nodata,
                                           Outcome::bogus));

TEST(ContextHealth, ProbesTheLastFailedQuestion) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  health.record(outcome(Outcome::servfail, "host1.example.net", RrType::a), t0 + 11s);
  EXPECT_THAT(health.start_probe(t0 + 11s),
              Optional(ContextHealth::Question{"host1.example.net", RrType::a}));
}

TEST(ContextHealth, OneProbeAtATime) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  ASSERT_TRUE(health.start_probe(t0 + 10s));
  EXPECT_EQ(health.start_probe(t0 + 30s), std::nullopt);  // still running
}

TEST(ContextHealth, AnsweredProbeAsksForARebuildOnce) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  ASSERT_TRUE(health.start_probe(t0 + 10s));
  EXPECT_TRUE(health.finish_probe(outcome(Outcome::ok), t0 + 10s));
  EXPECT_FALSE(health.wedged(t0 + 10s));  // the new context starts with a clean slate
  EXPECT_EQ(health.start_probe(t0 + 20s), std::nullopt);
}

TEST(ContextHealth, NegativeProbeAnswerAlsoShowsTheServersAnswer) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  ASSERT_TRUE(health.start_probe(t0 + 10s));
  EXPECT_TRUE(health.finish_probe(outcome(Outcome::nxdomain), t0 + 10s));
}

TEST(ContextHealth, FailedProbeMeansTheServersAreDownAndRetriesLater) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  ASSERT_TRUE(health.start_probe(t0 + 10s));
  EXPECT_FALSE(health.finish_probe(outcome(Outcome::timeout), t0 + 11s));
  EXPECT_TRUE(health.wedged(t0 + 11s));
  EXPECT_EQ(health.start_probe(t0 + 14s), std::nullopt);  // within probe_interval
  ASSERT_TRUE(health.start_probe(t0 + 15s));
  EXPECT_FALSE(health.finish_probe(outcome(Outcome::servfail), t0 + 15s));
}

TEST(ContextHealth, NoRebuildWhenTheContextRecoveredDuringTheProbe) {
  ContextHealth health(limits);
  fail(health, t0, 10, 10s);
  ASSERT_TRUE(health.start_probe(t0 + 10s));
  health.record(outcome(Outcome::ok), t0 + 10s);
  EXPECT_FALSE(health.finish_probe(outcome(Outcome::ok), t0 + 11s));
}

TEST(ContextHealth, DescribesTheStreak) {
  ContextHealth health(limits);
  fail(health, t0, 12, 10500ms);
  const auto text = health.describe_streak(t0 + 10500ms);
  EXPECT_THAT(text, HasSubstr("12 failures in 10.5 s, last: 7.2.0.192.in-addr.arpa PTR"));
}

}  // namespace
}  // namespace rdns::dns
