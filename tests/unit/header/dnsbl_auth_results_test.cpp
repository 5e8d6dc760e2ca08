// The DNS lists' Authentication-Results resinfos byte for byte: RFC 8904 dnswl for allow-list
// hits, x-dnsbl for block-list hits, nothing for errors, hostile TXT sanitized.
#include <gtest/gtest.h>

#include "rdns/header/auth_results.h"
#include "testutil/fake_resolver.h"

namespace rdns::header {
namespace {

using testutil::ip;

checks::DnsblHit hit(const char* zone, const char* answer, int weight, const char* txt) {
  checks::DnsblHit out;
  out.zone = zone;
  out.query = std::string("7.2.0.192.") + zone;
  out.answer = {ip(answer)};
  out.weight = weight;
  out.txt = txt;
  return out;
}

TEST(DnsblAuthResults, AllowAndBlockListHitsAsRfc8904AndXDnsbl) {
  checks::Dnsbl lists;
  lists.hits = {hit("list.dnswl.org", "127.0.10.1", -5, "https://dnswl.org/s/?s=8580"),
                hit("zen.spamhaus.org", "127.0.0.4", 3, "")};
  auto domain = hit("dbl.spamhaus.org", "127.0.1.2", 1, "spam domain");
  domain.domain = "spammer.example";
  domain.source = checks::DnsblSource::mailfrom;
  lists.hits.push_back(domain);
  checks::DnsblError error;
  error.zone = "bl.example";
  error.answer = "127.255.255.254";
  lists.errors = {error};
  EXPECT_EQ(assemble_auth_results("mx.example.org", dnsbl_auth_results(lists)),
            " mx.example.org; dnswl=pass dns.zone=list.dnswl.org policy.ip=127.0.10.1 "
            "policy.txt=\"https://dnswl.org/s/?s=8580\";\n"
            "\tx-dnsbl=fail dns.zone=zen.spamhaus.org policy.ip=127.0.0.4;\n"
            "\tx-dnsbl=fail dns.zone=dbl.spamhaus.org policy.domain=spammer.example "
            "policy.ip=127.0.1.2 policy.txt=\"spam domain\" (mailfrom)");
}

TEST(DnsblAuthResults, ErrorsAloneWriteNothingAndTxtIsSanitized) {
  checks::Dnsbl lists;
  checks::DnsblError error;
  error.zone = "zen.spamhaus.org";
  error.outcome = "servfail";
  lists.errors = {error};
  EXPECT_TRUE(dnsbl_auth_results(lists).empty());
  lists.hits = {hit("bl.example", "127.0.0.2", 1, "a\"b\\c\r\nX: y")};
  EXPECT_EQ(assemble_auth_results("mx", dnsbl_auth_results(lists)),
            " mx; x-dnsbl=fail dns.zone=bl.example policy.ip=127.0.0.2 "
            "policy.txt=\"a\\\"b\\\\c??X: y\"");
}

}  // namespace
}  // namespace rdns::header
