// Generic (dynamic) PTR names: detect_generic_ptr over real-world name shapes, each with the
// client address it belongs to, and over names that must not match.

#include "rdns/checks/generic_ptr.h"

#include "rdns/checks/iprev.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rdns/dns/name.h"
#include "testutil/fake_resolver.h"

namespace rdns::checks {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::FakeResolver;
using testutil::ip;
using testutil::ptr_answer;

struct Shape {
  const char* client;
  const char* name;
  const char* found;  ///< a part of the reason: how it was found
};

// Names as ISPs and clouds publish them (addresses changed where the real ones are customers').
const Shape generic_shapes[] = {
    // Comcast: dashed address, "hsd1".
    {"73.22.100.5", "c-73-22-100-5.hsd1.il.comcast.net", "as the octets '73-22-100-5'"},
    // Verizon FiOS.
    {"71.105.22.3", "pool-71-105-22-3.nycmny.fios.verizon.net", "as the octets '71-105-22-3'"},
    // Turk Telekom: the octets run together, not padded; the example.
    {"85.105.64.87", "dsl.static851056487.ttnet.net.tr", "as decimal digits '851056487'"},
    {"85.105.64.87", "host085105064087.example.net.tr", "as decimal digits '085105064087'"},
    {"85.105.64.87", "static-8510564087.example.net", "as decimal digits '8510564087'"},
    {"85.105.64.87", "87064105085.rev.example.net", "in reverse order as decimal digits"},
    // Deutsche Telekom: the address in hex.
    {"93.246.80.144", "p5df65090.dip0.t-ipconnect.de", "as hexadecimal '5df65090'"},
    {"93.246.80.144", "P5DF65090.DIP0.T-IPCONNECT.DE.", "as hexadecimal '5df65090'"},
    // Telefonica Germany: hex, "dyn".
    {"77.12.94.58", "x4d0c5e3a.dyn.telefonica.de", "as hexadecimal '4d0c5e3a'"},
    {"77.12.94.58", "3a5e0c4d.example.net", "in reverse order as hexadecimal '3a5e0c4d'"},
    // Brazil, Greece, Chello (zero-padded), AT&T, Spectrum, Arcor (zero-padded).
    {"187.45.123.4", "187-45-123-4.dsl.telesp.net.br", "as the octets '187-45-123-4'"},
    {"94.66.12.3", "ppp-94-66-12-3.home.otenet.gr", "as the octets '94-66-12-3'"},
    {"77.248.182.37", "dhcp-077-248-182-037.chello.nl", "as the octets '077-248-182-037'"},
    {"75.4.33.21", "adsl-75-4-33-21.dsl.sfldmi.sbcglobal.net", "as the octets '75-4-33-21'"},
    {"74.76.191.2", "cpe-74-76-191-2.nycap.res.rr.com", "as the octets '74-76-191-2'"},
    {"88.65.123.45", "dslb-088-065-123-045.pools.arcor-ip.net", "'088-065-123-045'"},
    // Reversed, dotted; mixed separators; letters glued in front.
    {"77.12.94.58", "58.94.12.77.dyn.example.net", "in reverse order as '58.94.12.77'"},
    {"85.105.64.87", "ip85-105.64_87.isp.example", "as the octets '85-105.64_87'"},
    {"68.2.3.4", "ip68-2-3-4.ph.ph.cox.net", "as the octets '68-2-3-4'"},
    // 3 of the 4 octets.
    {"73.22.100.5", "host-22-100-5.example.net", "as 3 of its 4 octets '22-100-5'"},
    {"73.22.100.5", "5-100-22.cust.example.net", "as 3 of its 4 octets reversed '5-100-22'"},
    // Cloud hosts' default names: generic too (a mail server sets a PTR of its own).
    {"10.0.1.23", "ip-10-0-1-23.ec2.internal", "as the octets '10-0-1-23'"},
    {"54.12.34.56", "ec2-54-12-34-56.compute-1.amazonaws.com", "as the octets '54-12-34-56'"},
    // An IPv4-mapped client is its IPv4 address.
    {"::ffff:73.22.100.5", "c-73-22-100-5.hsd1.il.comcast.net", "73.22.100.5 as the octets"},
    // Keyword with a number.
    {"192.0.2.7", "dip0.t-ipconnect.de", "the keyword 'dip' with a number ('dip0')"},
    {"192.0.2.7", "ppp123.example.net", "the keyword 'ppp' with a number ('ppp123')"},
    {"192.0.2.7", "123dsl.example.net", "the keyword 'dsl' with a number ('123dsl')"},
    {"192.0.2.7", "pool-12.example.net", "the keyword 'pool' and the number '12' in the label"},
    {"192.0.2.7", "dhcp-0012.campus.example.edu", "the keyword 'dhcp' and the number '0012'"},
    {"10.9.22.44", "22-44.dhcp.campus.example.edu",
     "the keyword 'dhcp' and the client's address octets '22-44'"},
    // IPv6: Telekom's nibbles (whole address, /64 prefix), groups, '-' for ':'.
    {"2003:e5:bf1a:4d00:d8c2:f0ff:fe1d:2b3c",
     "p200300e5bf1a4d00d8c2f0fffe1d2b3c.dip0.t-ipconnect.de",
     "as hexadecimal '200300e5bf1a4d00d8c2f0fffe1d2b3c'"},
    {"2003:e5:bf1a:4d00:d8c2:f0ff:fe1d:2b3c", "p200300e5bf1a4d00.dip0.t-ipconnect.de",
     "by its /64 prefix in hexadecimal '200300e5bf1a4d00'"},
    {"2001:db8:1:2:3:4:5:6", "2001-db8-1-2-3-4-5-6.dyn.example.net",
     "as its groups '2001-db8-1-2-3-4-5-6'"},
    {"2001:db8::25", "ip6-2001-0db8-0000-0000.example.net", "as its first 4 groups"},
    {"2001:db8::25", "2001-db8--25.static.example.net", "with '-' for ':' as '2001-db8--25'"},
    {"2001:db8::25", "ip6-2001-db8--25.example.net", "with '-' for ':' as '2001-db8--25'"},
};

class GenericShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(GenericShapes, AreGeneric) {
  const auto& shape = GetParam();
  const auto result =
      detect_generic_ptr(ip(shape.client), shape.name, default_generic_ptr_keywords());
  EXPECT_TRUE(result.generic) << shape.name << " for " << shape.client;
  EXPECT_THAT(result.reason, HasSubstr(shape.found)) << shape.name;
}

INSTANTIATE_TEST_SUITE_P(RealWorld, GenericShapes, ::testing::ValuesIn(generic_shapes));

struct Own {
  const char* client;
  const char* name;
};

const Own own_names[] = {
    {"192.0.2.7", "mail.example.com"},
    {"192.0.2.1", "mx1.example.net"},
    {"192.0.2.23", "smtp-out-23.example.org"},  // one octet is just a number
    {"192.0.2.1", "o1.email.example.com"},
    {"192.0.2.7", "host-198-51-100-7.example.net"},  // another address
    {"85.105.64.87", "host851056488.example.tr"},    // another address, run together
    {"1.2.3.4", "mta-1234.example.com"},             // 4 digits: too short to say
    {"192.0.2.7", "cafebabe.example.com"},           // hex, but not 192.0.2.7 (c00002 07)
    {"192.0.2.7", "customer-service.example.com"},   // keyword without a number
    {"192.0.2.7", "pool.ntp.org"},
    {"192.0.2.7", "dipper.example.com"},  // a word that starts with a keyword
    {"192.0.2.7", "mx-1.dyn.com"},        // keyword and number in different labels
    {"192.0.2.7", "mail.dsl-provider.example.com"},
    {"192.0.2.7", "mail2.dynamicsolutions.example"},
    {"192.0.2.7", "smtp2.cablenews.example"},
    {"14.160.1.2", "static.vnpt.vn"},  // a shared name, but nothing in it says "pool"
    {"192.0.2.7", ""},
    {"192.0.2.7", "."},
    {"2001:db8::25", "mail.example.com"},
    {"2001:db8::25", "2001-db8-1-0-0-0-0-25.example.net"},  // another address
    {"2001:db8::25", "ip6-2001-db8.example.net"},           // 2 groups: just the RIR block
};

class OwnNames : public ::testing::TestWithParam<Own> {};

TEST_P(OwnNames, AreNotGeneric) {
  const auto& own = GetParam();
  const auto result = detect_generic_ptr(ip(own.client), own.name, default_generic_ptr_keywords());
  EXPECT_FALSE(result.generic) << own.name << " for " << own.client << ": " << result.reason;
  EXPECT_THAT(result.reason, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(RealWorld, OwnNames, ::testing::ValuesIn(own_names));

TEST(GenericPtr, ReasonSaysWhatWasFound) {
  EXPECT_EQ(detect_generic_ptr(ip("85.105.64.87"), "dsl.static851056487.ttnet.net.tr",
                               default_generic_ptr_keywords()),
            (GenericPtr{true,
                        "PTR name dsl.static851056487.ttnet.net.tr contains the client address "
                        "85.105.64.87 as decimal digits '851056487' and the keyword 'dsl'"}));
  EXPECT_EQ(detect_generic_ptr(ip("93.246.80.144"), "p5df65090.dip0.t-ipconnect.de",
                               default_generic_ptr_keywords()),
            (GenericPtr{true,
                        "PTR name p5df65090.dip0.t-ipconnect.de contains the client address "
                        "93.246.80.144 as hexadecimal '5df65090' and the keyword 'dip'"}));
  EXPECT_EQ(
      detect_generic_ptr(ip("192.0.2.7"), "pool-12.example.net", default_generic_ptr_keywords()),
      (GenericPtr{true,
                  "PTR name pool-12.example.net has the keyword 'pool' and the number '12' in "
                  "the label 'pool-12'"}));
}

TEST(GenericPtr, KeywordsAreConfigurable) {
  const std::vector<std::string> own{"abc"};
  EXPECT_TRUE(detect_generic_ptr(ip("192.0.2.7"), "abc7.example.net", own).generic);
  EXPECT_FALSE(detect_generic_ptr(ip("192.0.2.7"), "dsl5.example.net", own).generic);
  // Without keywords only the address counts.
  EXPECT_FALSE(detect_generic_ptr(ip("192.0.2.7"), "dip0.t-ipconnect.de", {}).generic);
  const auto address = detect_generic_ptr(ip("93.246.80.144"), "p5df65090.dip0.t-ipconnect.de", {});
  EXPECT_TRUE(address.generic);
  EXPECT_EQ(address.reason,
            "PTR name p5df65090.dip0.t-ipconnect.de contains the client address 93.246.80.144 "
            "as hexadecimal '5df65090'");
}

TEST(GenericPtr, AllDigitHexMustNotBePartOfALongerNumber) {
  // 18.52.86.120 is 0x12345678: a number of more digits is not that hex.
  EXPECT_FALSE(detect_generic_ptr(ip("18.52.86.120"), "a123456789.example.net", {}).generic);
  EXPECT_TRUE(detect_generic_ptr(ip("18.52.86.120"), "a12345678.example.net", {}).generic);
}

TEST(GenericPtr, HostileBytesStayPrintable) {
  const std::string name = std::string("c-73-22-100-5\r\n\x01\xff.example.net");
  const auto result = detect_generic_ptr(ip("73.22.100.5"), name, {});
  EXPECT_TRUE(result.generic);
  for (const char c : result.reason) {
    EXPECT_TRUE(dns::is_ascii_printable(c)) << result.reason;
  }
}

TEST(GenericPtr, KeywordValidity) {
  EXPECT_TRUE(valid_generic_ptr_keyword("dsl"));
  EXPECT_TRUE(valid_generic_ptr_keyword("ip6"));
  EXPECT_FALSE(valid_generic_ptr_keyword(""));
  EXPECT_FALSE(valid_generic_ptr_keyword("123"));
  EXPECT_FALSE(valid_generic_ptr_keyword("dial-up"));
  EXPECT_FALSE(valid_generic_ptr_keyword("DSL"));
  EXPECT_FALSE(valid_generic_ptr_keyword(std::string(64, 'a')));
  for (const auto& keyword : default_generic_ptr_keywords()) {
    EXPECT_TRUE(valid_generic_ptr_keyword(keyword)) << keyword;
  }
}

// ---- generic_ptr_of: which names of an iprev result count ------------------------------------

Iprev passed(std::vector<std::string> verified, std::vector<std::string> ptr = {}) {
  Iprev iprev;
  iprev.client = ip("192.0.2.43");
  iprev.result = IprevResult::pass;
  iprev.reason = IprevReason::forward_confirmed;
  iprev.ptr = ptr.empty() ? verified : std::move(ptr);
  iprev.verified = std::move(verified);
  return iprev;
}

constexpr const char* kPool = "dsl-192-0-2-43.dyn.pool.example";

TEST(GenericPtrOf, PassWithOnlyGenericVerifiedNamesIsGeneric) {
  const auto generic = generic_ptr_of(passed({kPool}), default_generic_ptr_keywords());
  EXPECT_TRUE(generic.generic);
  EXPECT_EQ(generic.reason,
            "PTR name dsl-192-0-2-43.dyn.pool.example contains the client address 192.0.2.43 as "
            "the octets '192-0-2-43' and the keyword 'dsl'");
}

TEST(GenericPtrOf, AVerifiedNameOfItsOwnIsNotGeneric) {
  EXPECT_EQ(generic_ptr_of(passed({kPool, "mail.example.com"}), default_generic_ptr_keywords()),
            GenericPtr{});
}

TEST(GenericPtrOf, UnverifiedGenericNamesDoNotMakeAPassGeneric) {
  EXPECT_EQ(generic_ptr_of(passed({"mail.example.com"}, {kPool, "mail.example.com"}),
                           default_generic_ptr_keywords()),
            GenericPtr{});
}

TEST(GenericPtrOf, NoForwardMatchIsJudgedOnItsUsablePtrNames) {
  Iprev iprev = passed({});
  iprev.result = IprevResult::fail;
  iprev.reason = IprevReason::no_forward_match;
  iprev.ptr = {kPool, "bad name!"};  // an unusable name is skipped, not held against it
  EXPECT_TRUE(generic_ptr_of(iprev, default_generic_ptr_keywords()).generic);
  iprev.ptr = {kPool, "mail.example.com"};
  EXPECT_FALSE(generic_ptr_of(iprev, default_generic_ptr_keywords()).generic);
}

TEST(GenericPtrOf, NoNamesNoVerdict) {
  Iprev iprev = passed({});
  iprev.result = IprevResult::fail;
  iprev.reason = IprevReason::no_ptr;
  EXPECT_EQ(generic_ptr_of(iprev, default_generic_ptr_keywords()), GenericPtr{});
  iprev.result = IprevResult::temperror;
  iprev.reason = IprevReason::forward_temperror;
  iprev.ptr = {kPool};
  EXPECT_EQ(generic_ptr_of(iprev, default_generic_ptr_keywords()), GenericPtr{});
}

TEST(GenericPtrOf, CheckIprevFillsItWithTheOptionsKeywords) {
  FakeResolver dns;
  dns.add(ptr_answer("43.2.0.192.in-addr.arpa", {"pool-12.example.net"}));
  dns.add(a_answer("pool-12.example.net", {"192.0.2.43"}));
  const auto with_defaults = check_iprev(dns, ip("192.0.2.43"));
  EXPECT_EQ(with_defaults.result, IprevResult::pass);
  EXPECT_TRUE(with_defaults.generic.generic) << "IprevOptions{} has the built-in keywords";
  IprevOptions options;
  options.generic_keywords = {};
  EXPECT_EQ(check_iprev(dns, ip("192.0.2.43"), options).generic, GenericPtr{});
  dns.add(failure_answer("44.2.0.192.in-addr.arpa", dns::RrType::ptr, dns::Outcome::nxdomain));
  EXPECT_EQ(check_iprev(dns, ip("192.0.2.44")).generic, GenericPtr{});
}

}  // namespace
}  // namespace rdns::checks
