// parse_packet on wire-format replies built with ldns here: PTR, RFC 2317 CNAMEs with '/',
// CNAME chains, NXDOMAIN and NODATA with the RFC 2308 §5 negative TTL, broken packets.

#include "rdns/dns/packet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "testutil/printers.h"

namespace rdns::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct PktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};

ldns_rr* rr_from(const std::string& text) {
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
    throw std::invalid_argument(text);
  }
  return rr;
}

/// A reply to `qname`/`qtype` with `rcode`, the answer and authority records given as zone-file
/// lines, in wire format.
std::vector<std::uint8_t> reply(const std::string& qname, ldns_rr_type qtype, ldns_pkt_rcode rcode,
                                std::initializer_list<std::string> answers,
                                std::initializer_list<std::string> authority = {}) {
  const std::unique_ptr<ldns_pkt, PktDeleter> pkt(ldns_pkt_new());
  ldns_pkt_set_id(pkt.get(), 4711);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_rd(pkt.get(), true);
  ldns_pkt_set_ra(pkt.get(), true);
  ldns_pkt_set_rcode(pkt.get(), static_cast<std::uint8_t>(rcode));
  ldns_rr* question = ldns_rr_new();
  ldns_rdf* owner = nullptr;
  if (ldns_str2rdf_dname(&owner, qname.c_str()) != LDNS_STATUS_OK) {
    throw std::invalid_argument(qname);
  }
  ldns_rr_set_owner(question, owner);
  ldns_rr_set_type(question, qtype);
  ldns_rr_set_class(question, LDNS_RR_CLASS_IN);
  ldns_rr_set_question(question, true);
  ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, question);
  for (const auto& line : answers) {
    ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER, rr_from(line));
  }
  for (const auto& line : authority) {
    ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_AUTHORITY, rr_from(line));
  }
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) {
    throw std::runtime_error("ldns_pkt2wire");
  }
  std::vector<std::uint8_t> bytes(wire, wire + size);
  std::free(wire);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  return bytes;
}

const std::string soa =
    "2.0.192.in-addr.arpa. 3600 IN SOA ns.example.net. hostmaster.example.net. 1 7200 900 "
    "1209600 300";

TEST(ParsePacket, Ptr) {
  const auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
                          {"7.2.0.192.in-addr.arpa. 3600 IN PTR Mail.Example.COM."});
  const Answer a = parse_packet(wire, "7.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(a.type, RrType::ptr);
  EXPECT_THAT(a.names, ElementsAre("mail.example.com"));
  EXPECT_EQ(a.ttl, 3600U);
  EXPECT_THAT(a.cname_chain, IsEmpty());
  EXPECT_TRUE(a.error.empty());
}

TEST(ParsePacket, NormalizesTheQuestionName) {
  const auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
                          {"7.2.0.192.in-addr.arpa. 60 IN PTR a.example.",
                           "7.2.0.192.in-addr.arpa. "
                           "30 IN PTR b.example."});
  const Answer a = parse_packet(wire, "7.2.0.192.IN-ADDR.arpa.", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_EQ(a.name, "7.2.0.192.in-addr.arpa");
  EXPECT_THAT(a.names, ElementsAre("a.example", "b.example"));
  EXPECT_EQ(a.ttl, 30U);  // the smallest TTL of the records
}

TEST(ParsePacket, Rfc2317CnameKeepsTheSlash) {
  const auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
                          {"7.2.0.192.in-addr.arpa. 600 IN CNAME 7.0/26.2.0.192.in-addr.arpa.",
                           "7.0/26.2.0.192.in-addr.arpa. 300 IN PTR host.example.org."});
  const Answer a = parse_packet(wire, "7.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.cname_chain, ElementsAre("7.0/26.2.0.192.in-addr.arpa"));
  EXPECT_THAT(a.names, ElementsAre("host.example.org"));
  EXPECT_EQ(a.ttl, 300U);
}

TEST(ParsePacket, FollowsACnameChainInAnyOrder) {
  const auto wire =
      reply("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
            {"c.example. 100 IN A 192.0.2.9", "b.example. 100 IN CNAME c.example.",
             "www.example. 100 IN CNAME b.example.", "other.example. 5 IN A 192.0.2.66"});
  const Answer a = parse_packet(wire, "www.example", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.cname_chain, ElementsAre("b.example", "c.example"));
  ASSERT_EQ(a.addresses.size(), 1U);
  EXPECT_EQ(a.addresses[0].to_string(), "192.0.2.9");  // not the unrelated record
  EXPECT_EQ(a.ttl, 100U);
}

TEST(ParsePacket, CnameLoopEnds) {
  const auto wire =
      reply("a.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
            {"a.example. 100 IN CNAME b.example.", "b.example. 100 IN CNAME a.example."});
  const Answer a = parse_packet(wire, "a.example", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::nodata) << describe(a);
  EXPECT_EQ(a.cname_chain.size(), 16U);
}

TEST(ParsePacket, CnameToANameWithoutTheTypeIsNodata) {
  const auto wire = reply("www.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
                          {"www.example. 100 IN CNAME v4only.example."},
                          {"example. 900 IN SOA ns.example. h.example. 1 2 3 4 60"});
  const Answer a = parse_packet(wire, "www.example", RrType::aaaa);
  EXPECT_EQ(a.outcome, Outcome::nodata) << describe(a);
  EXPECT_THAT(a.cname_chain, ElementsAre("v4only.example"));
  EXPECT_EQ(a.ttl, 60U);
}

TEST(ParsePacket, NxdomainTtlIsTheSoaMinimumWhenSmaller) {
  const auto wire =
      reply("9.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN, {}, {soa});
  const Answer a = parse_packet(wire, "9.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::nxdomain) << describe(a);
  EXPECT_TRUE(a.negative());
  EXPECT_EQ(a.ttl, 300U);  // min(SOA TTL 3600, MINIMUM 300)
  EXPECT_THAT(a.names, IsEmpty());
}

TEST(ParsePacket, NxdomainTtlIsTheSoaTtlWhenSmaller) {
  const auto wire = reply(
      "9.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN, {},
      {"2.0.192.in-addr.arpa. 120 IN SOA ns.example.net. h.example.net. 1 7200 900 1209600 86400"});
  const Answer a = parse_packet(wire, "9.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::nxdomain) << describe(a);
  EXPECT_EQ(a.ttl, 120U);
}

TEST(ParsePacket, NxdomainWithoutSoaHasTtlZero) {
  const auto wire = reply("9.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN, {});
  const Answer a = parse_packet(wire, "9.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::nxdomain) << describe(a);
  EXPECT_EQ(a.ttl, 0U);
}

TEST(ParsePacket, Nodata) {
  const auto wire =
      reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, {}, {soa});
  const Answer a = parse_packet(wire, "7.2.0.192.in-addr.arpa", RrType::txt);
  EXPECT_EQ(a.outcome, Outcome::nodata) << describe(a);
  EXPECT_TRUE(a.negative());
  EXPECT_EQ(a.ttl, 300U);
  EXPECT_THAT(a.texts, IsEmpty());
}

TEST(ParsePacket, RecordsOfAnotherTypeAreNodata) {
  const auto wire = reply("mail.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
                          {"mail.example. 100 IN A 192.0.2.1"});
  const Answer a = parse_packet(wire, "mail.example", RrType::aaaa);
  EXPECT_EQ(a.outcome, Outcome::nodata) << describe(a);
  EXPECT_THAT(a.addresses, IsEmpty());
}

TEST(ParsePacket, ServfailIsAnError) {
  const auto wire = reply("mail.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL, {});
  const Answer a = parse_packet(wire, "mail.example", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::servfail) << describe(a);
  EXPECT_EQ(a.error, "SERVFAIL");
}

TEST(ParsePacket, RefusedIsAnError) {
  const auto wire = reply("mail.example.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, {});
  const Answer a = parse_packet(wire, "mail.example", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::servfail) << describe(a);
  EXPECT_EQ(a.error, "rcode 5");
}

TEST(ParsePacket, MxTxtAndAaaa) {
  const auto mx = parse_packet(
      reply("example.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, {"example. 50 IN MX 10 MX1.example."}),
      "example", RrType::mx);
  EXPECT_EQ(mx.outcome, Outcome::ok) << describe(mx);
  EXPECT_THAT(mx.mx, ElementsAre(MxRecord{10, "mx1.example"}));
  const auto txt = parse_packet(reply("example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR,
                                      {R"(example. 50 IN TXT "v=spf1 " "-all")"}),
                                "example", RrType::txt);
  EXPECT_EQ(txt.outcome, Outcome::ok) << describe(txt);
  EXPECT_THAT(txt.texts, ElementsAre("v=spf1 -all"));
  const auto aaaa = parse_packet(
      reply("example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, {"example. 50 IN AAAA 2001:db8::7"}),
      "example", RrType::aaaa);
  EXPECT_EQ(aaaa.outcome, Outcome::ok) << describe(aaaa);
  ASSERT_EQ(aaaa.addresses.size(), 1U);
  EXPECT_EQ(aaaa.addresses[0].to_string(), "2001:db8::7");
}

TEST(ParsePacket, EmptyPacketIsAnError) {
  const Answer a = parse_packet({}, "mail.example", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::servfail);
  EXPECT_EQ(a.error, "unparsable answer packet");
  EXPECT_FALSE(a.negative());
}

TEST(ParsePacket, GarbageIsAnError) {
  const std::vector<std::uint8_t> garbage{0x12, 0x34, 0x81, 0x80, 0xff, 0xff, 0xff};
  const Answer a = parse_packet(garbage, "mail.example", RrType::a);
  EXPECT_EQ(a.outcome, Outcome::servfail);
  EXPECT_EQ(a.error, "unparsable answer packet");
}

TEST(ParsePacket, EveryTruncationIsAnError) {
  const auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
                          {"7.2.0.192.in-addr.arpa. 600 IN CNAME 7.0/26.2.0.192.in-addr.arpa.",
                           "7.0/26.2.0.192.in-addr.arpa. 300 IN PTR host.example.org."});
  for (std::size_t size = 0; size < wire.size(); ++size) {
    const std::vector<std::uint8_t> cut(wire.begin(), wire.begin() + static_cast<long>(size));
    const Answer a = parse_packet(cut, "7.2.0.192.in-addr.arpa", RrType::ptr);
    EXPECT_EQ(a.outcome, Outcome::servfail) << "cut at " << size << ": " << describe(a);
    EXPECT_EQ(a.error, "unparsable answer packet") << "cut at " << size;
  }
}

TEST(ParsePacket, AnswerCountBeyondTheRecordsIsAnError) {
  auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
                    {"7.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com."});
  wire[7] = 5;  // ANCOUNT 5, one record present
  const Answer a = parse_packet(wire, "7.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::servfail) << describe(a);
  EXPECT_EQ(a.error, "unparsable answer packet");
}

TEST(ParsePacket, QuestionCountBeyondTheQuestionsIsAnError) {
  auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR, {});
  wire[4] = 0xff;  // QDCOUNT 65281
  wire[5] = 0x01;
  const Answer a = parse_packet(wire, "7.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_EQ(a.outcome, Outcome::servfail) << describe(a);
}

TEST(ParsePacket, AnswerCountBelowTheRecordsReadsOnlyWhatItCounts) {
  auto wire = reply("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
                    {"7.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com."});
  wire[7] = 0;  // ANCOUNT 0, one record of trailing bytes
  const Answer a = parse_packet(wire, "7.2.0.192.in-addr.arpa", RrType::ptr);
  EXPECT_NE(a.outcome, Outcome::ok) << describe(a);
  EXPECT_THAT(a.names, IsEmpty());
}

}  // namespace
}  // namespace rdns::dns
