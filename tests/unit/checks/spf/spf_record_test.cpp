// The RFC 7208 record parser on its own: which TXT strings are SPF records (§4.5), and the §12
// grammar of mechanisms, qualifiers, CIDR lengths, domain-specs and modifiers (§6), valid and
// invalid, with the problem each invalid record reports.

#include "rdns/checks/spf_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace rdns::checks {
namespace {

using ::testing::IsEmpty;

/// Parses `text`; an invalid record fails the test and yields an empty one.
SpfRecord parse(std::string_view text) {
  std::string problem;
  auto record = parse_spf_record(text, problem);
  if (!record) {
    ADD_FAILURE() << "'" << text << "' did not parse: " << problem;
    return {};
  }
  return *record;
}

/// The single mechanism of "v=spf1 `term`".
SpfMechanism mechanism(std::string_view term) {
  const SpfRecord record = parse("v=spf1 " + std::string(term));
  if (record.mechanisms.size() != 1) {
    ADD_FAILURE() << term << ": " << record.mechanisms.size() << " mechanisms";
    return {};
  }
  return record.mechanisms.front();
}

/// The problem reported for an invalid record, or "(parsed)" if it parsed.
std::string problem_of(std::string_view text) {
  std::string problem;
  if (parse_spf_record(text, problem)) {
    return "(parsed)";
  }
  return problem;
}

SpfMacroString macro(std::string_view text) {
  std::string problem;
  auto spec = parse_spf_macro_string(text, SpfMacroUse::domain, problem);
  EXPECT_TRUE(spec.has_value()) << problem;
  return spec.value_or(SpfMacroString{});
}

dns::Network network(std::string_view address, unsigned length) {
  return dns::Network{*dns::IpAddress::parse(address), length};
}

TEST(SpfRecordSelection, VersionTagAnyCaseThenSpaceOrEnd) {
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("v=spf1 -all"));
  EXPECT_TRUE(is_spf_record("V=SpF1 a"));
  EXPECT_FALSE(is_spf_record("v=spf10"));
  EXPECT_FALSE(is_spf_record("v=spf1\t-all"));
  EXPECT_FALSE(is_spf_record("v=spf"));
  EXPECT_FALSE(is_spf_record(" v=spf1"));
  EXPECT_FALSE(is_spf_record("spf2.0/pra"));
  EXPECT_EQ(problem_of("v=spf10 -all"), "not an SPF record (no \"v=spf1\")");
}

TEST(SpfRecordParse, WholeRecord) {
  const SpfRecord record = parse(
      "v=spf1 -ip4:192.0.2.0/24 redirect=_spf.example.com ~a:%{d}.example.com/24//64 "
      "exp=explain.example.com");
  SpfRecord want;
  SpfMechanism ip4;
  ip4.qualifier = SpfResult::fail;
  ip4.kind = SpfMechanismKind::ip4;
  ip4.text = "-ip4:192.0.2.0/24";
  ip4.network = network("192.0.2.0", 24);
  SpfMechanism a;
  a.qualifier = SpfResult::softfail;
  a.kind = SpfMechanismKind::a;
  a.text = "~a:%{d}.example.com/24//64";
  a.spec = macro("%{d}.example.com");
  a.cidr4 = 24;
  a.cidr6 = 64;
  want.mechanisms = {ip4, a};
  want.redirect = macro("_spf.example.com");
  want.redirect_text = "redirect=_spf.example.com";
  want.exp = macro("explain.example.com");
  EXPECT_EQ(record, want);
}

TEST(SpfRecordParse, EmptyRecordAndExtraSpaces) {
  EXPECT_EQ(parse("v=spf1"), SpfRecord{});
  EXPECT_EQ(parse("v=spf1 "), SpfRecord{});
  const SpfRecord record = parse("v=spf1   a    -all  ");
  ASSERT_EQ(record.mechanisms.size(), 2U);
  EXPECT_EQ(record.mechanisms[0].text, "a");
  EXPECT_EQ(record.mechanisms[1].text, "-all");
}

TEST(SpfRecordParse, Qualifiers) {
  const SpfRecord record = parse("v=spf1 +all -all ~all ?all all");
  std::vector<SpfResult> qualifiers;
  for (const auto& mech : record.mechanisms) qualifiers.push_back(mech.qualifier);
  EXPECT_EQ(qualifiers,
            (std::vector<SpfResult>{SpfResult::pass, SpfResult::fail, SpfResult::softfail,
                                    SpfResult::neutral, SpfResult::pass}));
}

TEST(SpfRecordParse, EachMechanismKindAnyCase) {
  EXPECT_EQ(mechanism("ALL").kind, SpfMechanismKind::all);
  EXPECT_EQ(mechanism("Include:example.com").kind, SpfMechanismKind::include);
  EXPECT_EQ(mechanism("A").kind, SpfMechanismKind::a);
  EXPECT_EQ(mechanism("mX").kind, SpfMechanismKind::mx);
  EXPECT_EQ(mechanism("PTR").kind, SpfMechanismKind::ptr);
  EXPECT_EQ(mechanism("IP4:192.0.2.1").kind, SpfMechanismKind::ip4);
  EXPECT_EQ(mechanism("ip6:2001:db8::1").kind, SpfMechanismKind::ip6);
  EXPECT_EQ(mechanism("EXISTS:%{i}.example.com").kind, SpfMechanismKind::exists);
  // The text stays as written, for Spf::mechanism.
  EXPECT_EQ(mechanism("?MX:Example.COM").text, "?MX:Example.COM");
}

TEST(SpfRecordParse, OptionalAndRequiredDomainSpecs) {
  EXPECT_FALSE(mechanism("a").spec.has_value());
  EXPECT_FALSE(mechanism("mx").spec.has_value());
  EXPECT_FALSE(mechanism("ptr").spec.has_value());
  EXPECT_EQ(mechanism("ptr:example.com").spec, macro("example.com"));
  EXPECT_EQ(mechanism("include:_spf.example.com").spec, macro("_spf.example.com"));
  EXPECT_EQ(problem_of("v=spf1 include"), "missing domain-spec in 'include'");
  EXPECT_EQ(problem_of("v=spf1 exists"), "missing domain-spec in 'exists'");
  EXPECT_EQ(problem_of("v=spf1 include:"), "empty domain-spec in 'include:'");
  EXPECT_EQ(problem_of("v=spf1 all:example.com"), "'all' takes no argument in 'all:example.com'");
  EXPECT_EQ(problem_of("v=spf1 ptr/24"), "unexpected '/' in 'ptr/24'");
}

TEST(SpfRecordParse, DualCidrLengths) {
  const SpfMechanism plain = mechanism("a");
  EXPECT_FALSE(plain.cidr4.has_value());
  EXPECT_FALSE(plain.cidr6.has_value());
  const SpfMechanism v4 = mechanism("a/24");
  EXPECT_EQ(v4.cidr4, 24U);
  EXPECT_FALSE(v4.cidr6.has_value());
  const SpfMechanism v6 = mechanism("mx//64");
  EXPECT_FALSE(v6.cidr4.has_value());
  EXPECT_EQ(v6.cidr6, 64U);
  const SpfMechanism both = mechanism("mx:example.com/0//0");
  EXPECT_EQ(both.spec, macro("example.com"));
  EXPECT_EQ(both.cidr4, 0U);
  EXPECT_EQ(both.cidr6, 0U);
  EXPECT_EQ(mechanism("a/32//128").cidr6, 128U);

  EXPECT_EQ(problem_of("v=spf1 a/33"), "invalid IPv4 CIDR length in 'a/33'");
  EXPECT_EQ(problem_of("v=spf1 a//129"), "invalid IPv6 CIDR length in 'a//129'");
  EXPECT_EQ(problem_of("v=spf1 mx/24//200"), "invalid IPv6 CIDR length in 'mx/24//200'");
  // A leading zero is no cidr-length, so "/024" is left over where a domain-spec would start.
  EXPECT_EQ(problem_of("v=spf1 a/024"), "unexpected '/' in 'a/024'");
  EXPECT_EQ(problem_of("v=spf1 a/"), "unexpected '/' in 'a/'");
}

TEST(SpfRecordParse, IpNetworks) {
  EXPECT_EQ(mechanism("ip4:192.0.2.1").network, network("192.0.2.1", 32));
  EXPECT_EQ(mechanism("ip4:192.0.2.0/24").network, network("192.0.2.0", 24));
  EXPECT_EQ(mechanism("ip4:0.0.0.0/0").network, network("0.0.0.0", 0));
  EXPECT_EQ(mechanism("ip6:2001:db8::1").network, network("2001:db8::1", 128));
  EXPECT_EQ(mechanism("ip6:2001:db8::/32").network, network("2001:db8::", 32));
  EXPECT_EQ(mechanism("ip6:::/0").network, network("::", 0));

  EXPECT_EQ(problem_of("v=spf1 ip4"), "missing address in 'ip4'");
  EXPECT_EQ(problem_of("v=spf1 ip4/24"), "missing address in 'ip4/24'");
  EXPECT_EQ(problem_of("v=spf1 ip4:"), "invalid IPv4 address in 'ip4:'");
  EXPECT_EQ(problem_of("v=spf1 ip4:192.0.2"), "invalid IPv4 address in 'ip4:192.0.2'");
  EXPECT_EQ(problem_of("v=spf1 ip4:192.0.02.1"), "invalid IPv4 address in 'ip4:192.0.02.1'");
  EXPECT_EQ(problem_of("v=spf1 ip4:2001:db8::1"), "invalid IPv4 address in 'ip4:2001:db8::1'");
  EXPECT_EQ(problem_of("v=spf1 ip6:192.0.2.1"), "invalid IPv6 address in 'ip6:192.0.2.1'");
  EXPECT_EQ(problem_of("v=spf1 ip4:192.0.2.0/33"), "invalid CIDR length in 'ip4:192.0.2.0/33'");
  EXPECT_EQ(problem_of("v=spf1 ip4:192.0.2.0/08"), "invalid CIDR length in 'ip4:192.0.2.0/08'");
  EXPECT_EQ(problem_of("v=spf1 ip6:2001:db8::/129"), "invalid CIDR length in 'ip6:2001:db8::/129'");
  EXPECT_EQ(problem_of("v=spf1 ip4:192.0.2.0/"), "invalid CIDR length in 'ip4:192.0.2.0/'");
}

TEST(SpfRecordParse, DomainSpecEndsInATopLabelOrAMacro) {
  EXPECT_EQ(mechanism("a:example.com.").spec, macro("example.com."));
  EXPECT_EQ(mechanism("a:%{d}").spec, macro("%{d}"));
  EXPECT_EQ(mechanism("a:mail.%{d2}").spec, macro("mail.%{d2}"));
  EXPECT_EQ(mechanism("a:example.c-om").spec, macro("example.c-om"));
  EXPECT_EQ(mechanism("a:example.123a").spec, macro("example.123a"));
  EXPECT_EQ(mechanism("a:foo:bar/baz.example.com").spec, macro("foo:bar/baz.example.com"));
  for (const std::string_view bad : {"example.123", "localhost", "example.-com", "example.com-",
                                     "example.co_m", "example.com.."}) {
    EXPECT_EQ(problem_of("v=spf1 a:" + std::string(bad)),
              "'" + std::string(bad) +
                  "' does not end in a valid top-level label or a macro in 'a:" + std::string(bad) +
                  "'");
  }
  EXPECT_EQ(problem_of("v=spf1 a:%{q}.example.com"),
            "unknown macro letter in '%{q}' in 'a:%{q}.example.com'");
  EXPECT_EQ(problem_of("v=spf1 exists:%{c}.example.com"),
            "macro '%{c}' is allowed only in explanation text in 'exists:%{c}.example.com'");
  EXPECT_EQ(problem_of("v=spf1 include:example.com%"),
            "'%' at the end of a macro-string in 'include:example.com%'");
}

TEST(SpfRecordParse, UnknownMechanisms) {
  EXPECT_EQ(problem_of("v=spf1 foo"), "unknown mechanism 'foo'");
  EXPECT_EQ(problem_of("v=spf1 -foo:example.com"), "unknown mechanism '-foo:example.com'");
  EXPECT_EQ(problem_of("v=spf1 +"), "unknown mechanism '+'");
  EXPECT_EQ(problem_of("v=spf1 =foo"), "unknown mechanism '=foo'");
  // A modifier name starts with a letter: this is no modifier.
  EXPECT_EQ(problem_of("v=spf1 1foo=bar"), "unknown mechanism '1foo=bar'");
  // An error anywhere is an error, even after a mechanism that would match (RFC 7208 §4.6).
  EXPECT_EQ(problem_of("v=spf1 +all foo"), "unknown mechanism 'foo'");
  EXPECT_EQ(problem_of("v=spf1 \x01"), "unknown mechanism '\\x01'");
}

TEST(SpfRecordParse, RedirectAndExp) {
  const SpfRecord record = parse("v=spf1 Redirect=_spf.%{d} EXP=why.%{d}");
  EXPECT_THAT(record.mechanisms, IsEmpty());
  EXPECT_EQ(record.redirect, macro("_spf.%{d}"));
  EXPECT_EQ(record.redirect_text, "Redirect=_spf.%{d}");
  EXPECT_EQ(record.exp, macro("why.%{d}"));
  EXPECT_FALSE(parse("v=spf1 -all").redirect.has_value());
  EXPECT_FALSE(parse("v=spf1 -all").exp.has_value());

  EXPECT_EQ(problem_of("v=spf1 redirect=a.example redirect=b.example"),
            "'redirect=' appears more than once");
  EXPECT_EQ(problem_of("v=spf1 exp=a.example -all EXP=b.example"), "'exp=' appears more than once");
  EXPECT_EQ(problem_of("v=spf1 redirect="), "empty domain-spec in 'redirect='");
  EXPECT_EQ(problem_of("v=spf1 exp=example"),
            "'example' does not end in a valid top-level label or a macro in 'exp=example'");
  // exp= names a domain: the explanation-only macros are not allowed in it.
  EXPECT_EQ(problem_of("v=spf1 exp=%{r}.example.com"),
            "macro '%{r}' is allowed only in explanation text in 'exp=%{r}.example.com'");
}

TEST(SpfRecordParse, UnknownModifiersAreCheckedAndDropped) {
  EXPECT_EQ(parse("v=spf1 foo=bar -all"), parse("v=spf1 -all"));
  EXPECT_EQ(parse("v=spf1 moo.cow-far_out=man:dog/cat"), SpfRecord{});
  EXPECT_EQ(parse("v=spf1 x=%{l}.%{d2}"), SpfRecord{});
  EXPECT_EQ(parse("v=spf1 x="), SpfRecord{});
  // Well-formed is still required (RFC 7208 §6), with the domain-spec macro rules.
  EXPECT_EQ(problem_of("v=spf1 x=%{q}"), "unknown macro letter in '%{q}' in 'x=%{q}'");
  EXPECT_EQ(problem_of("v=spf1 x=%{t}"),
            "macro '%{t}' is allowed only in explanation text in 'x=%{t}'");
  EXPECT_EQ(problem_of("v=spf1 x=100%"), "'%' at the end of a macro-string in 'x=100%'");
  // Modifiers are not mechanisms: an unknown one may repeat.
  EXPECT_EQ(parse("v=spf1 x=1 x=2"), SpfRecord{});
}

}  // namespace
}  // namespace rdns::checks
