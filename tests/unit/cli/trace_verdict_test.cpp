// --check --trace without the network: which names are traced, whose side the traces say must
// act (with the exact record), and the JSON places of the traces, over hand-made traces.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "rdns/cli/trace.h"
#include "testutil/fake_resolver.h"

namespace rdns::cli {
namespace {

using dns::Outcome;
using dns::RrType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::ip;
using testutil::probe_result;
using testutil::ptr_answer;
using testutil::server_answer;
using testutil::silent_server;

constexpr const char* kRev = "7.2.0.192.in-addr.arpa";

Report report_for(checks::IprevReason reason, std::vector<std::string> ptr = {}) {
  Report report;
  report.iprev.client = ip("192.0.2.7");
  report.iprev.reason = reason;
  report.iprev.ptr = std::move(ptr);
  report.cache_source = "forwarder 192.0.2.53";
  return report;
}

void set_helo(Report& report, std::string domain, checks::HeloReason reason) {
  checks::Helo helo;
  helo.helo = domain;
  helo.parsed.kind = checks::HeloName::Kind::domain;
  helo.parsed.domain = std::move(domain);
  helo.reason = reason;
  report.helo = helo;
}

dns::Trace trace_of(const std::string& name, RrType type, dns::Answer cached, std::string zone,
                    std::vector<dns::ServerAnswer> servers) {
  dns::Trace trace;
  trace.name = name;
  trace.type = type;
  trace.cached = std::move(cached);
  trace.authority = probe_result(name, type, std::move(zone), std::move(servers));
  dns::TraceZone root;
  root.zone = ".";
  root.name = name;
  root.type = type;
  root.servers_from = "stub-addr";
  trace.path.push_back(root);
  return trace;
}

dns::Trace confirmed_negative(const std::string& name, RrType type, std::string zone) {
  auto negative = failure_answer(name, type, Outcome::nxdomain);
  negative.zone = zone;
  return trace_of(name, type, negative, std::move(zone), {server_answer("192.0.2.53", negative)});
}

TEST(TraceQuestions, PtrForwardHeloAndSpfTxtWithoutRepeats) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {"mail.sender.zz"});
  set_helo(report, "mail.sender.zz", checks::HeloReason::ok);
  checks::Spf spf;
  auto txt = failure_answer("sender.zz", RrType::txt, Outcome::nodata);
  spf.evidence = {txt, txt, a_answer("mail.sender.zz", {"192.0.2.7"})};
  report.spf = {spf};
  const auto questions = trace_questions(report);
  EXPECT_THAT(questions, ElementsAre(std::pair<std::string, RrType>{kRev, RrType::ptr},
                                     std::pair<std::string, RrType>{"mail.sender.zz", RrType::a},
                                     std::pair<std::string, RrType>{"mail.sender.zz", RrType::aaaa},
                                     std::pair<std::string, RrType>{"mail.sender.zz", RrType::mx},
                                     std::pair<std::string, RrType>{"sender.zz", RrType::txt}));
}

TEST(TraceFindings, ConfirmedMissingPtrIsTheIspsWithTheExactRecord) {
  auto report = report_for(checks::IprevReason::no_ptr);
  set_helo(report, "mail.sender.zz", checks::HeloReason::no_address);
  report.traces = {confirmed_negative(kRev, RrType::ptr, "2.0.192.in-addr.arpa")};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].code, "missing-record");
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].fix, HasSubstr("`7.2.0.192.in-addr.arpa. PTR mail.sender.zz.`"));
  EXPECT_THAT(found[0].fix, HasSubstr("the zone 2.0.192.in-addr.arpa."));
}

TEST(TraceFindings, ThroughAnRfc2317ChainThePtrGoesAtTheTarget) {
  auto report = report_for(checks::IprevReason::no_ptr);
  auto trace =
      confirmed_negative("7.0/26.2.0.192.in-addr.arpa", RrType::ptr, "0/26.2.0.192.in-addr.arpa");
  trace.name = kRev;
  trace.cname_chain = {"7.0/26.2.0.192.in-addr.arpa"};
  report.traces = {trace};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].fix, HasSubstr("`7.0/26.2.0.192.in-addr.arpa. PTR mail.example.com.`"));
  EXPECT_THAT(found[0].summary, HasSubstr("RFC 2317"));
}

TEST(TraceFindings, HeloWithoutAddressIsTheDomainOwnersARecord) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {"mail.sender.zz"});
  set_helo(report, "nohost.sender.zz", checks::HeloReason::no_address);
  report.traces = {confirmed_negative("nohost.sender.zz", RrType::a, "sender.zz"),
                   confirmed_negative("nohost.sender.zz", RrType::aaaa, "sender.zz")};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 1U) << "the A of an IPv4 client only";
  EXPECT_EQ(found[0].party, "sender-domain");
  EXPECT_THAT(found[0].fix, HasSubstr("`nohost.sender.zz. A 192.0.2.7` to the zone sender.zz."));
}

TEST(TraceFindings, MissingSpfRecordIsTheDomainOwnersTxt) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {"mail.sender.zz"});
  checks::Spf spf;
  spf.domain = "sender.zz";
  spf.result = checks::SpfResult::none;
  report.spf = {spf};
  report.traces = {confirmed_negative("sender.zz", RrType::txt, "sender.zz")};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_THAT(found[0].fix, HasSubstr("`sender.zz. TXT \"v=spf1 ip4:192.0.2.7 -all\"`"));
}

TEST(TraceFindings, AStaleCacheIsTheReceiversNotTheSenders) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {"mail.sender.zz"});
  report.traces = {trace_of(kRev, RrType::ptr, failure_answer(kRev, RrType::ptr, Outcome::nxdomain),
                            "2.0.192.in-addr.arpa",
                            {server_answer("192.0.2.53", ptr_answer(kRev, {"mail.sender.zz"}))})};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].code, "cached-view-differs");
  EXPECT_EQ(found[0].party, "receiver");
  EXPECT_THAT(found[0].summary, HasSubstr("forwarder 192.0.2.53 answers"));
  EXPECT_THAT(found[0].summary, HasSubstr("ns.fake.test 192.0.2.53"));
  EXPECT_THAT(found[0].fix, HasSubstr("Flush 7.2.0.192.in-addr.arpa"));
}

TEST(TraceFindings, AFailingResolverIsTheReceiversButABogusAnswerIsNot) {
  auto report = report_for(checks::IprevReason::ptr_servfail);
  const auto auth = server_answer("192.0.2.53", ptr_answer(kRev, {"mail.sender.zz"}));
  report.traces = {trace_of(kRev, RrType::ptr, failure_answer(kRev, RrType::ptr, Outcome::servfail),
                            "2.0.192.in-addr.arpa", {auth})};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].party, "receiver");
  EXPECT_THAT(found[0].fix, HasSubstr("Check forwarder 192.0.2.53"));
  report.traces = {trace_of(kRev, RrType::ptr, failure_answer(kRev, RrType::ptr, Outcome::bogus),
                            "2.0.192.in-addr.arpa", {auth})};
  EXPECT_THAT(trace_findings(report), IsEmpty());
}

TEST(TraceFindings, ABrokenDelegationIsTheZoneOwners) {
  auto report = report_for(checks::IprevReason::unconfirmed);
  auto trace = trace_of(kRev, RrType::ptr, failure_answer(kRev, RrType::ptr, Outcome::servfail),
                        "2.0.192.in-addr.arpa", {silent_server("192.0.2.53")});
  trace.failure = "no server of 2.0.192.in-addr.arpa answered";
  trace.failed_zone = "2.0.192.in-addr.arpa";
  auto forward = trace_of("mail.sender.zz", RrType::a, a_answer("mail.sender.zz", {"192.0.2.7"}),
                          "sender.zz", {silent_server("192.0.2.54")});
  forward.failure = "no server of sender.zz answered";
  forward.failed_zone = "sender.zz";
  report.traces = {trace, forward};
  const auto found = trace_findings(report);
  ASSERT_EQ(found.size(), 2U);
  EXPECT_EQ(found[0].party, "sender-isp");
  EXPECT_THAT(found[0].summary, HasSubstr("192.0.2.53 timeout"));
  EXPECT_EQ(found[1].party, "sender-domain");
  EXPECT_THAT(found[1].fix, HasSubstr("sender.zz."));
}

TEST(TraceFindings, AllWellIsNothing) {
  auto report = report_for(checks::IprevReason::forward_confirmed, {"mail.sender.zz"});
  report.traces = {trace_of(kRev, RrType::ptr, ptr_answer(kRev, {"mail.sender.zz"}),
                            "2.0.192.in-addr.arpa",
                            {server_answer("192.0.2.53", ptr_answer(kRev, {"mail.sender.zz"}))})};
  EXPECT_THAT(trace_findings(report), IsEmpty());
}

TEST(TraceJson, TracesGoUnderTheirChecksAndTheVerdictBeside) {
  auto report = report_for(checks::IprevReason::no_ptr);
  report.traces = {confirmed_negative(kRev, RrType::ptr, "2.0.192.in-addr.arpa")};
  nlohmann::json json;
  json["checks"]["iprev"] = nlohmann::json::object();
  add_trace_json(json, report);
  const auto& trace = json["checks"]["iprev"]["trace"];
  ASSERT_EQ(trace.size(), 1U);
  EXPECT_EQ(trace[0]["zones"], nlohmann::json::array({"."}));
  EXPECT_EQ(trace[0]["path"][0]["servers_from"], "stub-addr");
  EXPECT_EQ(trace[0]["authoritative"]["verdict"], "confirmed-negative");
  EXPECT_EQ(trace[0]["views"], "same");
  EXPECT_EQ(json["trace_verdict"][0]["party"], "sender-isp");
  EXPECT_FALSE(json["checks"].contains("helo"));
}

TEST(TraceJson, NoTracesNoKeys) {
  nlohmann::json json = nlohmann::json::object();
  add_trace_json(json, report_for(checks::IprevReason::no_ptr));
  EXPECT_TRUE(json.empty());
}

TEST(TraceText, PathViewsAndVerdict) {
  auto report = report_for(checks::IprevReason::no_ptr);
  report.traces = {confirmed_negative(kRev, RrType::ptr, "2.0.192.in-addr.arpa")};
  std::ostringstream out;
  print_trace_text(out, report);
  EXPECT_THAT(out.str(), HasSubstr("7.2.0.192.in-addr.arpa PTR (0 ms): .\n"));
  EXPECT_THAT(out.str(), HasSubstr("cached view:"));
  EXPECT_THAT(out.str(), HasSubstr("authoritative view:"));
  EXPECT_THAT(out.str(), HasSubstr("Verdict:\n  sender-isp (no-ptr)"));
  EXPECT_THAT(out.str(), HasSubstr("sender-isp (missing-record)"));
}

}  // namespace
}  // namespace rdns::cli
