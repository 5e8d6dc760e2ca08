// Authentication-Results (RFC 8601) formatting, byte for byte, and header-injection safety.

#include "rdns/header/auth_results.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "testutil/fake_resolver.h"
#include "testutil/printers.h"

namespace rdns::header {
namespace {

using ::testing::HasSubstr;

constexpr std::size_t kTenKilobytes = 10240;

// ---- assemble_auth_results, byte for byte ---------------------------------------------------

TEST(AssembleAuthResults, IprevPass) {
  EXPECT_EQ(assemble_auth_results(
                "mx.example.org",
                {{"iprev", "pass", "", {{"smtp.remote-ip", "192.0.2.7"}}, "mail.example.com"}}),
            " mx.example.org; iprev=pass smtp.remote-ip=192.0.2.7 (mail.example.com)");
}

TEST(AssembleAuthResults, NoResultsIsNone) {
  // RFC 8601 §2.2: "none" when no method was applied.
  EXPECT_EQ(assemble_auth_results("mx.example.org", {}), " mx.example.org; none");
}

TEST(AssembleAuthResults, NoPropertiesNoComment) {
  EXPECT_EQ(assemble_auth_results("mx.example.org", {{"iprev", "temperror", "", {}, ""}}),
            " mx.example.org; iprev=temperror");
}

TEST(AssembleAuthResults, ReasonComesBeforeProperties) {
  // RFC 8601 §2.2: resinfo = method-spec [reasonspec] *propspec.
  EXPECT_EQ(assemble_auth_results(
                "mx.example.org",
                {{"iprev", "fail", "no PTR record", {{"smtp.remote-ip", "192.0.2.7"}}, ""}}),
            " mx.example.org; iprev=fail reason=\"no PTR record\" smtp.remote-ip=192.0.2.7");
  EXPECT_EQ(
      assemble_auth_results(
          "mx.example.org",
          {{"iprev", "fail", "no-ptr", {{"smtp.remote-ip", "192.0.2.7"}}, "no PTR for 192.0.2.7"}}),
      " mx.example.org; iprev=fail reason=no-ptr smtp.remote-ip=192.0.2.7 "
      "(no PTR for 192.0.2.7)");
}

TEST(AssembleAuthResults, SeveralPropertiesInOrder) {
  EXPECT_EQ(
      assemble_auth_results("mx.example.org",
                            {{"spf",
                              "pass",
                              "",
                              {{"smtp.mailfrom", "example.net"}, {"smtp.helo", "mail.example.net"}},
                              ""}}),
      " mx.example.org; spf=pass smtp.mailfrom=example.net smtp.helo=mail.example.net");
}

TEST(AssembleAuthResults, SeveralResultsSeparatedBySemicolonAndFolded) {
  const std::vector<AuthResult> results = {
      {"iprev", "pass", "", {{"smtp.remote-ip", "192.0.2.7"}}, "mail.example.com"},
      {"spf", "pass", "", {{"smtp.mailfrom", "example.net"}}, ""},
      {"spf", "none", "", {{"smtp.helo", "mail.example.net"}}, ""},
  };
  EXPECT_EQ(assemble_auth_results("mx.example.org", results),
            " mx.example.org; iprev=pass smtp.remote-ip=192.0.2.7 (mail.example.com);\n"
            "\tspf=pass smtp.mailfrom=example.net;\n"
            "\tspf=none smtp.helo=mail.example.net");
}

TEST(AssembleAuthResults, ValuesAreQuotedAndCommentsEscaped) {
  EXPECT_EQ(assemble_auth_results(
                "mx.example.org",
                {{"iprev", "pass", "", {{"policy.iprev", "a b;c"}}, "odd (name) \\ here"}}),
            " mx.example.org; iprev=pass policy.iprev=\"a b;c\" (odd \\(name\\) \\\\ here)");
}

TEST(AssembleAuthResults, CommentCannotCloseItselfEarly) {
  const auto body =
      assemble_auth_results("mx.example.org", {{"iprev", "fail", "", {}, "evil) spf=pass (x"}});
  EXPECT_EQ(body, " mx.example.org; iprev=fail (evil\\) spf=pass \\(x)");
}

// RFC 8601 Appendix B examples, reduced to what AuthResult can express (no version after the
// authserv-id, comments after the properties, property values without '@').

TEST(AssembleAuthResults, Rfc8601AppendixB2NothingDone) {
  EXPECT_EQ(assemble_auth_results("example.org", {}), " example.org; none");
}

TEST(AssembleAuthResults, Rfc8601AppendixB3SpfPass) {
  EXPECT_EQ(assemble_auth_results("example.com",
                                  {{"spf", "pass", "", {{"smtp.mailfrom", "example.net"}}, ""}}),
            " example.com; spf=pass smtp.mailfrom=example.net");
}

TEST(AssembleAuthResults, Rfc8601AppendixB4SmtpAuthAndSpf) {
  EXPECT_EQ(assemble_auth_results("example.com",
                                  {{"auth", "pass", "", {{"smtp.auth", "sender"}}, "cram-md5"},
                                   {"spf", "pass", "", {{"smtp.mailfrom", "example.net"}}, ""}}),
            " example.com; auth=pass smtp.auth=sender (cram-md5);\n"
            "\tspf=pass smtp.mailfrom=example.net");
}

TEST(AssembleAuthResults, Rfc8601AppendixB5SenderId) {
  EXPECT_EQ(assemble_auth_results(
                "example.net", {{"sender-id", "pass", "", {{"header.from", "example.com"}}, ""}}),
            " example.net; sender-id=pass header.from=example.com");
}

TEST(AssembleAuthResults, Rfc8601AppendixB6TwoDkimResults) {
  EXPECT_EQ(assemble_auth_results(
                "example.com",
                {{"dkim", "pass", "good signature", {{"header.d", "mail-router.example.net"}}, ""},
                 {"dkim", "fail", "bad signature", {{"header.d", "newyork.example.com"}}, ""}}),
            " example.com; dkim=pass reason=\"good signature\" header.d=mail-router.example.net;\n"
            "\tdkim=fail reason=\"bad signature\" header.d=newyork.example.com");
}

// ---- iprev_auth_result -----------------------------------------------------------------------

checks::Iprev iprev_of(const char* client, checks::IprevResult result, checks::IprevReason reason,
                       std::vector<std::string> verified = {}) {
  checks::Iprev iprev;
  iprev.client = testutil::ip(client);
  iprev.result = result;
  iprev.reason = reason;
  iprev.ptr = verified;
  iprev.verified = std::move(verified);
  return iprev;
}

TEST(IprevAuthResult, PassNamesTheVerifiedHost) {
  const auto iprev = iprev_of("192.0.2.7", checks::IprevResult::pass,
                              checks::IprevReason::forward_confirmed, {"mail.example.com"});
  const AuthResult expected{
      "iprev", "pass", "", {{"smtp.remote-ip", "192.0.2.7"}}, "mail.example.com"};
  EXPECT_EQ(iprev_auth_result(iprev), expected);
  EXPECT_EQ(assemble_auth_results("mx.example.org", {iprev_auth_result(iprev)}),
            " mx.example.org; iprev=pass smtp.remote-ip=192.0.2.7 (mail.example.com)");
}

TEST(IprevAuthResult, OtherResultsNameTheReason) {
  const std::pair<checks::IprevResult, checks::IprevReason> cases[] = {
      {checks::IprevResult::fail, checks::IprevReason::no_ptr},
      {checks::IprevResult::fail, checks::IprevReason::no_forward_match},
      {checks::IprevResult::temperror, checks::IprevReason::ptr_timeout},
      {checks::IprevResult::temperror, checks::IprevReason::unconfirmed},
      {checks::IprevResult::permerror, checks::IprevReason::malformed}};
  for (const auto& [result, reason] : cases) {
    const auto r = iprev_auth_result(iprev_of("192.0.2.7", result, reason));
    EXPECT_EQ(r.method, "iprev");
    EXPECT_EQ(r.result, checks::to_string(result));
    EXPECT_EQ(r.properties,
              (std::vector<std::pair<std::string, std::string>>{{"smtp.remote-ip", "192.0.2.7"}}));
    EXPECT_THAT(r.comment, HasSubstr(std::string(checks::to_string(reason))));
  }
}

TEST(IprevAuthResult, Ipv6ClientInCanonicalForm) {
  const auto r = iprev_auth_result(
      iprev_of("2001:DB8:0::25", checks::IprevResult::fail, checks::IprevReason::no_ptr));
  ASSERT_EQ(r.properties.size(), 1U);
  EXPECT_EQ(r.properties[0].second, "2001:db8::25");
}

// ---- spf_auth_result (RFC 8601 §2.7.2, Appendix B) ------------------------------------------

checks::Spf spf_of(checks::SpfResult result, checks::SpfIdentity identity, std::string domain,
                   std::string sender) {
  checks::Spf spf;
  spf.result = result;
  spf.identity = identity;
  spf.domain = std::move(domain);
  spf.sender = std::move(sender);
  return spf;
}

TEST(SpfAuthResult, Rfc8601AppendixB3) {
  // "Authentication-Results: example.com; spf=pass smtp.mailfrom=example.net"
  const auto spf = spf_of(checks::SpfResult::pass, checks::SpfIdentity::mailfrom, "example.net",
                          "sender@example.net");
  const AuthResult expected{"spf", "pass", "", {{"smtp.mailfrom", "example.net"}}, ""};
  EXPECT_EQ(spf_auth_result(spf), expected);
  EXPECT_EQ(assemble_auth_results("example.com", {spf_auth_result(spf)}),
            " example.com; spf=pass smtp.mailfrom=example.net");
}

TEST(SpfAuthResult, Rfc8601AppendixB5WithOurFormatting) {
  // RFC 8601 B.5: "example.com; auth=pass (cram-md5) smtp.auth=sender@example.com;
  // spf=fail smtp.mailfrom=example.com". Our choices: the comment goes after the properties
  // and a value with '@' is quoted (a quoted-string is always a valid pvalue).
  const auto spf = spf_of(checks::SpfResult::fail, checks::SpfIdentity::mailfrom, "example.com",
                          "sender@example.com");
  EXPECT_EQ(
      assemble_auth_results(
          "example.com", {{"auth", "pass", "", {{"smtp.auth", "sender@example.com"}}, "cram-md5"},
                          spf_auth_result(spf)}),
      " example.com; auth=pass smtp.auth=\"sender@example.com\" (cram-md5);\n"
      "\tspf=fail smtp.mailfrom=example.com");
}

TEST(SpfAuthResult, MailfromNamesTheDomainOnly) {
  const auto spf = spf_of(checks::SpfResult::softfail, checks::SpfIdentity::mailfrom, "example.com",
                          "someone@example.com");
  EXPECT_EQ(assemble_auth_results("mx.example.org", {spf_auth_result(spf)}),
            " mx.example.org; spf=softfail smtp.mailfrom=example.com");
}

TEST(SpfAuthResult, HeloIdentityIsNeverReportedAsMailfrom) {
  // CVE-2019-20790: a HELO result under smtp.mailfrom lets DMARC align with the HELO domain.
  const auto spf = spf_of(checks::SpfResult::pass, checks::SpfIdentity::helo, "mail.example.net",
                          "postmaster@mail.example.net");
  const AuthResult expected{"spf", "pass", "", {{"smtp.helo", "mail.example.net"}}, ""};
  EXPECT_EQ(spf_auth_result(spf), expected);
  EXPECT_EQ(assemble_auth_results("mx.example.org", {spf_auth_result(spf)}),
            " mx.example.org; spf=pass smtp.helo=mail.example.net");
}

TEST(SpfAuthResult, ErrorsCarryTheProblemAsComment) {
  auto perm = spf_of(checks::SpfResult::permerror, checks::SpfIdentity::mailfrom, "example.com",
                     "a@example.com");
  perm.problem = "unknown mechanism 'foo' (see (here))";
  EXPECT_EQ(assemble_auth_results("mx.example.org", {spf_auth_result(perm)}),
            " mx.example.org; spf=permerror smtp.mailfrom=example.com "
            "(unknown mechanism 'foo' \\(see \\(here\\)\\))");
  auto temp = spf_of(checks::SpfResult::temperror, checks::SpfIdentity::mailfrom, "example.com",
                     "a@example.com");
  temp.problem = "DNS servfail for example.com TXT";
  EXPECT_EQ(assemble_auth_results("mx.example.org", {spf_auth_result(temp)}),
            " mx.example.org; spf=temperror smtp.mailfrom=example.com "
            "(DNS servfail for example.com TXT)");
}

TEST(SpfAuthResult, OtherResultsHaveNoComment) {
  for (const auto result :
       {checks::SpfResult::pass, checks::SpfResult::fail, checks::SpfResult::softfail,
        checks::SpfResult::neutral, checks::SpfResult::none}) {
    auto spf = spf_of(result, checks::SpfIdentity::mailfrom, "example.com", "a@example.com");
    spf.problem = "left over";
    EXPECT_EQ(spf_auth_result(spf).comment, "") << checks::to_string(result);
  }
}

// ---- helo_auth_result (an extension method, RFC 8601 §2.7.6) ---------------------------------

checks::Helo helo_of(std::string helo, checks::HeloResult result, checks::HeloReason reason,
                     bool by_ptr = false) {
  checks::Helo out;
  out.helo = std::move(helo);
  out.result = result;
  out.reason = reason;
  out.matched_by_ptr = by_ptr;
  return out;
}

TEST(HeloAuthResult, FailNamesTheReason) {
  const auto helo =
      helo_of("exchange.local", checks::HeloResult::fail, checks::HeloReason::bad_tld);
  const AuthResult expected{"x-helo", "fail", "", {{"smtp.helo", "exchange.local"}}, "bad-tld"};
  EXPECT_EQ(helo_auth_result(helo), expected);
  EXPECT_EQ(assemble_auth_results("mx.example.org", {helo_auth_result(helo)}),
            " mx.example.org; x-helo=fail smtp.helo=exchange.local (bad-tld)");
}

TEST(HeloAuthResult, EveryReasonIsItsStableName) {
  const std::pair<checks::HeloReason, const char*> cases[] = {
      {checks::HeloReason::syntax, "syntax"},
      {checks::HeloReason::not_fqdn, "not-fqdn"},
      {checks::HeloReason::bad_tld, "bad-tld"},
      {checks::HeloReason::no_address, "no-address"},
      {checks::HeloReason::mismatch, "mismatch"},
      {checks::HeloReason::forged_local, "forged-local"},
  };
  for (const auto& [reason, name] : cases) {
    EXPECT_EQ(
        assemble_auth_results(
            "mx.example.org",
            {helo_auth_result(helo_of("mail.example.com", checks::HeloResult::fail, reason))}),
        std::string(" mx.example.org; x-helo=fail smtp.helo=mail.example.com (") + name + ")");
  }
  EXPECT_EQ(assemble_auth_results(
                "mx.example.org",
                {helo_auth_result(helo_of("mail.example.com", checks::HeloResult::temperror,
                                          checks::HeloReason::dns_error))}),
            " mx.example.org; x-helo=temperror smtp.helo=mail.example.com (dns-error)");
}

TEST(HeloAuthResult, PassHasNoCommentUnlessMatchedByPtr) {
  EXPECT_EQ(
      assemble_auth_results("mx.example.org",
                            {helo_auth_result(helo_of("mail.example.com", checks::HeloResult::pass,
                                                      checks::HeloReason::ok))}),
      " mx.example.org; x-helo=pass smtp.helo=mail.example.com");
  EXPECT_EQ(
      assemble_auth_results("mx.example.org",
                            {helo_auth_result(helo_of("mail.example.com", checks::HeloResult::pass,
                                                      checks::HeloReason::ok, true))}),
      " mx.example.org; x-helo=pass smtp.helo=mail.example.com (matches the verified PTR name)");
}

TEST(HeloAuthResult, AddressLiteralAndOddHeloAreQuoted) {
  EXPECT_EQ(assemble_auth_results("mx.example.org",
                                  {helo_auth_result(helo_of("[192.0.2.7]", checks::HeloResult::pass,
                                                            checks::HeloReason::ok))}),
            " mx.example.org; x-helo=pass smtp.helo=\"[192.0.2.7]\"");
  EXPECT_EQ(assemble_auth_results(
                "mx.example.org",
                {helo_auth_result(helo_of("evil\r\nX-Injected: yes", checks::HeloResult::fail,
                                          checks::HeloReason::syntax))}),
            " mx.example.org; x-helo=fail smtp.helo=\"evil??X-Injected: yes\" (syntax)");
}

// ---- iprev_auth_result against RFC 8601 Appendix B.4 -----------------------------------------

TEST(IprevAuthResult, Rfc8601AppendixB4WithOurProperty) {
  // RFC 8601 B.4: "example.com; iprev=pass policy.iprev=192.0.2.200". We report the client
  // address as smtp.remote-ip and name the verified host in a comment.
  EXPECT_EQ(assemble_auth_results(
                "example.com", {iprev_auth_result(iprev_of("192.0.2.200", checks::IprevResult::pass,
                                                           checks::IprevReason::forward_confirmed,
                                                           {"mail.example.net"}))}),
            " example.com; iprev=pass smtp.remote-ip=192.0.2.200 (mail.example.net)");
}

// ---- received_spf (RFC 7208 §9.1) --------------------------------------------------------------

checks::SpfRequest request_of(const char* client, std::string helo, std::string mail_from,
                              std::string receiver,
                              checks::SpfIdentity identity = checks::SpfIdentity::mailfrom) {
  checks::SpfRequest request;
  request.client = testutil::ip(client);
  request.helo = std::move(helo);
  request.mail_from = std::move(mail_from);
  request.receiver = std::move(receiver);
  request.identity = identity;
  return request;
}

// Our formatting against the two examples of RFC 7208 §9.1: the same comment text and values;
// the keys in a fixed order (client-ip, envelope-from, helo, receiver, identity, mechanism,
// problem; RFC 7208 gives no order), one per folded line, no ';' after the last, and
// identity= always present (§9.1 recommends it).

TEST(ReceivedSpf, Rfc7208Section91PassExample) {
  // Received-SPF: pass (mybox.example.org: domain of
  //  myname@example.com designates 192.0.2.1 as permitted sender)
  //     receiver=mybox.example.org; client-ip=192.0.2.1;
  //     envelope-from="myname@example.com"; helo=foo.example.com;
  const auto spf = spf_of(checks::SpfResult::pass, checks::SpfIdentity::mailfrom, "example.com",
                          "myname@example.com");
  EXPECT_EQ(received_spf(spf, request_of("192.0.2.1", "foo.example.com", "myname@example.com",
                                         "mybox.example.org")),
            " pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as "
            "permitted sender)\n"
            "\tclient-ip=192.0.2.1;\n"
            "\tenvelope-from=\"myname@example.com\";\n"
            "\thelo=foo.example.com;\n"
            "\treceiver=mybox.example.org;\n"
            "\tidentity=mailfrom");
}

TEST(ReceivedSpf, Rfc7208Section91FailExample) {
  // Received-SPF: fail (mybox.example.org: domain of
  //                   myname@example.com does not designate
  //                   192.0.2.1 as permitted sender)
  //                   identity=mailfrom; client-ip=192.0.2.1;
  //                   envelope-from="myname@example.com";
  const auto spf = spf_of(checks::SpfResult::fail, checks::SpfIdentity::mailfrom, "example.com",
                          "myname@example.com");
  EXPECT_EQ(
      received_spf(spf, request_of("192.0.2.1", "", "myname@example.com", "mybox.example.org")),
      " fail (mybox.example.org: domain of myname@example.com does not designate 192.0.2.1 as "
      "permitted sender)\n"
      "\tclient-ip=192.0.2.1;\n"
      "\tenvelope-from=\"myname@example.com\";\n"
      "\treceiver=mybox.example.org;\n"
      "\tidentity=mailfrom");
}

TEST(ReceivedSpf, EveryResultHasItsComment) {
  const auto request =
      request_of("192.0.2.1", "foo.example.com", "myname@example.com", "mybox.example.org");
  const std::string keys =
      "\n\tclient-ip=192.0.2.1;\n\tenvelope-from=\"myname@example.com\";\n"
      "\thelo=foo.example.com;\n\treceiver=mybox.example.org;\n\tidentity=mailfrom";
  const std::pair<checks::SpfResult, std::string> cases[] = {
      {checks::SpfResult::softfail,
       " softfail (mybox.example.org: domain of transitioning myname@example.com does not "
       "designate 192.0.2.1 as permitted sender)"},
      {checks::SpfResult::neutral,
       " neutral (mybox.example.org: 192.0.2.1 is neither permitted nor denied by domain of "
       "myname@example.com)"},
      {checks::SpfResult::none,
       " none (mybox.example.org: domain of myname@example.com does not provide an SPF "
       "record)"},
      {checks::SpfResult::temperror,
       " temperror (mybox.example.org: error in processing during lookup of "
       "myname@example.com)"},
      {checks::SpfResult::permerror,
       " permerror (mybox.example.org: the SPF record of example.com is invalid)"},
  };
  for (const auto& [result, comment] : cases) {
    const auto spf =
        spf_of(result, checks::SpfIdentity::mailfrom, "example.com", "myname@example.com");
    EXPECT_EQ(received_spf(spf, request), comment + keys) << checks::to_string(result);
  }
}

TEST(ReceivedSpf, MechanismAndProblemAreQuotedWhenNotDotAtoms) {
  auto spf = spf_of(checks::SpfResult::pass, checks::SpfIdentity::mailfrom, "example.com",
                    "a@example.com");
  spf.mechanism = "ip4:192.0.2.0/24";
  EXPECT_EQ(received_spf(spf, request_of("192.0.2.1", "", "a@example.com", "mx.example.org")),
            " pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as permitted "
            "sender)\n"
            "\tclient-ip=192.0.2.1;\n"
            "\tenvelope-from=\"a@example.com\";\n"
            "\treceiver=mx.example.org;\n"
            "\tidentity=mailfrom;\n"
            "\tmechanism=\"ip4:192.0.2.0/24\"");
  auto perm = spf_of(checks::SpfResult::permerror, checks::SpfIdentity::mailfrom, "example.com",
                     "a@example.com");
  perm.mechanism = "-all";
  perm.problem = "two \"v=spf1\" records";
  EXPECT_EQ(received_spf(perm, request_of("192.0.2.1", "", "a@example.com", "mx.example.org")),
            " permerror (mx.example.org: the SPF record of example.com is invalid)\n"
            "\tclient-ip=192.0.2.1;\n"
            "\tenvelope-from=\"a@example.com\";\n"
            "\treceiver=mx.example.org;\n"
            "\tidentity=mailfrom;\n"
            "\tmechanism=-all;\n"
            "\tproblem=\"two \\\"v=spf1\\\" records\"");
}

TEST(ReceivedSpf, HeloIdentityHasNoEnvelopeFrom) {
  const auto spf = spf_of(checks::SpfResult::pass, checks::SpfIdentity::helo, "foo.example.com",
                          "postmaster@foo.example.com");
  EXPECT_EQ(received_spf(spf, request_of("192.0.2.1", "foo.example.com", "", "mybox.example.org",
                                         checks::SpfIdentity::helo)),
            " pass (mybox.example.org: domain of postmaster@foo.example.com designates "
            "192.0.2.1 as permitted sender)\n"
            "\tclient-ip=192.0.2.1;\n"
            "\thelo=foo.example.com;\n"
            "\treceiver=mybox.example.org;\n"
            "\tidentity=helo");
}

TEST(ReceivedSpf, Ipv6ClientIsQuotedAndMappedClientIsIpv4) {
  const auto spf = spf_of(checks::SpfResult::neutral, checks::SpfIdentity::mailfrom, "example.com",
                          "a@example.com");
  EXPECT_EQ(received_spf(spf, request_of("2001:DB8::1", "", "a@example.com", "")),
            " neutral (2001:db8::1 is neither permitted nor denied by domain of a@example.com)\n"
            "\tclient-ip=\"2001:db8::1\";\n"
            "\tenvelope-from=\"a@example.com\";\n"
            "\tidentity=mailfrom");
  EXPECT_EQ(received_spf(spf, request_of("::ffff:192.0.2.1", "", "a@example.com", "")),
            " neutral (192.0.2.1 is neither permitted nor denied by domain of a@example.com)\n"
            "\tclient-ip=192.0.2.1;\n"
            "\tenvelope-from=\"a@example.com\";\n"
            "\tidentity=mailfrom");
}

TEST(ReceivedSpf, HostileHeloAndSenderStayInsideTheirValues) {
  const auto spf = spf_of(checks::SpfResult::fail, checks::SpfIdentity::mailfrom, "example.com",
                          "x)\r\nX-Injected: yes@example.com");
  EXPECT_EQ(received_spf(spf, request_of("192.0.2.1", "evil\r\nBcc: victim@example.com",
                                         "x)\r\nX-Injected: yes@example.com", "mx.example.org")),
            " fail (mx.example.org: domain of x\\)??X-Injected: yes@example.com does not "
            "designate 192.0.2.1 as permitted sender)\n"
            "\tclient-ip=192.0.2.1;\n"
            "\tenvelope-from=\"x)??X-Injected: yes@example.com\";\n"
            "\thelo=\"evil??Bcc: victim@example.com\";\n"
            "\treceiver=mx.example.org;\n"
            "\tidentity=mailfrom");
}

// ---- sanitize --------------------------------------------------------------------------------

TEST(Sanitize, PrintableAsciiUnchanged) {
  std::string printable;
  for (int c = 0x20; c <= 0x7e; ++c) {
    printable.push_back(static_cast<char>(c));
  }
  EXPECT_EQ(sanitize(printable), printable);
  EXPECT_EQ(sanitize("mail.example.com"), "mail.example.com");
  EXPECT_EQ(sanitize(""), "");
}

TEST(Sanitize, ReplacesEachBadByteWithQuestionMark) {
  const std::string input =
      std::string("a\rb\nc") + '\0' + "d\x01" + "e\x7f" + "f\xc3\xa9" + "g\x1b[31m" + "\xff";
  EXPECT_EQ(sanitize(input), "a?b?c?d?e?f??g?[31m?");
}

TEST(Sanitize, CrLfBecomesTwoQuestionMarks) {
  EXPECT_EQ(sanitize("x\r\nX-Injected: yes"), "x??X-Injected: yes");
}

TEST(Sanitize, EveryControlAndHighByteIsReplaced) {
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    const bool keep = c >= 0x20 && c <= 0x7e;
    EXPECT_EQ(sanitize(one), keep ? one : "?") << "byte " << c;
  }
}

TEST(Sanitize, CutsToMaxLength) {
  const std::string big(kTenKilobytes, 'a');
  EXPECT_EQ(sanitize(big), std::string(255, 'a'));
  EXPECT_EQ(sanitize(big, 40), std::string(40, 'a'));
  EXPECT_EQ(sanitize(big, 0), "");
  EXPECT_EQ(sanitize("short", 100), "short");
  std::string hostile;
  for (int i = 0; i < 10 * 1024; ++i) {
    hostile.push_back(static_cast<char>(i % 256));
  }
  EXPECT_LE(sanitize(hostile).size(), 255U);
  EXPECT_LE(sanitize(hostile, 17).size(), 17U);
}

// ---- value_or_quoted / comment_text ----------------------------------------------------------

TEST(ValueOrQuoted, TokensAsIs) {
  for (const char* token : {"192.0.2.7", "mail.example.com", "no-ptr", "pass", "a_b+c", "X1"}) {
    EXPECT_EQ(value_or_quoted(token), token);
  }
}

TEST(ValueOrQuoted, AllRfc2045TokenCharactersAsIs) {
  // RFC 2045 §5.1: token = 1*<any CHAR except SPACE, CTLs, or tspecials>.
  EXPECT_EQ(value_or_quoted("!#$%&'*+-.^_`{|}~"), "!#$%&'*+-.^_`{|}~");
}

TEST(ValueOrQuoted, QuotesWhatIsNotAToken) {
  EXPECT_EQ(value_or_quoted("good signature"), "\"good signature\"");
  EXPECT_EQ(value_or_quoted("a;b"), "\"a;b\"");
  EXPECT_EQ(value_or_quoted("a(b"), "\"a(b\"");
  EXPECT_EQ(value_or_quoted("a=b"), "\"a=b\"");
  EXPECT_EQ(value_or_quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(value_or_quoted("back\\slash"), "\"back\\\\slash\"");
}

TEST(ValueOrQuoted, EveryTspecialForcesQuotes) {
  // RFC 2045 tspecials and space; '@', ':' and '/' are tested on their own below.
  for (char special : std::string("()<>,;\\\"[]?= ")) {
    const std::string value = std::string("a") + special + "b";
    const auto out = value_or_quoted(value);
    ASSERT_GE(out.size(), 2U);
    EXPECT_EQ(out.front(), '"') << value;
    EXPECT_EQ(out.back(), '"') << value;
  }
}

TEST(ValueOrQuoted, ColonAtAndSlashAreTspecialsToo) {
  // The header promises "a token as is, anything else as a quoted string"; RFC 2045 tspecials
  // include ':', '@' and '/', so an IPv6 address or user@domain is not a token.
  EXPECT_EQ(value_or_quoted("2001:db8::25"), "\"2001:db8::25\"");
  EXPECT_EQ(value_or_quoted("user@example.com"), "\"user@example.com\"");
  EXPECT_EQ(value_or_quoted("a/b"), "\"a/b\"");
}

TEST(AssembleAuthResults, ReasonIsATokenOrAQuotedString) {
  // RFC 8601 §2.2: reasonspec = "reason" "=" value, and value is RFC 2045 token / quoted-string
  // (the domain-name and local-part@domain forms are only allowed in a pvalue).
  EXPECT_EQ(
      assemble_auth_results("mx.example.org", {{"iprev", "temperror", "dns:servfail", {}, ""}}),
      " mx.example.org; iprev=temperror reason=\"dns:servfail\"");
}

TEST(ValueOrQuoted, EmptyValueIsAnEmptyQuotedString) {
  EXPECT_EQ(value_or_quoted(""), "\"\"");
}

TEST(ValueOrQuoted, SanitizesBeforeQuoting) {
  EXPECT_EQ(value_or_quoted("a\r\nb"), "\"a??b\"");
  EXPECT_EQ(value_or_quoted("caf\xc3\xa9"), "\"caf??\"");
}

TEST(ValueOrQuoted, LengthIsBounded) {
  const std::string big(kTenKilobytes, '"');
  EXPECT_LE(value_or_quoted(big).size(), 2U * 255U + 2U);
}

TEST(CommentText, EscapesParenthesesAndBackslashes) {
  EXPECT_EQ(comment_text("mail.example.com"), "mail.example.com");
  EXPECT_EQ(comment_text("a(b)c\\d"), "a\\(b\\)c\\\\d");
  EXPECT_EQ(comment_text("x\ny"), "x?y");
}

// ---- properties over hostile input ---------------------------------------------------------

std::vector<std::string> hostile_strings() {
  std::vector<std::string> out = {
      "",
      "\r",
      "\n",
      "\r\n",
      "\n\t",
      std::string(1, '\0'),
      "mx.example.org\r\nX-Injected: yes",
      "evil\nBcc: victim@example.com",
      "a;\r\n\tspf=pass",
      "pass) (",
      "\\",
      "\"",
      "\\\"\r\n",
      std::string(kTenKilobytes, '\n'),
      std::string("\xe2\x80\xa8\xc2\x85"),  // U+2028, U+0085 (line separators elsewhere)
  };
  const std::string pieces[] = {"\r",   "\n",   "\r\n", "\n\t",  std::string(1, '\0'),
                                "\t",   "\x7f", "\x80", "\xff",  "(",
                                ")",    "\\",   "\"",   ";",     " ",
                                "=",    "a",    "Z",    "5",     ".",
                                "-",    "@",    ":",    "%{ip}", "\x1b",
                                "\x0b", "\x0c"};
  std::mt19937 random(20240601);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pieces) - 1);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 500; ++i) {
    std::string s;
    for (int n = length(random); n > 0; --n) {
      s += pieces[pick(random)];
    }
    out.push_back(std::move(s));
  }
  return out;
}

/// Only folds ("\n\t") may break lines; no other control (but tab) and nothing above 0x7e.
void expect_header_safe(const std::string& body, std::size_t folds, const std::string& input) {
  EXPECT_EQ(body.find('\r'), std::string::npos) << "input: " << ::testing::PrintToString(input);
  EXPECT_EQ(body.find('\0'), std::string::npos) << "input: " << ::testing::PrintToString(input);
  EXPECT_EQ(static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')), folds)
      << "input: " << ::testing::PrintToString(input);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    const bool fold = c == '\n' && i + 1 < body.size() && body[i + 1] == '\t';
    // Tabs are harmless here; the Sanitize tests cover them.
    const bool ok = fold || c == '\t' || (c >= 0x20 && c <= 0x7e);
    if (!ok) {
      ADD_FAILURE() << "byte " << int{c} << " at " << i << " in " << ::testing::PrintToString(body)
                    << " from input " << ::testing::PrintToString(input);
      return;
    }
  }
}

TEST(AuthResultsProperty, HostileTextNeverInjectsALine) {
  for (const auto& evil : hostile_strings()) {
    const std::vector<AuthResult> results = {
        {"iprev", "fail", evil, {{"smtp.remote-ip", evil}, {"policy.iprev", evil}}, evil},
        {"spf", "pass", "", {{"smtp.mailfrom", evil}}, evil},
    };
    expect_header_safe(assemble_auth_results(evil, results), 1, evil);
    expect_header_safe(assemble_auth_results(evil, {}), 0, evil);
    expect_header_safe(assemble_auth_results("mx.example.org", {results[0]}), 0, evil);
    if (::testing::Test::HasFailure()) {
      return;  // one bad input is enough to read
    }
  }
}

/// True if `out` is a token or a well-formed quoted-string of printable ASCII. Note: '@', ':'
/// and '/' are let through unquoted here (RFC 8601 pvalue); ColonAtAndSlash... is stricter.
bool well_formed_value(const std::string& out) {
  const std::string tspecials = "()<>,;\\\"[]?= ";
  const auto printable = [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e;
  };
  if (out.empty()) {
    return false;
  }
  if (out.front() != '"') {
    return std::all_of(out.begin(), out.end(), [&](char c) {
      return printable(c) && tspecials.find(c) == std::string::npos;
    });
  }
  if (out.size() < 2 || out.back() != '"') {
    return false;
  }
  for (std::size_t i = 1; i + 1 < out.size(); ++i) {
    if (!printable(out[i])) {
      return false;
    }
    if (out[i] == '\\') {
      if (i + 2 >= out.size() || (out[i + 1] != '"' && out[i + 1] != '\\')) {
        return false;
      }
      ++i;
    } else if (out[i] == '"') {
      return false;
    }
  }
  return true;
}

TEST(AuthResultsProperty, ValueOrQuotedIsAlwaysWellFormed) {
  for (const auto& evil : hostile_strings()) {
    const auto out = value_or_quoted(evil);
    EXPECT_TRUE(well_formed_value(out))
        << ::testing::PrintToString(evil) << " -> " << ::testing::PrintToString(out);
  }
}

TEST(AuthResultsProperty, CommentTextNeverHasAnUnescapedParenthesis) {
  for (const auto& evil : hostile_strings()) {
    const auto out = comment_text(evil);
    bool ok = true;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto c = static_cast<unsigned char>(out[i]);
      const bool bad_byte = c < 0x20 || c > 0x7e || c == '(' || c == ')';
      if (c == '\\') {
        ok = ok && i + 1 < out.size() &&
             (out[i + 1] == '(' || out[i + 1] == ')' || out[i + 1] == '\\');
        ++i;
      } else if (bad_byte) {
        ok = false;
      }
    }
    EXPECT_TRUE(ok) << ::testing::PrintToString(evil) << " -> " << ::testing::PrintToString(out);
  }
}

TEST(AuthResultsProperty, SanitizeOutputIsPrintableAndBounded) {
  for (const auto& evil : hostile_strings()) {
    for (std::size_t max : {std::size_t{0}, std::size_t{5}, std::size_t{255}}) {
      const auto out = sanitize(evil, max);
      EXPECT_LE(out.size(), max);
      EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e;
      })) << ::testing::PrintToString(evil);
    }
  }
}

TEST(AuthResultsProperty, SanitizeKeepsOneOutputByteForEachInputByte) {
  for (const auto& evil : hostile_strings()) {
    EXPECT_EQ(sanitize(evil, 100000).size(), evil.size()) << ::testing::PrintToString(evil);
  }
}

TEST(AuthResultsProperty, HostileAuthservIdStaysOnTheFirstLine) {
  const auto body = assemble_auth_results("mx.example.org\r\nX-Injected: yes", {});
  EXPECT_THAT(body, ::testing::Not(HasSubstr("\n")));
  EXPECT_THAT(body, ::testing::EndsWith("; none"));
}

}  // namespace
}  // namespace rdns::header
