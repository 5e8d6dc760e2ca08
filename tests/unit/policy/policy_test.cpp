// Policy: iprev result -> finding, findings + exemption + dry-run -> verdict.

#include "rdns/policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "testutil/fake_resolver.h"
#include "testutil/printers.h"

namespace rdns::policy {
namespace {

using checks::Iprev;
using checks::IprevReason;
using checks::IprevResult;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kIp = "192.0.2.7";
constexpr const char* kHost = "mail.example.com";

Iprev make_iprev(IprevResult result, IprevReason reason, std::vector<std::string> ptr = {}) {
  Iprev iprev;
  iprev.client = testutil::ip(kIp);
  iprev.result = result;
  iprev.reason = reason;
  iprev.ptr = std::move(ptr);
  return iprev;
}

/// Independent placeholder substitution for expected values.
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

bool is_4xx(const Reply& reply) {
  return reply.code.size() == 3 && reply.code[0] == '4' && reply.enhanced.rfind("4.", 0) == 0;
}

// ---- judge_iprev with the default policy ---------------------------------------------------

TEST(JudgeIprev, PassIsAccepted) {
  const auto finding = judge_iprev(
      IprevPolicy{}, make_iprev(IprevResult::pass, IprevReason::forward_confirmed, {kHost}));
  EXPECT_EQ(finding.check, "iprev");
  EXPECT_EQ(finding.action, Action::accept);
  EXPECT_FALSE(finding.temporary);
}

TEST(JudgeIprev, NoPtrIsRejectedWith550And5725) {
  const IprevPolicy policy;
  const auto finding = judge_iprev(policy, make_iprev(IprevResult::fail, IprevReason::no_ptr));
  EXPECT_EQ(finding.check, "iprev");
  EXPECT_EQ(finding.label, "fail(no-ptr)");
  EXPECT_EQ(finding.action, Action::reject);
  EXPECT_FALSE(finding.temporary);
  ASSERT_TRUE(finding.reply.has_value());
  EXPECT_EQ(finding.reply->code, "550");
  EXPECT_EQ(finding.reply->enhanced, "5.7.25");
  EXPECT_EQ(finding.reply->text, replace_all(policy.no_ptr.reply.text, "%{ip}", kIp));
  EXPECT_THAT(finding.reply->text, Not(HasSubstr("%{")));
}

TEST(JudgeIprev, NoForwardMatchIsTagged) {
  const IprevPolicy policy;
  const auto finding =
      judge_iprev(policy, make_iprev(IprevResult::fail, IprevReason::no_forward_match, {kHost}));
  EXPECT_EQ(finding.action, Action::tag);
  EXPECT_FALSE(finding.temporary);
  if (finding.reply) {
    EXPECT_EQ(finding.reply->text,
              replace_all(replace_all(policy.no_forward_match.reply.text, "%{ip}", kIp), "%{ptr}",
                          kHost));
  }
}

class TemperrorJudgeTest : public ::testing::TestWithParam<IprevReason> {};

TEST_P(TemperrorJudgeTest, IsTempfailWith450And4725) {
  const IprevPolicy policy;
  const auto finding = judge_iprev(policy, make_iprev(IprevResult::temperror, GetParam()));
  EXPECT_EQ(finding.action, Action::tempfail);
  EXPECT_TRUE(finding.temporary);
  ASSERT_TRUE(finding.reply.has_value());
  EXPECT_EQ(finding.reply->code, "450");
  EXPECT_EQ(finding.reply->enhanced, "4.7.25");
  const std::string expected = replace_all(replace_all(policy.temperror.reply.text, "%{ip}", kIp),
                                           "%{reason}", std::string(checks::to_string(GetParam())));
  EXPECT_EQ(finding.reply->text, expected);
  EXPECT_EQ(finding.label, "temperror(" + std::string(checks::to_string(GetParam())) + ")");
}

INSTANTIATE_TEST_SUITE_P(Reasons, TemperrorJudgeTest,
                         ::testing::Values(IprevReason::ptr_servfail, IprevReason::ptr_timeout,
                                           IprevReason::ptr_bogus, IprevReason::forward_temperror,
                                           IprevReason::unconfirmed));

TEST(JudgeIprev, PermerrorIsTagged) {
  const auto finding =
      judge_iprev(IprevPolicy{}, make_iprev(IprevResult::permerror, IprevReason::malformed));
  EXPECT_EQ(finding.action, Action::tag);
  EXPECT_FALSE(finding.temporary) << "malformed data is not a DNS failure";
  EXPECT_EQ(finding.label,
            "permerror(" + std::string(checks::to_string(IprevReason::malformed)) + ")");
}

TEST(JudgeIprev, FollowsTheConfiguredRule) {
  IprevPolicy policy;
  policy.no_ptr = Rule{Action::tag, {"550", "5.7.1", "x"}};
  policy.no_forward_match = Rule{Action::reject, {"554", "5.7.1", "no match for %{ip}"}};
  policy.permerror = Rule{Action::reject, {"550", "5.7.1", "bad"}};
  policy.temperror = Rule{Action::accept, {"451", "4.4.3", "later"}};
  EXPECT_EQ(judge_iprev(policy, make_iprev(IprevResult::fail, IprevReason::no_ptr)).action,
            Action::tag);
  const auto nfm =
      judge_iprev(policy, make_iprev(IprevResult::fail, IprevReason::no_forward_match, {kHost}));
  EXPECT_EQ(nfm.action, Action::reject);
  ASSERT_TRUE(nfm.reply.has_value());
  EXPECT_EQ(*nfm.reply, (Reply{"554", "5.7.1", "no match for 192.0.2.7"}));
  EXPECT_EQ(judge_iprev(policy, make_iprev(IprevResult::permerror, IprevReason::malformed)).action,
            Action::reject);
  const auto temp =
      judge_iprev(policy, make_iprev(IprevResult::temperror, IprevReason::ptr_timeout));
  EXPECT_EQ(temp.action, Action::accept);
  EXPECT_TRUE(temp.temporary);
}

TEST(JudgeIprev, ExpandsIpPtrAndReasonAndLeavesUnknownPlaceholders) {
  IprevPolicy policy;
  policy.no_forward_match =
      Rule{Action::reject, {"550", "5.7.25", "ip=%{ip} ptr=%{ptr} why=%{reason} x=%{unknown}"}};
  const auto finding =
      judge_iprev(policy, make_iprev(IprevResult::fail, IprevReason::no_forward_match, {kHost}));
  ASSERT_TRUE(finding.reply.has_value());
  EXPECT_EQ(finding.reply->text, "ip=192.0.2.7 ptr=mail.example.com why=" +
                                     std::string(checks::to_string(IprevReason::no_forward_match)) +
                                     " x=%{unknown}");
}

TEST(JudgeIprev, GenericPassIsTaggedByDefaultAndRejectedWhenConfigured) {
  auto iprev = make_iprev(IprevResult::pass, IprevReason::forward_confirmed,
                          {"dsl-192-0-2-7.dyn.example.net"});
  iprev.verified = iprev.ptr;
  iprev.generic = {true, "PTR name dsl-192-0-2-7.dyn.example.net contains the client address"};
  IprevPolicy policy;
  const auto tagged = judge_iprev(policy, iprev);
  EXPECT_EQ(tagged.check, "iprev");
  EXPECT_EQ(tagged.label, "pass(forward-confirmed,generic)");
  EXPECT_EQ(tagged.action, Action::tag);
  EXPECT_FALSE(tagged.reply.has_value());

  policy.generic.action = Action::reject;
  const auto rejected = judge_iprev(policy, iprev);
  EXPECT_EQ(rejected.action, Action::reject);
  EXPECT_FALSE(rejected.temporary);
  ASSERT_TRUE(rejected.reply.has_value());
  EXPECT_EQ(rejected.reply->code, "550");
  EXPECT_EQ(rejected.reply->enhanced, "5.7.25");
  EXPECT_EQ(rejected.reply->text,
            "The PTR name of 192.0.2.7 (dsl-192-0-2-7.dyn.example.net) is the generic name of an "
            "address pool; a mail server needs a PTR name of its own, such as mail.example.com, "
            "that resolves back to 192.0.2.7: ask your ISP or hosting provider for one, or send "
            "through your provider's mail server");

  policy.generic.reply.text = "%{generic}";
  EXPECT_EQ(judge_iprev(policy, iprev).reply->text, iprev.generic.reason);
}

TEST(JudgeIprev, GenericOnlyActsOnAPass) {
  // A fail carries the generic verdict for the report; its own rule decides.
  auto iprev = make_iprev(IprevResult::fail, IprevReason::no_forward_match,
                          {"dsl-192-0-2-7.dyn.example.net"});
  iprev.generic = {true, "PTR name dsl-192-0-2-7.dyn.example.net contains the client address"};
  IprevPolicy policy;
  policy.generic.action = Action::reject;
  const auto finding = judge_iprev(policy, iprev);
  EXPECT_EQ(finding.action, Action::tag);
  EXPECT_EQ(finding.label, "fail(no-forward-match,generic)");
  EXPECT_EQ(
      judge_iprev(policy, make_iprev(IprevResult::pass, IprevReason::forward_confirmed, {kHost}))
          .action,
      Action::accept);
}

TEST(JudgeIprev, ExpandsIpv6ClientCanonically) {
  IprevPolicy policy;
  policy.no_ptr = Rule{Action::reject, {"550", "5.7.25", "[%{ip}]"}};
  auto iprev = make_iprev(IprevResult::fail, IprevReason::no_ptr);
  iprev.client = testutil::ip("2001:DB8:0:0::25");
  const auto finding = judge_iprev(policy, iprev);
  ASSERT_TRUE(finding.reply.has_value());
  EXPECT_EQ(finding.reply->text, "[2001:db8::25]");
}

// ---- expand ----------------------------------------------------------------------------------

TEST(Expand, ReplacesKnownNamesOnly) {
  EXPECT_EQ(expand("a %{x} b %{y} c %{z}", {{"x", "1"}, {"y", "two"}}), "a 1 b two c %{z}");
  EXPECT_EQ(expand("%{x}%{x}", {{"x", "ab"}}), "abab");
  EXPECT_EQ(expand("no placeholders", {{"x", "1"}}), "no placeholders");
  EXPECT_EQ(expand("", {{"x", "1"}}), "");
  EXPECT_EQ(expand("%{x}", {}), "%{x}");
}

TEST(Expand, LeavesMalformedPlaceholdersAlone) {
  EXPECT_EQ(expand("50% off %{x", {{"x", "1"}}), "50% off %{x");
  EXPECT_EQ(expand("%x} {x} %{}", {{"x", "1"}}), "%x} {x} %{}");
  EXPECT_EQ(expand("%", {{"x", "1"}}), "%");
}

TEST(Expand, DoesNotExpandInsideSubstitutedValues) {
  // A value (say, a hostile PTR name) must not pull in other variables.
  EXPECT_EQ(expand("%{a}", {{"a", "%{b}"}, {"b", "X"}}), "%{b}");
}

// ---- decide ----------------------------------------------------------------------------------

const Reply kReject1{"550", "5.7.25", "first"};
const Reply kReject2{"554", "5.7.1", "second"};
const Reply kTempfail{"450", "4.7.25", "later"};

Finding finding(std::string check, Action action, std::optional<Reply> reply = std::nullopt,
                bool temporary = false) {
  Finding f;
  f.check = std::move(check);
  f.label = f.check + "-label";
  f.action = action;
  f.temporary = temporary;
  f.reply = std::move(reply);
  return f;
}

TEST(Decide, NoFindingsAccept) {
  const auto v = decide({}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_EQ(v.wanted, Action::accept);
  EXPECT_FALSE(v.reply.has_value());
  EXPECT_EQ(v.check, "");
  EXPECT_EQ(v.exemption, Exemption::none);
  EXPECT_FALSE(v.dry_run);
  EXPECT_TRUE(v.findings.empty());
}

TEST(Decide, AcceptFindingsOnlyAccept) {
  const auto v = decide({finding("iprev", Action::accept)}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_FALSE(v.reply.has_value());
  EXPECT_EQ(v.check, "");
}

TEST(Decide, StrongestActionWins) {
  const std::vector<Finding> findings = {
      finding("a", Action::tag), finding("b", Action::tempfail, kTempfail),
      finding("c", Action::reject, kReject1), finding("d", Action::accept)};
  const auto v = decide(findings, Exemption::none, false);
  EXPECT_EQ(v.action, Action::reject);
  EXPECT_EQ(v.wanted, Action::reject);
  EXPECT_EQ(v.check, "c");
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_EQ(*v.reply, kReject1);
  EXPECT_EQ(v.findings, findings);
}

TEST(Decide, TempfailBeatsTag) {
  const auto v = decide({finding("a", Action::tag), finding("b", Action::tempfail, kTempfail)},
                        Exemption::none, false);
  EXPECT_EQ(v.action, Action::tempfail);
  EXPECT_EQ(v.check, "b");
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_EQ(*v.reply, kTempfail);
}

TEST(Decide, TagBeatsAccept) {
  const auto v =
      decide({finding("a", Action::accept), finding("b", Action::tag)}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::tag);
  EXPECT_EQ(v.check, "b");
}

TEST(Decide, FirstFindingWithTheStrongestActionSuppliesTheReply) {
  const auto v =
      decide({finding("x", Action::reject, kReject1), finding("y", Action::reject, kReject2)},
             Exemption::none, false);
  EXPECT_EQ(v.check, "x");
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_EQ(*v.reply, kReject1);
}

TEST(Decide, TemporaryRejectBecomesTempfailWith4xx) {
  const auto v = decide({finding("iprev", Action::reject, Reply{"550", "5.7.25", "no dns"}, true)},
                        Exemption::none, false);
  EXPECT_EQ(v.action, Action::tempfail);
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_TRUE(is_4xx(*v.reply)) << v.reply->to_string();
  EXPECT_EQ(v.reply->enhanced.size(), 6U) << v.reply->enhanced;
  EXPECT_EQ(v.reply->text, "no dns");
}

TEST(Decide, TemporaryTempfailWithConfigured5xxCodeStill4xx) {
  const auto v =
      decide({finding("iprev", Action::tempfail, Reply{"554", "5.7.1", "misconfigured"}, true)},
             Exemption::none, false);
  EXPECT_EQ(v.action, Action::tempfail);
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_TRUE(is_4xx(*v.reply)) << v.reply->to_string();
}

TEST(Decide, TemporaryRejectWithoutReplyStillGets4xx) {
  const auto v =
      decide({finding("iprev", Action::reject, std::nullopt, true)}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::tempfail);
  if (v.reply) {
    EXPECT_TRUE(is_4xx(*v.reply)) << v.reply->to_string();
  }
}

TEST(Decide, NonTemporaryTempfailKeepsItsReply) {
  const auto v =
      decide({finding("iprev", Action::tempfail, kTempfail, false)}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::tempfail);
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_EQ(*v.reply, kTempfail);
}

class ExemptionTest : public ::testing::TestWithParam<Exemption> {};

TEST_P(ExemptionTest, TurnsRejectIntoTagAndRecordsIt) {
  const auto v = decide({finding("iprev", Action::reject, kReject1)}, GetParam(), false);
  EXPECT_EQ(v.action, Action::tag);
  EXPECT_EQ(v.wanted, Action::reject);
  EXPECT_EQ(v.exemption, GetParam());
  EXPECT_FALSE(v.dry_run);
}

TEST_P(ExemptionTest, TurnsTempfailIntoTag) {
  const auto v = decide({finding("iprev", Action::tempfail, kTempfail, true)}, GetParam(), false);
  EXPECT_EQ(v.action, Action::tag);
  EXPECT_EQ(v.wanted, Action::tempfail);
  EXPECT_EQ(v.exemption, GetParam());
}

TEST_P(ExemptionTest, LeavesTagAndAcceptAlone) {
  EXPECT_EQ(decide({finding("iprev", Action::tag)}, GetParam(), false).action, Action::tag);
  EXPECT_EQ(decide({finding("iprev", Action::accept)}, GetParam(), false).action, Action::accept);
}

INSTANTIATE_TEST_SUITE_P(Kinds, ExemptionTest,
                         ::testing::Values(Exemption::trusted_network, Exemption::authenticated,
                                           Exemption::recipient, Exemption::allowlisted_address,
                                           Exemption::allowlisted_domain));

TEST(Decide, DryRunTurnsRejectIntoTagAndKeepsWanted) {
  const auto v = decide({finding("iprev", Action::reject, kReject1)}, Exemption::none, true);
  EXPECT_EQ(v.action, Action::tag);
  EXPECT_EQ(v.wanted, Action::reject);
  EXPECT_TRUE(v.dry_run);
  EXPECT_EQ(v.check, "iprev");
  EXPECT_EQ(v.exemption, Exemption::none);
}

TEST(Decide, DryRunTurnsTempfailIntoTag) {
  const auto v =
      decide({finding("iprev", Action::tempfail, kTempfail, true)}, Exemption::none, true);
  EXPECT_EQ(v.action, Action::tag);
  EXPECT_EQ(v.wanted, Action::tempfail);
  EXPECT_TRUE(v.dry_run);
}

TEST(Decide, DryRunLeavesAcceptAlone) {
  EXPECT_EQ(decide({finding("iprev", Action::accept)}, Exemption::none, true).action,
            Action::accept);
}

TEST(Decide, ExemptionWithDryRunStillTag) {
  const auto v =
      decide({finding("iprev", Action::reject, kReject1)}, Exemption::authenticated, true);
  EXPECT_EQ(v.action, Action::tag);
  EXPECT_EQ(v.wanted, Action::reject);
}

TEST(Decide, EndToEndWithJudgeIprev) {
  const auto f = judge_iprev(IprevPolicy{}, make_iprev(IprevResult::fail, IprevReason::no_ptr));
  const auto v = decide({f}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::reject);
  EXPECT_EQ(v.check, "iprev");
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_EQ(v.reply->code, "550");
  EXPECT_EQ(v.reply->enhanced, "5.7.25");

  const auto t =
      judge_iprev(IprevPolicy{}, make_iprev(IprevResult::temperror, IprevReason::ptr_servfail));
  const auto vt = decide({t}, Exemption::none, false);
  EXPECT_EQ(vt.action, Action::tempfail);
  ASSERT_TRUE(vt.reply.has_value());
  EXPECT_TRUE(is_4xx(*vt.reply));
}

TEST(Decide, TemperrorConfiguredAsRejectWith550ComesOut4xx) {
  IprevPolicy policy;
  policy.temperror = Rule{Action::reject, {"550", "5.7.25", "cannot check %{ip}"}};
  const auto f = judge_iprev(policy, make_iprev(IprevResult::temperror, IprevReason::ptr_timeout));
  const auto v = decide({f}, Exemption::none, false);
  EXPECT_EQ(v.action, Action::tempfail);
  ASSERT_TRUE(v.reply.has_value());
  EXPECT_TRUE(is_4xx(*v.reply)) << v.reply->to_string();
  EXPECT_EQ(v.reply->text, "cannot check 192.0.2.7");
}

// ---- exemptions ------------------------------------------------------------------------------

dns::Network net(std::string_view text) {
  auto parsed = dns::Network::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(dns::Network{});
}

TEST(ClientExemption, NoneByDefault) {
  EXPECT_EQ(client_exemption(Exemptions{}, testutil::ip(kIp), false, {kHost}), Exemption::none);
}

TEST(ClientExemption, TrustedNetwork) {
  Exemptions e;
  e.trusted_networks = {net("192.0.2.0/24"), net("2001:db8::/32")};
  EXPECT_EQ(client_exemption(e, testutil::ip("192.0.2.7"), false, {}), Exemption::trusted_network);
  EXPECT_EQ(client_exemption(e, testutil::ip("2001:db8::25"), false, {}),
            Exemption::trusted_network);
  EXPECT_EQ(client_exemption(e, testutil::ip("198.51.100.7"), false, {}), Exemption::none);
}

TEST(ClientExemption, Authenticated) {
  EXPECT_EQ(client_exemption(Exemptions{}, testutil::ip(kIp), true, {}), Exemption::authenticated);
}

TEST(ClientExemption, AllowlistedAddress) {
  Exemptions e;
  e.allow_addresses = {net("198.51.100.7")};
  EXPECT_EQ(client_exemption(e, testutil::ip("198.51.100.7"), false, {}),
            Exemption::allowlisted_address);
  EXPECT_EQ(client_exemption(e, testutil::ip("198.51.100.8"), false, {}), Exemption::none);
}

TEST(ClientExemption, AllowlistedDomainAtOrBelow) {
  Exemptions e;
  e.allow_domains = {"example.com"};
  const auto client = testutil::ip(kIp);
  EXPECT_EQ(client_exemption(e, client, false, {"example.com"}), Exemption::allowlisted_domain);
  EXPECT_EQ(client_exemption(e, client, false, {"mail.example.com"}),
            Exemption::allowlisted_domain);
  EXPECT_EQ(client_exemption(e, client, false, {"other.example.net", "a.b.example.com"}),
            Exemption::allowlisted_domain);
  EXPECT_EQ(client_exemption(e, client, false, {"badexample.com"}), Exemption::none);
  EXPECT_EQ(client_exemption(e, client, false, {"example.com.evil.net"}), Exemption::none);
  EXPECT_EQ(client_exemption(e, client, false, {"com"}), Exemption::none);
  EXPECT_EQ(client_exemption(e, client, false, {}), Exemption::none);
}

TEST(ClientExemption, AnyMatchingReasonExempts) {
  Exemptions e;
  e.trusted_networks = {net("192.0.2.0/24")};
  e.allow_addresses = {net("192.0.2.7")};
  e.allow_domains = {"example.com"};
  EXPECT_NE(client_exemption(e, testutil::ip(kIp), true, {kHost}), Exemption::none);
}

TEST(RecipientExempt, LocalPartAtAnyDomainOrFullAddress) {
  Exemptions e;
  e.recipients = {"postmaster", "abuse@example.org"};
  EXPECT_TRUE(recipient_exempt(e, "<postmaster@example.net>"));
  EXPECT_TRUE(recipient_exempt(e, "postmaster@example.net"));
  EXPECT_TRUE(recipient_exempt(e, "<Postmaster@Example.NET>"));
  EXPECT_TRUE(recipient_exempt(e, "<abuse@example.org>"));
  EXPECT_FALSE(recipient_exempt(e, "<abuse@example.net>"));
  EXPECT_FALSE(recipient_exempt(e, "<user@example.org>"));
  EXPECT_FALSE(recipient_exempt(e, "<postmasterx@example.net>"));
  EXPECT_FALSE(recipient_exempt(e, "<xpostmaster@example.net>"));
  EXPECT_FALSE(recipient_exempt(e, "<>"));
}

TEST(RecipientExempt, BarePostmaster) {
  // RFC 5321 §4.5.1: "Postmaster" without a domain must be accepted.
  Exemptions e;
  e.recipients = {"postmaster"};
  EXPECT_TRUE(recipient_exempt(e, "<Postmaster>"));
}

TEST(RecipientExempt, NothingWhenTheListIsEmpty) {
  EXPECT_FALSE(recipient_exempt(Exemptions{}, "<postmaster@example.net>"));
}

// ---- small helpers ---------------------------------------------------------------------------

TEST(ParseAction, KnownWords) {
  EXPECT_EQ(parse_action("reject"), Action::reject);
  EXPECT_EQ(parse_action("tempfail"), Action::tempfail);
  EXPECT_EQ(parse_action("tag"), Action::tag);
  EXPECT_EQ(parse_action("ignore"), Action::accept);
}

TEST(ParseAction, UnknownWords) {
  EXPECT_EQ(parse_action("bogus"), std::nullopt);
  EXPECT_EQ(parse_action(""), std::nullopt);
  EXPECT_EQ(parse_action("reject "), std::nullopt);
  EXPECT_EQ(parse_action("rejected"), std::nullopt);
}

TEST(ParseAction, RoundTripsToString) {
  for (auto action : {Action::reject, Action::tempfail, Action::tag}) {
    EXPECT_EQ(parse_action(to_string(action)), action) << to_string(action);
  }
}

TEST(ReplyTest, ToString) {
  EXPECT_EQ((Reply{"550", "5.7.25", "text"}).to_string(), "550 5.7.25 text");
  EXPECT_EQ((Reply{"451", "4.7.1", "try again later"}).to_string(), "451 4.7.1 try again later");
}

TEST(ExemptionToString, DistinctAndNonEmpty) {
  std::vector<std::string> names;
  for (auto e :
       {Exemption::none, Exemption::trusted_network, Exemption::authenticated, Exemption::recipient,
        Exemption::allowlisted_address, Exemption::allowlisted_domain}) {
    names.emplace_back(to_string(e));
    EXPECT_FALSE(names.back().empty());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

}  // namespace
}  // namespace rdns::policy
