// IpAddress and Network: parsing, canonical text (RFC 5952), reverse names (RFC 1035 §3.5,
// RFC 3596 §2.5), prefix matching.

#include "rdns/dns/ip_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "testutil/printers.h"

namespace rdns::dns {
namespace {

using ::testing::ElementsAre;

IpAddress must_parse(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << "'" << text << "' should parse";
  return parsed.value_or(IpAddress{});
}

TEST(IpAddressTest, ParsesDottedQuad) {
  auto address = IpAddress::parse("192.0.2.7");
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(address->is_v4());
  EXPECT_EQ(address->family(), IpAddress::Family::v4);
  EXPECT_EQ(address->bytes()[0], 192);
  EXPECT_EQ(address->bytes()[1], 0);
  EXPECT_EQ(address->bytes()[2], 2);
  EXPECT_EQ(address->bytes()[3], 7);
  EXPECT_EQ(address->to_string(), "192.0.2.7");
}

TEST(IpAddressTest, ParsesIpv6) {
  auto address = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(address.has_value());
  EXPECT_FALSE(address->is_v4());
  EXPECT_EQ(address->family(), IpAddress::Family::v6);
  const std::array<std::uint8_t, 16> expected{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                              0,    0,    0,    0,    0, 0, 0, 1};
  EXPECT_EQ(address->bytes(), expected);
}

TEST(IpAddressTest, ParsesEdgeValues) {
  EXPECT_EQ(must_parse("0.0.0.0").to_string(), "0.0.0.0");
  EXPECT_EQ(must_parse("255.255.255.255").to_string(), "255.255.255.255");
  EXPECT_EQ(must_parse("::").to_string(), "::");
  EXPECT_EQ(must_parse("::1").to_string(), "::1");
  EXPECT_TRUE(IpAddress::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").has_value());
}

class InvalidAddressTest : public ::testing::TestWithParam<const char*> {};

TEST_P(InvalidAddressTest, IsRejected) {
  EXPECT_FALSE(IpAddress::parse(GetParam()).has_value()) << "'" << GetParam() << "'";
}

INSTANTIATE_TEST_SUITE_P(Texts, InvalidAddressTest,
                         ::testing::Values("", "1.2.3", "256.1.1.1", "1.2.3.4.5", " 1.2.3.4",
                                           "1.2.3.4 ", "1.2.3.-4", "1.2.3.4/32", "a.b.c.d", "::g",
                                           ":::", "2001:db8::1::2", "12345::", "1:2:3:4:5:6:7:8:9",
                                           "[2001:db8::1]", "2001:db8::1 ", "localhost",
                                           "192.0.2.7\n"));

TEST(IpAddressTest, RejectsEmbeddedNul) {
  const std::string text("192.0.2.7\0junk", 14);
  EXPECT_FALSE(IpAddress::parse(text).has_value());
}

TEST(IpAddressTest, ToStringIsRfc5952Canonical) {
  // RFC 5952 §4.3 lower case, §4.1 no leading zeros, §4.2.1 longest run compressed,
  // §4.2.2 a single 0 field is not compressed, §4.2.3 first run on a tie.
  EXPECT_EQ(must_parse("2001:DB8::1").to_string(), "2001:db8::1");
  EXPECT_EQ(must_parse("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(must_parse("2001:db8:0:0:0:0:2:1").to_string(), "2001:db8::2:1");
  EXPECT_EQ(must_parse("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(must_parse("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(must_parse("0:0:1:0:0:0:0:1").to_string(), "0:0:1::1");
  EXPECT_EQ(must_parse("2001:db8:0:0:0:0:0:0").to_string(), "2001:db8::");
  EXPECT_EQ(must_parse("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff").to_string(),
            "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
}

TEST(IpAddressTest, ToStringOfMappedAddressUsesMixedNotation) {
  // RFC 5952 §5.
  EXPECT_EQ(must_parse("::FFFF:c000:0207").to_string(), "::ffff:192.0.2.7");
}

TEST(IpAddressTest, ToStringRoundTrips) {
  for (const char* text :
       {"192.0.2.7", "203.0.113.255", "2001:db8::1", "fe80::1:2", "2001:db8:1:2:3:4:5:6"}) {
    auto once = must_parse(text);
    EXPECT_EQ(must_parse(once.to_string()), once) << text;
    EXPECT_EQ(once.to_string(), text);
  }
}

TEST(IpAddressTest, FromBytesEqualsParse) {
  const std::uint8_t v4[4] = {192, 0, 2, 7};
  EXPECT_EQ(IpAddress::from_bytes(IpAddress::Family::v4, v4), must_parse("192.0.2.7"));
  const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};
  EXPECT_EQ(IpAddress::from_bytes(IpAddress::Family::v6, v6), must_parse("2001:db8::25"));
}

TEST(IpAddressTest, EqualityDistinguishesFamilyAndValue) {
  EXPECT_EQ(must_parse("192.0.2.7"), must_parse("192.0.2.7"));
  EXPECT_NE(must_parse("192.0.2.7"), must_parse("192.0.2.8"));
  EXPECT_NE(must_parse("192.0.2.7"), must_parse("::ffff:192.0.2.7"));
  EXPECT_EQ(must_parse("2001:db8::1"), must_parse("2001:DB8:0::0:1"));
}

TEST(IpAddressTest, UnmappedTurnsMappedAddressIntoIpv4) {
  const auto mapped = must_parse("::ffff:192.0.2.7");
  EXPECT_FALSE(mapped.is_v4());
  const auto plain = mapped.unmapped();
  EXPECT_TRUE(plain.is_v4());
  EXPECT_EQ(plain, must_parse("192.0.2.7"));
  EXPECT_EQ(plain.to_string(), "192.0.2.7");
}

TEST(IpAddressTest, UnmappedLeavesEverythingElseAlone) {
  for (const char* text : {"192.0.2.7", "2001:db8::1", "::1", "::", "::192.0.2.7",
                           "::fffe:192.0.2.7", "64:ff9b::192.0.2.7"}) {
    const auto address = must_parse(text);
    EXPECT_EQ(address.unmapped(), address) << text;
  }
}

TEST(IpAddressTest, ReverseNameIpv4) {
  EXPECT_EQ(must_parse("192.0.2.7").reverse_name(), "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(must_parse("10.0.0.255").reverse_name(), "255.0.0.10.in-addr.arpa");
}

TEST(IpAddressTest, ReverseNameIpv6NibbleForm) {
  // RFC 3596 §2.5 example, lower case and without the trailing dot.
  EXPECT_EQ(must_parse("4321:0:1:2:3:4:567:89ab").reverse_name(),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa");
  EXPECT_EQ(must_parse("2001:db8::1").reverse_name(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(IpAddressTest, ReverseNameOfUnmappedAddressIsInAddrArpa) {
  EXPECT_EQ(must_parse("::ffff:192.0.2.7").unmapped().reverse_name(), "7.2.0.192.in-addr.arpa");
}

TEST(IpAddressTest, InNetwork) {
  const auto address = must_parse("192.0.2.7");
  EXPECT_TRUE(address.in_network(must_parse("192.0.2.0"), 24));
  EXPECT_TRUE(address.in_network(must_parse("192.0.2.0"), 29));
  EXPECT_FALSE(address.in_network(must_parse("192.0.2.0"), 30));
  EXPECT_FALSE(address.in_network(must_parse("192.0.2.128"), 25));
  EXPECT_TRUE(address.in_network(must_parse("0.0.0.0"), 0));
  EXPECT_TRUE(address.in_network(must_parse("192.0.2.7"), 32));
  EXPECT_FALSE(address.in_network(must_parse("192.0.2.6"), 32));
  EXPECT_FALSE(address.in_network(must_parse("::"), 0)) << "families never match";
  EXPECT_TRUE(must_parse("2001:db8::1").in_network(must_parse("2001:db8::"), 32));
  EXPECT_FALSE(must_parse("2001:db9::1").in_network(must_parse("2001:db8::"), 32));
  EXPECT_FALSE(must_parse("2001:db8::1").in_network(must_parse("0.0.0.0"), 0));
}

Network must_parse_network(std::string_view text) {
  auto parsed = Network::parse(text);
  EXPECT_TRUE(parsed.has_value()) << "'" << text << "' should parse";
  return parsed.value_or(Network{});
}

TEST(NetworkTest, ParsesPrefixAndLength) {
  const auto net = must_parse_network("192.0.2.0/24");
  EXPECT_EQ(net.prefix, must_parse("192.0.2.0"));
  EXPECT_EQ(net.length, 24U);
  EXPECT_EQ(net.to_string(), "192.0.2.0/24");
  EXPECT_EQ(must_parse_network("2001:DB8::/32").to_string(), "2001:db8::/32");
}

TEST(NetworkTest, BareAddressIsAHostNetwork) {
  const auto v4 = must_parse_network("192.0.2.7");
  EXPECT_EQ(v4.length, 32U);
  EXPECT_TRUE(v4.contains(must_parse("192.0.2.7")));
  EXPECT_FALSE(v4.contains(must_parse("192.0.2.6")));
  const auto v6 = must_parse_network("2001:db8::1");
  EXPECT_EQ(v6.length, 128U);
  EXPECT_TRUE(v6.contains(must_parse("2001:db8::1")));
  EXPECT_FALSE(v6.contains(must_parse("2001:db8::2")));
}

TEST(NetworkTest, Contains) {
  const auto net = must_parse_network("192.0.2.0/24");
  EXPECT_TRUE(net.contains(must_parse("192.0.2.0")));
  EXPECT_TRUE(net.contains(must_parse("192.0.2.255")));
  EXPECT_FALSE(net.contains(must_parse("192.0.3.0")));
  EXPECT_FALSE(net.contains(must_parse("192.0.1.255")));
  EXPECT_FALSE(net.contains(must_parse("2001:db8::1")));

  const auto odd = must_parse_network("198.51.100.128/25");
  EXPECT_TRUE(odd.contains(must_parse("198.51.100.200")));
  EXPECT_FALSE(odd.contains(must_parse("198.51.100.127")));

  const auto v6 = must_parse_network("2001:db8::/32");
  EXPECT_TRUE(v6.contains(must_parse("2001:db8:ffff:ffff::1")));
  EXPECT_FALSE(v6.contains(must_parse("2001:db9::")));
  EXPECT_FALSE(v6.contains(must_parse("192.0.2.7")));

  const auto v6_odd = must_parse_network("2001:db8::/33");
  EXPECT_TRUE(v6_odd.contains(must_parse("2001:db8:7fff::1")));
  EXPECT_FALSE(v6_odd.contains(must_parse("2001:db8:8000::1")));
}

TEST(NetworkTest, SlashZeroContainsItsWholeFamily) {
  const auto all4 = must_parse_network("0.0.0.0/0");
  EXPECT_TRUE(all4.contains(must_parse("192.0.2.7")));
  EXPECT_TRUE(all4.contains(must_parse("255.255.255.255")));
  EXPECT_FALSE(all4.contains(must_parse("2001:db8::1")));
  const auto all6 = must_parse_network("::/0");
  EXPECT_TRUE(all6.contains(must_parse("2001:db8::1")));
  EXPECT_TRUE(all6.contains(must_parse("ffff::")));
  EXPECT_FALSE(all6.contains(must_parse("192.0.2.7")));
}

TEST(NetworkTest, FullLengthMatchesOneAddress) {
  const auto host4 = must_parse_network("192.0.2.7/32");
  EXPECT_TRUE(host4.contains(must_parse("192.0.2.7")));
  EXPECT_FALSE(host4.contains(must_parse("192.0.2.6")));
  EXPECT_FALSE(host4.contains(must_parse("192.0.2.8")));
  const auto host6 = must_parse_network("2001:db8::7/128");
  EXPECT_TRUE(host6.contains(must_parse("2001:db8::7")));
  EXPECT_FALSE(host6.contains(must_parse("2001:db8::6")));
  EXPECT_FALSE(host6.contains(must_parse("2001:db8::8")));
}

TEST(NetworkTest, HostBitsInPrefixDoNotBreakMatching) {
  // Either rejected or treated as 192.0.2.0/24; never a network that matches nothing.
  if (auto net = Network::parse("192.0.2.7/24")) {
    EXPECT_TRUE(net->contains(must_parse("192.0.2.200")));
    EXPECT_FALSE(net->contains(must_parse("192.0.3.7")));
  }
}

class InvalidNetworkTest : public ::testing::TestWithParam<const char*> {};

TEST_P(InvalidNetworkTest, IsRejected) {
  EXPECT_FALSE(Network::parse(GetParam()).has_value()) << "'" << GetParam() << "'";
}

INSTANTIATE_TEST_SUITE_P(Texts, InvalidNetworkTest,
                         ::testing::Values("", "/24", "192.0.2.0/", "192.0.2.0/33", "192.0.2.0/-1",
                                           "192.0.2.0/abc", "192.0.2.0/24/8", "192.0.2.0/ 24",
                                           "192.0.2.0/24 ", "2001:db8::/129",
                                           "2001:db8::/999999999999", "192.0.2.0/4294967320",
                                           "256.0.2.0/24", "::g/64", "192.0.2.0/2a"));

TEST(NetworkTest, EqualityComparesPrefixAndLength) {
  EXPECT_EQ(must_parse_network("192.0.2.0/24"), must_parse_network("192.0.2.0/24"));
  EXPECT_NE(must_parse_network("192.0.2.0/24"), must_parse_network("192.0.2.0/25"));
}

TEST(AnswerTest, NormalizeNameLowerCasesAndStripsOneTrailingDot) {
  EXPECT_EQ(normalize_name("Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(normalize_name("mail.example.com"), "mail.example.com");
  EXPECT_EQ(normalize_name("mail.example.com.."), "mail.example.com.");
  EXPECT_EQ(normalize_name(""), "");
}

}  // namespace
}  // namespace rdns::dns
