// The pure half of the authority probe: judge() over canned server answers, the unbound.conf
// stub-zone reader, and the judgement cache over a fake inner probe and a fake clock.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "rdns/dns/authority_probe.h"
#include "testutil/fake_resolver.h"

namespace rdns::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::failure_answer;
using testutil::probe_result;
using testutil::ptr_answer;
using testutil::server_answer;
using testutil::silent_server;

constexpr const char* kRev = "255.2.0.192.in-addr.arpa";
constexpr const char* kZone = "2.0.192.in-addr.arpa";

Answer nxdomain(std::uint32_t ttl = 300) {
  auto answer = failure_answer(kRev, RrType::ptr, Outcome::nxdomain);
  answer.ttl = ttl;
  return answer;
}

// ---- judge ------------------------------------------------------------------------------------

TEST(Judge, OneAuthoritativeRecordIsHasRecord) {
  const auto j = judge(probe_result(
      kRev, RrType::ptr, kZone,
      {silent_server("192.0.2.53"), server_answer("192.0.2.54", ptr_answer(kRev, {"mail.test"}))}));
  EXPECT_EQ(j.verdict, ProbeVerdict::has_record);
  EXPECT_EQ(j.answer.outcome, Outcome::ok);
  EXPECT_THAT(j.answer.names, ElementsAre("mail.test"));
  EXPECT_TRUE(j.answer.confirmed);
  EXPECT_FALSE(j.servers_disagree);
}

TEST(Judge, EveryAuthoritativeAnswerNegativeIsConfirmedNegative) {
  const auto j =
      judge(probe_result(kRev, RrType::ptr, kZone,
                         {server_answer("192.0.2.53", nxdomain(300)),
                          server_answer("192.0.2.54", nxdomain(60)), silent_server("192.0.2.55")}));
  EXPECT_EQ(j.verdict, ProbeVerdict::confirmed_negative);
  EXPECT_EQ(j.answer.outcome, Outcome::nxdomain);
  EXPECT_EQ(j.answer.ttl, 60U) << "the smallest negative TTL";
  EXPECT_FALSE(j.servers_disagree);
}

TEST(Judge, NoAuthoritativeAnswerIsUnconfirmed) {
  const auto j = judge(probe_result(
      kRev, RrType::ptr, kZone,
      {silent_server("192.0.2.53"), server_answer("192.0.2.54", nxdomain(), /*aa=*/false)}));
  EXPECT_EQ(j.verdict, ProbeVerdict::unconfirmed);
  EXPECT_EQ(j.answer.outcome, Outcome::servfail);
  EXPECT_THAT(j.answer.error, HasSubstr("192.0.2.53 timeout"));
  EXPECT_THAT(j.answer.error, HasSubstr("192.0.2.54 not authoritative"));
}

TEST(Judge, RefusedWithAaDoesNotCount) {
  auto refused = server_answer("192.0.2.53", failure_answer(kRev, RrType::ptr, Outcome::servfail));
  refused.rcode = 5;
  EXPECT_EQ(judge(probe_result(kRev, RrType::ptr, kZone, {refused})).verdict,
            ProbeVerdict::unconfirmed);
}

TEST(Judge, NoServersOrNoStepsIsUnconfirmed) {
  auto none = probe_result(kRev, RrType::ptr, kZone, {});
  none.steps[0].failure = "no NS records found for 2.0.192.in-addr.arpa";
  const auto j = judge(none);
  EXPECT_EQ(j.verdict, ProbeVerdict::unconfirmed);
  EXPECT_EQ(j.answer.error, "no NS records found for 2.0.192.in-addr.arpa");
  EXPECT_EQ(judge(ProbeResult{}).verdict, ProbeVerdict::unconfirmed);
}

TEST(Judge, DisagreementIsSeenAndTheRecordWins) {
  const auto j =
      judge(probe_result(kRev, RrType::ptr, kZone,
                         {server_answer("192.0.2.53", nxdomain()),
                          server_answer("192.0.2.54", ptr_answer(kRev, {"mail.test"}))}));
  EXPECT_EQ(j.verdict, ProbeVerdict::has_record);
  EXPECT_TRUE(j.servers_disagree);
  const auto different =
      judge(probe_result(kRev, RrType::ptr, kZone,
                         {server_answer("192.0.2.53", ptr_answer(kRev, {"a.test"})),
                          server_answer("192.0.2.54", ptr_answer(kRev, {"b.test"}))}));
  EXPECT_TRUE(different.servers_disagree);
}

TEST(Judge, Rfc2317ChainIsJudgedAtItsLastZone) {
  // 2.0.192.in-addr.arpa answers only with a CNAME into the delegated 0/25 zone...
  auto cname = failure_answer(kRev, RrType::ptr, Outcome::nodata);
  cname.cname_chain = {"255.0/25.2.0.192.in-addr.arpa"};
  auto result = probe_result(kRev, RrType::ptr, kZone, {server_answer("192.0.2.53", cname)});
  // ...which, alone, proves nothing.
  EXPECT_EQ(judge(result).verdict, ProbeVerdict::unconfirmed);
  EXPECT_THAT(judge(result).answer.error, HasSubstr("CNAME"));
  // The 0/25 zone's server has the PTR.
  auto step = probe_result(
      "255.0/25.2.0.192.in-addr.arpa", RrType::ptr, "0/25.2.0.192.in-addr.arpa",
      {server_answer("192.0.2.60", ptr_answer("255.0/25.2.0.192.in-addr.arpa", {"m.test"}))});
  result.steps.push_back(step.steps[0]);
  const auto j = judge(result);
  EXPECT_EQ(j.verdict, ProbeVerdict::has_record);
  EXPECT_EQ(j.answer.name, kRev);
  EXPECT_THAT(j.answer.cname_chain, ElementsAre("255.0/25.2.0.192.in-addr.arpa"));
  EXPECT_THAT(j.answer.names, ElementsAre("m.test"));
}

TEST(Judge, CnameToAMissingNameInTheSameZoneIsNegative) {
  auto cname = failure_answer(kRev, RrType::ptr, Outcome::nodata);
  cname.cname_chain = {"x.2.0.192.in-addr.arpa"};
  cname.zone = kZone;  // the SOA: the target exists in this zone, without a PTR
  EXPECT_EQ(
      judge(probe_result(kRev, RrType::ptr, kZone, {server_answer("192.0.2.53", cname)})).verdict,
      ProbeVerdict::confirmed_negative);
}

TEST(Judge, DescribeNamesZoneServersAndOutcomes) {
  const auto text = describe(
      probe_result(kRev, RrType::ptr, kZone,
                   {server_answer("192.0.2.53", nxdomain()), silent_server("192.0.2.54")}));
  EXPECT_THAT(text, HasSubstr("2.0.192.in-addr.arpa"));
  EXPECT_THAT(text, HasSubstr("192.0.2.53 AA nxdomain"));
  EXPECT_THAT(text, HasSubstr("192.0.2.54 timeout"));
}

// ---- parse_stub_zones --------------------------------------------------------------------------

TEST(StubZones, ReadsNamesAndAddressesOfStubZonesOnly) {
  const auto zones = parse_stub_zones(R"(server:
    do-not-query-localhost: no   # comment
    local-zone: "test." nodefault
stub-zone:
    name: "Test."
    stub-addr: 127.0.0.1@5353
    stub-addr: "::1@5353"  # second
forward-zone:
    name: "."
    forward-addr: 192.0.2.53
stub-zone:
  name: 2.0.192.in-addr.arpa
  stub-addr: 127.0.0.2@853#auth.test
# stub-zone:
stub-zone:
    name: "nothing.test."
stub-zone:
    name: "."
    stub-addr: 127.0.0.3
)");
  EXPECT_THAT(zones, ElementsAre(StubZone{"test", {"127.0.0.1@5353", "::1@5353"}},
                                 StubZone{"2.0.192.in-addr.arpa", {"127.0.0.2@853"}},
                                 StubZone{".", {"127.0.0.3"}}));
}

TEST(StubZones, EmptyTextHasNone) {
  EXPECT_TRUE(parse_stub_zones("").empty());
}

// ---- CachingAuthorityProbe -------------------------------------------------------------------

/// Inner probe that answers from a canned result and counts, optionally holding callbacks.
class CountingProbe final : public AuthorityProbe {
 public:
  void probe_async(const std::string& /*name*/, RrType /*type*/, Callback done) override {
    ++calls;
    if (hold) {
      held.push_back(std::move(done));
      return;
    }
    done(result);
  }
  ProbeResult result;
  int calls = 0;
  bool hold = false;
  std::vector<Callback> held;
};

class CachingTest : public ::testing::Test {
 protected:
  CachingTest()
      : inner_(std::make_shared<CountingProbe>()),
        cache_(inner_, std::chrono::seconds(60), 3, [this] { return now_; }) {}

  ProbeResult ask(const std::string& name = kRev) {
    ProbeResult got;
    cache_.probe_async(name, RrType::ptr, [&got](ProbeResult r) { got = std::move(r); });
    return got;
  }

  std::shared_ptr<CountingProbe> inner_;
  std::chrono::steady_clock::time_point now_{};
  CachingAuthorityProbe cache_;
};

TEST_F(CachingTest, NegativeIsKeptForTheLesserOfMaxAgeAndItsTtl) {
  inner_->result =
      probe_result(kRev, RrType::ptr, kZone, {server_answer("192.0.2.53", nxdomain(30))});
  EXPECT_EQ(ask(), inner_->result);
  EXPECT_EQ(ask(), inner_->result);
  EXPECT_EQ(inner_->calls, 1);
  now_ += std::chrono::seconds(29);
  (void)ask();
  EXPECT_EQ(inner_->calls, 1);
  now_ += std::chrono::seconds(2);
  (void)ask();
  EXPECT_EQ(inner_->calls, 2) << "30 s negative TTL expired";
}

TEST_F(CachingTest, MaxAgeCapsALongTtl) {
  inner_->result =
      probe_result(kRev, RrType::ptr, kZone, {server_answer("192.0.2.53", nxdomain(86400))});
  (void)ask();
  now_ += std::chrono::seconds(61);
  (void)ask();
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(CachingTest, UnconfirmedIsKeptOnlyBriefly) {
  inner_->result = probe_result(kRev, RrType::ptr, kZone, {silent_server("192.0.2.53")});
  (void)ask();
  now_ += std::chrono::seconds(4);
  (void)ask();
  EXPECT_EQ(inner_->calls, 1);
  now_ += std::chrono::seconds(2);
  (void)ask();
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(CachingTest, ConcurrentProbesOfOneNameShareOneInnerProbe) {
  inner_->hold = true;
  inner_->result =
      probe_result(kRev, RrType::ptr, kZone, {server_answer("192.0.2.53", nxdomain())});
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    cache_.probe_async(kRev, RrType::ptr, [&answered](const ProbeResult&) { ++answered; });
  }
  EXPECT_EQ(inner_->calls, 1);
  ASSERT_EQ(inner_->held.size(), 1U);
  inner_->held[0](inner_->result);
  EXPECT_EQ(answered, 5);
  // Note: a held callback holds the cache, which holds the inner probe: drop it (no cycle).
  inner_->held.clear();
}

TEST_F(CachingTest, SizeIsBounded) {
  inner_->result =
      probe_result(kRev, RrType::ptr, kZone, {server_answer("192.0.2.53", nxdomain())});
  for (int i = 0; i < 10; ++i) (void)ask(std::to_string(i) + ".2.0.192.in-addr.arpa");
  EXPECT_EQ(cache_.size(), 3U);
  (void)ask("9.2.0.192.in-addr.arpa");
  EXPECT_EQ(inner_->calls, 10) << "the newest entry is kept";
  (void)ask("0.2.0.192.in-addr.arpa");
  EXPECT_EQ(inner_->calls, 11) << "the oldest was dropped";
}

}  // namespace
}  // namespace rdns::dns
