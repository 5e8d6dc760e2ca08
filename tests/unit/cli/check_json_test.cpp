// `--check --json` (src/cli/check.cpp) over the fake resolver: the whole key set and the stable
// values of README's contract, written out as literals.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "rdns/cli/check.h"
#include "testutil/fake_resolver.h"

namespace rdns::cli {
namespace {

using json = nlohmann::json;
using Keys = std::set<std::string>;
using ::testing::StartsWith;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::ip;
using testutil::ptr_answer;

Keys keys_of(const json& object) {
  Keys keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

dns::Answer ok_answer(std::string name, dns::RrType type) {
  dns::Answer answer;
  answer.name = std::move(name);
  answer.type = type;
  answer.outcome = dns::Outcome::ok;
  answer.ttl = 300;
  return answer;
}

class CheckJsonTest : public ::testing::Test {
 protected:
  CheckJsonTest() {
    resolver_.add(ptr_answer("7.2.0.192.in-addr.arpa", {"mail.example.com"}));
    resolver_.add(a_answer("mail.example.com", {"192.0.2.7"}));
    // Note: example.com is a private name to the HELO check; the HELO is a name under .zz.
    resolver_.add(a_answer("mail.sender.zz", {"192.0.2.7"}));
    resolver_.add(ok_answer("zz", dns::RrType::soa));
    auto txt = ok_answer("example.com", dns::RrType::txt);
    txt.texts = {"v=spf1 ip4:192.0.2.0/24 -all"};
    resolver_.add(txt);
    config_.authserv_id = "mx.example.org";
  }

  json check(const char* client, const std::optional<std::string>& helo = std::nullopt,
             const std::optional<std::string>& mail_from = std::nullopt) {
    std::ostringstream out;
    print_json(out, run_check(resolver_, config_, ip(client), helo, mail_from,
                              std::make_shared<testutil::FakeAuthorityProbe>(resolver_)));
    return json::parse(out.str());
  }

  testutil::FakeResolver resolver_;
  config::Config config_;
};

const Keys answer_keys{"name",   "type", "outcome",     "ttl",
                       "dnssec", "data", "cname_chain", "confirmed"};

TEST_F(CheckJsonTest, EveryKeyOfAFullReport) {
  const json report = check("192.0.2.7", "mail.sender.zz", "someone@example.com");
  EXPECT_EQ(keys_of(report), (Keys{"ip", "action", "reply", "checks", "headers", "diagnosis"}))
      << report.dump(2);
  EXPECT_EQ(report.at("ip"), "192.0.2.7");
  EXPECT_EQ(report.at("action"), "accept");
  EXPECT_TRUE(report.at("reply").is_null());
  EXPECT_EQ(keys_of(report.at("checks")), (Keys{"iprev", "helo", "spf", "spf_helo"}));

  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(keys_of(iprev), (Keys{"result", "reason", "ptr", "verified", "dnssec", "generic",
                                  "answers", "authority", "fix"}));
  EXPECT_EQ(iprev.at("generic"), (json{{"generic", false}, {"reason", ""}}));
  EXPECT_EQ(iprev.at("result"), "pass");
  EXPECT_EQ(iprev.at("reason"), "forward-confirmed");
  EXPECT_EQ(iprev.at("ptr"), json::array({"mail.example.com"}));
  EXPECT_EQ(iprev.at("verified"), json::array({"mail.example.com"}));
  EXPECT_EQ(iprev.at("dnssec"), "insecure");
  EXPECT_EQ(iprev.at("fix"), "");
  ASSERT_EQ(iprev.at("answers").size(), 2U) << iprev.dump(2);
  const json& ptr = iprev.at("answers")[0];
  EXPECT_EQ(keys_of(ptr), answer_keys);
  EXPECT_EQ(ptr.at("name"), "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(ptr.at("type"), "PTR");
  EXPECT_EQ(ptr.at("outcome"), "ok");
  EXPECT_EQ(ptr.at("ttl"), 3600);
  EXPECT_EQ(ptr.at("dnssec"), "insecure");
  EXPECT_EQ(ptr.at("data"), json::array({"mail.example.com"}));
  EXPECT_EQ(ptr.at("cname_chain"), json::array());
  EXPECT_EQ(ptr.at("confirmed"), false);
  EXPECT_EQ(iprev.at("answers")[1].at("type"), "A");

  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(keys_of(helo),
            (Keys{"result", "reason", "helo", "addresses", "matched_by_ptr", "answers", "fix"}));
  EXPECT_EQ(helo.at("result"), "pass");
  EXPECT_EQ(helo.at("reason"), "ok");
  EXPECT_EQ(helo.at("helo"), "mail.sender.zz");
  EXPECT_EQ(helo.at("addresses"), json::array({"192.0.2.7"}));
  EXPECT_EQ(helo.at("matched_by_ptr"), false);
  ASSERT_FALSE(helo.at("answers").empty());
  EXPECT_EQ(helo.at("answers")[0].at("type"), "SOA");
  EXPECT_EQ(helo.at("fix"), "");

  const json& spf = report.at("checks").at("spf");
  EXPECT_EQ(keys_of(spf), (Keys{"result", "identity", "domain", "sender", "record", "mechanism",
                                "explanation", "problem", "answers", "steps", "fix"}));
  EXPECT_EQ(spf.at("result"), "pass");
  EXPECT_EQ(spf.at("identity"), "mailfrom");
  EXPECT_EQ(spf.at("domain"), "example.com");
  EXPECT_EQ(spf.at("sender"), "someone@example.com");
  EXPECT_EQ(spf.at("record"), "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(spf.at("mechanism"), "ip4:192.0.2.0/24");
  EXPECT_TRUE(spf.at("explanation").is_null());
  EXPECT_TRUE(spf.at("problem").is_null());
  ASSERT_FALSE(spf.at("answers").empty());
  EXPECT_EQ(keys_of(spf.at("answers")[0]), answer_keys);
  EXPECT_EQ(spf.at("fix"), "");

  const json& spf_helo = report.at("checks").at("spf_helo");
  EXPECT_EQ(keys_of(spf_helo), (Keys{"result", "domain"}));
  EXPECT_EQ(spf_helo.at("result"), "none");
  EXPECT_EQ(spf_helo.at("domain"), "mail.sender.zz");

  ASSERT_EQ(report.at("headers").size(), 2U) << report.dump(2);
  EXPECT_THAT(report.at("headers")[0].get<std::string>(),
              StartsWith("Authentication-Results: mx.example.org; iprev=pass "
                         "smtp.remote-ip=192.0.2.7 (mail.example.com)"));
  EXPECT_THAT(report.at("headers")[1].get<std::string>(), StartsWith("Received-SPF: pass ("));
}

TEST_F(CheckJsonTest, IprevAloneHasOnlyTheIprevCheck) {
  const json report = check("192.0.2.7");
  EXPECT_EQ(keys_of(report), (Keys{"ip", "action", "reply", "checks", "headers", "diagnosis"}));
  EXPECT_EQ(keys_of(report.at("checks")), (Keys{"iprev"}));
  EXPECT_EQ(report.at("headers"), json::array({"Authentication-Results: mx.example.org; iprev=pass "
                                               "smtp.remote-ip=192.0.2.7 (mail.example.com)"}));
}

TEST_F(CheckJsonTest, NoPtrIsRejectedWithAReplyAndAFix) {
  resolver_.add(
      failure_answer("12.2.0.192.in-addr.arpa", dns::RrType::ptr, dns::Outcome::nxdomain));
  const json report = check("192.0.2.12");
  EXPECT_EQ(report.at("action"), "reject") << report.dump(2);
  EXPECT_THAT(report.at("reply").get<std::string>(), StartsWith("550 5.7.25 "));
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "fail");
  EXPECT_EQ(iprev.at("reason"), "no-ptr");
  EXPECT_EQ(iprev.at("ptr"), json::array());
  EXPECT_EQ(iprev.at("verified"), json::array());
  EXPECT_NE(iprev.at("fix"), "");
  ASSERT_FALSE(iprev.at("answers").empty());
  EXPECT_EQ(iprev.at("answers")[0].at("outcome"), "nxdomain");
}

TEST_F(CheckJsonTest, ServfailIsTempfailedAndTheAnswerNamesTheError) {
  resolver_.add(
      failure_answer("7.100.51.198.in-addr.arpa", dns::RrType::ptr, dns::Outcome::servfail));
  const json report = check("198.51.100.7");
  EXPECT_EQ(report.at("action"), "tempfail") << report.dump(2);
  EXPECT_THAT(report.at("reply").get<std::string>(), StartsWith("450 4.7.25 "));
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "temperror");
  EXPECT_EQ(iprev.at("reason"), "ptr-servfail");
  ASSERT_FALSE(iprev.at("answers").empty());
  const json& answer = iprev.at("answers")[0];
  EXPECT_EQ(keys_of(answer), [] {
    Keys keys = answer_keys;
    keys.insert("error");
    return keys;
  }());
  EXPECT_EQ(answer.at("outcome"), "servfail");
}

TEST_F(CheckJsonTest, ExemptClientShowsExemptionAndWantedAction) {
  resolver_.add(
      failure_answer("12.2.0.192.in-addr.arpa", dns::RrType::ptr, dns::Outcome::nxdomain));
  config_.policy.exemptions.trusted_networks = {*dns::Network::parse("192.0.2.0/24")};
  const json report = check("192.0.2.12");
  EXPECT_EQ(keys_of(report), (Keys{"ip", "action", "reply", "checks", "headers", "diagnosis",
                                   "exemption", "wanted"}))
      << report.dump(2);
  EXPECT_EQ(report.at("action"), "tag");
  EXPECT_EQ(report.at("wanted"), "reject");
  EXPECT_EQ(report.at("exemption"), "trusted-network");
}

TEST_F(CheckJsonTest, GenericPtrNameIsReportedTaggedAndFixed) {
  resolver_.add(ptr_answer("43.2.0.192.in-addr.arpa", {"dsl-192-0-2-43.dyn.pool.zz"}));
  resolver_.add(a_answer("dsl-192-0-2-43.dyn.pool.zz", {"192.0.2.43"}));
  config_.generic_ptr_keywords = checks::default_generic_ptr_keywords();
  const json report = check("192.0.2.43");
  EXPECT_EQ(report.at("action"), "tag") << report.dump(2);
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "pass");
  EXPECT_EQ(iprev.at("generic"),
            (json{{"generic", true},
                  {"reason",
                   "PTR name dsl-192-0-2-43.dyn.pool.zz contains the client address 192.0.2.43 "
                   "as the octets '192-0-2-43' and the keyword 'dsl'"}}));
  EXPECT_THAT(iprev.at("fix").get<std::string>(),
              StartsWith("192.0.2.43 passes, but its PTR name is the generic name of an address "
                         "pool: PTR name dsl-192-0-2-43.dyn.pool.zz contains"));

  config_.policy.iprev.generic.action = policy::Action::reject;
  const json rejected = check("192.0.2.43");
  EXPECT_EQ(rejected.at("action"), "reject") << rejected.dump(2);
  EXPECT_THAT(rejected.at("reply").get<std::string>(),
              StartsWith("550 5.7.25 The PTR name of 192.0.2.43 (dsl-192-0-2-43.dyn.pool.zz) is "
                         "the generic name of an address pool; a mail server needs a PTR name of "
                         "its own"));

  std::ostringstream text;
  print_text(text, run_check(resolver_, config_, ip("192.0.2.43")));
  EXPECT_THAT(text.str(), ::testing::HasSubstr(
                              "generic PTR name: yes (PTR name dsl-192-0-2-43.dyn.pool.zz contains "
                              "the client address 192.0.2.43 as the octets '192-0-2-43'"));
}

TEST_F(CheckJsonTest, InvalidHeloAddsTheSyntaxError) {
  const json report = check("192.0.2.7", "bad_name.sender.zz");
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(keys_of(helo), (Keys{"result", "reason", "helo", "addresses", "matched_by_ptr",
                                 "answers", "fix", "syntax_error"}));
  EXPECT_EQ(helo.at("result"), "fail");
  EXPECT_EQ(helo.at("reason"), "syntax");
  EXPECT_EQ(helo.at("syntax_error"), "an underscore (not allowed in host names)");
}

TEST_F(CheckJsonTest, StaleNegativeCacheIsDiagnosedWithTheAuthoritativeEvidence) {
  resolver_.add(failure_answer("9.2.0.192.in-addr.arpa", dns::RrType::ptr, dns::Outcome::nxdomain));
  resolver_.add_authoritative(ptr_answer("9.2.0.192.in-addr.arpa", {"late.example.com"}));
  resolver_.add(a_answer("late.example.com", {"192.0.2.9"}));
  config_.resolver.forwarders = {"192.0.2.53"};
  const json report = check("192.0.2.9");
  EXPECT_EQ(report.at("checks").at("iprev").at("result"), "pass") << report.dump(2);
  const json& authority = report.at("checks").at("iprev").at("authority");
  ASSERT_EQ(authority.size(), 1U) << report.dump(2);
  EXPECT_EQ(authority[0].at("verdict"), "has-record");
  const json& server = authority[0].at("steps").at(0).at("servers").at(0);
  EXPECT_EQ(server.at("aa"), true);
  EXPECT_EQ(server.at("address"), "192.0.2.53");
  const json& diagnosis = report.at("diagnosis");
  ASSERT_EQ(diagnosis.size(), 1U) << report.dump(2);
  EXPECT_EQ(diagnosis[0].at("code"), "stale-negative-cache");
  EXPECT_EQ(diagnosis[0].at("party"), "receiver");
  EXPECT_EQ(diagnosis[0].at("summary"),
            "forwarder 192.0.2.53 answered NXDOMAIN for 9.2.0.192.in-addr.arpa but its "
            "authoritative servers publish PTR late.example.com: a stale negative cache at the "
            "forwarder");
}

TEST_F(CheckJsonTest, ConfirmedNoPtrIsDiagnosedForTheSendersIsp) {
  resolver_.add(
      failure_answer("12.2.0.192.in-addr.arpa", dns::RrType::ptr, dns::Outcome::nxdomain));
  const json report = check("192.0.2.12");
  const json& diagnosis = report.at("diagnosis");
  ASSERT_EQ(diagnosis.size(), 1U) << report.dump(2);
  EXPECT_EQ(diagnosis[0].at("code"), "no-ptr");
  EXPECT_EQ(diagnosis[0].at("party"), "sender-isp");
  EXPECT_EQ(report.at("action"), "reject");
}

}  // namespace
}  // namespace rdns::cli
