// HELO/EHLO checks (RFC 5321 §4.1.1.1, §4.1.2, §4.1.4) over UnboundResolver against the DNS
// fixture, and `rdns-milter --check IP --helo NAME --json`. Names: tests/fixture/README.md,
// "HELO names (zone zz.)" — every *.test name is a private TLD to the HELO check.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "rdns/checks/helo.h"
#include "rdns/checks/iprev.h"
#include "rdns/dns/unbound_resolver.h"
#include "testutil/dns_fixture.h"

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::IpAddress;
using dns::Outcome;
using dns::RrType;
using dns::UnboundResolver;
using rdns::test::DnsFixture;
using rdns::test::fixture_resolver_config;
using rdns::test::ip;
using rdns::test::ProcessResult;
using rdns::test::required_env;
using rdns::test::run_process;
using rdns::test::short_timeout;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

const auto* const fixture_env = ::testing::AddGlobalTestEnvironment(new DnsFixture);

/// Everything worth printing when an expectation fails.
std::string explain(const Helo& helo) {
  std::string text = helo.helo + ": " + std::string(to_string(helo.result)) + "/" +
                     std::string(to_string(helo.reason));
  if (helo.matched_by_ptr) text += " (matched by PTR)";
  for (const auto& answer : helo.evidence) text += "\n  " + dns::describe(answer);
  return text;
}

/// A matcher for one evidence answer: name, type and outcome.
auto answer_is(const std::string& name, RrType type, Outcome outcome) {
  return AllOf(Field(&Answer::name, name), Field(&Answer::type, type),
               Field(&Answer::outcome, outcome));
}

/// start_helo_lookups, waited for (bounded: every query has a deadline).
HeloAnswers lookup(dns::Resolver& resolver, std::string_view helo) {
  auto promise = std::make_shared<std::promise<HeloAnswers>>();
  auto future = promise->get_future();
  start_helo_lookups(resolver, helo,
                     [promise](HeloAnswers answers) { promise->set_value(std::move(answers)); });
  if (future.wait_for(15s) != std::future_status::ready) {
    throw std::runtime_error("HELO lookups for " + std::string(helo) + " never finished");
  }
  return future.get();
}

class HeloTest : public ::testing::Test {
 protected:
  /// Looks up `helo` in the fixture and decides for `client`.
  Helo check(std::string_view helo, std::string_view client,
             const std::vector<std::string>& verified_ptr_names = {},
             const HeloIdentity& identity = {}) {
    return decide_helo(helo, ip(client), identity, lookup(resolver_, helo), verified_ptr_names);
  }

  UnboundResolver resolver_{fixture_resolver_config()};
};

// ----- pass ----------------------------------------------------------------------------------

TEST_F(HeloTest, NameResolvingToTheClientPasses) {
  const Helo h = check("mail.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::ok);
  EXPECT_EQ(h.helo, "mail.zz");
  EXPECT_EQ(h.parsed.kind, HeloName::Kind::domain);
  EXPECT_EQ(h.parsed.domain, "mail.zz");
  EXPECT_THAT(h.addresses, ElementsAre(ip("192.0.2.7")));
  EXPECT_FALSE(h.matched_by_ptr);
  // The TLD exists (SOA answered), then A, AAAA and MX of the name itself.
  EXPECT_THAT(h.evidence, ElementsAre(answer_is("zz", RrType::soa, Outcome::ok),
                                      answer_is("mail.zz", RrType::a, Outcome::ok),
                                      answer_is("mail.zz", RrType::aaaa, Outcome::nodata),
                                      answer_is("mail.zz", RrType::mx, Outcome::nodata)))
      << explain(h);
}

TEST_F(HeloTest, CaseAndTrailingDotAreIgnored) {
  const Helo h = check("MAIL.Zz.", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
  EXPECT_EQ(h.helo, "MAIL.Zz.");  // shown as sent
  EXPECT_EQ(h.parsed.domain, "mail.zz");
  EXPECT_THAT(h.evidence, Contains(answer_is("mail.zz", RrType::a, Outcome::ok)));
}

TEST_F(HeloTest, V4MappedClientMatchesTheARecord) {
  const Helo h = check("mail.zz", "::ffff:192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
}

TEST_F(HeloTest, CnameToTheClientsNamePasses) {
  const Helo h = check("alias.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
  EXPECT_THAT(h.addresses, ElementsAre(ip("192.0.2.7")));
}

TEST_F(HeloTest, Ipv6NameResolvingToTheClientPasses) {
  const Helo h = check("v6.zz", "2001:db8::7");
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::ok);
  EXPECT_THAT(h.addresses, ElementsAre(ip("2001:db8::7")));
  EXPECT_THAT(h.evidence, Contains(answer_is("v6.zz", RrType::aaaa, Outcome::ok)));
  EXPECT_THAT(h.evidence, Contains(answer_is("v6.zz", RrType::a, Outcome::nodata)));
}

TEST_F(HeloTest, DualStackNamePassesFromEitherFamily) {
  for (const auto* client : {"192.0.2.21", "2001:db8::21"}) {
    const Helo h = check("dual.zz", client);
    EXPECT_EQ(h.result, HeloResult::pass) << client << ": " << explain(h);
    EXPECT_THAT(h.addresses, UnorderedElementsAre(ip("192.0.2.21"), ip("2001:db8::21")));
  }
}

TEST_F(HeloTest, IprevVerifiedNameUsedAsHeloPasses) {
  // 192.0.2.42 PTR ptrname.zz, ptrname.zz A 192.0.2.42: the usual well-configured sender.
  const Iprev iprev = check_iprev(resolver_, ip("192.0.2.42"));
  ASSERT_EQ(iprev.result, IprevResult::pass);
  ASSERT_THAT(iprev.verified, ElementsAre("ptrname.zz"));
  const Helo h = check("ptrname.zz", "192.0.2.42", iprev.verified);
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
  EXPECT_THAT(h.addresses, ElementsAre(ip("192.0.2.42")));
  EXPECT_FALSE(h.matched_by_ptr) << "the address matched first";
}

TEST_F(HeloTest, VerifiedPtrNamePassesEvenWhenItsAddressIsElsewhere) {
  // other.zz A 192.0.2.200; the client is 192.0.2.7. If iprev verified other.zz for this
  // client, the HELO is that name: pass, marked as matched by the PTR name.
  const HeloAnswers answers = lookup(resolver_, "other.zz");
  const Helo by_ptr = decide_helo("other.zz", ip("192.0.2.7"), {}, answers, {"other.zz"});
  EXPECT_EQ(by_ptr.result, HeloResult::pass) << explain(by_ptr);
  EXPECT_EQ(by_ptr.reason, HeloReason::ok);
  EXPECT_TRUE(by_ptr.matched_by_ptr);
  EXPECT_THAT(by_ptr.addresses, ElementsAre(ip("192.0.2.200")));
  // The same answers with another verified name: mismatch.
  const Helo other = decide_helo("other.zz", ip("192.0.2.7"), {}, answers, {"mail.zz"});
  EXPECT_EQ(other.result, HeloResult::fail) << explain(other);
  EXPECT_EQ(other.reason, HeloReason::mismatch);
  EXPECT_FALSE(other.matched_by_ptr);
}

TEST_F(HeloTest, AddressLiteralOfTheClientPassesWithoutDns) {
  const HeloAnswers answers = lookup(resolver_, "[192.0.2.7]");
  EXPECT_FALSE(answers.tld || answers.a || answers.aaaa || answers.mx);
  const Helo h = decide_helo("[192.0.2.7]", ip("192.0.2.7"), {}, answers, {});
  EXPECT_EQ(h.result, HeloResult::pass) << explain(h);
  EXPECT_EQ(h.parsed.kind, HeloName::Kind::address_literal);
  const Helo six = check("[IPv6:2001:db8::7]", "2001:db8::7");
  EXPECT_EQ(six.result, HeloResult::pass) << explain(six);
  const Helo wrong = check("[192.0.2.8]", "192.0.2.7");
  EXPECT_EQ(wrong.result, HeloResult::fail) << explain(wrong);
  EXPECT_EQ(wrong.reason, HeloReason::mismatch);
}

// ----- fail ----------------------------------------------------------------------------------

TEST_F(HeloTest, NameResolvingElsewhereIsMismatch) {
  const Helo h = check("other.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::mismatch);
  EXPECT_THAT(h.addresses, ElementsAre(ip("192.0.2.200")));
  EXPECT_FALSE(h.matched_by_ptr);
}

TEST_F(HeloTest, Ipv6OnlyNameFromAnIpv4ClientIsMismatch) {
  const Helo h = check("v6.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::mismatch);
  EXPECT_THAT(h.addresses, ElementsAre(ip("2001:db8::7")));
}

TEST_F(HeloTest, NameWithoutAnyAddressIsNoAddress) {
  const Helo h = check("noaddr.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::no_address);
  EXPECT_THAT(h.addresses, IsEmpty());
  EXPECT_THAT(h.evidence, Contains(answer_is("noaddr.zz", RrType::a, Outcome::nodata)));
  EXPECT_THAT(h.evidence, Contains(answer_is("noaddr.zz", RrType::mx, Outcome::nodata)));
}

TEST_F(HeloTest, NonexistentNameInARealTldIsNoAddress) {
  const Helo h = check("nothere.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::no_address);
  EXPECT_THAT(h.evidence, Contains(answer_is("zz", RrType::soa, Outcome::ok)));
  EXPECT_THAT(h.evidence, Contains(answer_is("nothere.zz", RrType::a, Outcome::nxdomain)));
}

TEST_F(HeloTest, MxOnlyNameIsMismatchNotNoAddress) {
  // An MX means the name is in use: "resolves, but not to the client".
  const Helo h = check("mxonly.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::mismatch);
  EXPECT_THAT(h.addresses, IsEmpty());
  EXPECT_THAT(h.evidence, Contains(answer_is("mxonly.zz", RrType::mx, Outcome::ok)));
}

TEST_F(HeloTest, TldThatDoesNotExistIsBadTld) {
  const Helo h = check("mail.nosuchtld", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::bad_tld);
  ASSERT_FALSE(h.evidence.empty()) << explain(h);
  EXPECT_THAT(h.evidence.front(), answer_is("nosuchtld", RrType::soa, Outcome::nxdomain))
      << explain(h);
}

TEST_F(HeloTest, PrivateTldIsBadTldWithoutAnyQuery) {
  for (const auto* name : {"exchange.local", "mail.example", "host.internal", "good.test"}) {
    const HeloAnswers answers = lookup(resolver_, name);
    EXPECT_FALSE(answers.tld || answers.a || answers.aaaa || answers.mx) << name;
    const Helo h = decide_helo(name, ip("192.0.2.7"), {}, answers, {});
    EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
    EXPECT_EQ(h.reason, HeloReason::bad_tld) << explain(h);
    EXPECT_THAT(h.evidence, IsEmpty());
  }
}

TEST_F(HeloTest, PrivateTldFailsEvenAsTheVerifiedPtrName) {
  // 192.0.2.7 PTR good.test is forward-confirmed, but .test is never a public name.
  const Iprev iprev = check_iprev(resolver_, ip("192.0.2.7"));
  ASSERT_THAT(iprev.verified, ElementsAre("good.test"));
  const Helo h = check("good.test", "192.0.2.7", iprev.verified);
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::bad_tld);
}

TEST_F(HeloTest, SingleLabelIsNotFqdnWithoutAnyQuery) {
  const HeloAnswers answers = lookup(resolver_, "zz");
  EXPECT_FALSE(answers.tld || answers.a || answers.aaaa || answers.mx);
  const Helo h = decide_helo("zz", ip("192.0.2.7"), {}, answers, {});
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::not_fqdn);
}

TEST_F(HeloTest, MalformedNameIsSyntaxWithoutAnyQuery) {
  for (const auto* name : {"bad_name.zz", "192.0.2.7", "-mail.zz", "mail..zz"}) {
    const HeloAnswers answers = lookup(resolver_, name);
    EXPECT_FALSE(answers.tld || answers.a || answers.aaaa || answers.mx) << name;
    const Helo h = decide_helo(name, ip("192.0.2.7"), {}, answers, {});
    EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
    EXPECT_EQ(h.reason, HeloReason::syntax) << explain(h);
    EXPECT_EQ(h.parsed.kind, HeloName::Kind::invalid);
    EXPECT_THAT(h.parsed.error, Not(IsEmpty()));
  }
}

TEST_F(HeloTest, OurOwnNameFromAnUntrustedClientIsForgedLocal) {
  HeloIdentity identity;
  identity.own_names = {"mail.zz"};
  // Even though mail.zz resolves to this client: only trusted clients may use our name.
  const Helo forged = check("mail.zz", "192.0.2.7", {}, identity);
  EXPECT_EQ(forged.result, HeloResult::fail) << explain(forged);
  EXPECT_EQ(forged.reason, HeloReason::forged_local);
  identity.client_trusted = true;
  const Helo trusted = check("mail.zz", "192.0.2.7", {}, identity);
  EXPECT_EQ(trusted.result, HeloResult::pass) << explain(trusted);
}

TEST_F(HeloTest, OurOwnPrivateNameIsForgedLocalNotBadTld) {
  // forged-local is checked before the TLD: a client claiming to be mx.test is forging.
  HeloIdentity identity;
  identity.own_names = {"mx.test"};
  const Helo h = check("MX.test", "192.0.2.7", {}, identity);
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::forged_local);
}

TEST_F(HeloTest, OurOwnAddressLiteralIsForgedLocal) {
  HeloIdentity identity;
  identity.own_addresses = {ip("192.0.2.25")};
  const Helo h = check("[192.0.2.25]", "192.0.2.7", {}, identity);
  EXPECT_EQ(h.result, HeloResult::fail) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::forged_local);
}

// ----- temperror -----------------------------------------------------------------------------

TEST_F(HeloTest, ServfailIsTemperror) {
  const Helo h = check("mail.broken.zz", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::temperror) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::dns_error);
  EXPECT_THAT(h.evidence, Contains(answer_is("zz", RrType::soa, Outcome::ok)));
  EXPECT_THAT(h.evidence, Contains(answer_is("mail.broken.zz", RrType::a, Outcome::servfail)));
}

TEST_F(HeloTest, BogusTldAnswerIsTemperrorNotBadTld) {
  // Outside the fixture's insecure names the unsigned test root's NXDOMAIN is bogus: that
  // proves nothing about the TLD, so it must not become a permanent bad-tld.
  const Helo h = check("mail.othertld", "192.0.2.7");
  EXPECT_EQ(h.result, HeloResult::temperror) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::dns_error);
  EXPECT_THAT(h.evidence, Contains(answer_is("othertld", RrType::soa, Outcome::bogus)));
}

TEST(HeloTimeout, SilentServerIsTemperror) {
  // A fresh resolver with a deadline below libunbound's own give-up time (README).
  UnboundResolver resolver(fixture_resolver_config(short_timeout));
  const auto started = Clock::now();
  const HeloAnswers answers = lookup(resolver, "mail.hole.zz");
  const auto elapsed = Clock::now() - started;
  const Helo h = decide_helo("mail.hole.zz", ip("192.0.2.7"), {}, answers, {});
  EXPECT_EQ(h.result, HeloResult::temperror) << explain(h);
  EXPECT_EQ(h.reason, HeloReason::dns_error);
  EXPECT_THAT(h.evidence, Contains(answer_is("mail.hole.zz", RrType::a, Outcome::timeout)))
      << explain(h);
  // The four queries run in parallel: one deadline, not four. One after the other they would take
  // at least four deadlines; the slack below that absorbs a loaded CI machine.
  EXPECT_LT(elapsed, 4 * short_timeout);
}

// ----- concurrency ---------------------------------------------------------------------------

TEST_F(HeloTest, ConcurrentLookupsFromSeveralThreads) {
  const std::map<std::string, HeloReason> expected{
      {"mail.zz", HeloReason::ok},
      {"other.zz", HeloReason::mismatch},
      {"noaddr.zz", HeloReason::no_address},
      {"mxonly.zz", HeloReason::mismatch},
      {"mail.nosuchtld", HeloReason::bad_tld},
      {"x.broken.zz", HeloReason::dns_error},
      {"exchange.local", HeloReason::bad_tld},
      {"alias.zz", HeloReason::ok},
  };
  constexpr int threads = 3;
  constexpr int rounds = 5;
  const int total = threads * rounds * static_cast<int>(expected.size());
  std::mutex mutex;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        for (const auto& [name, reason] : expected) {
          start_helo_lookups(resolver_, name,
                             [&, name = name, reason = reason](const HeloAnswers& answers) {
                               const Helo h = decide_helo(name, ip("192.0.2.7"), {}, answers, {});
                               const std::lock_guard lock(mutex);
                               if (h.reason != reason) errors.push_back(explain(h));
                               ++done;
                               cv.notify_all();
                             });
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return done == total; }))
      << done << " of " << total << " lookups finished";
  EXPECT_THAT(errors, IsEmpty());
}

// ----- rdns-milter --check IP --helo NAME ----------------------------------------------------

class CheckHeloCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An empty configuration file keeps a locally installed /etc/rdns-milter out of the test.
    config_file_ = DnsFixture::get().dir() + "/empty-helo.conf";
    std::ofstream(config_file_).flush();
  }

  /// Runs `--check ip --helo name --json`; fails the test unless it exits 0 with JSON.
  [[nodiscard]] json check(const std::string& address, const std::string& helo) const {
    const ProcessResult result =
        run_process({required_env("RDNS_MILTER"), "--config", config_file_, "--unbound-config",
                     DnsFixture::get().unbound_conf(), "--check", address, "--helo", helo, "--json",
                     "--query-timeout", "2"});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    try {
      return json::parse(result.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << result.out << "\n" << result.err;
      return json::object();
    }
  }

  /// The one Authentication-Results header of a report, without the field name.
  static std::string header_of(const json& report) {
    const auto& headers = report.at("headers");
    EXPECT_EQ(headers.size(), 1U) << report.dump(2);
    return headers.empty() ? std::string() : headers[0].get<std::string>();
  }

  std::string config_file_;
};

TEST_F(CheckHeloCliTest, PrivateTldIsRejectedWithAFix) {
  const json report = check("192.0.2.7", "exchange.local");
  EXPECT_EQ(report.value("action", ""), "reject") << report.dump(2);
  EXPECT_THAT(report.value("reply", ""), StartsWith("550 5.5.2 ")) << report.dump(2);
  EXPECT_THAT(report.value("reply", ""), HasSubstr("exchange.local"));
  ASSERT_TRUE(report.at("checks").contains("helo")) << report.dump(2);
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(helo.at("result"), "fail") << helo.dump(2);
  EXPECT_EQ(helo.at("reason"), "bad-tld");
  EXPECT_EQ(helo.at("helo"), "exchange.local");
  EXPECT_EQ(helo.at("addresses"), json::array());
  EXPECT_EQ(helo.at("matched_by_ptr"), false);
  EXPECT_EQ(helo.at("answers"), json::array()) << "no DNS query for a private TLD";
  EXPECT_THAT(helo.value("fix", ""),
              HasSubstr("exchange.local is a special-use name reserved for multicast DNS on the "
                        "local link (RFC 6762), not a public host name"));
  // iprev passed; the verdict is the HELO's.
  EXPECT_EQ(report.at("checks").at("iprev").at("result"), "pass");
  EXPECT_THAT(header_of(report), HasSubstr("iprev=pass smtp.remote-ip=192.0.2.7 (good.test);\n\t"
                                           "x-helo=fail smtp.helo=exchange.local (bad-tld)"));
}

TEST_F(CheckHeloCliTest, MatchingNameIsAccepted) {
  const json report = check("192.0.2.7", "mail.zz");
  EXPECT_EQ(report.value("action", ""), "accept") << report.dump(2);
  EXPECT_TRUE(report.value("reply", json()).is_null()) << report.dump(2);
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(helo.at("result"), "pass") << helo.dump(2);
  EXPECT_EQ(helo.at("reason"), "ok");
  EXPECT_EQ(helo.at("helo"), "mail.zz");
  EXPECT_EQ(helo.at("addresses"), json::array({"192.0.2.7"}));
  EXPECT_EQ(helo.at("matched_by_ptr"), false);
  ASSERT_EQ(helo.at("answers").size(), 4U) << helo.dump(2);
  EXPECT_EQ(helo.at("answers")[0].at("name"), "zz");
  EXPECT_EQ(helo.at("answers")[0].at("type"), "SOA");
  EXPECT_EQ(helo.at("answers")[0].at("outcome"), "ok");
  EXPECT_EQ(helo.value("fix", "?"), "");
  EXPECT_THAT(header_of(report), HasSubstr(";\n\tx-helo=pass smtp.helo=mail.zz"));
  EXPECT_THAT(header_of(report), Not(HasSubstr("x-helo=pass smtp.helo=mail.zz (")));
}

TEST_F(CheckHeloCliTest, UnderscoreIsSyntaxAndRejected) {
  const json report = check("192.0.2.7", "bad_name.zz");
  EXPECT_EQ(report.value("action", ""), "reject") << report.dump(2);
  EXPECT_THAT(report.value("reply", ""), StartsWith("550 5.5.2 "));
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(helo.at("result"), "fail") << helo.dump(2);
  EXPECT_EQ(helo.at("reason"), "syntax");
  EXPECT_THAT(helo.value("syntax_error", ""), HasSubstr("underscore"));
  EXPECT_THAT(helo.value("fix", ""), Not(IsEmpty()));
  EXPECT_THAT(header_of(report), HasSubstr("x-helo=fail smtp.helo=bad_name.zz (syntax)"));
}

TEST_F(CheckHeloCliTest, NonexistentTldIsRejected) {
  const json report = check("192.0.2.7", "mail.nosuchtld");
  EXPECT_EQ(report.value("action", ""), "reject") << report.dump(2);
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(helo.at("reason"), "bad-tld") << helo.dump(2);
  ASSERT_FALSE(helo.at("answers").empty());
  EXPECT_EQ(helo.at("answers")[0].at("name"), "nosuchtld");
  EXPECT_EQ(helo.at("answers")[0].at("outcome"), "nxdomain");
}

TEST_F(CheckHeloCliTest, MismatchIsTaggedOnly) {
  // RFC 5321 §4.1.4: a HELO that does not match must not by itself refuse mail.
  const json report = check("192.0.2.7", "other.zz");
  EXPECT_EQ(report.value("action", ""), "tag") << report.dump(2);
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(helo.at("reason"), "mismatch") << helo.dump(2);
  EXPECT_EQ(helo.at("addresses"), json::array({"192.0.2.200"}));
  EXPECT_THAT(helo.value("fix", ""), Not(IsEmpty()));
  EXPECT_THAT(header_of(report), HasSubstr("x-helo=fail smtp.helo=other.zz (mismatch)"));
}

TEST_F(CheckHeloCliTest, ServfailIsTemperrorAndTaggedOnly) {
  const json report = check("192.0.2.7", "mail.broken.zz");
  EXPECT_EQ(report.value("action", ""), "tag") << report.dump(2);
  const json& helo = report.at("checks").at("helo");
  EXPECT_EQ(helo.at("result"), "temperror") << helo.dump(2);
  EXPECT_EQ(helo.at("reason"), "dns-error");
  EXPECT_THAT(header_of(report), HasSubstr("x-helo=temperror smtp.helo=mail.broken.zz"));
}

}  // namespace
}  // namespace rdns::checks
