// The pure half of the delegation trace: where a zone's answers lead (next_step), referrals
// read from wire-format replies (parse_referral, packets built with ldns), the cached view
// beside the authoritative one, and the walk's start over a fake resolver.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ldns/ldns.h>

#include <memory>

#include "rdns/dns/trace.h"
#include "testutil/fake_resolver.h"

namespace rdns::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::failure_answer;
using testutil::probe_result;
using testutil::ptr_answer;
using testutil::server_answer;
using testutil::silent_server;

constexpr const char* kRev = "10.2.0.192.in-addr.arpa";

TraceServer server(ServerAnswer reply, std::optional<Referral> referral = std::nullopt) {
  return {std::move(reply), std::move(referral)};
}

TraceZone zone_of(std::string zone, std::vector<TraceServer> servers) {
  TraceZone out;
  out.zone = std::move(zone);
  out.name = kRev;
  out.servers = std::move(servers);
  return out;
}

Referral referral_to(std::string zone, std::vector<std::string> ns) {
  return {std::move(zone), std::move(ns), {}};
}

ServerAnswer nodata_referral_reply() {
  return server_answer("192.0.2.1", failure_answer(kRev, RrType::ptr, Outcome::nodata),
                       /*aa=*/false);
}

// ---- next_step ------------------------------------------------------------------------------

TEST(TraceNextStep, AnAuthoritativeAnswerEndsTheZone) {
  const auto step = next_step(zone_of(
      "2.0.192.in-addr.arpa", {server(silent_server("192.0.2.1")),
                               server(server_answer("192.0.2.2", ptr_answer(kRev, {"a.test"})))}));
  EXPECT_EQ(step.kind, TraceStepKind::answer);
  EXPECT_FALSE(step.cname_target);
}

TEST(TraceNextStep, AReferralBelowTheZoneTowardsTheNameIsFollowed) {
  const auto step = next_step(
      zone_of(".", {server(nodata_referral_reply(), referral_to("in-addr.arpa", {"ns1.test"}))}));
  EXPECT_EQ(step.kind, TraceStepKind::referral);
  EXPECT_EQ(step.referral.zone, "in-addr.arpa");
  EXPECT_THAT(step.referral.ns, ElementsAre("ns1.test"));
}

TEST(TraceNextStep, AnUpwardOrSidewaysReferralIsLame) {
  // Note: a lame server often answers with a referral to the root or to its own zone.
  EXPECT_EQ(next_step(zone_of("in-addr.arpa",
                              {server(nodata_referral_reply(), referral_to("arpa", {"ns.test"}))}))
                .kind,
            TraceStepKind::lame);
  EXPECT_EQ(next_step(zone_of("in-addr.arpa", {server(nodata_referral_reply(),
                                                      referral_to("in-addr.arpa", {"ns.test"}))}))
                .kind,
            TraceStepKind::lame);
  EXPECT_EQ(next_step(zone_of("in-addr.arpa", {server(nodata_referral_reply(),
                                                      referral_to("example.org", {"ns.test"}))}))
                .kind,
            TraceStepKind::lame);
}

TEST(TraceNextStep, RefusedIsLameAndSilenceIsUnreachable) {
  auto refused = server_answer("192.0.2.1", failure_answer(kRev, RrType::ptr, Outcome::servfail),
                               /*aa=*/false);
  refused.rcode = 5;
  EXPECT_EQ(next_step(zone_of("test", {server(refused), server(silent_server("192.0.2.2"))})).kind,
            TraceStepKind::lame);
  EXPECT_EQ(next_step(zone_of("test", {server(silent_server("192.0.2.2"))})).kind,
            TraceStepKind::unreachable);
  EXPECT_EQ(next_step(zone_of("test", {})).kind, TraceStepKind::unreachable);
}

TEST(TraceNextStep, ACnameLeavingTheZoneNamesItsTarget) {
  auto answer = failure_answer(kRev, RrType::ptr, Outcome::nodata);
  answer.cname_chain = {"10.0/26.2.0.192.in-addr.arpa"};
  answer.zone.clear();
  const auto step =
      next_step(zone_of("2.0.192.in-addr.arpa", {server(server_answer("192.0.2.1", answer))}));
  EXPECT_EQ(step.kind, TraceStepKind::answer);
  EXPECT_EQ(step.cname_target, "10.0/26.2.0.192.in-addr.arpa");
}

// ---- parse_referral -------------------------------------------------------------------------

struct PktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};

void push(ldns_pkt* pkt, ldns_pkt_section section, const char* text) {
  ldns_rr* rr = nullptr;
  ASSERT_EQ(ldns_rr_new_frm_str(&rr, text, 3600, nullptr, nullptr), LDNS_STATUS_OK) << text;
  ldns_pkt_push_rr(pkt, section, rr);
}

std::vector<std::uint8_t> wire_of(ldns_pkt* pkt) {
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, pkt, &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out(wire, wire + size);
  free(wire);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  return out;
}

TEST(ParseReferral, NsInTheAuthoritySectionWithTheirGlueOnly) {
  const std::unique_ptr<ldns_pkt, PktDeleter> pkt(ldns_pkt_new());
  push(pkt.get(), LDNS_SECTION_AUTHORITY, "in-addr.arpa. 3600 IN NS ns2.test.");
  push(pkt.get(), LDNS_SECTION_AUTHORITY, "in-addr.arpa. 3600 IN NS NS1.test.");
  push(pkt.get(), LDNS_SECTION_ADDITIONAL, "ns1.test. 3600 IN A 127.0.0.3");
  push(pkt.get(), LDNS_SECTION_ADDITIONAL, "ns1.test. 3600 IN AAAA 2001:db8::3");
  push(pkt.get(), LDNS_SECTION_ADDITIONAL, "other.test. 3600 IN A 192.0.2.99");
  const auto referral = parse_referral(wire_of(pkt.get()));
  ASSERT_TRUE(referral);
  EXPECT_EQ(referral->zone, "in-addr.arpa");
  EXPECT_THAT(referral->ns, ElementsAre("ns1.test", "ns2.test")) << "normalized and sorted";
  EXPECT_THAT(referral->glue,
              ElementsAre(std::pair<std::string, std::string>{"ns1.test", "127.0.0.3"},
                          std::pair<std::string, std::string>{"ns1.test", "2001:db8::3"}));
}

TEST(ParseReferral, ARfc2317ZoneNameKeepsItsSlash) {
  const std::unique_ptr<ldns_pkt, PktDeleter> pkt(ldns_pkt_new());
  push(pkt.get(), LDNS_SECTION_AUTHORITY, "0/26.2.0.192.in-addr.arpa. 3600 IN NS ns3.test.");
  const auto referral = parse_referral(wire_of(pkt.get()));
  ASSERT_TRUE(referral);
  EXPECT_EQ(referral->zone, "0/26.2.0.192.in-addr.arpa");
  EXPECT_TRUE(referral->glue.empty());
}

TEST(ParseReferral, NoNsOrNoPacketIsNoReferral) {
  const std::unique_ptr<ldns_pkt, PktDeleter> pkt(ldns_pkt_new());
  push(pkt.get(), LDNS_SECTION_AUTHORITY,
       "test. 3600 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 3600");
  EXPECT_FALSE(parse_referral(wire_of(pkt.get())));
  EXPECT_FALSE(parse_referral({}));
  const std::vector<std::uint8_t> garbage{1, 2, 3};
  EXPECT_FALSE(parse_referral(garbage));
}

// ---- views ----------------------------------------------------------------------------------

Trace trace_with(Answer cached, std::vector<ServerAnswer> servers) {
  Trace trace;
  trace.name = kRev;
  trace.type = RrType::ptr;
  trace.cached = std::move(cached);
  trace.authority = probe_result(kRev, RrType::ptr, "2.0.192.in-addr.arpa", std::move(servers));
  return trace;
}

TEST(TraceViews, CachedNegativeAgainstAuthoritativeRecordsIsStale) {
  const auto trace = trace_with(failure_answer(kRev, RrType::ptr, Outcome::nxdomain),
                                {server_answer("192.0.2.1", ptr_answer(kRev, {"a.test"}))});
  EXPECT_EQ(compare_views(trace), ViewMatch::stale_negative);
  EXPECT_EQ(answering_servers(trace), "ns.fake.test 192.0.2.1 (zone 2.0.192.in-addr.arpa)");
  EXPECT_EQ(answering_zone(trace), "2.0.192.in-addr.arpa");
}

TEST(TraceViews, SameDifferentStalePositiveFailureUnconfirmed) {
  const auto auth = server_answer("192.0.2.1", ptr_answer(kRev, {"a.test"}));
  EXPECT_EQ(compare_views(trace_with(ptr_answer(kRev, {"a.test"}), {auth})), ViewMatch::same);
  EXPECT_EQ(compare_views(trace_with(ptr_answer(kRev, {"b.test"}), {auth})),
            ViewMatch::different_data);
  EXPECT_EQ(
      compare_views(trace_with(
          ptr_answer(kRev, {"a.test"}),
          {server_answer("192.0.2.1", failure_answer(kRev, RrType::ptr, Outcome::nxdomain))})),
      ViewMatch::stale_positive);
  EXPECT_EQ(compare_views(trace_with(failure_answer(kRev, RrType::ptr, Outcome::servfail), {auth})),
            ViewMatch::cache_failure);
  EXPECT_EQ(compare_views(trace_with(ptr_answer(kRev, {"a.test"}), {silent_server("192.0.2.1")})),
            ViewMatch::unconfirmed);
}

TEST(TraceDescribe, OneZoneInOneLine) {
  auto zone =
      zone_of(".", {server(nodata_referral_reply(), referral_to("in-addr.arpa", {"ns1.test"})),
                    server(silent_server("192.0.2.9"))});
  zone.servers_from = "stub-addr";
  EXPECT_EQ(describe(zone),
            ". (stub-addr) 10.2.0.192.in-addr.arpa PTR: ns.fake.test 192.0.2.1: referral to "
            "in-addr.arpa [ns1.test], 1 ms; ns.fake.test 192.0.2.9: timeout");
}

// ---- the walk's start -------------------------------------------------------------------------

TEST(Tracer, NoRootServersStopsAtTheRootWithTheCachedView) {
  testutil::FakeResolver resolver;  // NS . is NXDOMAIN
  resolver.add(ptr_answer(kRev, {"a.test"}));
  const Tracer tracer(resolver, {});
  const auto trace = tracer.trace(kRev, RrType::ptr);
  EXPECT_EQ(trace.cached.outcome, Outcome::ok);
  EXPECT_TRUE(trace.path.empty());
  EXPECT_EQ(trace.failed_zone, ".");
  EXPECT_THAT(trace.failure, HasSubstr("no root servers"));
  EXPECT_EQ(compare_views(trace), ViewMatch::unconfirmed);
}

TEST(Tracer, RootServersWithoutAddressesAreNamed) {
  testutil::FakeResolver resolver;
  Answer ns;
  ns.name = ".";
  ns.type = RrType::ns;
  ns.outcome = Outcome::ok;
  ns.names = {"a.root-servers.test"};
  resolver.add(ns);
  const auto traces = Tracer(resolver, {}).trace_all({{kRev, RrType::ptr}, {"a.test", RrType::a}});
  ASSERT_EQ(traces.size(), 2U);
  EXPECT_EQ(traces[1].name, "a.test");
  EXPECT_THAT(traces[0].failure, HasSubstr("a.root-servers.test"));
}

}  // namespace
}  // namespace rdns::dns
