// The libspf2 DNS layer (SpfDns): how Resolver answers become libspf2 records, what is never
// asked, evidence, the per-check limits, and the per-term shaping (PTR names, zero prefixes).

#include "dns/spf_libspf2.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "zone_resolver.h"

namespace rdns::dns {
namespace {

using spftest::Asked;
using spftest::ZoneResolver;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct RrDeleter {
  void operator()(SPF_dns_rr_t* rr) const { SPF_dns_rr_free(rr); }
};
using RrPtr = std::unique_ptr<SPF_dns_rr_t, RrDeleter>;

IpAddress ip(std::string_view text) {
  return *IpAddress::parse(text);
}

RrPtr ask(SpfDns& dns, const char* name, ns_type type) {
  return RrPtr(SPF_dns_lookup(dns.layer(), name, type, 1));
}

std::string a_text(const SPF_dns_rr_t& rr, int i) {
  char buffer[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &rr.rr[i]->a, buffer, sizeof(buffer));
  return buffer;
}

std::string aaaa_text(const SPF_dns_rr_t& rr, int i) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &rr.rr[i]->aaaa, buffer, sizeof(buffer));
  return buffer;
}

std::vector<std::string> strings(const SPF_dns_rr_t& rr) {
  std::vector<std::string> out;
  for (int i = 0; i < rr.num_rr; ++i) out.emplace_back(rr.rr[i]->txt);
  return out;
}

class SpfDnsTest : public ::testing::Test {
 protected:
  SpfDnsTest() {
    zone_.a("mail.example.com", "192.0.2.1");
    zone_.a("mail.example.com", "192.0.2.2");
    zone_.aaaa("mail.example.com", "2001:db8::1");
    zone_.mx("example.com", 20, "backup.example.com");
    zone_.mx("example.com", 10, "mail.example.com");
    zone_.txt("example.com", "v=spf1 -all");
    zone_.txt_strings("example.com", {"other ", "text"});
    zone_.ptr("1.2.0.192.in-addr.arpa", "mail.example.com");
    zone_.timeout("slow.example.com");
    zone_.fail("broken.example.com", RrType::a, Outcome::servfail);
    zone_.fail("bogus.example.com", RrType::a, Outcome::bogus);
  }

  ZoneResolver zone_;
  SpfDns dns_{zone_, ip("192.0.2.1")};
};

TEST_F(SpfDnsTest, HerrnoForEachOutcome) {
  Answer answer;
  answer.outcome = Outcome::ok;
  EXPECT_EQ(spf_herrno(answer), NETDB_SUCCESS);
  answer.outcome = Outcome::nxdomain;
  EXPECT_EQ(spf_herrno(answer), HOST_NOT_FOUND);
  answer.outcome = Outcome::nodata;
  EXPECT_EQ(spf_herrno(answer), NO_DATA);
  for (const auto outcome : {Outcome::servfail, Outcome::timeout, Outcome::bogus}) {
    answer.outcome = outcome;
    EXPECT_EQ(spf_herrno(answer), TRY_AGAIN);
  }
}

TEST_F(SpfDnsTest, AddressRecords) {
  const auto a = ask(dns_, "mail.example.com", ns_t_a);
  ASSERT_EQ(a->herrno, NETDB_SUCCESS);
  ASSERT_EQ(a->num_rr, 2);
  EXPECT_EQ(a_text(*a, 0), "192.0.2.1");
  EXPECT_EQ(a_text(*a, 1), "192.0.2.2");
  EXPECT_EQ(a->rr_type, ns_t_a);
  EXPECT_STREQ(a->domain, "mail.example.com");

  const auto aaaa = ask(dns_, "mail.example.com", ns_t_aaaa);
  ASSERT_EQ(aaaa->herrno, NETDB_SUCCESS);
  ASSERT_EQ(aaaa->num_rr, 1);
  EXPECT_EQ(aaaa_text(*aaaa, 0), "2001:db8::1");
}

TEST_F(SpfDnsTest, NameRecords) {
  const auto ptr = ask(dns_, "1.2.0.192.in-addr.arpa", ns_t_ptr);
  ASSERT_EQ(ptr->herrno, NETDB_SUCCESS);
  EXPECT_THAT(strings(*ptr), ElementsAre("mail.example.com"));

  // The most preferred exchanges first: libspf2 looks at the first 10 only.
  const auto mx = ask(dns_, "example.com", ns_t_mx);
  ASSERT_EQ(mx->herrno, NETDB_SUCCESS);
  EXPECT_THAT(strings(*mx), ElementsAre("mail.example.com", "backup.example.com"));

  // Character-strings are joined without a separator (RFC 7208 §3.3).
  const auto txt = ask(dns_, "example.com", ns_t_txt);
  ASSERT_EQ(txt->herrno, NETDB_SUCCESS);
  EXPECT_THAT(strings(*txt), ElementsAre("v=spf1 -all", "other text"));
}

TEST_F(SpfDnsTest, NegativeAndFailedAnswers) {
  EXPECT_EQ(ask(dns_, "nowhere.example.com", ns_t_a)->herrno, HOST_NOT_FOUND);
  EXPECT_EQ(ask(dns_, "example.com", ns_t_a)->herrno, NO_DATA);
  EXPECT_EQ(ask(dns_, "slow.example.com", ns_t_a)->herrno, TRY_AGAIN);
  EXPECT_EQ(ask(dns_, "broken.example.com", ns_t_a)->herrno, TRY_AGAIN);
  EXPECT_EQ(ask(dns_, "bogus.example.com", ns_t_a)->herrno, TRY_AGAIN);
  // An answer with only the other family's addresses is NODATA for libspf2.
  zone_.a("v4only.example.com", "192.0.2.9");
  const auto aaaa = ask(dns_, "v4only.example.com", ns_t_aaaa);
  EXPECT_EQ(aaaa->herrno, NO_DATA);
  EXPECT_EQ(aaaa->num_rr, 0);
}

TEST_F(SpfDnsTest, TypeSpfIsNeverAsked) {
  const auto rr = ask(dns_, "example.com", static_cast<ns_type>(99));
  EXPECT_EQ(rr->herrno, NO_DATA);
  EXPECT_EQ(rr->num_rr, 0);
  EXPECT_THAT(zone_.asked(), IsEmpty());
  EXPECT_THAT(dns_.evidence(), IsEmpty());
}

TEST_F(SpfDnsTest, NamesThatCannotBeAskedDoNotExist) {
  const std::string long_label(64, 'x');
  std::string too_long;  // 5 labels of 60: 304 octets
  for (int i = 0; i < 5; ++i) too_long += std::string(60, 'x') + (i < 4 ? "." : "");
  for (const std::string& name :
       {std::string("a..example.com"), std::string(".example.com"), long_label + ".example.com",
        too_long, std::string(""), std::string("tab\t.example.com")}) {
    EXPECT_EQ(ask(dns_, name.c_str(), ns_t_a)->herrno, HOST_NOT_FOUND) << name;
  }
  EXPECT_THAT(zone_.asked(), IsEmpty());
}

TEST_F(SpfDnsTest, QueryableNames) {
  EXPECT_TRUE(spf_queryable_name("example.com"));
  EXPECT_TRUE(spf_queryable_name("example.com."));
  EXPECT_TRUE(spf_queryable_name("single"));
  EXPECT_TRUE(spf_queryable_name("macro%percent  space.example.com"));
  EXPECT_TRUE(spf_queryable_name(std::string(63, 'a') + ".com"));
  EXPECT_FALSE(spf_queryable_name(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(spf_queryable_name("."));
  EXPECT_FALSE(spf_queryable_name("a..b"));
  EXPECT_FALSE(spf_queryable_name("caf\xc3\xa9.example"));
}

TEST_F(SpfDnsTest, PresentationNameEscapesWhatTheResolverWouldMisread) {
  EXPECT_EQ(spf_presentation_name("a b.example"), "a\\032b.example");
  EXPECT_EQ(spf_presentation_name("back\\slash.example"), "back\\\\slash.example");
  EXPECT_EQ(spf_presentation_name("foo:bar/baz.example.com"), "foo:bar/baz.example.com");
  // The space reaches the zone as a space.
  zone_.a("a b.example", "192.0.2.5");
  EXPECT_EQ(ask(dns_, "a b.example", ns_t_a)->herrno, NETDB_SUCCESS);
  EXPECT_THAT(zone_.asked(), ElementsAre(Asked{"a\\032b.example", RrType::a}));
}

TEST_F(SpfDnsTest, EvidenceRecordsEachQuestionOnce) {
  ask(dns_, "mail.example.com", ns_t_a);
  ask(dns_, "MAIL.example.com.", ns_t_a);
  ask(dns_, "nowhere.example.com", ns_t_a);
  ask(dns_, "mail.example.com", ns_t_aaaa);
  ASSERT_EQ(dns_.evidence().size(), 3U);
  EXPECT_EQ(dns_.evidence()[0].name, "mail.example.com");
  EXPECT_EQ(dns_.evidence()[0].type, RrType::a);
  EXPECT_EQ(dns_.evidence()[1].outcome, Outcome::nxdomain);
  EXPECT_EQ(dns_.evidence()[2].type, RrType::aaaa);
  EXPECT_EQ(zone_.asked().size(), 3U);
  EXPECT_EQ(dns_.resolve("mail.example.com", RrType::a).addresses.size(), 2U);
  EXPECT_EQ(zone_.asked().size(), 3U);
}

TEST_F(SpfDnsTest, TermLimitIsTenPerCheck) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(dns_.charge_term()) << i;
  }
  EXPECT_FALSE(dns_.charge_term());
  EXPECT_EQ(dns_.terms(), 11U);
}

TEST_F(SpfDnsTest, OnlyTheFirstLookupOfATermCanBeVoid) {
  dns_.begin_term(SpfTerm::mx, false);
  ask(dns_, "nomx.example.com", ns_t_mx);    // void: counts
  ask(dns_, "nowhere.example.com", ns_t_a);  // an exchange's lookup: does not
  dns_.end_term();
  EXPECT_EQ(dns_.void_lookups(), 1U);
  ask(dns_, "nowhere2.example.com", ns_t_a);  // outside any term: does not
  EXPECT_EQ(dns_.void_lookups(), 1U);
  dns_.begin_term(SpfTerm::a, false);
  ask(dns_, "example.com", ns_t_a);  // NODATA is void too
  dns_.end_term();
  dns_.begin_term(SpfTerm::exists, false);
  ask(dns_, "mail.example.com", ns_t_a);  // found: not void
  dns_.end_term();
  EXPECT_EQ(dns_.void_lookups(), 2U);
  EXPECT_FALSE(dns_.void_limit_exceeded());
  dns_.begin_term(SpfTerm::a, false);
  ask(dns_, "nowhere3.example.com", ns_t_a);
  dns_.end_term();
  EXPECT_TRUE(dns_.void_limit_exceeded());
}

TEST_F(SpfDnsTest, PtrTermExaminesTenNamesAndSkipsNamesThatFail) {
  for (int i = 0; i < 12; ++i) {
    zone_.ptr("9.2.0.192.in-addr.arpa", "host" + std::to_string(i) + ".example.com");
  }
  SpfDns dns(zone_, ip("192.0.2.9"));
  dns.begin_term(SpfTerm::ptr, false);
  EXPECT_EQ(ask(dns, "9.2.0.192.in-addr.arpa", ns_t_ptr)->num_rr, 10);
  EXPECT_EQ(ask(dns, "slow.example.com", ns_t_a)->herrno, NO_DATA);  // RFC 7208 §5.5
  dns.end_term();
  EXPECT_EQ(dns.term_failure(), nullptr);
  // The evidence keeps the real answers.
  EXPECT_EQ(dns.evidence()[0].names.size(), 12U);
  EXPECT_EQ(dns.evidence()[1].outcome, Outcome::timeout);
  // Outside a ptr term the same failure is a failure.
  dns.begin_term(SpfTerm::a, false);
  EXPECT_EQ(ask(dns, "slow.example.com", ns_t_a)->herrno, TRY_AGAIN);
  dns.end_term();
  ASSERT_NE(dns.term_failure(), nullptr);
  EXPECT_EQ(dns.term_failure()->name, "slow.example.com");
}

TEST_F(SpfDnsTest, ZeroPrefixMatchesAnyAddressOfTheFamily) {
  SpfDns dns(zone_, ip("198.51.100.7"));
  dns.begin_term(SpfTerm::a, true);
  const auto a = ask(dns, "mail.example.com", ns_t_a);
  ASSERT_EQ(a->num_rr, 1);
  EXPECT_EQ(a_text(*a, 0), "198.51.100.7");
  EXPECT_EQ(ask(dns, "nowhere.example.com", ns_t_a)->herrno, HOST_NOT_FOUND);
  const auto aaaa = ask(dns, "mail.example.com", ns_t_aaaa);  // other family: untouched
  ASSERT_EQ(aaaa->num_rr, 1);
  EXPECT_EQ(aaaa_text(*aaaa, 0), "2001:db8::1");
  dns.end_term();
  const auto after = ask(dns, "mail.example.com", ns_t_a);
  EXPECT_EQ(after->num_rr, 2);
  EXPECT_EQ(dns.evidence()[0].addresses.size(), 2U);
}

TEST_F(SpfDnsTest, MappedClientIsIpv4) {
  SpfDns dns(zone_, ip("::ffff:198.51.100.7"));
  dns.begin_term(SpfTerm::a, true);
  const auto a = ask(dns, "mail.example.com", ns_t_a);
  ASSERT_EQ(a->num_rr, 1);
  EXPECT_EQ(a_text(*a, 0), "198.51.100.7");
  dns.end_term();
}

TEST_F(SpfDnsTest, NothingIsAskedOnceTheTimeIsUp) {
  SpfLimits limits;
  limits.max_elapsed = std::chrono::milliseconds(0);
  SpfDns dns(zone_, ip("192.0.2.1"), limits);
  EXPECT_FALSE(dns.out_of_time());
  EXPECT_EQ(ask(dns, "mail.example.com", ns_t_a)->herrno, TRY_AGAIN);
  EXPECT_TRUE(dns.out_of_time());
  EXPECT_THAT(zone_.asked(), IsEmpty());
  EXPECT_THAT(dns.evidence(), IsEmpty());

  limits.max_elapsed = std::chrono::hours(1);
  SpfDns patient(zone_, ip("192.0.2.1"), limits);
  EXPECT_EQ(ask(patient, "mail.example.com", ns_t_a)->herrno, NETDB_SUCCESS);
  EXPECT_FALSE(patient.out_of_time());
}

/// A Resolver that throws: the layer must not let it reach libspf2.
class ThrowingResolver final : public Resolver {
 public:
  void resolve_async(const std::string& /*name*/, RrType /*type*/, QueryOptions /*options*/,
                     Callback /*done*/) override {
    throw std::runtime_error("resolver on fire");
  }
};

TEST(SpfDnsFailure, ResolverExceptionIsATemporaryFailure) {
  ThrowingResolver resolver;
  SpfDns dns(resolver, ip("192.0.2.1"));
  EXPECT_EQ(ask(dns, "example.com", ns_t_a)->herrno, TRY_AGAIN);
  ASSERT_EQ(dns.evidence().size(), 1U);
  EXPECT_EQ(dns.evidence()[0].outcome, Outcome::servfail);
  EXPECT_EQ(dns.evidence()[0].error, "resolver on fire");
}

TEST(SpfDnsServer, ServerDoesNotFreeTheLayer) {
  ZoneResolver zone;
  zone.a("mail.example.com", "192.0.2.1");
  SpfDns dns(zone, ip("192.0.2.1"));
  for (int i = 0; i < 2; ++i) {
    SPF_server_t* server = SPF_server_new_dns(dns.layer(), 0);
    ASSERT_NE(server, nullptr);
    SPF_server_free(server);  // must leave dns.layer() alone (destroy == NULL)
  }
  EXPECT_EQ(ask(dns, "mail.example.com", ns_t_a)->num_rr, 1);
}

// --- SpfCheckDns: the narrow interface the evaluator uses ------------------------------------

SpfTermQuery term_query(SpfTerm term, std::string target, std::optional<unsigned> cidr4 = {},
                        std::optional<unsigned> cidr6 = {}) {
  SpfTermQuery query;
  query.term = term;
  query.target = std::move(target);
  query.domain = "example.com";
  query.cidr4 = cidr4;
  query.cidr6 = cidr6;
  return query;
}

class SpfCheckDnsTest : public SpfDnsTest {};

TEST_F(SpfCheckDnsTest, EachTermMatchesOrNot) {
  SpfCheckDns dns(zone_, ip("192.0.2.1"), "receiver.example.org");
  const SpfTermResult match{SpfTermOutcome::match, ""};
  const SpfTermResult no_match{SpfTermOutcome::no_match, ""};
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "mail.example.com")), match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::mx, "example.com")), match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::ptr, "example.com")), match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::exists, "mail.example.com")), match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "nowhere.example.com")), no_match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::ptr, "other.example")), no_match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "mail.example.com", 32, 128)), match);
  // Evaluating charges nothing; the caller does.
  EXPECT_TRUE(dns.charge_term());
  EXPECT_FALSE(dns.out_of_time());
  EXPECT_FALSE(dns.take_evidence().empty());
}

TEST_F(SpfCheckDnsTest, ZeroPrefixAndCidrLengths) {
  SpfCheckDns dns(zone_, ip("192.0.2.77"), "");
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "mail.example.com")).outcome,
            SpfTermOutcome::no_match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "mail.example.com", 24)).outcome,
            SpfTermOutcome::match);
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::mx, "example.com", 0)).outcome, SpfTermOutcome::match);
  // The other family's length does not apply to an IPv4 client.
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "mail.example.com", std::nullopt, 0)).outcome,
            SpfTermOutcome::no_match);
}

TEST_F(SpfCheckDnsTest, LoopbackClientGetsNoFreePass) {
  // libspf2's "localhost is always allowed" lives in SPF_request_query_mailfrom, never called.
  SpfCheckDns dns(zone_, ip("127.0.0.1"), "");
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, "mail.example.com")).outcome,
            SpfTermOutcome::no_match);
}

TEST_F(SpfCheckDnsTest, ErrorsSayWhy) {
  SpfCheckDns dns(zone_, ip("192.0.2.1"), "");
  const SpfTermResult slow = dns.evaluate(term_query(SpfTerm::a, "slow.example.com"));
  EXPECT_EQ(slow.outcome, SpfTermOutcome::temperror);
  EXPECT_THAT(slow.problem, ::testing::HasSubstr("slow.example.com"));
  for (int i = 0; i < 11; ++i) {
    zone_.mx("many.example.com", 10, "mx" + std::to_string(i) + ".example.com");
  }
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::mx, "many.example.com")),
            (SpfTermResult{SpfTermOutcome::permerror,
                           "more than 10 MX records (RFC 7208 section 4.6.4)"}));
}

TEST_F(SpfCheckDnsTest, VoidLookupsAreCounted) {
  SpfCheckDns dns(zone_, ip("192.0.2.1"), "");
  for (const char* name : {"n1.example.com", "n2.example.com"}) {
    EXPECT_EQ(dns.evaluate(term_query(SpfTerm::a, name)).outcome, SpfTermOutcome::no_match);
    EXPECT_FALSE(dns.void_limit_exceeded());
  }
  EXPECT_EQ(dns.evaluate(term_query(SpfTerm::exists, "n3.example.com")).outcome,
            SpfTermOutcome::no_match);
  EXPECT_TRUE(dns.void_limit_exceeded());
}

}  // namespace
}  // namespace rdns::dns
