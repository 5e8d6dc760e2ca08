// iprev (RFC 8601 §3): start_iprev over the fake resolver, decide_iprev and
// ptr_names_to_confirm directly.

#include "rdns/checks/iprev.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "testutil/fake_resolver.h"
#include "testutil/printers.h"

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::Outcome;
using dns::RrType;
using dns::Security;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;
using testutil::a_answer;
using testutil::aaaa_answer;
using testutil::failure_answer;
using testutil::FakeAuthorityProbe;
using testutil::FakeResolver;
using testutil::ip;
using testutil::ptr_answer;
using testutil::Query;
using testutil::with_security;

constexpr const char* kIp4 = "192.0.2.7";
constexpr const char* kRev4 = "7.2.0.192.in-addr.arpa";
constexpr const char* kIp6 = "2001:db8::25";
constexpr const char* kRev6 =
    "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
constexpr const char* kMapped = "::ffff:192.0.2.7";
constexpr const char* kHost = "mail.example.com";

/// Receives the done callback; checks it runs exactly once.
class Done {
 public:
  std::function<void(Iprev)> callback() {
    return [this](Iprev iprev) {
      const std::lock_guard lock(mutex_);
      ++calls_;
      result_ = std::move(iprev);
      cv_.notify_all();
    };
  }

  [[nodiscard]] int calls() const {
    const std::lock_guard lock(mutex_);
    return calls_;
  }

  /// Waits (bounded) for the callback and returns its value.
  Iprev wait() {
    std::unique_lock lock(mutex_);
    const bool called = cv_.wait_for(lock, std::chrono::seconds(10), [this] { return calls_ > 0; });
    EXPECT_TRUE(called) << "start_iprev never called done";
    EXPECT_EQ(calls_, 1) << "done must run exactly once";
    return result_.value_or(Iprev{});
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int calls_ = 0;
  std::optional<Iprev> result_;
};

/// `options` with a FakeAuthorityProbe over `dns` when it has no probe.
IprevOptions with_probe(IprevOptions options, FakeAuthorityProbe& probe) {
  if (options.authority == nullptr) options.authority = &probe;
  return options;
}

Iprev run_iprev(FakeResolver& dns, std::string_view client, IprevOptions options = {}) {
  FakeAuthorityProbe probe(dns);
  options = with_probe(options, probe);
  Done done;
  start_iprev(dns, ip(client), options, done.callback());
  return done.wait();
}

class IprevTest : public ::testing::Test {
 protected:
  Iprev run(std::string_view client, IprevOptions options = {}) {
    return run_iprev(dns_, client, options);
  }
  std::vector<Query> forward_queries() const {
    std::vector<Query> out;
    for (const auto& q : dns_.queries()) {
      if (q.type != RrType::ptr) {
        out.push_back(q);
      }
    }
    return out;
  }

  FakeResolver dns_;
};

// ---- pass ---------------------------------------------------------------------------------

TEST_F(IprevTest, PassIpv4) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_EQ(r.client, ip(kIp4));
  EXPECT_THAT(r.ptr, ElementsAre(kHost));
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_EQ(r.dnssec, Security::insecure);
  EXPECT_THAT(dns_.queries(),
              ElementsAre(Query{kRev4, RrType::ptr, false}, Query{kHost, RrType::a, false}));
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_F(IprevTest, PassIpv6UsesIp6ArpaAndAaaa) {
  dns_.add(ptr_answer(kRev6, {kHost}));
  dns_.add(aaaa_answer(kHost, {kIp6}));
  const auto r = run(kIp6);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_EQ(r.client, ip(kIp6));
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_THAT(dns_.queries(),
              ElementsAre(Query{kRev6, RrType::ptr, false}, Query{kHost, RrType::aaaa, false}));
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_F(IprevTest, MappedClientAsksInAddrArpaAndA) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kMapped);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_THAT(dns_.queries(),
              ElementsAre(Query{kRev4, RrType::ptr, false}, Query{kHost, RrType::a, false}));
}

TEST_F(IprevTest, Ipv4ClientIsNotConfirmedByAaaa) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(aaaa_answer(kHost, {"::ffff:192.0.2.7"}));  // only reachable by asking AAAA
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_EQ(dns_.count(RrType::aaaa, false), 0U);
}

TEST_F(IprevTest, SeveralPtrsOnlyOneConfirms) {
  dns_.add(ptr_answer(kRev4, {"zeta.example.net", kHost, "alpha.example.org"}));
  dns_.add(a_answer("zeta.example.net", {"198.51.100.1"}));
  dns_.add(a_answer(kHost, {"198.51.100.2", kIp4}));
  // alpha.example.org: NXDOMAIN (not in the table)
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_THAT(r.ptr, ElementsAre("alpha.example.org", kHost, "zeta.example.net"));
  EXPECT_THAT(forward_queries(), UnorderedElementsAre(Query{"alpha.example.org", RrType::a, false},
                                                      Query{kHost, RrType::a, false},
                                                      Query{"zeta.example.net", RrType::a, false}));
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_F(IprevTest, SeveralPtrsAllConfirmingAreAllVerified) {
  dns_.add(ptr_answer(kRev4, {"b.example", "a.example"}));
  dns_.add(a_answer("a.example", {kIp4}));
  dns_.add(a_answer("b.example", {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.verified, UnorderedElementsAre("a.example", "b.example"));
}

TEST_F(IprevTest, AtMostTenForwardLookupsTheFirstTenSorted) {
  // Twelve names, given out of order; the only one that confirms sorts last.
  std::vector<std::string> names;
  for (int i : {7, 11, 0, 3, 10, 5, 1, 9, 2, 8, 6, 4}) {
    names.push_back("h" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".example");
  }
  dns_.add(ptr_answer(kRev4, names));
  for (const auto& name : names) {
    dns_.add(a_answer(name, {name == "h11.example" ? kIp4 : "198.51.100.9"}));
  }
  const auto r = run(kIp4);

  std::vector<Query> expected_forward;
  expected_forward.reserve(10);
  for (int i = 0; i < 10; ++i) {
    expected_forward.push_back(Query{"h0" + std::to_string(i) + ".example", RrType::a, false});
  }
  EXPECT_THAT(forward_queries(), UnorderedElementsAreArray(expected_forward));
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  auto sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(r.ptr, sorted) << "ptr lists every name found, sorted";
  EXPECT_THAT(r.verified, IsEmpty());
}

TEST_F(IprevTest, MaxNamesOptionLimitsForwardLookups) {
  dns_.add(ptr_answer(kRev4, {"c.example", "a.example", "b.example"}));
  dns_.add(a_answer("b.example", {kIp4}));
  IprevOptions options;
  options.max_names = 2;
  const auto r = run(kIp4, options);
  EXPECT_THAT(forward_queries(), UnorderedElementsAre(Query{"a.example", RrType::a, false},
                                                      Query{"b.example", RrType::a, false}));
  EXPECT_EQ(r.result, IprevResult::pass);
}

TEST_F(IprevTest, DuplicateNamesAreLookedUpOnce) {
  dns_.add(ptr_answer(kRev4, {kHost, "other.example", kHost, "MAIL.example.com."}));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(dns_.count(RrType::a, false), 2U) << "one for mail.example.com, one for other.example";
  EXPECT_THAT(r.verified, ElementsAre(kHost));
}

TEST_F(IprevTest, NamesAreNormalized) {
  dns_.add(ptr_answer(kRev4, {"Mail.Example.COM."}));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.ptr, ElementsAre(kHost));
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_THAT(forward_queries(), ElementsAre(Query{kHost, RrType::a, false}));
}

TEST_F(IprevTest, Rfc2317CnameChainIsInTheEvidence) {
  auto ptr = ptr_answer(kRev4, {kHost});
  ptr.cname_chain = {"7.0-25.2.0.192.in-addr.arpa"};
  dns_.add(ptr);
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  ASSERT_FALSE(r.evidence.empty());
  EXPECT_EQ(r.evidence.front().type, RrType::ptr);
  EXPECT_THAT(r.evidence.front().cname_chain, ElementsAre("7.0-25.2.0.192.in-addr.arpa"));
}

// ---- fail / no-ptr ------------------------------------------------------------------------

class NoPtrTest : public IprevTest, public ::testing::WithParamInterface<Outcome> {};

TEST_P(NoPtrTest, ConfirmedBeforeReporting) {
  dns_.add(failure_answer(kRev4, RrType::ptr, GetParam()));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(r.ptr, IsEmpty());
  EXPECT_THAT(r.verified, IsEmpty());
  EXPECT_THAT(dns_.queries(),
              ElementsAre(Query{kRev4, RrType::ptr, false}, Query{kRev4, RrType::ptr, true}));
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_P(NoPtrTest, NotConfirmedWhenDisabled) {
  dns_.add(failure_answer(kRev4, RrType::ptr, GetParam()));
  IprevOptions options;
  options.confirm_no_ptr = false;
  const auto r = run(kIp4, options);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(dns_.queries(), ElementsAre(Query{kRev4, RrType::ptr, false}));
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_P(NoPtrTest, Ipv6ConfirmsTheIp6ArpaName) {
  dns_.add(failure_answer(kRev6, RrType::ptr, GetParam()));
  const auto r = run(kIp6);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(dns_.queries(),
              ElementsAre(Query{kRev6, RrType::ptr, false}, Query{kRev6, RrType::ptr, true}));
}

TEST_P(NoPtrTest, StaleNegativeCacheIsOverruledByTheAuthoritativeAnswer) {
  dns_.add(failure_answer(kRev4, RrType::ptr, GetParam()));
  dns_.add_authoritative(ptr_answer(kRev4, {kHost}));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.ptr, ElementsAre(kHost));
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_THAT(dns_.queries(), Contains(Query{kRev4, RrType::ptr, true}));
  EXPECT_EQ(r.evidence, dns_.answers());
  ASSERT_GE(r.evidence.size(), 3U);
  EXPECT_EQ(r.evidence[0].outcome, GetParam());
  EXPECT_TRUE(r.evidence[1].confirmed);
  EXPECT_EQ(r.evidence[1].outcome, Outcome::ok);
}

TEST_P(NoPtrTest, ConfirmationServfailIsUnconfirmedTemperror) {
  dns_.add(failure_answer(kRev4, RrType::ptr, GetParam()));
  dns_.add_authoritative(failure_answer(kRev4, RrType::ptr, Outcome::servfail));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::unconfirmed);
  EXPECT_THAT(dns_.queries(),
              ElementsAre(Query{kRev4, RrType::ptr, false}, Query{kRev4, RrType::ptr, true}));
  ASSERT_EQ(r.evidence.size(), 2U);
  EXPECT_EQ(r.evidence[0], dns_.answers()[0]);
  EXPECT_TRUE(r.evidence[1].confirmed);
  EXPECT_EQ(r.evidence[1].outcome, Outcome::servfail);
  EXPECT_THAT(r.evidence[1].error, ::testing::HasSubstr("no authoritative answer"));
}

TEST_P(NoPtrTest, ConfirmationTimeoutIsUnconfirmedTemperror) {
  dns_.add(failure_answer(kRev4, RrType::ptr, GetParam()));
  dns_.add_authoritative(failure_answer(kRev4, RrType::ptr, Outcome::timeout));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::unconfirmed);
}

INSTANTIATE_TEST_SUITE_P(Negative, NoPtrTest, ::testing::Values(Outcome::nxdomain, Outcome::nodata),
                         [](const auto& info) {
                           return info.param == Outcome::nxdomain ? "nxdomain" : "nodata";
                         });

// ---- confirmation through the authority probe (canned results) -------------------------------

class AuthorityTest : public IprevTest {
 protected:
  Iprev run_iprev_without_probe() {
    Done done;
    start_iprev(dns_, ip(kIp4), {}, done.callback());
    return done.wait();
  }

  AuthorityTest() { dns_.add(failure_answer(kRev4, RrType::ptr, Outcome::nxdomain)); }

  Iprev run_with(dns::ProbeResult result) {
    probe_.set_result(std::move(result));
    IprevOptions options;
    options.authority = &probe_;
    return run(kIp4, options);
  }

  FakeAuthorityProbe probe_{dns_};
};

TEST_F(AuthorityTest, StaleNegativeContradictedGoesOnWithTheAuthoritativeData) {
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run_with(
      testutil::probe_result(kRev4, RrType::ptr, "2.0.192.in-addr.arpa",
                             {testutil::server_answer("192.0.2.53", ptr_answer(kRev4, {kHost}))}));
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  ASSERT_EQ(r.authority.size(), 1U);
  EXPECT_EQ(r.authority[0].steps.at(0).zone, "2.0.192.in-addr.arpa");
  EXPECT_EQ(contradicted_negatives(r), 1U);
  EXPECT_THAT(stale_negative_warnings(r, "forwarder 192.0.2.53"),
              ElementsAre("forwarder 192.0.2.53 answered NXDOMAIN for 7.2.0.192.in-addr.arpa but "
                          "its authoritative servers publish PTR mail.example.com: a stale "
                          "negative cache at the forwarder"));
  EXPECT_THAT(stale_negative_warnings(r, "the resolver's cache"),
              ElementsAre(::testing::EndsWith("a stale negative cache in the resolver")));
}

TEST_F(AuthorityTest, AllAuthoritativeNegativeIsNoPtr) {
  const auto r = run_with(testutil::probe_result(
      kRev4, RrType::ptr, "2.0.192.in-addr.arpa",
      {testutil::server_answer("192.0.2.53", failure_answer(kRev4, RrType::ptr, Outcome::nxdomain)),
       testutil::server_answer("192.0.2.54", failure_answer(kRev4, RrType::ptr, Outcome::nxdomain)),
       testutil::silent_server("192.0.2.55")}));
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_THAT(stale_negative_warnings(r, "x"), IsEmpty());
}

TEST_F(AuthorityTest, UnreachableServersAreUnconfirmedTemperror) {
  const auto r = run_with(testutil::probe_result(
      kRev4, RrType::ptr, "2.0.192.in-addr.arpa",
      {testutil::silent_server("192.0.2.53"), testutil::silent_server("192.0.2.54")}));
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::unconfirmed);
}

TEST_F(AuthorityTest, OnlyNonAuthoritativeNegativesAreUnconfirmed) {
  // A lame server (no AA) answering NXDOMAIN proves nothing.
  const auto r = run_with(testutil::probe_result(
      kRev4, RrType::ptr, "2.0.192.in-addr.arpa",
      {testutil::server_answer("192.0.2.53", failure_answer(kRev4, RrType::ptr, Outcome::nxdomain),
                               false)}));
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::unconfirmed);
}

TEST_F(AuthorityTest, ServersThatDisagreeGoOnWithTheRecord) {
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run_with(testutil::probe_result(
      kRev4, RrType::ptr, "2.0.192.in-addr.arpa",
      {testutil::server_answer("192.0.2.53", failure_answer(kRev4, RrType::ptr, Outcome::nxdomain)),
       testutil::server_answer("192.0.2.54", ptr_answer(kRev4, {kHost}))}));
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_TRUE(dns::judge(r.authority.at(0)).servers_disagree);
}

TEST_F(AuthorityTest, WithoutAProbeANegativeStaysUnconfirmed) {
  const auto r = run_iprev_without_probe();
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::unconfirmed);
}

// ---- fail / no-forward-match --------------------------------------------------------------

TEST_F(IprevTest, ForwardNxdomainIsNoForwardMatch) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_THAT(r.ptr, ElementsAre(kHost));
  EXPECT_THAT(r.verified, IsEmpty());
  EXPECT_EQ(dns_.bypass_count(), 0U) << "confirm_no_forward_match is off by default";
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_F(IprevTest, ForwardNodataIsNoForwardMatch) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(failure_answer(kHost, RrType::a, Outcome::nodata));
  dns_.add(aaaa_answer(kHost, {kIp6}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
}

TEST_F(IprevTest, ForwardWithOtherAddressIsNoForwardMatch) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(a_answer(kHost, {"192.0.2.8", "198.51.100.7"}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_THAT(r.verified, IsEmpty());
}

TEST_F(IprevTest, Ipv6ForwardWithOtherAddressIsNoForwardMatch) {
  dns_.add(ptr_answer(kRev6, {kHost}));
  dns_.add(aaaa_answer(kHost, {"2001:db8::26"}));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp6);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_EQ(dns_.count(RrType::a, false), 0U);
}

TEST_F(IprevTest, ConfirmNoForwardMatchRechecksNegativeForwardAnswers) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(failure_answer(kHost, RrType::a, Outcome::nxdomain));
  dns_.add_authoritative(a_answer(kHost, {kIp4}));
  IprevOptions options;
  options.confirm_no_forward_match = true;
  const auto r = run(kIp4, options);
  EXPECT_THAT(dns_.queries(), Contains(Query{kHost, RrType::a, true}));
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_EQ(r.evidence, dns_.answers());
}

TEST_F(IprevTest, ConfirmNoForwardMatchLeavesPositiveForwardAnswersAlone) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(a_answer(kHost, {"198.51.100.7"}));
  IprevOptions options;
  options.confirm_no_forward_match = true;
  const auto r = run(kIp4, options);
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_EQ(dns_.bypass_count(), 0U);
}

// ---- temperror ----------------------------------------------------------------------------

struct PtrFailureCase {
  Outcome outcome;
  IprevReason reason;
};

class PtrTemperrorTest : public IprevTest, public ::testing::WithParamInterface<PtrFailureCase> {};

TEST_P(PtrTemperrorTest, HasTheRightReasonAndAsksNothingElse) {
  dns_.add(failure_answer(kRev4, RrType::ptr, GetParam().outcome));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, GetParam().reason);
  EXPECT_THAT(dns_.queries(), ElementsAre(Query{kRev4, RrType::ptr, false}));
  EXPECT_EQ(r.evidence, dns_.answers());
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, PtrTemperrorTest,
    ::testing::Values(PtrFailureCase{Outcome::servfail, IprevReason::ptr_servfail},
                      PtrFailureCase{Outcome::timeout, IprevReason::ptr_timeout},
                      PtrFailureCase{Outcome::bogus, IprevReason::ptr_bogus}),
    [](const auto& info) {
      switch (info.param.outcome) {
        case Outcome::servfail: return "servfail";
        case Outcome::timeout: return "timeout";
        default: return "bogus";
      }
    });

TEST_F(IprevTest, BogusPtrIsNotedInDnssec) {
  dns_.add(failure_answer(kRev4, RrType::ptr, Outcome::bogus));
  const auto r = run(kIp4);
  EXPECT_EQ(r.reason, IprevReason::ptr_bogus);
  EXPECT_EQ(r.dnssec, Security::bogus);
}

class ForwardTemporaryTest : public IprevTest, public ::testing::WithParamInterface<Outcome> {};

TEST_P(ForwardTemporaryTest, NoMatchPlusTemporaryForwardFailureIsTemperror) {
  dns_.add(ptr_answer(kRev4, {"a.example", "b.example"}));
  dns_.add(a_answer("a.example", {"198.51.100.1"}));
  dns_.add(failure_answer("b.example", RrType::a, GetParam()));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::forward_temperror);
  EXPECT_THAT(r.verified, IsEmpty());
  EXPECT_THAT(r.ptr, ElementsAre("a.example", "b.example"));
}

TEST_P(ForwardTemporaryTest, MatchWinsOverAnotherTemporaryForwardFailure) {
  dns_.add(ptr_answer(kRev4, {"a.example", "b.example"}));
  dns_.add(failure_answer("a.example", RrType::a, GetParam()));
  dns_.add(a_answer("b.example", {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.verified, ElementsAre("b.example"));
}

INSTANTIATE_TEST_SUITE_P(Outcomes, ForwardTemporaryTest,
                         ::testing::Values(Outcome::servfail, Outcome::timeout, Outcome::bogus),
                         [](const auto& info) {
                           switch (info.param) {
                             case Outcome::servfail: return "servfail";
                             case Outcome::timeout: return "timeout";
                             default: return "bogus";
                           }
                         });

// ---- permerror ----------------------------------------------------------------------------

std::vector<std::string> unusable_names() {
  return {"",
          ".",
          "has space.example",
          std::string("ctl\x01name.example"),
          "tab\tname.example",
          "line\r\nbreak.example",
          std::string("nul\0name.example", 16),
          "double..dot.example"};
}

TEST_F(IprevTest, EveryNameUnusableIsMalformedPermerror) {
  dns_.add(ptr_answer(kRev4, unusable_names()));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::permerror);
  EXPECT_EQ(r.reason, IprevReason::malformed);
  EXPECT_THAT(r.verified, IsEmpty());
  EXPECT_THAT(forward_queries(), IsEmpty());
}

TEST_F(IprevTest, SingleUnusableNameIsMalformed) {
  for (const auto& name : unusable_names()) {
    FakeResolver dns;
    dns.add(ptr_answer(kRev4, {name}));
    const auto r = run_iprev(dns, kIp4);
    EXPECT_EQ(r.result, IprevResult::permerror) << "name '" << name << "'";
    EXPECT_EQ(r.reason, IprevReason::malformed) << "name '" << name << "'";
  }
}

TEST_F(IprevTest, UnusableNamesAreSkippedWhenAUsableOneExists) {
  auto names = unusable_names();
  names.emplace_back(kHost);
  dns_.add(ptr_answer(kRev4, names));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_THAT(forward_queries(), ElementsAre(Query{kHost, RrType::a, false}));
}

TEST_F(IprevTest, EmptyPtrRrsetIsNotAPass) {
  // NOERROR with no names should never happen, but must not be a pass.
  dns_.add(ptr_answer(kRev4, {}));
  const auto r = run(kIp4);
  EXPECT_NE(r.result, IprevResult::pass);
  EXPECT_THAT(forward_queries(), IsEmpty());
}

// ---- dnssec ---------------------------------------------------------------------------------

TEST_F(IprevTest, SecureWhenPtrAndVerifiedForwardAreSecure) {
  dns_.add(with_security(ptr_answer(kRev4, {kHost, "other.example"}), Security::secure));
  dns_.add(with_security(a_answer(kHost, {kIp4}), Security::secure));
  dns_.add(a_answer("other.example", {"198.51.100.1"}));  // insecure, but not verified
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.dnssec, Security::secure);
}

TEST_F(IprevTest, InsecureWhenTheVerifiedForwardIsInsecure) {
  dns_.add(with_security(ptr_answer(kRev4, {kHost}), Security::secure));
  dns_.add(a_answer(kHost, {kIp4}));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.dnssec, Security::insecure);
}

TEST_F(IprevTest, InsecureWhenThePtrIsInsecure) {
  dns_.add(ptr_answer(kRev4, {kHost}));
  dns_.add(with_security(a_answer(kHost, {kIp4}), Security::secure));
  const auto r = run(kIp4);
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.dnssec, Security::insecure);
}

// ---- asynchrony -----------------------------------------------------------------------------

using Scenario = void (*)(FakeResolver&);

void mixed_pass(FakeResolver& dns) {
  dns.add(ptr_answer(kRev4, {"c.example", "a.example", "d.example", "b.example"}));
  dns.add(a_answer("a.example", {"198.51.100.1"}));
  dns.add(a_answer("b.example", {kIp4}));
  dns.add(failure_answer("c.example", RrType::a, Outcome::servfail));
  dns.add(a_answer("d.example", {kIp4}));
}

void mixed_temperror(FakeResolver& dns) {
  dns.add(ptr_answer(kRev4, {"c.example", "a.example", "b.example"}));
  dns.add(a_answer("a.example", {"198.51.100.1"}));
  dns.add(failure_answer("c.example", RrType::a, Outcome::timeout));
}

void stale_cache(FakeResolver& dns) {
  dns.add(failure_answer(kRev4, RrType::ptr, Outcome::nxdomain));
  dns.add_authoritative(ptr_answer(kRev4, {"b.example", "a.example"}));
  dns.add(a_answer("a.example", {kIp4}));
  dns.add(a_answer("b.example", {kIp4}));
}

void ten_names(FakeResolver& dns) {
  std::vector<std::string> names;
  for (int i = 9; i >= 0; --i) {
    names.push_back("n" + std::to_string(i) + ".example");
    dns.add(a_answer(names.back(), {i % 3 == 0 ? kIp4 : "198.51.100.3"}));
  }
  dns.add(ptr_answer(kRev4, names));
}

enum class Release { fifo, reversed, shuffled, other_thread, concurrent };

struct AsyncCase {
  const char* name;
  Scenario scenario;
  Release release;
  std::uint32_t seed;
};

class DeferredIprevTest : public ::testing::TestWithParam<AsyncCase> {};

TEST_P(DeferredIprevTest, SameResultWhateverTheOrderAndThread) {
  FakeResolver immediate;
  GetParam().scenario(immediate);
  const auto expected = run_iprev(immediate, kIp4);

  for (int round = 0; round < (GetParam().release == Release::concurrent ? 25 : 1); ++round) {
    FakeResolver deferred;
    GetParam().scenario(deferred);
    deferred.set_deferred(true);
    FakeAuthorityProbe probe(deferred);
    Done done;
    start_iprev(deferred, ip(kIp4), with_probe({}, probe), done.callback());
    EXPECT_EQ(done.calls(), 0) << "no answer released yet";
    EXPECT_EQ(deferred.pending(), 1U) << "only the PTR query can be in flight";
    switch (GetParam().release) {
      case Release::fifo: deferred.release_all(); break;
      case Release::reversed: deferred.release_all_reversed(); break;
      case Release::shuffled: deferred.release_all_shuffled(GetParam().seed); break;
      case Release::other_thread: deferred.release_all_on_other_thread(); break;
      case Release::concurrent: deferred.release_all_concurrently(4); break;
    }
    const auto got = done.wait();
    EXPECT_EQ(got, expected);
    EXPECT_EQ(deferred.queries(), immediate.queries()) << "the same questions in the same order";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Orders, DeferredIprevTest,
    ::testing::Values(AsyncCase{"mixed_pass_fifo", mixed_pass, Release::fifo, 0},
                      AsyncCase{"mixed_pass_reversed", mixed_pass, Release::reversed, 0},
                      AsyncCase{"mixed_pass_shuffled1", mixed_pass, Release::shuffled, 1},
                      AsyncCase{"mixed_pass_shuffled2", mixed_pass, Release::shuffled, 2},
                      AsyncCase{"mixed_pass_shuffled3", mixed_pass, Release::shuffled, 3},
                      AsyncCase{"mixed_pass_thread", mixed_pass, Release::other_thread, 0},
                      AsyncCase{"mixed_pass_concurrent", mixed_pass, Release::concurrent, 0},
                      AsyncCase{"mixed_temperror_reversed", mixed_temperror, Release::reversed, 0},
                      AsyncCase{"mixed_temperror_shuffled", mixed_temperror, Release::shuffled, 7},
                      AsyncCase{"stale_cache_reversed", stale_cache, Release::reversed, 0},
                      AsyncCase{"stale_cache_thread", stale_cache, Release::other_thread, 0},
                      AsyncCase{"ten_names_reversed", ten_names, Release::reversed, 0},
                      AsyncCase{"ten_names_shuffled", ten_names, Release::shuffled, 11},
                      AsyncCase{"ten_names_concurrent", ten_names, Release::concurrent, 0}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DeferredIprev, DoneWaitsForTheLastAnswerEvenAfterAMatch) {
  FakeResolver dns;
  mixed_pass(dns);
  dns.set_deferred(true);
  FakeAuthorityProbe probe(dns);
  Done done;
  start_iprev(dns, ip(kIp4), with_probe({}, probe), done.callback());
  ASSERT_TRUE(dns.release_first());  // the PTR
  ASSERT_EQ(dns.pending(), 4U);
  // Release the matching answers first, then all but one of the rest.
  const auto pending = dns.pending_queries();
  const auto b = std::find(pending.begin(), pending.end(), Query{"b.example", RrType::a, false});
  ASSERT_NE(b, pending.end());
  ASSERT_TRUE(dns.release(static_cast<std::size_t>(b - pending.begin())));
  while (dns.pending() > 1) {
    ASSERT_TRUE(dns.release_first());
  }
  EXPECT_EQ(done.calls(), 0) << "done ran before the last answer arrived";
  ASSERT_TRUE(dns.release_first());
  const auto r = done.wait();
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.evidence.size(), 5U);
}

TEST(DeferredIprev, EvidenceIsInTheOrderAskedNotTheOrderAnswered) {
  FakeResolver dns;
  mixed_pass(dns);
  dns.set_deferred(true);
  FakeAuthorityProbe probe(dns);
  Done done;
  start_iprev(dns, ip(kIp4), with_probe({}, probe), done.callback());
  dns.release_all_reversed();
  const auto r = done.wait();
  EXPECT_EQ(r.evidence, dns.answers());
}

TEST(CheckIprev, BlockingHelperWorksWithAnswersFromAnotherThread) {
  FakeResolver dns;
  mixed_pass(dns);
  FakeResolver reference;
  mixed_pass(reference);
  const auto expected = run_iprev(reference, kIp4);

  dns.set_deferred(true);
  std::atomic<bool> stop{false};
  std::thread deliverer([&] {
    while (!stop.load()) {
      if (!dns.release_last()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  });
  FakeAuthorityProbe probe(dns);
  const auto got = check_iprev(dns, ip(kIp4), with_probe({}, probe));
  stop = true;
  deliverer.join();
  EXPECT_EQ(got, expected);
}

TEST(CheckIprev, BlockingHelperWithImmediateAnswers) {
  FakeResolver dns;
  dns.add(ptr_answer(kRev4, {kHost}));
  dns.add(a_answer(kHost, {kIp4}));
  FakeAuthorityProbe probe(dns);
  const auto r = check_iprev(dns, ip(kIp4), with_probe({}, probe));
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.evidence, dns.answers());
}

TEST(CheckIprev, BlockingHelperPassesTheOptions) {
  FakeResolver dns;
  IprevOptions options;
  options.confirm_no_ptr = false;
  const auto r = check_iprev(dns, ip(kIp4), options);
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_EQ(dns.bypass_count(), 0U);
}

// ---- decide_iprev (pure) --------------------------------------------------------------------

TEST(DecideIprev, Pass) {
  const auto r = decide_iprev(ip(kIp4), ptr_answer(kRev4, {kHost}), {a_answer(kHost, {kIp4})});
  EXPECT_EQ(r.client, ip(kIp4));
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_EQ(r.reason, IprevReason::forward_confirmed);
  EXPECT_THAT(r.ptr, ElementsAre(kHost));
  EXPECT_THAT(r.verified, ElementsAre(kHost));
  EXPECT_EQ(r.dnssec, Security::insecure);
  EXPECT_THAT(r.evidence, IsEmpty()) << "decide_iprev leaves evidence to the caller";
}

TEST(DecideIprev, PassIpv6) {
  const auto r = decide_iprev(ip(kIp6), ptr_answer(kRev6, {kHost}), {aaaa_answer(kHost, {kIp6})});
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
}

TEST(DecideIprev, MappedClientMatchesItsIpv4Address) {
  const auto r = decide_iprev(ip(kMapped), ptr_answer(kRev4, {kHost}), {a_answer(kHost, {kIp4})});
  EXPECT_EQ(r.result, IprevResult::pass);
  EXPECT_THAT(r.verified, ElementsAre(kHost));
}

TEST(DecideIprev, ForwardAnswersInAnyOrder) {
  const auto ptr = ptr_answer(kRev4, {"b.example", "a.example", "c.example"});
  const auto a = a_answer("a.example", {"198.51.100.1"});
  const auto b = a_answer("b.example", {kIp4});
  const auto c = a_answer("c.example", {kIp4});
  const auto r1 = decide_iprev(ip(kIp4), ptr, {a, b, c});
  const auto r2 = decide_iprev(ip(kIp4), ptr, {c, b, a});
  EXPECT_EQ(r1.result, IprevResult::pass);
  EXPECT_THAT(r1.verified, UnorderedElementsAre("b.example", "c.example"));
  EXPECT_THAT(r1.ptr, ElementsAre("a.example", "b.example", "c.example"));
  EXPECT_EQ(r1.result, r2.result);
  EXPECT_THAT(r2.verified, UnorderedElementsAreArray(r1.verified));
  EXPECT_EQ(r1.ptr, r2.ptr);
}

TEST(DecideIprev, NoPtr) {
  for (auto outcome : {Outcome::nxdomain, Outcome::nodata}) {
    const auto r = decide_iprev(ip(kIp4), failure_answer(kRev4, RrType::ptr, outcome), {});
    EXPECT_EQ(r.result, IprevResult::fail);
    EXPECT_EQ(r.reason, IprevReason::no_ptr);
    EXPECT_THAT(r.ptr, IsEmpty());
  }
}

TEST(DecideIprev, SecureNxdomainIsSecure) {
  const auto r = decide_iprev(
      ip(kIp4),
      with_security(failure_answer(kRev4, RrType::ptr, Outcome::nxdomain), Security::secure), {});
  EXPECT_EQ(r.reason, IprevReason::no_ptr);
  EXPECT_EQ(r.dnssec, Security::secure);
}

TEST(DecideIprev, PtrTemporaryFailures) {
  const std::pair<Outcome, IprevReason> cases[] = {{Outcome::servfail, IprevReason::ptr_servfail},
                                                   {Outcome::timeout, IprevReason::ptr_timeout},
                                                   {Outcome::bogus, IprevReason::ptr_bogus}};
  for (const auto& [outcome, reason] : cases) {
    const auto r = decide_iprev(ip(kIp4), failure_answer(kRev4, RrType::ptr, outcome), {});
    EXPECT_EQ(r.result, IprevResult::temperror);
    EXPECT_EQ(r.reason, reason);
  }
}

TEST(DecideIprev, FailedConfirmationIsUnconfirmed) {
  auto ptr = failure_answer(kRev4, RrType::ptr, Outcome::servfail);
  ptr.confirmed = true;
  const auto r = decide_iprev(ip(kIp4), ptr, {});
  EXPECT_EQ(r.result, IprevResult::temperror);
  EXPECT_EQ(r.reason, IprevReason::unconfirmed);
}

TEST(DecideIprev, NoForwardMatch) {
  const auto r =
      decide_iprev(ip(kIp4), ptr_answer(kRev4, {kHost}), {a_answer(kHost, {"198.51.100.1"})});
  EXPECT_EQ(r.result, IprevResult::fail);
  EXPECT_EQ(r.reason, IprevReason::no_forward_match);
  EXPECT_THAT(r.verified, IsEmpty());
  const auto nx = decide_iprev(ip(kIp4), ptr_answer(kRev4, {kHost}),
                               {failure_answer(kHost, RrType::a, Outcome::nxdomain)});
  EXPECT_EQ(nx.reason, IprevReason::no_forward_match);
}

TEST(DecideIprev, ForwardTemperrorOnlyWithoutAMatch) {
  const auto ptr = ptr_answer(kRev4, {"a.example", "b.example"});
  const auto fail = failure_answer("a.example", RrType::a, Outcome::servfail);
  const auto miss = decide_iprev(ip(kIp4), ptr, {fail, a_answer("b.example", {"198.51.100.1"})});
  EXPECT_EQ(miss.result, IprevResult::temperror);
  EXPECT_EQ(miss.reason, IprevReason::forward_temperror);
  const auto hit = decide_iprev(ip(kIp4), ptr, {fail, a_answer("b.example", {kIp4})});
  EXPECT_EQ(hit.result, IprevResult::pass);
  EXPECT_THAT(hit.verified, ElementsAre("b.example"));
}

TEST(DecideIprev, Malformed) {
  const auto r = decide_iprev(ip(kIp4), ptr_answer(kRev4, unusable_names()), {});
  EXPECT_EQ(r.result, IprevResult::permerror);
  EXPECT_EQ(r.reason, IprevReason::malformed);
}

TEST(DecideIprev, DnssecFollowsPtrAndVerifiedForward) {
  const auto secure_ptr = with_security(ptr_answer(kRev4, {kHost}), Security::secure);
  const auto secure_a = with_security(a_answer(kHost, {kIp4}), Security::secure);
  EXPECT_EQ(decide_iprev(ip(kIp4), secure_ptr, {secure_a}).dnssec, Security::secure);
  EXPECT_EQ(decide_iprev(ip(kIp4), secure_ptr, {a_answer(kHost, {kIp4})}).dnssec,
            Security::insecure);
  EXPECT_EQ(decide_iprev(ip(kIp4), ptr_answer(kRev4, {kHost}), {secure_a}).dnssec,
            Security::insecure);
  EXPECT_EQ(decide_iprev(ip(kIp4), failure_answer(kRev4, RrType::ptr, Outcome::bogus), {}).dnssec,
            Security::bogus);
}

// ---- ptr_names_to_confirm -------------------------------------------------------------------

TEST(PtrNamesToConfirm, SortedDeduplicatedNormalized) {
  const auto names = ptr_names_to_confirm(
      ptr_answer(kRev4, {"b.example", "A.Example.", "a.example", "c.example", "b.example."}), 10);
  EXPECT_THAT(names, ElementsAre("a.example", "b.example", "c.example"));
}

TEST(PtrNamesToConfirm, AtMostMaxNamesTheFirstSorted) {
  std::vector<std::string> many;
  for (int i = 11; i >= 0; --i) {
    many.push_back("h" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".example");
  }
  const auto names = ptr_names_to_confirm(ptr_answer(kRev4, many), 10);
  ASSERT_EQ(names.size(), 10U);
  EXPECT_EQ(names.front(), "h00.example");
  EXPECT_EQ(names.back(), "h09.example");
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_THAT(ptr_names_to_confirm(ptr_answer(kRev4, many), 3),
              ElementsAre("h00.example", "h01.example", "h02.example"));
}

TEST(PtrNamesToConfirm, DuplicatesAndInvalidNamesDoNotUseUpTheLimit) {
  std::vector<std::string> input = unusable_names();
  for (int i = 0; i < 3; ++i) {
    input.push_back("n" + std::to_string(i) + ".example");
    input.push_back("N" + std::to_string(i) + ".EXAMPLE.");
  }
  EXPECT_THAT(ptr_names_to_confirm(ptr_answer(kRev4, input), 3),
              ElementsAre("n0.example", "n1.example", "n2.example"));
}

TEST(PtrNamesToConfirm, DropsNamesThatCannotBeHostNames) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  std::string too_long;  // 4 * 64 = 256 characters > 253
  for (int i = 0; i < 4; ++i) {
    too_long += std::string(63, 'b') + ".";
  }
  too_long.pop_back();
  std::vector<std::string> input = unusable_names();
  input.push_back(label64 + ".example");
  input.push_back(too_long);
  input.push_back(label63 + ".example");
  input.emplace_back(kHost);
  EXPECT_THAT(ptr_names_to_confirm(ptr_answer(kRev4, input), 10),
              UnorderedElementsAre(label63 + ".example", kHost));
}

TEST(PtrNamesToConfirm, NothingForANegativeAnswer) {
  EXPECT_THAT(ptr_names_to_confirm(failure_answer(kRev4, RrType::ptr, Outcome::nxdomain), 10),
              IsEmpty());
}

TEST(IprevToString, EveryValueHasADistinctName) {
  // RFC 8601 §2.7.3 result names.
  EXPECT_EQ(to_string(IprevResult::pass), "pass");
  EXPECT_EQ(to_string(IprevResult::fail), "fail");
  EXPECT_EQ(to_string(IprevResult::temperror), "temperror");
  EXPECT_EQ(to_string(IprevResult::permerror), "permerror");
  const IprevReason reasons[] = {
      IprevReason::forward_confirmed, IprevReason::no_ptr,      IprevReason::no_forward_match,
      IprevReason::ptr_servfail,      IprevReason::ptr_timeout, IprevReason::ptr_bogus,
      IprevReason::forward_temperror, IprevReason::unconfirmed, IprevReason::malformed};
  std::vector<std::string> names;
  for (auto reason : reasons) {
    names.emplace_back(to_string(reason));
    EXPECT_FALSE(names.back().empty());
    EXPECT_EQ(names.back().find_first_of(" ;()\"\\"), std::string::npos)
        << "reason names appear in headers and logs: " << names.back();
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

}  // namespace
}  // namespace rdns::checks
