// dns/name.h: ASCII and domain-name helpers, locale-independent.

#include "rdns/dns/name.h"

#include <gtest/gtest.h>

#include <clocale>
#include <locale>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/policy/policy.h"

namespace rdns::dns {
namespace {

using Labels = std::vector<std::string_view>;

static_assert(ascii_lower('A') == 'a' && ascii_lower('Z') == 'z' && ascii_lower('a') == 'a');
static_assert(ascii_lower('@') == '@' && ascii_lower('[') == '[');  // the neighbours of A-Z
static_assert(is_ascii_control('\0') && is_ascii_control('\t') && is_ascii_control('\x7f'));
static_assert(is_ascii_space(' ') && is_ascii_space('\t') && is_ascii_space('\r'));
static_assert(!is_ascii_space('\b') && !is_ascii_space('\x0e') && !is_ascii_space('\xa0'));
static_assert(!is_ascii_control(' ') && !is_ascii_control('\x80') && !is_ascii_control('\xff'));

// ---- one byte at a time --------------------------------------------------------------------

/// Every byte against the ASCII rules, whatever the current C and C++ locale.
void expect_ascii_rules_for_every_byte() {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string one(1, c);
    const bool upper = b >= 'A' && b <= 'Z';
    const char lower = upper ? static_cast<char>(b - 'A' + 'a') : c;
    EXPECT_EQ(ascii_lower(c), lower) << "byte " << b;
    EXPECT_EQ(to_lower(one), std::string(1, lower)) << "byte " << b;
    EXPECT_EQ(is_ascii_control(c), b < 0x20 || b == 0x7f) << "byte " << b;
    EXPECT_EQ(is_ascii_printable(c), b >= 0x20 && b <= 0x7e) << "byte " << b;
    EXPECT_EQ(is_ascii_visible(c), b >= 0x21 && b <= 0x7e) << "byte " << b;
    EXPECT_EQ(is_ascii_digit(c), b >= '0' && b <= '9') << "byte " << b;
    EXPECT_EQ(is_ascii_space(c),
              b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r')
        << "byte " << b;
    EXPECT_EQ(is_ascii_alpha(c), upper || (b >= 'a' && b <= 'z')) << "byte " << b;
    EXPECT_EQ(has_control(one), b < 0x20 || b == 0x7f) << "byte " << b;
    EXPECT_EQ(printable_ascii(one, 10), b >= 0x20 && b <= 0x7e ? one : "?") << "byte " << b;
    for (int other = 0; other < 256; ++other) {
      const char d = static_cast<char>(other);
      const bool same_letter = ascii_lower(c) == ascii_lower(d);
      ASSERT_EQ(iequals(one, std::string(1, d)), same_letter) << "bytes " << b << ", " << other;
    }
  }
  // Bytes >= 0x80 stay as they are: the Turkish dotless i (0xFD in ISO-8859-9), U+0130 in
  // UTF-8, Latin-1 capitals.
  EXPECT_EQ(to_lower("MA\xDDL.\xC4\xB0.\xC9"), "ma\xDDl.\xC4\xB0.\xC9");
  EXPECT_FALSE(iequals("I", "\xFD"));
  EXPECT_FALSE(iequals("i", "\xDD"));
  EXPECT_TRUE(iequals("MAIL.Example.ORG", "mail.example.org"));
  EXPECT_EQ(normalize_name("MAIL.EXAMPLE.INFO."), "mail.example.info");
  policy::Exemptions exemptions;
  exemptions.recipients = {"info", "postmaster@example.org"};
  EXPECT_TRUE(policy::recipient_exempt(exemptions, "<INFO@Example.Org>"));
  EXPECT_TRUE(policy::recipient_exempt(exemptions, "<PostMaster@EXAMPLE.ORG>"));
}

TEST(AsciiName, EveryByteFollowsTheAsciiRulesInTheCLocale) {
  expect_ascii_rules_for_every_byte();
}

/// Sets the global C++ (and with it the C) locale for one test and restores it afterwards.
class GlobalLocale {
 public:
  explicit GlobalLocale(const std::locale& locale) : previous_(std::locale::global(locale)) {}
  ~GlobalLocale() { std::locale::global(previous_); }
  GlobalLocale(const GlobalLocale&) = delete;
  GlobalLocale& operator=(const GlobalLocale&) = delete;
  GlobalLocale(GlobalLocale&&) = delete;
  GlobalLocale& operator=(GlobalLocale&&) = delete;

 private:
  std::locale previous_;
};

/// The first of `names` that is installed.
std::optional<std::locale> installed_locale(const std::vector<const char*>& names) {
  for (const char* name : names) {
    try {
      return std::locale(name);
    } catch (const std::runtime_error&) {
      // not installed here
    }
  }
  return std::nullopt;
}

// Note: where no Turkish locale is installed (`locale -a`), one can be built for this test:
//   localedef -i tr_TR -f ISO-8859-9 /tmp/loc/tr_TR.ISO-8859-9
//   LOCPATH=/tmp/loc build/tests/unit/unit-tests --gtest_filter='AsciiName.*'
TEST(AsciiName, EveryByteFollowsTheAsciiRulesInATurkishLocale) {
  const auto turkish = installed_locale(
      {"tr_TR.ISO-8859-9", "tr_TR.iso88599", "tr_TR.UTF-8", "tr_TR.utf8", "tr_TR"});
  if (!turkish) {
    GTEST_SKIP() << "no tr_TR locale installed; the C-locale test covers the ASCII rules";
  }
  const GlobalLocale scope(*turkish);
  expect_ascii_rules_for_every_byte();
}

TEST(AsciiName, EveryByteFollowsTheAsciiRulesInAnyOtherInstalledLocale) {
  const auto other = installed_locale({"de_DE.ISO-8859-1", "fr_FR.ISO-8859-1", "en_US.ISO-8859-1",
                                       "de_DE.UTF-8", "en_US.UTF-8", "C.UTF-8", "C.utf8"});
  if (!other) {
    GTEST_SKIP() << "only the C locale is installed";
  }
  const GlobalLocale scope(*other);
  expect_ascii_rules_for_every_byte();
}

// ---- strings -------------------------------------------------------------------------------

TEST(AsciiName, IequalsComparesLengthFirst) {
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("example.org", "example.org."));
  EXPECT_FALSE(iequals("a", ""));
}

TEST(AsciiName, PrintableAsciiReplacesAndCuts) {
  EXPECT_EQ(printable_ascii("mail.example.org", 255), "mail.example.org");
  EXPECT_EQ(printable_ascii("a\r\nb\tc\x7f\xc3\xa9", 255), "a??b?c???");
  EXPECT_EQ(printable_ascii("abcdef", 3), "abc");
  EXPECT_EQ(printable_ascii("ab\ncd", 3), "ab?");
  EXPECT_EQ(printable_ascii("abc", 0), "");
}

TEST(AsciiName, HasControlSeesEveryControlButNotHighBytes) {
  EXPECT_FALSE(has_control(""));
  EXPECT_FALSE(has_control("mail.example.org and spaces"));
  EXPECT_FALSE(has_control("caf\xc3\xa9"));
  EXPECT_TRUE(has_control("evil\r\nX-Injected: yes"));
  EXPECT_TRUE(has_control(std::string("nul\0byte", 8)));
  EXPECT_TRUE(has_control("tab\there"));
  EXPECT_TRUE(has_control("del\x7f"));
}

// ---- names ---------------------------------------------------------------------------------

TEST(DomainName, StripTrailingDotRemovesOneAndKeepsTheRoot) {
  EXPECT_EQ(strip_trailing_dot("example.org."), "example.org");
  EXPECT_EQ(strip_trailing_dot("example.org"), "example.org");
  EXPECT_EQ(strip_trailing_dot("example.org.."), "example.org.");
  EXPECT_EQ(strip_trailing_dot("."), ".");
  EXPECT_EQ(strip_trailing_dot(""), "");
}

TEST(DomainName, AtOrBelowMatchesWholeLabels) {
  EXPECT_TRUE(at_or_below("example.org", "example.org"));
  EXPECT_TRUE(at_or_below("mail.example.org", "example.org"));
  EXPECT_TRUE(at_or_below("a.b.mail.example.org", "example.org"));
  EXPECT_FALSE(at_or_below("xexample.org", "example.org"));
  EXPECT_FALSE(at_or_below("example.org", "mail.example.org"));
  EXPECT_FALSE(at_or_below("example.com", "example.org"));
  EXPECT_FALSE(at_or_below("org", "example.org"));
  EXPECT_FALSE(at_or_below("", "example.org"));
}

TEST(DomainName, AtOrBelowIgnoresCaseAndOneTrailingDot) {
  EXPECT_TRUE(at_or_below("Mail.EXAMPLE.org", "example.ORG"));
  EXPECT_TRUE(at_or_below("mail.example.org.", "example.org"));
  EXPECT_TRUE(at_or_below("mail.example.org", "example.org."));
  EXPECT_TRUE(at_or_below("example.org.", "example.org."));
  EXPECT_FALSE(at_or_below("mail.xexample.org.", "EXAMPLE.org."));
  EXPECT_FALSE(at_or_below("mail.example.or\xc7", "example.org"));
}

TEST(DomainName, EverythingIsAtOrBelowTheRoot) {
  EXPECT_TRUE(at_or_below("example.org", "."));
  EXPECT_TRUE(at_or_below("example.org", ""));
  EXPECT_TRUE(at_or_below(".", "."));
}

TEST(DomainName, LabelsKeepEveryEmptyLabel) {
  EXPECT_EQ(labels("mail.example.org"), (Labels{"mail", "example", "org"}));
  EXPECT_EQ(labels("localhost"), (Labels{"localhost"}));
  EXPECT_EQ(labels("mail.example.org."), (Labels{"mail", "example", "org", ""}));
  EXPECT_EQ(labels("a..b"), (Labels{"a", "", "b"}));
  EXPECT_EQ(labels(".a"), (Labels{"", "a"}));
  EXPECT_EQ(labels("."), (Labels{"", ""}));
  EXPECT_EQ(labels(""), Labels{});
  EXPECT_EQ(labels(strip_trailing_dot("mail.example.org.")), (Labels{"mail", "example", "org"}));
}

TEST(DomainName, LabelsAreViewsIntoTheName) {
  const std::string name = "mail.example.org";
  const auto parts = labels(name);
  ASSERT_EQ(parts.size(), 3U);
  EXPECT_EQ(parts[1].data(), name.data() + 5);
}

TEST(DomainName, ParentWalksToTheRoot) {
  std::vector<std::string_view> walk;
  for (std::string_view name = "a.mail.example.org"; !name.empty(); name = parent(name)) {
    walk.push_back(name);
  }
  EXPECT_EQ(walk, (Labels{"a.mail.example.org", "mail.example.org", "example.org", "org"}));
  EXPECT_EQ(parent("org."), "");
  EXPECT_EQ(parent("example.org."), "org.");
  EXPECT_EQ(parent(""), "");
}

TEST(DomainName, TopLabelIgnoresOneTrailingDot) {
  EXPECT_EQ(top_label("mail.example.org"), "org");
  EXPECT_EQ(top_label("mail.example.org."), "org");
  EXPECT_EQ(top_label("localhost"), "localhost");
  EXPECT_EQ(top_label("."), "");
  EXPECT_EQ(top_label(""), "");
}

}  // namespace
}  // namespace rdns::dns
