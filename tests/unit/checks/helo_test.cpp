// HELO/EHLO parsing (RFC 5321 §4.1.2, §4.1.3) and decision.
#include "rdns/checks/helo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/fake_resolver.h"

namespace rdns::checks {
namespace {

using Kind = HeloName::Kind;
using dns::Outcome;
using dns::RrType;
using testutil::a_answer;
using testutil::aaaa_answer;
using testutil::failure_answer;
using testutil::ip;

struct ParseCase {
  std::string text;
  Kind kind;
  std::string domain;  // expected domain, or literal text for address literals
};

class ParseHelo : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseHelo, Classifies) {
  const auto& c = GetParam();
  const auto parsed = parse_helo(c.text);
  EXPECT_EQ(parsed.kind, c.kind) << "'" << c.text << "': " << parsed.error;
  if (c.kind == Kind::domain) {
    EXPECT_EQ(parsed.domain, c.domain);
  } else if (c.kind == Kind::address_literal) {
    ASSERT_TRUE(parsed.literal);
    EXPECT_EQ(parsed.literal->to_string(), c.domain);
  } else {
    EXPECT_FALSE(parsed.error.empty()) << "an invalid name says why";
  }
}

const std::string label63(63, 'a');
const std::string label64(64, 'a');

INSTANTIATE_TEST_SUITE_P(
    Table, ParseHelo,
    ::testing::Values(
        ParseCase{"mail.example.com", Kind::domain, "mail.example.com"},
        ParseCase{"Mail.Example.COM.", Kind::domain, "mail.example.com"},
        ParseCase{"localhost", Kind::domain, "localhost"},
        ParseCase{"a-b.c0.example", Kind::domain, "a-b.c0.example"},
        ParseCase{"1st.example.com", Kind::domain, "1st.example.com"},
        ParseCase{label63 + ".example", Kind::domain, label63 + ".example"},
        ParseCase{"[192.0.2.7]", Kind::address_literal, "192.0.2.7"},
        ParseCase{"[IPv6:2001:db8::7]", Kind::address_literal, "2001:db8::7"},
        ParseCase{"[ipv6:2001:DB8::7]", Kind::address_literal, "2001:db8::7"},
        ParseCase{"", Kind::invalid, ""}, ParseCase{"192.0.2.7", Kind::invalid, ""},
        ParseCase{"2001:db8::7", Kind::invalid, ""}, ParseCase{"[300.1.1.1]", Kind::invalid, ""},
        ParseCase{"[IPv6:zzz]", Kind::invalid, ""},
        ParseCase{"[IPv6:192.0.2.7]", Kind::invalid, ""},
        ParseCase{"[2001:db8::7]", Kind::invalid, ""}, ParseCase{"[192.0.2.7", Kind::invalid, ""},
        ParseCase{"[]", Kind::invalid, ""}, ParseCase{"mail example.com", Kind::invalid, ""},
        ParseCase{"mail_1.example.com", Kind::invalid, ""},
        ParseCase{"-mail.example.com", Kind::invalid, ""},
        ParseCase{"mail-.example.com", Kind::invalid, ""},
        ParseCase{"mail..example.com", Kind::invalid, ""},
        ParseCase{".example.com", Kind::invalid, ""},
        ParseCase{"mail.example.com..", Kind::invalid, ""},
        ParseCase{"xn--bcher-kva.example", Kind::domain, "xn--bcher-kva.example"},
        ParseCase{"b\xc3\xbc"
                  "cher.example",
                  Kind::invalid, ""},
        ParseCase{"mail.example.com\r\nRCPT TO:<x@y>", Kind::invalid, ""},
        ParseCase{std::string("mail\0.example.com", 17), Kind::invalid, ""},
        ParseCase{"mail\t.example.com", Kind::invalid, ""},
        ParseCase{label64 + ".example", Kind::invalid, ""},
        ParseCase{std::string(300, 'a'), Kind::invalid, ""},
        ParseCase{"host.123", Kind::invalid, ""}));

TEST(ParseHelo, NameOf253OctetsIsTheLimit) {
  std::string name;
  while (name.size() < 253) name += (name.empty() ? "" : ".") + std::string(9, 'a');
  name.resize(253);
  if (name.back() == '.') name.back() = 'a';
  EXPECT_EQ(parse_helo(name).kind, Kind::domain);
  EXPECT_EQ(parse_helo(name + "a").kind, Kind::invalid);
}

TEST(PrivateNames, SpecialUseAndPrivateTldsAreNeverReal) {
  for (const char* name : {"exchange.local", "host.localhost", "box.localdomain", "x.invalid",
                           "a.test", "b.example", "srv.internal", "pc.lan", "nas.home.arpa",
                           "dc.corp", "x.onion", "mail.example.com", "LOCAL"}) {
    EXPECT_TRUE(is_private_name(dns::normalize_name(name))) << name;
  }
  for (const char* name : {"mail.example.de", "mx.google.com", "localmail.net", "home.arpa.net",
                           "testing.org", "mytest", "example.company"}) {
    EXPECT_FALSE(is_private_name(name)) << name;
  }
}

class DecideHelo : public ::testing::Test {
 protected:
  const dns::IpAddress client_ = ip("192.0.2.7");
  HeloIdentity identity_{{"mx.ours.example.de"}, {ip("198.51.100.25")}, false};

  Helo offline(std::string_view helo) {
    auto result = decide_helo_offline(helo, client_, identity_);
    EXPECT_TRUE(result.has_value()) << helo;
    return result.value_or(Helo{});
  }
};

TEST_F(DecideHelo, OfflineVerdicts) {
  EXPECT_EQ(offline("bad_name.example.de").reason, HeloReason::syntax);
  EXPECT_EQ(offline("EXCHANGE").reason, HeloReason::not_fqdn);
  EXPECT_EQ(offline("exchange.local").reason, HeloReason::bad_tld);
  EXPECT_EQ(offline("exchange.local").result, HeloResult::fail);
  EXPECT_EQ(offline("[192.0.2.7]").result, HeloResult::pass);
  EXPECT_EQ(offline("[192.0.2.8]").reason, HeloReason::mismatch);
  EXPECT_EQ(offline("[198.51.100.25]").reason, HeloReason::forged_local);
  EXPECT_EQ(offline("MX.Ours.Example.DE").reason, HeloReason::forged_local);
  EXPECT_FALSE(decide_helo_offline("mail.example.de", client_, identity_));
}

TEST_F(DecideHelo, TrustedClientsMayUseOurNames) {
  identity_.client_trusted = true;
  EXPECT_FALSE(decide_helo_offline("mx.ours.example.de", client_, identity_));
  EXPECT_EQ(offline("[198.51.100.25]").reason, HeloReason::mismatch);
}

TEST_F(DecideHelo, MappedClientMatchesIpv4Literal) {
  const auto helo = decide_helo_offline("[192.0.2.7]", ip("::ffff:192.0.2.7"), identity_);
  ASSERT_TRUE(helo);
  EXPECT_EQ(helo->result, HeloResult::pass);
}

HeloAnswers answers_for(std::string_view name, std::optional<dns::Answer> a,
                        std::optional<dns::Answer> aaaa, std::optional<dns::Answer> mx,
                        Outcome tld = Outcome::ok) {
  HeloAnswers answers;
  const std::string domain(name);
  const auto tld_name = domain.substr(domain.rfind('.') + 1);
  if (tld == Outcome::ok) {
    dns::Answer soa;
    soa.name = tld_name;
    soa.type = RrType::soa;
    soa.outcome = Outcome::ok;
    soa.names = {"a.nic." + tld_name};
    answers.tld = soa;
  } else {
    answers.tld = failure_answer(tld_name, RrType::soa, tld);
  }
  answers.a = std::move(a);
  answers.aaaa = std::move(aaaa);
  answers.mx = std::move(mx);
  return answers;
}

TEST_F(DecideHelo, ResolvesToTheClient) {
  const auto helo =
      decide_helo("mail.example.de", client_, identity_,
                  answers_for("mail.example.de", a_answer("mail.example.de", {"192.0.2.7"}),
                              failure_answer("mail.example.de", RrType::aaaa, Outcome::nodata),
                              failure_answer("mail.example.de", RrType::mx, Outcome::nodata)),
                  {});
  EXPECT_EQ(helo.result, HeloResult::pass);
  EXPECT_EQ(helo.addresses, std::vector<dns::IpAddress>{ip("192.0.2.7")});
  EXPECT_EQ(helo.evidence.size(), 4U);
}

TEST_F(DecideHelo, TldThatDoesNotExist) {
  const auto helo = decide_helo(
      "mail.example.nosuchtld", client_, identity_,
      answers_for("mail.example.nosuchtld",
                  failure_answer("mail.example.nosuchtld", RrType::a, Outcome::nxdomain),
                  failure_answer("mail.example.nosuchtld", RrType::aaaa, Outcome::nxdomain),
                  failure_answer("mail.example.nosuchtld", RrType::mx, Outcome::nxdomain),
                  Outcome::nxdomain),
      {});
  EXPECT_EQ(helo.reason, HeloReason::bad_tld);
}

TEST_F(DecideHelo, NoAddressMismatchAndPtrMatch) {
  const auto none = answers_for("mail.example.de",
                                failure_answer("mail.example.de", RrType::a, Outcome::nxdomain),
                                failure_answer("mail.example.de", RrType::aaaa, Outcome::nxdomain),
                                failure_answer("mail.example.de", RrType::mx, Outcome::nxdomain));
  EXPECT_EQ(decide_helo("mail.example.de", client_, identity_, none, {}).reason,
            HeloReason::no_address);

  const auto elsewhere =
      answers_for("mail.example.de", a_answer("mail.example.de", {"203.0.113.9"}),
                  failure_answer("mail.example.de", RrType::aaaa, Outcome::nodata),
                  failure_answer("mail.example.de", RrType::mx, Outcome::nodata));
  EXPECT_EQ(decide_helo("mail.example.de", client_, identity_, elsewhere, {}).reason,
            HeloReason::mismatch);
  // The same name is fine when it is the client's verified PTR name.
  const auto by_ptr =
      decide_helo("mail.example.de", client_, identity_, elsewhere, {"mail.example.de"});
  EXPECT_EQ(by_ptr.result, HeloResult::pass);
  EXPECT_TRUE(by_ptr.matched_by_ptr);

  // MX only: it exists for mail, but does not match the client.
  auto mx_only = none;
  dns::Answer mx;
  mx.name = "mail.example.de";
  mx.type = RrType::mx;
  mx.outcome = Outcome::ok;
  mx.mx = {{10, "mx.example.de"}};
  mx_only.mx = mx;
  EXPECT_EQ(decide_helo("mail.example.de", client_, identity_, mx_only, {}).reason,
            HeloReason::mismatch);
}

TEST_F(DecideHelo, TemporaryFailuresNeverBecomeFailures) {
  const auto servfail = answers_for(
      "mail.example.de", failure_answer("mail.example.de", RrType::a, Outcome::servfail),
      failure_answer("mail.example.de", RrType::aaaa, Outcome::nxdomain),
      failure_answer("mail.example.de", RrType::mx, Outcome::nxdomain));
  const auto helo = decide_helo("mail.example.de", client_, identity_, servfail, {});
  EXPECT_EQ(helo.result, HeloResult::temperror);
  EXPECT_EQ(helo.reason, HeloReason::dns_error);

  // An AAAA address that does not match, while the A lookup (the client's family) timed out.
  const auto unsure =
      answers_for("mail.example.de", failure_answer("mail.example.de", RrType::a, Outcome::timeout),
                  aaaa_answer("mail.example.de", {"2001:db8::99"}),
                  failure_answer("mail.example.de", RrType::mx, Outcome::nodata));
  EXPECT_EQ(decide_helo("mail.example.de", client_, identity_, unsure, {}).result,
            HeloResult::temperror);
}

TEST(HeloLookups, AsksTldAddressesAndMxInParallelOnlyWhenNeeded) {
  testutil::FakeResolver resolver;
  resolver.set_deferred(true);
  std::optional<HeloAnswers> got;
  start_helo_lookups(resolver, "Mail.Example.DE", [&](HeloAnswers answers) { got = answers; });
  EXPECT_EQ(resolver.pending(), 4U) << "all four queries start before any answer";
  resolver.release_all_shuffled(7);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->tld);
  EXPECT_EQ(got->tld->name, "de");
  EXPECT_EQ(got->a->name, "mail.example.de");

  for (const char* offline : {"exchange.local", "[192.0.2.7]", "EXCHANGE", "bad_name.de"}) {
    bool called = false;
    start_helo_lookups(resolver, offline, [&](HeloAnswers answers) {
      called = true;
      EXPECT_FALSE(answers.a);
    });
    EXPECT_TRUE(called) << offline;
  }
  EXPECT_EQ(resolver.queries().size(), 4U) << "no DNS for names decided offline";
}

}  // namespace
}  // namespace rdns::checks
