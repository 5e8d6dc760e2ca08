// The --check diagnosis (src/cli/diagnosis.cpp) over canned Reports and ProbeResults: each code
// appears when its evidence is there (with party, the evidence in the summary and the record in
// the fix) and not otherwise; the probe's judge() over canned answers; the honest texts.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "rdns/checks/helo.h"
#include "rdns/cli/check.h"
#include "testutil/fake_resolver.h"

namespace rdns::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::ip;
using testutil::probe_result;
using testutil::ptr_answer;
using testutil::server_answer;
using testutil::silent_server;

constexpr const char* reverse = "55.2.0.192.in-addr.arpa";
constexpr const char* zone = "2.0.192.in-addr.arpa";

/// A report for client 192.0.2.55 with `reason` and the given evidence.
Report report_for(checks::IprevReason reason, std::vector<dns::Answer> evidence) {
  Report report;
  report.iprev.client = ip("192.0.2.55");
  report.iprev.reason = reason;
  report.iprev.evidence = std::move(evidence);
  return report;
}

dns::Answer nxdomain_ptr() {
  auto answer = failure_answer(reverse, dns::RrType::ptr, dns::Outcome::nxdomain);
  answer.zone = zone;
  answer.ttl = 3600;
  return answer;
}

std::vector<Diagnosis> with_code(const Report& report, const std::string& code) {
  std::vector<Diagnosis> found;
  for (auto& d : diagnose(report)) {
    if (d.code == code) found.push_back(d);
  }
  return found;
}

dns::ServerAnswer named(dns::ServerAnswer server, std::string ns) {
  server.ns_name = std::move(ns);
  return server;
}

dns::ServerAnswer refused(std::string address) {
  auto server = server_answer(
      std::move(address), failure_answer(reverse, dns::RrType::ptr, dns::Outcome::servfail), false);
  server.rcode = 5;
  return server;
}

// ---- nothing wrong -------------------------------------------------------------------------

TEST(Diagnosis, EmptyForAPass) {
  auto report = report_for(
      checks::IprevReason::forward_confirmed,
      {ptr_answer(reverse, {"mail.example.com"}), a_answer("mail.example.com", {"192.0.2.55"})});
  report.iprev.result = checks::IprevResult::pass;
  report.iprev.ptr = {"mail.example.com"};
  report.iprev.verified = {"mail.example.com"};
  EXPECT_TRUE(diagnose(report).empty());
}

// ---- no-ptr ----------------------------------------------------------------------------------

TEST(Diagnosis, NoPtrNamesTheRecordAndTheZone) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  report.iprev.authority.push_back(
      probe_result(reverse, dns::RrType::ptr, zone, {server_answer("192.0.2.53", nxdomain_ptr())}));
  const auto found = with_code(report, "no-ptr");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr("NXDOMAIN"));
  EXPECT_THAT(found[0].summary,
              HasSubstr("confirmed by the authoritative servers of " + std::string(zone)));
  EXPECT_THAT(found[0].fix, HasSubstr("55.2.0.192.in-addr.arpa. PTR mail.example.com."));
  EXPECT_THAT(found[0].fix, HasSubstr("mail.example.com. A 192.0.2.55"));
  EXPECT_THAT(found[0].fix, HasSubstr("in the zone 2.0.192.in-addr.arpa"));
}

TEST(Diagnosis, NoPtrFromABuiltInLocalZoneIsTheReceivers) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  report.builtin_local_zones = builtin_local_zones("");
  const auto found = with_code(report, "no-ptr");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "receiver");
  EXPECT_THAT(found[0].summary, HasSubstr("built-in local zone 2.0.192.in-addr.arpa"));
  EXPECT_THAT(found[0].summary, HasSubstr("no server was asked"));
  EXPECT_THAT(found[0].fix, HasSubstr("local-zone: \"2.0.192.in-addr.arpa.\" nodefault"));
}

TEST(Diagnosis, NoNoPtrForOtherReasons) {
  auto report = report_for(checks::IprevReason::ptr_servfail,
                           {failure_answer(reverse, dns::RrType::ptr, dns::Outcome::servfail)});
  EXPECT_TRUE(with_code(report, "no-ptr").empty());
}

// ---- built-in local zones ------------------------------------------------------------------

TEST(BuiltinLocalZones, DefaultsAndNodefault) {
  const auto all = builtin_local_zones("");
  EXPECT_THAT(all, ::testing::Contains("2.0.192.in-addr.arpa"));
  EXPECT_THAT(all, ::testing::Contains("test"));
  EXPECT_THAT(all, ::testing::Contains("20.172.in-addr.arpa"));
  EXPECT_THAT(all, Not(::testing::Contains("example.com")));
  const auto freed = builtin_local_zones(
      "server:\n  local-zone: \"2.0.192.in-addr.arpa.\" nodefault\n"
      "  # local-zone: \"test.\" nodefault\n  local-zone: 10.in-addr.arpa. transparent\n");
  EXPECT_THAT(freed, Not(::testing::Contains("2.0.192.in-addr.arpa")));
  EXPECT_THAT(freed, Not(::testing::Contains("10.in-addr.arpa")));
  EXPECT_THAT(freed, ::testing::Contains("test"));  // only commented out
}

TEST(BuiltinLocalZones, ProbeEvidenceOrSoaOwner) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  EXPECT_EQ(builtin_zone_of(report, report.iprev.evidence[0]), "");  // no list, no probe
  dns::ProbeResult local = probe_result(reverse, dns::RrType::ptr, zone, {});
  local.steps[0].local_zone = true;
  report.iprev.authority.push_back(local);
  EXPECT_EQ(builtin_zone_of(report, report.iprev.evidence[0]), zone);
  EXPECT_EQ(builtin_zone_of(report, ptr_answer(reverse, {"mail.example.com"})), "");
}

// ---- forward names ---------------------------------------------------------------------------

TEST(Diagnosis, PtrNoAddress) {
  auto report =
      report_for(checks::IprevReason::no_forward_match,
                 {ptr_answer(reverse, {"mail.example.com"}),
                  failure_answer("mail.example.com", dns::RrType::a, dns::Outcome::nxdomain)});
  report.iprev.ptr = {"mail.example.com"};
  const auto found = with_code(report, "ptr-no-address");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-domain");
  EXPECT_THAT(found[0].summary, HasSubstr("mail.example.com A: NXDOMAIN"));
  EXPECT_THAT(found[0].fix, HasSubstr("mail.example.com. A 192.0.2.55"));
  EXPECT_TRUE(with_code(report, "ptr-mismatch").empty());
}

TEST(Diagnosis, PtrMismatch) {
  auto report = report_for(
      checks::IprevReason::no_forward_match,
      {ptr_answer(reverse, {"mail.example.com"}), a_answer("mail.example.com", {"192.0.2.99"})});
  report.iprev.ptr = {"mail.example.com"};
  const auto found = with_code(report, "ptr-mismatch");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-domain");
  EXPECT_THAT(found[0].summary, HasSubstr("192.0.2.99, not 192.0.2.55"));
  EXPECT_THAT(found[0].fix, HasSubstr("mail.example.com. A 192.0.2.55"));
  EXPECT_TRUE(with_code(report, "ptr-no-address").empty());
}

// ---- the authority probe ---------------------------------------------------------------------

TEST(Diagnosis, ServersDisagree) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {nxdomain_ptr()});
  report.iprev.authority.push_back(probe_result(
      reverse, dns::RrType::ptr, zone,
      {named(server_answer("127.0.0.3", nxdomain_ptr()), "ns1.test"),
       named(server_answer("127.0.0.5", ptr_answer(reverse, {"mail.test"})), "ns2.test")}));
  const auto found = with_code(report, "servers-disagree");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr("ns1.test 127.0.0.3: NXDOMAIN"));
  EXPECT_THAT(found[0].summary, HasSubstr("ns2.test 127.0.0.5: PTR mail.test"));
  EXPECT_THAT(found[0].fix, HasSubstr("55.2.0.192.in-addr.arpa. PTR mail.test."));
  EXPECT_THAT(found[0].fix, HasSubstr("SOA serial"));
  // The negative came from the server out of sync, not from a stale cache.
  EXPECT_TRUE(with_code(report, "stale-negative-cache").empty());
}

TEST(Diagnosis, ServersThatAgreeDoNotDisagree) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  report.iprev.authority.push_back(probe_result(
      reverse, dns::RrType::ptr, zone,
      {server_answer("127.0.0.3", nxdomain_ptr()), server_answer("127.0.0.5", nxdomain_ptr())}));
  EXPECT_TRUE(with_code(report, "servers-disagree").empty());
  EXPECT_TRUE(with_code(report, "lame-delegation").empty());
}

TEST(Diagnosis, LameDelegationRefusedAndNotAuthoritative) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  auto no_aa = named(server_answer("127.0.0.7", nxdomain_ptr(), false), "ns3.test");
  report.iprev.authority.push_back(
      probe_result(reverse, dns::RrType::ptr, zone,
                   {named(server_answer("127.0.0.3", nxdomain_ptr()), "ns1.test"),
                    named(refused("127.0.0.6"), "ns2.test"), no_aa}));
  const auto found = with_code(report, "lame-delegation");
  ASSERT_EQ(found.size(), 2U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr("ns2.test 127.0.0.6: REFUSED"));
  EXPECT_THAT(found[0].fix,
              HasSubstr("Make ns2.test (127.0.0.6) serve the zone " + std::string(zone)));
  EXPECT_THAT(found[0].fix, HasSubstr("from its delegation in the parent zone"));
  EXPECT_THAT(found[1].summary, HasSubstr("without the AA flag"));
  // The verdict still stands on the one authoritative answer.
  EXPECT_EQ(with_code(report, "no-ptr").size(), 1U);
}

TEST(Diagnosis, NoLameDelegationWhenNobodyAnswered) {
  auto confirmed = failure_answer(reverse, dns::RrType::ptr, dns::Outcome::servfail);
  confirmed.confirmed = true;  // the probe's judgement, as start_iprev records it
  auto report = report_for(checks::IprevReason::unconfirmed, {nxdomain_ptr(), confirmed});
  report.iprev.authority.push_back(probe_result(
      reverse, dns::RrType::ptr, zone, {silent_server("127.0.0.3"), silent_server("127.0.0.4")}));
  EXPECT_TRUE(with_code(report, "lame-delegation").empty());
  const auto found = with_code(report, "upstream-failure");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr("127.0.0.3 timeout"));
  EXPECT_THAT(found[0].fix, HasSubstr("tempfailed, never rejected"));
}

TEST(Diagnosis, StubAddrThatIsLameIsTheReceivers) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  auto probe = probe_result(reverse, dns::RrType::ptr, zone,
                            {server_answer("127.0.0.3", nxdomain_ptr()), refused("127.0.0.9")});
  probe.steps[0].from_stub = true;
  report.iprev.authority.push_back(probe);
  const auto found = with_code(report, "lame-delegation");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "receiver");
  EXPECT_THAT(found[0].fix, HasSubstr("stub-zone"));
}

dns::Answer cname_nxdomain(std::string answer_zone) {
  auto answer = nxdomain_ptr();
  answer.cname_chain = {"55.0/26.2.0.192.in-addr.arpa"};
  answer.zone = std::move(answer_zone);
  return answer;
}

TEST(Diagnosis, Rfc2317TargetZoneNotDelegated) {
  auto report = report_for(checks::IprevReason::no_ptr, {cname_nxdomain(zone)});
  report.iprev.authority.push_back(
      probe_result(reverse, dns::RrType::ptr, zone,
                   {named(server_answer("127.0.0.3", cname_nxdomain(zone)), "ns1.test")}));
  const auto found = with_code(report, "rfc2317-broken");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr("CNAME to 55.0/26.2.0.192.in-addr.arpa"));
  EXPECT_THAT(found[0].summary, HasSubstr("the zone 0/26.2.0.192.in-addr.arpa is not delegated"));
  EXPECT_THAT(found[0].fix, HasSubstr("Delegate 0/26.2.0.192.in-addr.arpa"));
  EXPECT_THAT(found[0].fix, HasSubstr("55.0/26.2.0.192.in-addr.arpa. PTR mail.example.com."));
  // The PTR belongs at the CNAME's target.
  EXPECT_THAT(with_code(report, "no-ptr")[0].fix,
              HasSubstr("55.0/26.2.0.192.in-addr.arpa. PTR mail.example.com."));
}

TEST(Diagnosis, Rfc2317TargetMissingInItsZone) {
  auto report =
      report_for(checks::IprevReason::no_ptr, {cname_nxdomain("0/26." + std::string(zone))});
  auto leaving = ptr_answer(reverse, {});
  leaving.outcome = dns::Outcome::nodata;
  leaving.cname_chain = {"55.0/26.2.0.192.in-addr.arpa"};
  auto probe = probe_result(reverse, dns::RrType::ptr, zone, {server_answer("127.0.0.3", leaving)});
  auto target = nxdomain_ptr();
  target.name = "55.0/26.2.0.192.in-addr.arpa";
  target.zone = "0/26.2.0.192.in-addr.arpa";
  auto second = probe_result(target.name, dns::RrType::ptr, target.zone,
                             {server_answer("127.0.0.4", target)});
  probe.steps.push_back(second.steps[0]);
  report.iprev.authority.push_back(probe);
  const auto found = with_code(report, "rfc2317-broken");
  ASSERT_EQ(found.size(), 1U) << found.size();
  EXPECT_THAT(found[0].summary, HasSubstr("its zone 0/26.2.0.192.in-addr.arpa answers NXDOMAIN"));
  EXPECT_THAT(found[0].fix, HasSubstr("Add 55.0/26.2.0.192.in-addr.arpa. PTR mail.example.com. "
                                      "in the zone 0/26.2.0.192.in-addr.arpa"));
}

TEST(Diagnosis, Rfc2317TargetZoneLame) {
  auto report = report_for(checks::IprevReason::unconfirmed, {nxdomain_ptr()});
  auto leaving = ptr_answer(reverse, {});
  leaving.outcome = dns::Outcome::nodata;
  leaving.cname_chain = {"55.0/26.2.0.192.in-addr.arpa"};
  auto probe = probe_result(reverse, dns::RrType::ptr, zone, {server_answer("127.0.0.3", leaving)});
  auto second = probe_result("55.0/26.2.0.192.in-addr.arpa", dns::RrType::ptr,
                             "0/26.2.0.192.in-addr.arpa", {refused("127.0.0.8")});
  probe.steps.push_back(second.steps[0]);
  report.iprev.authority.push_back(probe);
  const auto found = with_code(report, "rfc2317-broken");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].summary, HasSubstr("does not answer"));
  EXPECT_THAT(found[0].summary, HasSubstr("127.0.0.8"));
  EXPECT_EQ(with_code(report, "lame-delegation").size(), 1U);
}

TEST(Diagnosis, NoRfc2317WithoutACname) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  report.iprev.authority.push_back(
      probe_result(reverse, dns::RrType::ptr, zone, {server_answer("127.0.0.3", nxdomain_ptr())}));
  EXPECT_TRUE(with_code(report, "rfc2317-broken").empty());
}

TEST(Diagnosis, Rfc2317FromTheResolverAloneWithoutAProbe) {
  auto report = report_for(checks::IprevReason::unconfirmed, {cname_nxdomain(zone)});
  const auto found = with_code(report, "rfc2317-broken");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].fix, HasSubstr("55.0/26.2.0.192.in-addr.arpa. PTR mail.example.com."));
}

TEST(Diagnosis, StaleNegativeCache) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {nxdomain_ptr(), [] {
                                                                      auto a = ptr_answer(
                                                                          reverse, {"mail.test"});
                                                                      a.confirmed = true;
                                                                      return a;
                                                                    }()});
  report.cache_source = "forwarder 127.0.0.53";
  const auto found = with_code(report, "stale-negative-cache");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "receiver");
  EXPECT_THAT(found[0].summary, HasSubstr("forwarder 127.0.0.53"));
  EXPECT_THAT(found[0].fix, HasSubstr("Flush the forwarder's cache"));
  EXPECT_TRUE(
      with_code(report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()}), "stale-negative-cache")
          .empty());
}

// ---- failures upstream and our own ---------------------------------------------------------

TEST(Diagnosis, UpstreamFailureIsTheSendersWhenOurResolverWorks) {
  auto report = report_for(checks::IprevReason::ptr_servfail,
                           {failure_answer(reverse, dns::RrType::ptr, dns::Outcome::servfail)});
  report.resolver_health = failure_answer(".", dns::RrType::ns, dns::Outcome::nodata);
  report.resolver_health->outcome = dns::Outcome::ok;
  const auto found = with_code(report, "upstream-failure");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr(std::string(reverse) + " PTR: SERVFAIL"));
  EXPECT_THAT(found[0].fix, HasSubstr("never rejected"));
}

TEST(Diagnosis, DeadForwarderIsTheReceivers) {
  auto report =
      report_for(checks::IprevReason::ptr_timeout,
                 {failure_answer("8.8.8.8.in-addr.arpa", dns::RrType::ptr, dns::Outcome::timeout)});
  report.iprev.client = ip("8.8.8.8");
  report.cache_source = "forwarder 127.0.0.1";
  report.resolver_health = failure_answer(".", dns::RrType::ns, dns::Outcome::timeout);
  const auto found = diagnose(report);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].code, "upstream-failure");
  EXPECT_EQ(found[0].party, "receiver");
  EXPECT_THAT(found[0].summary, HasSubstr("forwarder 127.0.0.1 did not answer"));
  EXPECT_THAT(found[0].summary, HasSubstr("sender's DNS was never reached"));
  EXPECT_THAT(found[0].fix, HasSubstr("start forwarder 127.0.0.1"));
  EXPECT_THAT(found[0].fix, Not(HasSubstr("in-addr.arpa")));
  // The JSON iprev fix says the same, not "whoever runs the name servers of ...".
  std::ostringstream out;
  print_json(out, report);
  EXPECT_THAT(out.str(), Not(HasSubstr("whoever runs the name servers")));
  EXPECT_THAT(out.str(), HasSubstr("start forwarder 127.0.0.1"));
}

TEST(Diagnosis, DnssecBogus) {
  auto report = report_for(checks::IprevReason::ptr_bogus,
                           {failure_answer(reverse, dns::RrType::ptr, dns::Outcome::bogus)});
  const auto found = with_code(report, "dnssec-bogus");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr(report.iprev.evidence[0].why_bogus));
  EXPECT_THAT(found[0].fix, HasSubstr("DS records in the parent zone"));
  EXPECT_TRUE(
      with_code(report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()}), "dnssec-bogus").empty());
}

// ---- HELO and SPF ----------------------------------------------------------------------------

Report with_helo(checks::HeloReason reason, std::string name,
                 std::vector<std::string> addresses = {}) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {});
  report.iprev.verified = {"mail.sender.zz"};
  checks::Helo helo;
  helo.helo = name;
  helo.parsed = checks::parse_helo(name);
  helo.reason = reason;
  helo.result = checks::HeloResult::fail;
  for (const auto& a : addresses) helo.addresses.push_back(ip(a));
  report.helo = helo;
  return report;
}

TEST(Diagnosis, HeloCodes) {
  auto found = with_code(with_helo(checks::HeloReason::not_fqdn, "mailhost"), "helo-not-fqdn");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-domain");
  EXPECT_THAT(found[0].fix, HasSubstr("mail.sender.zz. A 192.0.2.55"));

  found = with_code(with_helo(checks::HeloReason::bad_tld, "mail.example.com"), "helo-bad-tld");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].summary, HasSubstr("special-use name reserved for documentation "
                                          "(RFC 6761 section 6.5)"));
  EXPECT_THAT(found[0].summary, Not(HasSubstr(".com is not")));
  found = with_code(with_helo(checks::HeloReason::bad_tld, "mail.nosuchtld"), "helo-bad-tld");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].summary, HasSubstr(".nosuchtld does not exist"));

  found = with_code(with_helo(checks::HeloReason::mismatch, "mail.other.zz", {"192.0.2.99"}),
                    "helo-mismatch");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].summary, HasSubstr("resolves to 192.0.2.99, not 192.0.2.55"));
  EXPECT_THAT(found[0].fix, HasSubstr("mail.other.zz. A 192.0.2.55"));

  EXPECT_TRUE(
      with_code(with_helo(checks::HeloReason::ok, "mail.sender.zz"), "helo-mismatch").empty());
  EXPECT_TRUE(diagnose(with_helo(checks::HeloReason::ok, "mail.sender.zz")).empty());
}

Report with_spf(checks::SpfResult result, std::string record, std::string problem = {}) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {});
  checks::Spf spf;
  spf.result = result;
  spf.domain = "sender.zz";
  spf.record = std::move(record);
  spf.problem = std::move(problem);
  report.spf.push_back(spf);
  return report;
}

TEST(Diagnosis, SpfFailGivesTheRecordWithTheClient) {
  const auto found =
      with_code(with_spf(checks::SpfResult::fail, "v=spf1 ip4:198.51.100.0/24 -all"), "spf-fail");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-domain");
  EXPECT_THAT(found[0].fix,
              HasSubstr("sender.zz. TXT \"v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.55 -all\""));
  EXPECT_TRUE(with_code(with_spf(checks::SpfResult::pass, "v=spf1 ip4:192.0.2.55 -all"), "spf-fail")
                  .empty());
  EXPECT_TRUE(with_code(with_spf(checks::SpfResult::softfail, "v=spf1 ~all"), "spf-fail").empty());
}

TEST(Diagnosis, SpfPermerror) {
  const auto found = with_code(
      with_spf(checks::SpfResult::permerror, "v=spf1 foo:bar -all", "unknown mechanism foo"),
      "spf-permerror");
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "sender-domain");
  EXPECT_THAT(found[0].summary, HasSubstr("unknown mechanism foo"));
  EXPECT_THAT(found[0].fix, HasSubstr("sender.zz. TXT \"v=spf1 ip4:192.0.2.55 -all\""));
  EXPECT_TRUE(with_code(with_spf(checks::SpfResult::fail, "v=spf1 -all"), "spf-permerror").empty());
}

// ---- the texts -------------------------------------------------------------------------------

TEST(DiagnosisText, SpecialUseNames) {
  EXPECT_EQ(checks::special_use_reason("mail.example.com"),
            "mail.example.com is a special-use name reserved for documentation (RFC 6761 "
            "section 6.5), not a public host name");
  EXPECT_THAT(checks::special_use_reason("a.test"), HasSubstr("RFC 6761 section 6.2"));
  EXPECT_THAT(checks::special_use_reason("x.invalid"), HasSubstr("RFC 6761 section 6.4"));
  EXPECT_THAT(checks::special_use_reason("localhost"), HasSubstr("RFC 6761 section 6.3"));
  EXPECT_THAT(checks::special_use_reason("printer.home.arpa"), HasSubstr("RFC 8375"));
  EXPECT_EQ(checks::special_use_reason("mail.example.de"), "");
  const auto report = with_helo(checks::HeloReason::bad_tld, "mail.example.com");
  const auto fix = helo_fix(*report.helo, report.iprev);
  EXPECT_THAT(fix, HasSubstr("special-use name"));
  EXPECT_THAT(fix, Not(HasSubstr(".com is not")));
}

TEST(DiagnosisText, NotValidatedNegativeTtlAndBuiltInZone) {
  auto report = report_for(checks::IprevReason::no_ptr, {nxdomain_ptr()});
  report.iprev.evidence[0].ttl = 10800;
  report.validating = false;
  report.cache_max_negative_ttl = 300;
  report.builtin_local_zones = builtin_local_zones("");
  std::ostringstream out;
  print_text(out, report);
  const auto text = out.str();
  EXPECT_THAT(text, HasSubstr("DNSSEC not validated (no trust anchor)"));
  EXPECT_THAT(text, Not(HasSubstr("DNSSEC insecure")));
  EXPECT_THAT(text, HasSubstr("negative TTL 10800 in the answer, cached 300 s"));
  EXPECT_THAT(text, HasSubstr("made up by libunbound's built-in local zone 2.0.192.in-addr.arpa"));
  EXPECT_THAT(text, HasSubstr("Diagnosis:\n  no-ptr [receiver]"));
  EXPECT_THAT(text, HasSubstr("Fix: If 192.0.2.55 really has a PTR"));

  report.validating = true;
  report.builtin_local_zones.clear();
  report.iprev.evidence[0].ttl = 200;
  std::ostringstream again;
  print_text(again, report);
  EXPECT_THAT(again.str(), HasSubstr("(negative TTL 200, insecure)"));
  EXPECT_THAT(again.str(), Not(HasSubstr("built-in")));
}

// ---- the probe's judgement over canned answers ---------------------------------------------

TEST(ProbeJudge, CannedAnswers) {
  using dns::ProbeVerdict;
  const auto verdict = [](std::vector<dns::ServerAnswer> servers) {
    return dns::judge(probe_result(reverse, dns::RrType::ptr, zone, std::move(servers)));
  };
  EXPECT_EQ(verdict({server_answer("a", nxdomain_ptr())}).verdict,
            ProbeVerdict::confirmed_negative);
  EXPECT_EQ(verdict({server_answer("a", nxdomain_ptr()), refused("b")}).verdict,
            ProbeVerdict::confirmed_negative);
  EXPECT_EQ(verdict({refused("a"), silent_server("b")}).verdict, ProbeVerdict::unconfirmed);
  EXPECT_EQ(verdict({server_answer("a", nxdomain_ptr(), false)}).verdict,
            ProbeVerdict::unconfirmed);
  const auto mixed =
      verdict({server_answer("a", nxdomain_ptr()), server_answer("b", ptr_answer(reverse, {"m"}))});
  EXPECT_EQ(mixed.verdict, ProbeVerdict::has_record);
  EXPECT_TRUE(mixed.servers_disagree);
  EXPECT_FALSE(verdict({server_answer("a", ptr_answer(reverse, {"m"})),
                        server_answer("b", ptr_answer(reverse, {"m"}))})
                   .servers_disagree);
  EXPECT_TRUE(verdict({server_answer("a", ptr_answer(reverse, {"m"})),
                       server_answer("b", ptr_answer(reverse, {"n"}))})
                  .servers_disagree);
  // Only a CNAME out of the zone (RFC 2317): this step proves nothing.
  auto leaving = ptr_answer(reverse, {});
  leaving.outcome = dns::Outcome::nodata;
  leaving.cname_chain = {"55.0/26.2.0.192.in-addr.arpa"};
  EXPECT_TRUE(dns::leaves_zone(leaving));
  EXPECT_EQ(verdict({server_answer("a", leaving)}).verdict, ProbeVerdict::unconfirmed);
  // A CNAME to a missing name inside the zone is a real negative.
  EXPECT_EQ(verdict({server_answer("a", cname_nxdomain(zone))}).verdict,
            ProbeVerdict::confirmed_negative);
}

}  // namespace
}  // namespace rdns::cli
