// The RFC 7208 §7 macro expander on its own: parsing macro-strings (letters, transformers,
// delimiters, escapes, what is invalid where) and expanding them, with the §7.4 examples.

#include "rdns/checks/spf_macro.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rdns::checks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

dns::IpAddress ip(std::string_view text) {
  return *dns::IpAddress::parse(text);
}

/// The values of RFC 7208 §7.4: sender strong-bad@email.example.com, <domain>
/// email.example.com, client 192.0.2.3 (or `client`).
SpfMacroValues rfc_values(std::string_view client = "192.0.2.3") {
  const dns::IpAddress address = ip(client);
  SpfMacroValues values;
  values.sender = "strong-bad@email.example.com";
  values.local = "strong-bad";
  values.sender_domain = "email.example.com";
  values.domain = "email.example.com";
  values.ip = spf_macro_ip(address);
  values.pretty_ip = address.to_string();
  values.version = address.is_v4() ? "in-addr" : "ip6";
  values.helo = "mx.example.org";
  values.receiver = "receiver.example.net";
  values.time = 1234567890;
  return values;
}

/// Parses and expands `text`; an unparsable text fails the test.
std::string expand(std::string_view text, const SpfMacroValues& values,
                   SpfMacroUse use = SpfMacroUse::domain) {
  std::string problem;
  const auto spec = parse_spf_macro_string(text, use, problem);
  if (!spec) {
    ADD_FAILURE() << "'" << text << "' did not parse: " << problem;
    return {};
  }
  return expand_spf_macros(*spec, values, use);
}

/// The problem reported for an invalid `text`, or "(parsed)" if it parsed.
std::string problem_of(std::string_view text, SpfMacroUse use = SpfMacroUse::domain) {
  std::string problem;
  if (parse_spf_macro_string(text, use, problem)) {
    return "(parsed)";
  }
  return problem;
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  const SpfMacroValues values = rfc_values();
  const std::vector<std::pair<std::string_view, std::string_view>> examples = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const auto& [macro, want] : examples) {
    EXPECT_EQ(expand(macro, values), want) << macro;
  }
}

TEST(SpfMacro, Rfc7208Section74Ipv6Example) {
  // The RFC writes the nibbles in lower case; we write them in upper case as the RFC 7208 test
  // suite and pyspf do (DNS names compare without case).
  const SpfMacroValues values = rfc_values("2001:db8::cb01");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", values),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
  EXPECT_EQ(expand("%{c}", values, SpfMacroUse::explanation), "2001:db8::cb01");
}

TEST(SpfMacro, IpMacroValue) {
  EXPECT_EQ(spf_macro_ip(ip("192.0.2.3")), "192.0.2.3");
  EXPECT_EQ(spf_macro_ip(ip("2001:db8::cb01")),
            "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1");
}

TEST(SpfMacro, Escapes) {
  const SpfMacroValues values = rfc_values();
  EXPECT_EQ(expand("100%%", values), "100%");
  EXPECT_EQ(expand("a%_b", values, SpfMacroUse::explanation), "a b");
  EXPECT_EQ(expand("a%-b", values), "a%20b");
  // An escape's expansion is not expanded again.
  EXPECT_EQ(expand("%%{d}", values), "%{d}");

  std::string problem;
  const auto spec = parse_spf_macro_string("x%%y", SpfMacroUse::domain, problem);
  ASSERT_TRUE(spec.has_value()) << problem;
  ASSERT_EQ(spec->size(), 3U);
  EXPECT_EQ((*spec)[0].kind, SpfMacroToken::Kind::literal);
  EXPECT_EQ((*spec)[0].text, "x");
  EXPECT_EQ((*spec)[1].kind, SpfMacroToken::Kind::escape);
  EXPECT_EQ((*spec)[1].text, "%");
  EXPECT_EQ((*spec)[2].text, "y");
}

TEST(SpfMacro, ParsedMacroKeepsItsTransformers) {
  std::string problem;
  const auto spec = parse_spf_macro_string("%{L1r-+}", SpfMacroUse::domain, problem);
  ASSERT_TRUE(spec.has_value()) << problem;
  SpfMacroToken want;
  want.kind = SpfMacroToken::Kind::macro;
  want.letter = 'l';
  want.url_escape = true;
  want.keep = 1;
  want.reverse = true;
  want.delimiters = "-+";
  EXPECT_THAT(*spec, ElementsAre(want));
  EXPECT_THAT(*parse_spf_macro_string("", SpfMacroUse::domain, problem), IsEmpty());
}

TEST(SpfMacro, DelimitersAndTransformers) {
  SpfMacroValues values = rfc_values();
  values.local = "a-b+c_d";
  EXPECT_EQ(expand("%{l-+}", values), "a.b.c_d");
  EXPECT_EQ(expand("%{l-+_}", values), "a.b.c.d");
  EXPECT_EQ(expand("%{l2-+_}", values), "c.d");
  EXPECT_EQ(expand("%{lR-+_}", values), "d.c.b.a");
  // More parts asked for than there are, even past what an unsigned holds: all of them.
  EXPECT_EQ(expand("%{d99}", values), "email.example.com");
  EXPECT_EQ(expand("%{d99999999999999999999}", values), "email.example.com");
}

TEST(SpfMacro, UpperCaseLettersAreUrlEscaped) {
  // RFC 7208 §7.3: upper-case macros expand URL-escaped (RFC 3986 unreserved kept).
  SpfMacroValues values = rfc_values();
  EXPECT_EQ(expand("%{S}", values), "strong-bad%40email.example.com");
  values.local = "a b/c~d";
  EXPECT_EQ(expand("%{L}", values), "a%20b%2Fc~d");
  EXPECT_EQ(expand("%{l}", values), "a b/c~d");
}

TEST(SpfMacro, ExplanationOnlyMacros) {
  const SpfMacroValues values = rfc_values();
  EXPECT_EQ(expand("%{c} %{r} %{t}", values, SpfMacroUse::explanation),
            "192.0.2.3 receiver.example.net 1234567890");
  EXPECT_EQ(expand("%{h} %{v}", values, SpfMacroUse::explanation), "mx.example.org in-addr");
  for (const std::string_view macro : {"%{c}", "%{r}", "%{t}", "%{C}"}) {
    EXPECT_THAT(problem_of(macro), HasSubstr("is allowed only in explanation text")) << macro;
  }
}

TEST(SpfMacro, ValidatedNameIsAskedOnlyWhenUsed) {
  SpfMacroValues values = rfc_values();
  EXPECT_EQ(expand("%{p}", values), "unknown");  // no callback
  std::vector<std::string> asked;
  values.validated_name = [&asked](std::string_view domain) {
    asked.emplace_back(domain);
    return std::string("mx.email.example.com");
  };
  EXPECT_EQ(expand("%{d}.%{i}", values), "email.example.com.192.0.2.3");
  EXPECT_THAT(asked, IsEmpty());
  EXPECT_EQ(expand("%{p2}", values), "example.com");
  EXPECT_THAT(asked, ElementsAre("email.example.com"));
}

TEST(SpfMacro, DomainExpansionDropsOneTrailingDotAndFitsIn253Octets) {
  SpfMacroValues values = rfc_values();
  EXPECT_EQ(expand("%{d}.", values), "email.example.com");
  EXPECT_EQ(expand("%{d}.", values, SpfMacroUse::explanation), "email.example.com.");
  // RFC 7208 §7.3: whole labels go from the left until the name fits.
  values.local = std::string(60, 'x') + "." + std::string(60, 'y') + "." + std::string(60, 'z');
  const std::string name = expand("%{l}.%{l}.%{d}", values);
  EXPECT_EQ(name, values.local + ".email.example.com");
  EXPECT_LE(name.size(), 253U);
  // Explanation text is never cut.
  EXPECT_EQ(expand("%{l}.%{l}.%{d}", values, SpfMacroUse::explanation).size(),
            2 * values.local.size() + 2 + values.domain.size());
}

TEST(SpfMacro, InvalidMacroStrings) {
  EXPECT_EQ(problem_of("abc%"), "'%' at the end of a macro-string");
  EXPECT_EQ(problem_of("%x"), "invalid macro '%x'");
  EXPECT_EQ(problem_of("%d"), "invalid macro '%d'");
  EXPECT_EQ(problem_of("%{d"), "unterminated macro '%{'");
  EXPECT_EQ(problem_of("%{}"), "empty macro '%{}'");
  EXPECT_EQ(problem_of("%{q}"), "unknown macro letter in '%{q}'");
  EXPECT_EQ(problem_of("%{1}"), "unknown macro letter in '%{1}'");
  EXPECT_EQ(problem_of("%{d0}"), "zero transformer in '%{d0}'");  // RFC 7208 §7.3
  EXPECT_EQ(problem_of("%{d2x}"), "invalid delimiter in '%{d2x}'");
  EXPECT_EQ(problem_of("%{drr}"), "invalid delimiter in '%{drr}'");
  EXPECT_EQ(problem_of("%{d-2}"), "invalid delimiter in '%{d-2}'");
  // Spaces only in explanation text; control octets nowhere.
  EXPECT_EQ(problem_of("a b"), "invalid character ' '");
  EXPECT_EQ(problem_of("a b", SpfMacroUse::explanation), "(parsed)");
  EXPECT_EQ(problem_of("a\tb", SpfMacroUse::explanation), "invalid character '\\x09'");
  EXPECT_EQ(problem_of("caf\xc3\xa9"), "invalid character '\\xc3'");
}

}  // namespace
}  // namespace rdns::checks
