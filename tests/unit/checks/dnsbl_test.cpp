// DNS lists: the postscreen site syntax (every way to write it wrong), filters, once-per-pattern
// scoring, error answers, query names and the parallel lookups over the fake resolver.
#include "rdns/checks/dnsbl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testutil/fake_resolver.h"

namespace rdns::checks {
namespace {

using ::testing::HasSubstr;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::FakeResolver;
using testutil::ip;

DnsblSite site(std::string_view text) {
  auto parsed = parse_dnsbl_site(text);
  EXPECT_TRUE(parsed.site) << text << ": " << parsed.error;
  return parsed.site.value_or(DnsblSite{});
}

struct GoodSite {
  const char* text;
  const char* domain;
  int weight;
  bool filtered;
  const char* canonical;
};

TEST(DnsblSiteSyntax, AcceptsPostscreenEntries) {
  const GoodSite cases[] = {
      {"zen.spamhaus.org", "zen.spamhaus.org", 1, false, "zen.spamhaus.org"},
      {"ZEN.Spamhaus.ORG.", "zen.spamhaus.org", 1, false, "zen.spamhaus.org"},
      {"bl.spamcop.net*2", "bl.spamcop.net", 2, false, "bl.spamcop.net*2"},
      {"zen.spamhaus.org=127.0.0.[2..11]*3", "zen.spamhaus.org", 3, true,
       "zen.spamhaus.org=127.0.0.[2..11]*3"},
      {"list.dnswl.org=127.0.[0..255].[1..3]*-5", "list.dnswl.org", -5, true,
       "list.dnswl.org=127.0.[0..255].[1..3]*-5"},
      {"b.example.net=127.0.0.[2;4;6..8]", "b.example.net", 1, true,
       "b.example.net=127.0.0.[2;4;6..8]"},
      {"b.example.net=127.0.0.[5]*2", "b.example.net", 2, true, "b.example.net=127.0.0.5*2"},
      {"b.example.net*1", "b.example.net", 1, false, "b.example.net"},
      {"dbl.spamhaus.org=127.0.1.[2..99]", "dbl.spamhaus.org", 1, true,
       "dbl.spamhaus.org=127.0.1.[2..99]"},
      {"key_1.zen.dq.spamhaus.net*-1000", "key_1.zen.dq.spamhaus.net", -1000, false,
       "key_1.zen.dq.spamhaus.net*-1000"},
  };
  for (const auto& c : cases) {
    const auto parsed = parse_dnsbl_site(c.text);
    ASSERT_TRUE(parsed.site) << c.text << ": " << parsed.error;
    EXPECT_EQ(parsed.site->domain, c.domain) << c.text;
    EXPECT_EQ(parsed.site->weight, c.weight) << c.text;
    EXPECT_EQ(parsed.site->filter.has_value(), c.filtered) << c.text;
    EXPECT_EQ(parsed.site->text, c.canonical) << c.text;
    // The canonical form reads back as the same site (what --config-test prints is valid).
    const auto again = parse_dnsbl_site(parsed.site->text);
    ASSERT_TRUE(again.site) << parsed.site->text;
    EXPECT_EQ(*again.site, *parsed.site);
  }
}

struct BadSite {
  const char* text;
  const char* problem;  // a part of the message
};

TEST(DnsblSiteSyntax, RefusesEveryMalformedEntryWithThePrecisePoint) {
  const BadSite cases[] = {
      {"", "the entry is empty"},
      {"=127.0.0.2", "the list's domain is missing"},
      {"*2", "the list's domain is missing"},
      {"localhost", "at least two labels"},
      {"bl..example.org", "not a domain name"},
      {"-bl.example.org", "not a domain name"},
      {"bl.exa mple.org", "not a domain name"},
      {"bl.example.org/24", "not a domain name"},
      {"bl.example.org=", "'=' without a filter"},
      {"bl.example.org==127.0.0.2", "more than one '='"},
      {"bl.example.org=127.0.0.2=1", "more than one '='"},
      {"bl.example.org=127.0.0", "has 3 octet(s)"},
      {"bl.example.org=127.0.0.2.1", "has 5 octet(s)"},
      {"bl.example.org=127.0..2", "an octet of the filter is empty"},
      {"bl.example.org=127.0.0.256", "'256' is not a number from 0 to 255"},
      {"bl.example.org=127.0.0.0002", "'0002' is not a number"},
      {"bl.example.org=127.0.0.-1", "may hold only digits"},
      {"bl.example.org=127.0.0.x", "may hold only digits"},
      {"bl.example.org=127.0.0.[2..11", "without a closing ']'"},
      {"bl.example.org=127.0.0.2..11]", "']' without '['"},
      {"bl.example.org=127.0.0.[[2]]", "'[' inside '[...]'"},
      {"bl.example.org=127.0.0.[]", "allows nothing"},
      {"bl.example.org=127.0.0.[2;;3]", "has an empty item"},
      {"bl.example.org=127.0.0.[2;]", "has an empty item"},
      {"bl.example.org=127.0.0.[11..2]", "runs backwards"},
      {"bl.example.org=127.0.0.[2..]", "needs two numbers"},
      {"bl.example.org=127.0.0.[..2]", "needs two numbers"},
      {"bl.example.org=127.0.0.[2..300]", "needs two numbers"},
      {"bl.example.org=127.0.0.[2...4]", "needs two numbers"},
      {"bl.example.org=127.0.0.[x]", "may hold only digits"},
      {"bl.example.org*", "weight '' after '*'"},
      {"bl.example.org*x", "weight 'x' after '*'"},
      {"bl.example.org*2.5", "weight '2.5' after '*'"},
      {"bl.example.org*1001", "from -1000 to 1000"},
      {"bl.example.org*0", "a weight of 0 never counts"},
      {"bl.example.org*2*3", "more than one '*'"},
      {"bl.example.org*2=127.0.0.2", "weight '2=127.0.0.2'"},
  };
  for (const auto& c : cases) {
    const auto parsed = parse_dnsbl_site(c.text);
    EXPECT_FALSE(parsed.site) << c.text;
    EXPECT_THAT(parsed.error, HasSubstr(c.problem)) << c.text;
    EXPECT_THAT(parsed.error, HasSubstr("expected domain[=d.d.d.d][*weight]")) << c.text;
  }
}

TEST(DnsblSiteSyntax, SplitsAListOnCommasAndSpaceButNotInsideBrackets) {
  EXPECT_EQ(split_dnsbl_sites(" a.example=127.0.0.[2; 3],b.example*2\tc.example ,, "),
            (std::vector<std::string>{"a.example=127.0.0.[2;3]", "b.example*2", "c.example"}));
  EXPECT_TRUE(split_dnsbl_sites("").empty());
}

TEST(DnsblFilter, MatchesEachOctetAgainstItsSet) {
  const auto zen = site("zen.spamhaus.org=127.0.0.[2..11]");
  EXPECT_TRUE(zen.matches(ip("127.0.0.2")));
  EXPECT_TRUE(zen.matches(ip("127.0.0.11")));
  EXPECT_FALSE(zen.matches(ip("127.0.0.1")));
  EXPECT_FALSE(zen.matches(ip("127.0.0.12")));
  EXPECT_FALSE(zen.matches(ip("127.0.1.2")));
  const auto many = site("x.example=127.[0;2].0.[1;4..5]");
  EXPECT_TRUE(many.matches(ip("127.2.0.5")));
  EXPECT_FALSE(many.matches(ip("127.1.0.5")));
  EXPECT_FALSE(many.matches(ip("127.0.0.3")));
  EXPECT_FALSE(many.matches(ip("::1")));
  EXPECT_TRUE(site("x.example").matches(ip("127.0.0.200")));
}

TEST(DnsblErrors, ClassifiesOperatorErrorCodesWithTheirFix) {
  const DnsblErrorCodes none;
  const auto reason = [&none](const char* answer) {
    return dnsbl_error_reason("zen.spamhaus.org", ip(answer), none);
  };
  EXPECT_THAT(reason("127.255.255.254").value_or(""), HasSubstr("public or shared resolver"));
  EXPECT_THAT(reason("127.255.255.254").value_or(""), HasSubstr("DQS key"));
  EXPECT_THAT(reason("127.255.255.252").value_or(""), HasSubstr("typing error"));
  EXPECT_THAT(reason("127.255.255.255").value_or(""), HasSubstr("excessive number of queries"));
  EXPECT_THAT(reason("127.255.255.1").value_or(""), HasSubstr("127.255.255.0/24"));
  EXPECT_THAT(reason("127.0.1.255").value_or(""), HasSubstr("rhsbl-sites"));
  EXPECT_THAT(reason("127.0.0.255").value_or(""), HasSubstr("refuses our queries"));
  EXPECT_THAT(reason("192.0.2.1").value_or(""), HasSubstr("outside 127.0.0.0/8"));
  EXPECT_THAT(reason("::1").value_or(""), HasSubstr("outside 127.0.0.0/8"));
  EXPECT_FALSE(reason("127.0.0.2"));
  EXPECT_FALSE(reason("127.0.1.2"));
  EXPECT_FALSE(reason("127.0.0.10"));
  const DnsblErrorCodes extra{{*dns::Network::parse("127.0.0.10/31")}};
  EXPECT_THAT(dnsbl_error_reason("x.example", ip("127.0.0.11"), extra).value_or(""),
              HasSubstr("dnsbl-error-codes"));
  EXPECT_FALSE(dnsbl_error_reason("x.example", ip("127.0.0.12"), extra));
}

TEST(DnsblQueryName, ReversesOctetsAndNibbles) {
  EXPECT_EQ(dnsbl_query_name(ip("192.0.2.7"), "zen.spamhaus.org"), "7.2.0.192.zen.spamhaus.org");
  EXPECT_EQ(dnsbl_query_name(ip("2001:db8::1"), "bl.example"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example");
  // RFC 5782 §5: an IPv6 list's test entry ::FFFF:7F00:2.
  EXPECT_EQ(dnsbl_query_name(ip("::ffff:127.0.0.2"), "bl.example"),
            "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example");
  EXPECT_EQ(rhsbl_query_name("Spammer.Example.", "dbl.spamhaus.org"),
            "spammer.example.dbl.spamhaus.org");
}

DnsblLookup lookup(const char* zone, const char* query, std::vector<const char*> addresses,
                   DnsblSource source = DnsblSource::client, const char* txt = nullptr) {
  DnsblLookup out;
  out.zone = zone;
  out.query = query;
  out.source = source;
  if (source != DnsblSource::client) out.domain = "spammer.example";
  out.a.name = query;
  out.a.outcome = addresses.empty() ? dns::Outcome::nxdomain : dns::Outcome::ok;
  for (const auto* address : addresses) out.a.addresses.push_back(ip(address));
  if (txt != nullptr) {
    dns::Answer text;
    text.name = query;
    text.type = dns::RrType::txt;
    text.outcome = dns::Outcome::ok;
    text.texts = {txt};
    out.txt = text;
  }
  return out;
}

std::vector<DnsblSite> sites(std::initializer_list<const char*> texts) {
  std::vector<DnsblSite> out;
  for (const auto* text : texts) out.push_back(site(text));
  return out;
}

TEST(DnsblScore, APatternCountsOnceHoweverManyOfItsAnswersMatch) {
  const auto lists = sites(
      {"zen.spamhaus.org=127.0.0.[2..11]*3", "zen.spamhaus.org=127.0.0.4*2", "bl.spamcop.net*2"});
  const auto result = decide_dnsbl(
      lists, {},
      {lookup("zen.spamhaus.org", "7.2.0.192.zen.spamhaus.org",
              {"127.0.0.2", "127.0.0.4", "127.0.0.10"}, DnsblSource::client, "Listed by SBL"),
       lookup("bl.spamcop.net", "7.2.0.192.bl.spamcop.net", {})},
      {}, {});
  // 3 for the range (three answers, once), 2 for the second zen pattern: 5.
  EXPECT_EQ(result.score, 5);
  EXPECT_EQ(result.result, DnsblResult::listed);
  ASSERT_EQ(result.hits.size(), 2U);
  EXPECT_EQ(result.hits[0].weight, 3);
  EXPECT_EQ(result.hits[0].answer,
            (std::vector<dns::IpAddress>{ip("127.0.0.2"), ip("127.0.0.4"), ip("127.0.0.10")}));
  EXPECT_EQ(result.hits[0].txt, "Listed by SBL");
  EXPECT_EQ(result.hits[1].weight, 2);
  EXPECT_EQ(result.hits[1].answer, (std::vector<dns::IpAddress>{ip("127.0.0.4")}));
  EXPECT_TRUE(result.errors.empty());
}

TEST(DnsblScore, BelowTheThresholdIsCleanAndAllowListsSubtract) {
  const auto lists = sites({"bl.example=127.0.0.2*2", "list.dnswl.org=127.0.[0..255].[1..3]*-5"});
  const std::vector<DnsblLookup> both{
      lookup("bl.example", "q1.bl.example", {"127.0.0.2"}),
      lookup("list.dnswl.org", "q1.list.dnswl.org", {"127.0.10.1"})};
  DnsblScoring scoring;
  scoring.threshold = 3;
  auto result = decide_dnsbl(lists, {}, {both[0]}, {}, scoring);
  EXPECT_EQ(result.score, 2);
  EXPECT_EQ(result.result, DnsblResult::clean);
  result = decide_dnsbl(lists, {}, both, {}, scoring);
  EXPECT_EQ(result.score, -3);
  EXPECT_EQ(result.result, DnsblResult::clean);  // allow-list threshold off (0)
  scoring.allowlist_threshold = -3;
  result = decide_dnsbl(lists, {}, both, {}, scoring);
  EXPECT_EQ(result.result, DnsblResult::allowlisted);
  scoring.allowlist_threshold = -4;
  EXPECT_EQ(decide_dnsbl(lists, {}, both, {}, scoring).result, DnsblResult::clean);
}

TEST(DnsblScore, AGenericPtrNameAddsItsWeightAndCanTipTheScore) {
  const auto lists = sites({"bl.example=127.0.0.2*2"});
  const std::vector<DnsblLookup> hit{lookup("bl.example", "q1.bl.example", {"127.0.0.2"})};
  DnsblScoring scoring;
  scoring.threshold = 3;
  scoring.generic_ptr_weight = 1;
  // Not generic: the weight is not added.
  auto result = decide_dnsbl(lists, {}, hit, {}, scoring, false);
  EXPECT_EQ(result.score, 2);
  EXPECT_EQ(result.generic_weight, 0);
  EXPECT_EQ(result.result, DnsblResult::clean);
  // Generic: 2 + 1 reaches the threshold.
  result = decide_dnsbl(lists, {}, hit, {}, scoring, true);
  EXPECT_EQ(result.score, 3);
  EXPECT_EQ(result.generic_weight, 1);
  EXPECT_EQ(result.result, DnsblResult::listed);
  // The weight alone can reach the threshold; a weight of 0 (the default) never lists.
  scoring.generic_ptr_weight = 3;
  EXPECT_EQ(decide_dnsbl(lists, {}, {}, {}, scoring, true).result, DnsblResult::listed);
  scoring.generic_ptr_weight = 0;
  scoring.threshold = 1;
  result = decide_dnsbl(lists, {}, {}, {}, scoring, true);
  EXPECT_EQ(result.score, 0);
  EXPECT_EQ(result.result, DnsblResult::clean);
}

TEST(DnsblScore, ErrorAnswersAreNeverListingsAndFailuresAreSkipped) {
  const auto lists = sites({"zen.spamhaus.org", "bl.example*2"});
  auto failed = lookup("bl.example", "q.bl.example", {});
  failed.a = failure_answer("q.bl.example", dns::RrType::a, dns::Outcome::servfail);
  const auto result = decide_dnsbl(
      lists, {}, {lookup("zen.spamhaus.org", "q.zen.spamhaus.org", {"127.255.255.254"}), failed},
      {}, {});
  EXPECT_EQ(result.score, 0);
  EXPECT_TRUE(result.hits.empty());
  EXPECT_EQ(result.result, DnsblResult::error);
  EXPECT_TRUE(result.dns_failure);
  ASSERT_EQ(result.errors.size(), 2U);
  EXPECT_EQ(result.errors[0].zone, "zen.spamhaus.org");
  EXPECT_EQ(result.errors[0].answer, "127.255.255.254");
  EXPECT_EQ(result.errors[0].outcome, "");
  EXPECT_THAT(result.errors[0].reason, HasSubstr("public or shared resolver"));
  EXPECT_EQ(result.errors[1].outcome, "servfail");
  EXPECT_EQ(result.errors[1].answer, "");
}

TEST(DnsblScore, AMixedAnswerWithAnErrorCodeIsAnError) {
  const auto lists = sites({"zen.spamhaus.org"});
  const auto result = decide_dnsbl(
      lists, {}, {lookup("zen.spamhaus.org", "q", {"127.0.0.2", "127.255.255.255"})}, {}, {});
  EXPECT_TRUE(result.hits.empty());
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].answer, "127.255.255.255");
}

TEST(DnsblScore, DomainListsAddToTheSameScoreAndTheReplyMapHidesTheZone) {
  const auto lists = sites({"key.zen.dq.example*2"});
  const auto domains = sites({"dbl.example=127.0.1.[2..99]"});
  DnsblScoring scoring;
  scoring.threshold = 3;
  scoring.reply_map = {{"key.zen.dq.example", "zen.example"}};
  const auto result = decide_dnsbl(
      lists, domains,
      {lookup("key.zen.dq.example", "7.2.0.192.key.zen.dq.example", {"127.0.0.2"}),
       lookup("dbl.example", "spammer.example.dbl.example", {"127.0.1.2"}, DnsblSource::helo)},
      {{"gone.example", "paused", "127.255.255.254", "public resolver", "q.gone.example", "",
        DnsblSource::client}},
      scoring);
  EXPECT_EQ(result.score, 3);
  EXPECT_EQ(result.result, DnsblResult::listed);
  ASSERT_EQ(result.hits.size(), 2U);
  EXPECT_EQ(result.hits[0].zone, "zen.example");
  EXPECT_EQ(result.hits[1].domain, "spammer.example");
  EXPECT_EQ(result.hits[1].source, DnsblSource::helo);
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].outcome, "paused");
  EXPECT_EQ(result.errors[0].real_zone, "gone.example");
}

TEST(DnsblScore, TxtRecordsArePrintableAndBounded) {
  const auto lists = sites({"bl.example"});
  const std::string hostile = "Listed\r\nX-Injected: yes" + std::string(400, 'a');
  const auto result = decide_dnsbl(
      lists, {}, {lookup("bl.example", "q", {"127.0.0.2"}, DnsblSource::client, hostile.c_str())},
      {}, {});
  ASSERT_EQ(result.hits.size(), 1U);
  EXPECT_EQ(result.hits[0].txt.find_first_of("\r\n"), std::string::npos);
  EXPECT_LE(result.hits[0].txt.size(), 250U);
}

TEST(DnsblTargets, OneQueryPerZoneAndNoOverlongNames) {
  const auto lists =
      sites({"zen.spamhaus.org=127.0.0.2", "zen.spamhaus.org=127.0.0.4", "bl.spamcop.net"});
  const auto targets = dnsbl_targets(lists, ip("192.0.2.7"));
  ASSERT_EQ(targets.size(), 2U);
  EXPECT_EQ(targets[0].query, "7.2.0.192.zen.spamhaus.org");
  EXPECT_EQ(targets[1].query, "7.2.0.192.bl.spamcop.net");
  const auto domains = sites({"dbl.example"});
  EXPECT_EQ(rhsbl_targets(domains, "Mail.Example.", DnsblSource::helo)[0].query,
            "mail.example.dbl.example");
  EXPECT_TRUE(rhsbl_targets(domains, std::string(250, 'a'), DnsblSource::helo).empty());
}

TEST(DnsblLookups, AsksEveryListInParallelAndTxtOnlyForRealAnswers) {
  FakeResolver resolver;
  resolver.set_deferred(true);
  resolver.add(a_answer("7.2.0.192.zen.example", {"127.0.0.4"}));
  dns::Answer txt;
  txt.name = "7.2.0.192.zen.example";
  txt.type = dns::RrType::txt;
  txt.outcome = dns::Outcome::ok;
  txt.texts = {"see https://zen.example/7"};
  resolver.add(txt);
  resolver.add(a_answer("7.2.0.192.pub.example", {"127.255.255.254"}));
  std::optional<std::vector<DnsblLookup>> got;
  start_dnsbl(resolver,
              dnsbl_targets(sites({"zen.example", "pub.example", "none.example"}), ip("192.0.2.7")),
              {}, [&got](std::vector<DnsblLookup> lookups) { got = std::move(lookups); });
  // All three A queries are out before any answer.
  EXPECT_EQ(resolver.pending(), 3U);
  resolver.release_all_reversed();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 3U);
  EXPECT_EQ((*got)[0].zone, "zen.example");
  ASSERT_TRUE((*got)[0].txt);
  EXPECT_EQ((*got)[0].txt->texts, std::vector<std::string>{"see https://zen.example/7"});
  EXPECT_FALSE((*got)[1].txt);  // an error code: no TXT asked
  EXPECT_EQ((*got)[2].a.outcome, dns::Outcome::nxdomain);
  EXPECT_EQ(resolver.count(dns::RrType::txt, false), 1U);
}

TEST(DnsblLookups, NothingToAskEndsAtOnce) {
  FakeResolver resolver;
  bool called = false;
  start_dnsbl(resolver, {}, {},
              [&called](std::vector<DnsblLookup> lookups) { called = lookups.empty(); });
  EXPECT_TRUE(called);
  EXPECT_TRUE(resolver.queries().empty());
}

}  // namespace
}  // namespace rdns::checks
