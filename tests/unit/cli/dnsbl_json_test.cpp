// `--check --json` for the DNS lists: checks.dnsbl and checks.rhsbl exactly as issue 9 and
// README specify them, the health check before the lookups, the text report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rdns/cli/check.h"
#include "testutil/fake_resolver.h"

namespace rdns::cli {
namespace {

using json = nlohmann::json;
using Keys = std::set<std::string>;
using ::testing::HasSubstr;
using testutil::a_answer;
using testutil::ip;
using testutil::ptr_answer;

Keys keys_of(const json& object) {
  Keys keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

std::vector<checks::DnsblSite> sites(std::initializer_list<const char*> texts) {
  std::vector<checks::DnsblSite> out;
  for (const auto* text : texts) out.push_back(*checks::parse_dnsbl_site(text).site);
  return out;
}

class DnsblJsonTest : public ::testing::Test {
 protected:
  DnsblJsonTest() {
    resolver_.add(ptr_answer("7.2.0.192.in-addr.arpa", {"mail.example.com"}));
    resolver_.add(a_answer("mail.example.com", {"192.0.2.7"}));
    resolver_.add(a_answer("7.2.0.192.zen.example", {"127.0.0.4"}));
    dns::Answer txt;
    txt.name = "7.2.0.192.zen.example";
    txt.type = dns::RrType::txt;
    txt.outcome = dns::Outcome::ok;
    txt.texts = {"Listed by SBL"};
    resolver_.add(txt);
    resolver_.add(a_answer("2.0.0.127.zen.example", {"127.0.0.2"}));
    // pub.example answers every query with "public resolver".
    resolver_.set_handler([](const testutil::Query& query) -> std::optional<dns::Answer> {
      if (!query.name.ends_with(".pub.example") || query.type != dns::RrType::a) return {};
      return a_answer(query.name, {"127.255.255.254"});
    });
    resolver_.add(a_answer("mail.example.com.dbl.example", {"127.0.1.2"}));
    resolver_.add(a_answer("test.dbl.example", {"127.0.1.2"}));
    config_.authserv_id = "mx.example.org";
    config_.dnsbl.sites = sites({"zen.example=127.0.0.[2..11]*3", "pub.example"});
    config_.dnsbl.rhsbl = sites({"dbl.example=127.0.1.[2..99]*2"});
  }

  json check(const char* client) {
    std::ostringstream out;
    print_json(out, run_check(resolver_, config_, ip(client)));
    return json::parse(out.str());
  }

  testutil::FakeResolver resolver_;
  config::Config config_ = config::defaults();
};

TEST_F(DnsblJsonTest, ChecksDnsblAndRhsblHaveExactlyTheDocumentedShape) {
  config_.policy.exemptions.trusted_networks.clear();
  const json report = check("192.0.2.7");
  const json& dnsbl = report.at("checks").at("dnsbl");
  EXPECT_EQ(keys_of(dnsbl), (Keys{"score", "threshold", "result", "hits", "errors"}))
      << dnsbl.dump(2);
  EXPECT_EQ(dnsbl.at("score"), 3);
  EXPECT_EQ(dnsbl.at("threshold"), 1);
  EXPECT_EQ(dnsbl.at("result"), "listed");
  ASSERT_EQ(dnsbl.at("hits").size(), 1U);
  EXPECT_EQ(dnsbl.at("hits")[0], (json{{"zone", "zen.example"},
                                       {"query", "7.2.0.192.zen.example"},
                                       {"answer", json::array({"127.0.0.4"})},
                                       {"weight", 3},
                                       {"txt", "Listed by SBL"}}));
  // The health check met the error code first: the list was not asked for the client.
  ASSERT_EQ(dnsbl.at("errors").size(), 1U);
  const json& error = dnsbl.at("errors")[0];
  EXPECT_EQ(error.at("zone"), "pub.example");
  EXPECT_EQ(error.at("answer"), "127.255.255.254");
  EXPECT_EQ(error.at("outcome"), "paused");
  EXPECT_THAT(error.at("reason").get<std::string>(), HasSubstr("public or shared resolver"));

  const json& rhsbl = report.at("checks").at("rhsbl");
  EXPECT_EQ(keys_of(rhsbl), (Keys{"score", "threshold", "result", "hits", "errors"}));
  EXPECT_EQ(rhsbl.at("score"), 2);
  EXPECT_EQ(rhsbl.at("result"), "listed");
  ASSERT_EQ(rhsbl.at("hits").size(), 1U);
  EXPECT_EQ(rhsbl.at("hits")[0], (json{{"zone", "dbl.example"},
                                       {"query", "mail.example.com.dbl.example"},
                                       {"answer", json::array({"127.0.1.2"})},
                                       {"weight", 2},
                                       {"txt", nullptr},
                                       {"domain", "mail.example.com"},
                                       {"source", "ptr"}}));
  EXPECT_EQ(rhsbl.at("errors"), json::array());
  EXPECT_EQ(report.at("action"), "reject");
  EXPECT_THAT(report.at("reply").get<std::string>(),
              HasSubstr("554 5.7.1 Service unavailable; client [192.0.2.7] blocked using "
                        "zen.example; Listed by SBL"));
  ASSERT_EQ(report.at("dnsbl_health").size(), 3U);
  EXPECT_EQ(report.at("dnsbl_health")[0],
            (json{{"zone", "zen.example"}, {"state", "ok"}, {"reason", ""}}));
  EXPECT_EQ(report.at("dnsbl_health")[1].at("state"), "error");
}

TEST_F(DnsblJsonTest, AReportWithoutListsHasNoListKeys) {
  config_.dnsbl = {};
  const json report = check("192.0.2.7");
  EXPECT_FALSE(report.at("checks").contains("dnsbl"));
  EXPECT_FALSE(report.at("checks").contains("rhsbl"));
  EXPECT_FALSE(report.contains("dnsbl_health"));
}

TEST_F(DnsblJsonTest, TheTextReportShowsEachListWeightTotalAndThreshold) {
  std::ostringstream out;
  print_text(out, run_check(resolver_, config_, ip("192.0.2.7")));
  const auto text = out.str();
  EXPECT_THAT(text, HasSubstr("7.2.0.192.zen.example A -> 127.0.0.4"));
  EXPECT_THAT(text, HasSubstr("hit: zen.example 7.2.0.192.zen.example -> 127.0.0.4 weight 3 "
                              "TXT \"Listed by SBL\""));
  EXPECT_THAT(text, HasSubstr("error: pub.example answers 127.255.255.254: your queries"));
  EXPECT_THAT(text, HasSubstr("health: zen.example ok"));
  EXPECT_THAT(text, HasSubstr("dnsbl: score 5, threshold 1: listed"));
}

}  // namespace
}  // namespace rdns::cli
