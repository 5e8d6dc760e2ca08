// `rdns-milter --check IP --json` against the DNS fixture: the built executable, end to end.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "testutil/dns_fixture.h"

namespace rdns::cli {
namespace {

using rdns::test::DnsFixture;
using rdns::test::ProcessResult;
using rdns::test::required_env;
using rdns::test::run_process;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;

// Note: the keys and values README calls a stable contract are written out as literals, never
// through to_string(), so renaming an enum's text breaks these tests as it would break scripts.

const auto* const fixture_env = ::testing::AddGlobalTestEnvironment(new DnsFixture);

class CheckCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An empty configuration file keeps a locally installed /etc/rdns-milter out of the test.
    config_file_ = DnsFixture::get().dir() + "/empty.conf";
    std::ofstream(config_file_).flush();
  }

  /// Runs rdns-milter with `args` and the fixture's unbound.conf (or `unbound_conf`).
  [[nodiscard]] ProcessResult run(std::vector<std::string> args,
                                  std::string unbound_conf = {}) const {
    if (unbound_conf.empty()) unbound_conf = DnsFixture::get().unbound_conf();
    std::vector<std::string> argv{required_env("RDNS_MILTER"), "--config", config_file_,
                                  "--unbound-config", unbound_conf};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }

  /// Runs `--check ip --json` and parses the report; fails the test unless it exits 0.
  [[nodiscard]] json check(const std::string& ip) const {
    const ProcessResult result = run({"--check", ip, "--json", "--query-timeout", "2"});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    try {
      return json::parse(result.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << result.out << "\n" << result.err;
      return json::object();
    }
  }

  std::string config_file_;
};

TEST_F(CheckCliTest, PassIsAccepted) {
  const json report = check("192.0.2.7");
  EXPECT_EQ(report.value("ip", ""), "192.0.2.7") << report.dump(2);
  EXPECT_EQ(report.value("action", ""), "accept") << report.dump(2);
  EXPECT_TRUE(report.value("reply", json()).is_null()) << report.dump(2);
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "pass");
  EXPECT_EQ(iprev.at("reason"), "forward-confirmed");
  EXPECT_EQ(iprev.at("ptr"), json::array({"good.test"}));
  EXPECT_EQ(iprev.at("verified"), json::array({"good.test"}));
  EXPECT_EQ(iprev.at("dnssec"), "insecure");
  ASSERT_FALSE(iprev.at("answers").empty());
  EXPECT_EQ(iprev.at("answers")[0].at("name"), "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(iprev.at("answers")[0].at("outcome"), "ok");
  ASSERT_TRUE(report.at("headers").is_array());
  ASSERT_FALSE(report.at("headers").empty());
  const auto header = report.at("headers")[0].get<std::string>();
  EXPECT_THAT(header, StartsWith("Authentication-Results: "));
  EXPECT_THAT(header, HasSubstr("iprev=pass"));
  EXPECT_THAT(header, HasSubstr("192.0.2.7"));
}

TEST_F(CheckCliTest, GenericPtrNamePassesAndIsReported) {
  const json report = check("192.0.2.43");
  EXPECT_EQ(report.value("action", ""), "tag") << report.dump(2);
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "pass");
  EXPECT_EQ(iprev.at("verified"), json::array({"dsl-192-0-2-43.dyn.pool.test"}));
  EXPECT_EQ(iprev.at("generic"),
            (json{{"generic", true},
                  {"reason",
                   "PTR name dsl-192-0-2-43.dyn.pool.test contains the client address 192.0.2.43 "
                   "as the octets '192-0-2-43' and the keyword 'dsl'"}}));
  EXPECT_THAT(iprev.value("fix", ""), HasSubstr("generic name of an address pool"));
  EXPECT_EQ(check("192.0.2.7").at("checks").at("iprev").at("generic"),
            (json{{"generic", false}, {"reason", ""}}));

  const ProcessResult rejected =
      run({"--check", "192.0.2.43", "--json", "--query-timeout", "2", "--iprev-generic", "reject"});
  EXPECT_EQ(rejected.exit_status, 0) << rejected.err;
  const json verdict = json::parse(rejected.out);
  EXPECT_EQ(verdict.value("action", ""), "reject");
  EXPECT_THAT(verdict.value("reply", ""), StartsWith("550 5.7.25 The PTR name of 192.0.2.43"));

  const ProcessResult text = run({"--check", "192.0.2.43", "--query-timeout", "2"});
  EXPECT_EQ(text.exit_status, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("generic PTR name: yes (PTR name dsl-192-0-2-43.dyn.pool.test"));
}

TEST_F(CheckCliTest, NoPtrIsRejected) {
  const json report = check("192.0.2.12");
  EXPECT_EQ(report.value("action", ""), "reject") << report.dump(2);
  EXPECT_THAT(report.value("reply", ""), StartsWith("550 5.7.25"));
  EXPECT_THAT(report.value("reply", ""), HasSubstr("192.0.2.12"));
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "fail");
  EXPECT_EQ(iprev.at("reason"), "no-ptr");
  EXPECT_EQ(iprev.at("ptr"), json::array());
  EXPECT_THAT(iprev.value("fix", ""), Not(IsEmpty()));
  ASSERT_FALSE(report.at("headers").empty());
  EXPECT_THAT(report.at("headers")[0].get<std::string>(), HasSubstr("iprev=fail"));
}

TEST_F(CheckCliTest, ServfailIsTempfailed) {
  const json report = check("198.51.100.7");
  EXPECT_EQ(report.value("action", ""), "tempfail") << report.dump(2);
  EXPECT_THAT(report.value("reply", ""), StartsWith("450 4.7.25"));
  const json& iprev = report.at("checks").at("iprev");
  EXPECT_EQ(iprev.at("result"), "temperror");
  EXPECT_EQ(iprev.at("reason"), "ptr-servfail");
  ASSERT_FALSE(report.at("headers").empty());
  EXPECT_THAT(report.at("headers")[0].get<std::string>(), HasSubstr("iprev=temperror"));
}

TEST_F(CheckCliTest, TextReportNamesTheVerdict) {
  const ProcessResult result = run({"--check", "192.0.2.10", "--query-timeout", "2"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("elsewhere.test"));
  EXPECT_THAT(result.out, HasSubstr("no-forward-match"));
}

TEST_F(CheckCliTest, InvalidAddressIsAUsageError) {
  const ProcessResult result = run({"--check", "not-an-ip", "--json"});
  EXPECT_EQ(result.exit_status, 2) << result.out << result.err;
  EXPECT_THAT(result.err, HasSubstr("not-an-ip"));
}

TEST_F(CheckCliTest, InvalidTimeoutIsAUsageError) {
  const ProcessResult result = run({"--check", "192.0.2.7", "--json", "--query-timeout", "banana"});
  EXPECT_EQ(result.exit_status, 2) << result.out << result.err;
  EXPECT_THAT(result.err, HasSubstr("banana"));
}

TEST_F(CheckCliTest, UnreadableUnboundConfigIsAStartupError) {
  const ProcessResult result =
      run({"--check", "192.0.2.7"}, DnsFixture::get().dir() + "/nope.conf");
  EXPECT_NE(result.exit_status, 0);
  EXPECT_THAT(result.err, HasSubstr("nope.conf"));
}

}  // namespace
}  // namespace rdns::cli
