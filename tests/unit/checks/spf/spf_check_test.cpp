// check_spf over a zone: identities, clients (mapped IPv4, loopback), the RFC 7208 §4.6.4
// limits across include and redirect, explanations, the fields of Spf, and concurrency.

#include "rdns/checks/spf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "rdns/dns/spf_dns.h"
#include "zone_resolver.h"

namespace rdns::checks {

void PrintTo(const Spf& spf, std::ostream* out) {
  *out << "{" << to_string(spf.result) << " identity=" << to_string(spf.identity)
       << " domain=" << spf.domain << " sender=" << spf.sender << " record='" << spf.record
       << "' mechanism='" << spf.mechanism << "' explanation='" << spf.explanation << "' problem='"
       << spf.problem << "' evidence=" << spf.evidence.size() << "}";
}

namespace {

using dns::Outcome;
using dns::RrType;
using spftest::Asked;
using spftest::ZoneResolver;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

dns::IpAddress ip(std::string_view text) {
  return *dns::IpAddress::parse(text);
}

class SpfCheckTest : public ::testing::Test {
 protected:
  Spf check(std::string_view client, std::string mail_from, std::string helo = "mx.example.net",
            SpfIdentity identity = SpfIdentity::mailfrom) {
    SpfRequest request;
    request.client = ip(client);
    request.mail_from = std::move(mail_from);
    request.helo = std::move(helo);
    request.identity = identity;
    request.receiver = "receiver.example.org";
    return check_spf(zone_, request);
  }

  bool asked(std::string_view name, RrType type) const {
    for (const auto& q : zone_.asked()) {
      if (q.name == name && q.type == type) return true;
    }
    return false;
  }

  ZoneResolver zone_;
};

// --- identities -------------------------------------------------------------------------------

TEST_F(SpfCheckTest, MailFromIdentity) {
  zone_.txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
  const Spf spf = check("192.0.2.10", "alice@example.com");
  EXPECT_EQ(spf.result, SpfResult::pass);
  EXPECT_EQ(spf.identity, SpfIdentity::mailfrom);
  EXPECT_EQ(spf.domain, "example.com");
  EXPECT_EQ(spf.sender, "alice@example.com");
  EXPECT_EQ(spf.record, "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(spf.mechanism, "ip4:192.0.2.0/24");
  EXPECT_THAT(spf.problem, IsEmpty());
  EXPECT_THAT(spf.explanation, IsEmpty());
}

TEST_F(SpfCheckTest, NullSenderIsPostmasterAtHelo) {
  zone_.txt("mx.example.net", "v=spf1 a -all");
  zone_.a("mx.example.net", "192.0.2.20");
  const Spf spf = check("192.0.2.20", "");
  EXPECT_EQ(spf.result, SpfResult::pass);
  EXPECT_EQ(spf.identity, SpfIdentity::mailfrom);
  EXPECT_EQ(spf.sender, "postmaster@mx.example.net");
  EXPECT_EQ(spf.domain, "mx.example.net");
  EXPECT_EQ(spf.mechanism, "a");
}

TEST_F(SpfCheckTest, HeloIdentity) {
  zone_.txt("mx.example.net", "v=spf1 -all");
  zone_.txt("example.com", "v=spf1 +all");
  const Spf spf = check("192.0.2.20", "alice@example.com", "mx.example.net", SpfIdentity::helo);
  EXPECT_EQ(spf.result, SpfResult::fail);
  EXPECT_EQ(spf.identity, SpfIdentity::helo);
  EXPECT_EQ(spf.sender, "postmaster@mx.example.net");
  EXPECT_EQ(spf.domain, "mx.example.net");
  EXPECT_FALSE(asked("example.com", RrType::txt));
}

TEST_F(SpfCheckTest, MissingLocalPartIsPostmaster) {
  zone_.txt("example.com", "v=spf1 -all exp=why.example.com");
  zone_.txt("why.example.com", "%{l} at %{o} via %{s}");
  const Spf spf = check("192.0.2.20", "@example.com");
  EXPECT_EQ(spf.sender, "postmaster@example.com");
  EXPECT_EQ(spf.explanation, "postmaster at example.com via postmaster@example.com");
}

TEST_F(SpfCheckTest, DomainsThatCannotHaveSpfAreNone) {
  const std::vector<std::string> helos = {"localhost", "[192.0.2.1]", "192.0.2.1", "a..example.com",
                                          std::string(64, 'x') + ".com"};
  for (const auto& helo : helos) {
    const Spf spf = check("192.0.2.1", "", helo);
    EXPECT_EQ(spf.result, SpfResult::none) << helo;
    EXPECT_THAT(spf.evidence, IsEmpty()) << helo;
  }
  EXPECT_THAT(zone_.asked(), IsEmpty());
}

TEST_F(SpfCheckTest, HeloCheckable) {
  EXPECT_TRUE(spf_helo_checkable("mx.example.net"));
  EXPECT_TRUE(spf_helo_checkable("mx.example.net."));
  EXPECT_TRUE(spf_helo_checkable("xn--bcher-kva.example"));
  EXPECT_FALSE(spf_helo_checkable(""));
  EXPECT_FALSE(spf_helo_checkable("localhost"));
  EXPECT_FALSE(spf_helo_checkable("[192.0.2.1]"));
  EXPECT_FALSE(spf_helo_checkable("[IPv6:2001:db8::1]"));
  EXPECT_FALSE(spf_helo_checkable("192.0.2.1"));
  EXPECT_FALSE(spf_helo_checkable("mx..example.net"));
  EXPECT_FALSE(spf_helo_checkable("JUMPIN' JUPITER"));
}

// is_spf_domain (behind spf_helo_checkable) is built on dns::spf_queryable_name: one table
// pins what each accepts, the names only a lookup target may be included.
TEST(SpfNameSets, DomainIsAQueryableNameWithMoreRules) {
  struct Row {
    std::string name;
    bool queryable;
    bool domain;
  };
  const std::string l63(63, 'a');
  const std::string l64(64, 'a');
  // 253 octets: 63.63.63.61; one more is 254.
  const std::string n253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  const std::vector<Row> rows{
      {"example.com", true, true},
      {"example.com.", true, true},
      {"Mail.EXAMPLE.com", true, true},
      {"xn--bcher-kva.example", true, true},
      {"_spf.example.com", true, true},
      {"a.b", true, true},
      {"1.2.3.com", true, true},
      {"a.12b", true, true},
      {"%-~!.example", true, true},
      {l63 + ".com", true, true},
      {n253, true, true},
      {n253 + ".", true, true},
      // only a lookup target
      {"single", true, false},
      {"single.", true, false},
      {"localhost", true, false},
      {"192.0.2.1", true, false},
      {"a.123", true, false},
      {"[192.0.2.1]", true, false},
      {"[IPv6:2001:db8::1]", true, false},
      {"[x.example", true, false},
      {"a b.example", true, false},
      {" .example", true, false},
      {"macro%percent  space.example.com", true, false},
      // neither
      {"", false, false},
      {".", false, false},
      {"..", false, false},
      {"a..b", false, false},
      {".example.com", false, false},
      {"example.com..", false, false},
      {l64 + ".com", false, false},
      {n253 + "b", false, false},
      {"caf\xc3\xa9.example", false, false},
      {std::string("nul\0.example", 12), false, false},
      {"tab\t.example", false, false},
      {"del\x7f.example", false, false},
      {"cr\r\n.example", false, false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(dns::spf_queryable_name(row.name), row.queryable) << '"' << row.name << '"';
    EXPECT_EQ(spf_helo_checkable(row.name), row.domain) << '"' << row.name << '"';
  }
}

TEST_F(SpfCheckTest, NoRecordIsNone) {
  zone_.txt("example.com", "some other text");
  EXPECT_EQ(check("192.0.2.1", "a@example.com").result, SpfResult::none);
  EXPECT_EQ(check("192.0.2.1", "a@nowhere.example").result, SpfResult::none);
}

// --- clients ---------------------------------------------------------------------------------

TEST_F(SpfCheckTest, MappedClientIsCheckedAsIpv4) {
  zone_.txt("example.com", "v=spf1 ip6:::ffff:192.0.2.0/120 a ptr ip4:192.0.2.0/24 -all");
  zone_.a("example.com", "198.51.100.1");
  const Spf spf = check("::ffff:192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::pass);
  EXPECT_EQ(spf.mechanism, "ip4:192.0.2.0/24");
  EXPECT_TRUE(asked("example.com", RrType::a));
  EXPECT_FALSE(asked("example.com", RrType::aaaa));
  EXPECT_TRUE(asked("10.2.0.192.in-addr.arpa", RrType::ptr));
}

TEST_F(SpfCheckTest, LoopbackIsNotPassedAutomatically) {
  // libspf2's SPF_request_query_mailfrom passes any 127/8 or ::1 client ("localhost is always
  // allowed"); check_spf evaluates the record like for any other client.
  zone_.txt("example.com", "v=spf1 -all");
  for (const auto* client : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
    const Spf spf = check(client, "a@example.com");
    EXPECT_EQ(spf.result, SpfResult::fail) << client;
    EXPECT_EQ(spf.mechanism, "-all") << client;
  }
  zone_.txt("loop.example.com", "v=spf1 ip4:127.0.0.0/8 -all");
  EXPECT_EQ(check("127.0.0.1", "a@loop.example.com").result, SpfResult::pass);
}

// --- limits (RFC 7208 §4.6.4) -----------------------------------------------------------------

class SpfLimitTest : public SpfCheckTest {
 protected:
  SpfLimitTest() {
    for (int i = 1; i <= 12; ++i) {
      zone_.a("n" + std::to_string(i) + ".example.com", "198.51.100." + std::to_string(i));
      zone_.mx("n" + std::to_string(i) + ".example.com", 10, "n1.example.com");
    }
  }
};

TEST_F(SpfLimitTest, TenLookupsAcrossIncludesPass) {
  // 2 includes + 4 + 4 mechanisms that query DNS = 10.
  zone_.txt("example.com", "v=spf1 include:one.example.com include:two.example.com -all");
  zone_.txt("one.example.com",
            "v=spf1 a:n1.example.com a:n2.example.com mx:n3.example.com "
            "mx:n4.example.com");
  zone_.txt("two.example.com",
            "v=spf1 a:n5.example.com a:n6.example.com a:n7.example.com "
            "ptr:n8.example.com ip4:192.0.2.10");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::pass) << spf.problem;
  EXPECT_EQ(spf.mechanism, "include:two.example.com");
}

TEST_F(SpfLimitTest, EleventhLookupAcrossIncludesIsPermerror) {
  // libspf2 counts each include afresh; the limit is per check.
  zone_.txt("example.com", "v=spf1 include:one.example.com include:two.example.com -all");
  zone_.txt("one.example.com",
            "v=spf1 a:n1.example.com a:n2.example.com mx:n3.example.com "
            "mx:n4.example.com");
  zone_.txt("two.example.com",
            "v=spf1 a:n5.example.com a:n6.example.com a:n7.example.com "
            "ptr:n8.example.com a:n9.example.com ip4:192.0.2.10");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("more than 10"));
  EXPECT_FALSE(asked("n9.example.com", RrType::a));  // the 11th is never asked
}

TEST_F(SpfLimitTest, RedirectsCount) {
  for (int i = 0; i < 11; ++i) {
    zone_.txt("r" + std::to_string(i) + ".example.com",
              "v=spf1 redirect=r" + std::to_string(i + 1) + ".example.com");
  }
  zone_.txt("r11.example.com", "v=spf1 +all");
  EXPECT_EQ(check("192.0.2.10", "a@r2.example.com").result, SpfResult::pass);  // 9 redirects
  const Spf spf = check("192.0.2.10", "a@r0.example.com");                     // 11
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("more than 10"));
}

TEST_F(SpfLimitTest, IncludeLoopEndsAtTheLimit) {
  zone_.txt("loop1.example.com", "v=spf1 include:loop2.example.com -all");
  zone_.txt("loop2.example.com", "v=spf1 include:loop1.example.com -all");
  EXPECT_EQ(check("192.0.2.10", "a@loop1.example.com").result, SpfResult::permerror);
}

TEST_F(SpfLimitTest, TwoVoidLookupsAreAllowed) {
  zone_.txt("example.com", "v=spf1 a:void1.example.com include:inc.example.com ?all");
  zone_.txt("inc.example.com", "v=spf1 mx:void2.example.com -all");
  EXPECT_EQ(check("192.0.2.10", "a@example.com").result, SpfResult::neutral);
}

TEST_F(SpfLimitTest, ThirdVoidLookupIsPermerrorAcrossIncludes) {
  zone_.txt("example.com",
            "v=spf1 a:void1.example.com include:inc.example.com exists:void3.example.com ?all");
  zone_.txt("inc.example.com", "v=spf1 mx:void2.example.com -all");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("more than 2"));
}

TEST_F(SpfLimitTest, ExplanationLookupIsNotALimitedLookup) {
  zone_.txt("example.com",
            "v=spf1 a:void1.example.com a:void2.example.com -all "
            "exp=nowhere.example.com");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::fail);
  EXPECT_THAT(spf.explanation, IsEmpty());
}

TEST_F(SpfLimitTest, MoreThanTenMxIsPermerror) {
  for (int i = 1; i <= 11; ++i) {
    zone_.mx("many.example.com", static_cast<std::uint16_t>(i),
             "n" + std::to_string(i) + ".example.com");
  }
  zone_.txt("many.example.com", "v=spf1 mx -all");
  const Spf spf = check("192.0.2.10", "a@many.example.com");
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("MX"));
}

// --- explanations (RFC 7208 §6.2) -------------------------------------------------------------

TEST_F(SpfCheckTest, ExplanationForFailWithMacros) {
  zone_.txt("example.com", "v=spf1 -all exp=exp.%{d}");
  zone_.txt("exp.example.com",
            "%{i} may not send for %{d} (%{s}, HELO %{h}, via %{r}); see "
            "http://example.com/?%{L}");
  const Spf spf = check("192.0.2.10", "j&j@example.com");
  EXPECT_EQ(spf.result, SpfResult::fail);
  EXPECT_EQ(spf.explanation,
            "192.0.2.10 may not send for example.com (j&j@example.com, HELO mx.example.net, via "
            "receiver.example.org); see http://example.com/?j%26j");
}

TEST_F(SpfCheckTest, ExplanationOnlyForFail) {
  zone_.txt("example.com", "v=spf1 ~all exp=exp.example.com");
  zone_.txt("exp.example.com", "not for you");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::softfail);
  EXPECT_THAT(spf.explanation, IsEmpty());
  EXPECT_FALSE(asked("exp.example.com", RrType::txt));
}

TEST_F(SpfCheckTest, UnusableExplanationsAreIgnored) {
  zone_.txt("t1.example.com", "v=spf1 -all exp=slow.example.com");
  zone_.timeout("slow.example.com");
  zone_.txt("t2.example.com", "v=spf1 -all exp=two.example.com");
  zone_.txt("two.example.com", "one");
  zone_.txt("two.example.com", "two");
  zone_.txt("t3.example.com", "v=spf1 -all exp=bad.example.com");
  zone_.txt("bad.example.com", "50%{x} off");
  for (const auto* sender : {"a@t1.example.com", "a@t2.example.com", "a@t3.example.com"}) {
    const Spf spf = check("192.0.2.10", sender);
    EXPECT_EQ(spf.result, SpfResult::fail) << sender;
    EXPECT_THAT(spf.explanation, IsEmpty()) << sender;
  }
}

TEST_F(SpfCheckTest, RedirectTargetsExplanationIncludesIsNot) {
  zone_.txt("example.com",
            "v=spf1 include:inc.example.com exp=outer.example.com "
            "redirect=target.example.com");
  zone_.txt("inc.example.com", "v=spf1 -all exp=inner.example.com");
  zone_.txt("target.example.com", "v=spf1 -all exp=target-exp.example.com");
  zone_.txt("outer.example.com", "outer");
  zone_.txt("inner.example.com", "inner");
  zone_.txt("target-exp.example.com", "target for %{d}");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::fail);
  EXPECT_EQ(spf.explanation, "target for target.example.com");
  EXPECT_EQ(spf.mechanism, "-all");
  EXPECT_EQ(spf.domain, "example.com");
  EXPECT_EQ(spf.record,
            "v=spf1 include:inc.example.com exp=outer.example.com "
            "redirect=target.example.com");
}

// --- syntax and errors -----------------------------------------------------------------------

TEST_F(SpfCheckTest, SyntaxErrorAnywhereIsPermerrorNamingTheTerm) {
  zone_.txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all moo");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("unknown mechanism 'moo'"));
  EXPECT_THAT(spf.mechanism, IsEmpty());
}

TEST_F(SpfCheckTest, ProblemTextIsPrintable) {
  zone_.txt("example.com", "v=spf1 a:ex\x01mple.com -all");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("\\x01"));
  EXPECT_THAT(spf.problem, Not(HasSubstr("\x01")));
}

TEST_F(SpfCheckTest, MultipleRecordsArePermerror) {
  zone_.txt("example.com", "v=spf1 -all");
  zone_.txt("example.com", "V=SPF1 +all");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::permerror);
  EXPECT_THAT(spf.problem, HasSubstr("2 SPF records"));
}

TEST_F(SpfCheckTest, DnsFailuresAreTemperror) {
  zone_.timeout("slow.example.com");
  EXPECT_EQ(check("192.0.2.10", "a@slow.example.com").result, SpfResult::temperror);
  zone_.fail("bogus.example.com", RrType::txt, Outcome::bogus);
  EXPECT_EQ(check("192.0.2.10", "a@bogus.example.com").result, SpfResult::temperror);

  zone_.txt("example.com", "v=spf1 a:broken.example.com -all");
  zone_.fail("broken.example.com", RrType::a, Outcome::servfail);
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::temperror);
  EXPECT_THAT(spf.problem, HasSubstr("a:broken.example.com"));
  EXPECT_THAT(spf.problem, HasSubstr("SERVFAIL"));
}

TEST_F(SpfCheckTest, EvidenceHoldsEveryAnswerInOrder) {
  zone_.txt("example.com", "v=spf1 a:mail.example.com mx -all");
  zone_.a("mail.example.com", "198.51.100.1");
  zone_.mx("example.com", 10, "mail.example.com");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::fail);
  ASSERT_EQ(spf.evidence.size(), 3U);
  EXPECT_EQ(spf.evidence[0].name, "example.com");
  EXPECT_EQ(spf.evidence[0].type, RrType::txt);
  EXPECT_EQ(spf.evidence[1].name, "mail.example.com");
  EXPECT_EQ(spf.evidence[1].type, RrType::a);
  EXPECT_EQ(spf.evidence[2].type, RrType::mx);  // the exchange's A answer is reused
}

// --- things libspf2 alone gets wrong ----------------------------------------------------------

TEST_F(SpfCheckTest, LongRecordKeepsItsLastMechanism) {
  // libspf2 1.2.10 silently drops mechanisms past 511 compiled bytes.
  std::string record = "v=spf1";
  for (int i = 0; i < 80; ++i) record += " ip4:10.0." + std::to_string(i) + ".0/24";
  zone_.txt("example.com", record + " -all");
  const Spf spf = check("192.0.2.10", "a@example.com");
  EXPECT_EQ(spf.result, SpfResult::fail);
  EXPECT_EQ(spf.mechanism, "-all");
}

TEST_F(SpfCheckTest, ZeroPrefixMatchesAnyAddress) {
  zone_.txt("example.com", "v=spf1 a:some.example.com/0 -all");
  zone_.txt("mx.example.com", "v=spf1 mx:some.example.com//0 -all");
  zone_.a("some.example.com", "198.51.100.1");
  zone_.aaaa("other.example.com", "2001:db8::99");
  zone_.mx("some.example.com", 10, "other.example.com");
  EXPECT_EQ(check("192.0.2.10", "a@example.com").result, SpfResult::pass);
  EXPECT_EQ(check("2001:db8::1", "a@example.com").result, SpfResult::fail);
  EXPECT_EQ(check("2001:db8::1", "a@mx.example.com").result, SpfResult::pass);
  EXPECT_EQ(check("192.0.2.10", "a@mx.example.com").result, SpfResult::fail);
}

TEST_F(SpfCheckTest, RedirectIsEvaluatedAfterTheMechanisms) {
  zone_.txt("example.com", "v=spf1 redirect=other.example.com ip4:192.0.2.0/24");
  zone_.txt("other.example.com", "v=spf1 -all");
  EXPECT_EQ(check("192.0.2.10", "a@example.com").result, SpfResult::pass);
  EXPECT_EQ(check("198.51.100.1", "a@example.com").result, SpfResult::fail);
}

TEST_F(SpfCheckTest, MacroTargetsReachDnsUnchanged) {
  zone_.txt("example.com", "v=spf1 exists:%{l}.%{i}.list.example.com -all");
  zone_.a("x%y z.192.0.2.10.list.example.com", "127.0.0.2");
  EXPECT_EQ(check("192.0.2.10", "x%y z@example.com").result, SpfResult::pass);
}

TEST_F(SpfCheckTest, ToString) {
  EXPECT_EQ(to_string(SpfResult::none), "none");
  EXPECT_EQ(to_string(SpfResult::neutral), "neutral");
  EXPECT_EQ(to_string(SpfResult::pass), "pass");
  EXPECT_EQ(to_string(SpfResult::fail), "fail");
  EXPECT_EQ(to_string(SpfResult::softfail), "softfail");
  EXPECT_EQ(to_string(SpfResult::temperror), "temperror");
  EXPECT_EQ(to_string(SpfResult::permerror), "permerror");
  EXPECT_EQ(to_string(SpfIdentity::mailfrom), "mailfrom");
  EXPECT_EQ(to_string(SpfIdentity::helo), "helo");
}

// --- concurrency -----------------------------------------------------------------------------

TEST_F(SpfCheckTest, ConcurrentChecksShareTheResolver) {
  zone_.txt("example.com", "v=spf1 a:mail.example.com include:inc.example.com -all");
  zone_.txt("inc.example.com", "v=spf1 ptr:example.com");
  zone_.a("mail.example.com", "192.0.2.1");
  zone_.ptr("2.2.0.192.in-addr.arpa", "host.example.com");
  zone_.a("host.example.com", "192.0.2.2");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const bool even = (i + t) % 2 == 0;
        const Spf spf = check(even ? "192.0.2.2" : "192.0.2.3", "a@example.com");
        if (spf.result != (even ? SpfResult::pass : SpfResult::fail)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace rdns::checks
