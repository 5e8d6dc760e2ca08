// Session: stages, exemptions, dry-run, header edits, forged-header removal, hostile input.
#include "rdns/session/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <syslog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "rdns/header/auth_results.h"
#include "testutil/fake_resolver.h"

namespace rdns::session {
namespace {

using dns::Outcome;
using dns::RrType;
using ::testing::HasSubstr;
using ::testing::Not;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::FakeResolver;
using testutil::ip;
using testutil::ptr_answer;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : resolver_(std::make_shared<FakeResolver>()) {
    // 192.0.2.7 passes; 192.0.2.12 has no PTR; 198.51.100.1 fails temporarily.
    resolver_->add(ptr_answer("7.2.0.192.in-addr.arpa", {"good.test"}));
    resolver_->add(a_answer("good.test", {"192.0.2.7"}));
    resolver_->add(failure_answer("1.100.51.198.in-addr.arpa", RrType::ptr, Outcome::servfail));
    config_.authserv_id = "mx.test";
  }

  std::unique_ptr<Session> make() {
    Runtime runtime{std::make_shared<const config::Config>(config_), resolver_, nullptr, probe_};
    runtime.spf_pool = spf_pool_;
    return std::make_unique<Session>(std::move(runtime),
                                     [this](int priority, const std::string& line) {
                                       const std::lock_guard lock(log_mutex_);
                                       log_.emplace_back(priority, line);
                                     });
  }

  std::string log_text() {
    const std::lock_guard lock(log_mutex_);
    std::string all;
    for (const auto& [priority, line] : log_) all += line + "\n";
    return all;
  }

  std::shared_ptr<FakeResolver> resolver_;
  std::shared_ptr<TaskPool> spf_pool_;  ///< null: a thread per SPF evaluation
  std::shared_ptr<testutil::FakeAuthorityProbe> probe_ =
      std::make_shared<testutil::FakeAuthorityProbe>(*resolver_);
  config::Config config_ = config::defaults();  ///< trusts 127.0.0.0/8, confirms no-ptr
  std::mutex log_mutex_;
  std::vector<std::pair<int, std::string>> log_;
};

const Response proceed{};

TEST_F(SessionTest, NoPtrIsRejectedAtRcptWithEnhancedCode) {
  auto session = make();
  EXPECT_EQ(session->connect("unknown", ip("192.0.2.12"), "mx.test"), proceed);
  EXPECT_EQ(session->helo("client.example"), proceed);
  EXPECT_EQ(session->mail("<a@b.example>", "", "Q1"), proceed);
  const auto response = session->rcpt("<user@example.org>", "Q1");
  EXPECT_EQ(response.kind, Response::Kind::reject);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->code, "550");
  EXPECT_EQ(response.reply->enhanced, "5.7.25");
  EXPECT_THAT(response.reply->text, HasSubstr("192.0.2.12"));
  EXPECT_THAT(log_text(), HasSubstr("Q1: client=unknown[192.0.2.12] iprev=fail(no-ptr)"));
  EXPECT_THAT(log_text(), HasSubstr("action=reject reply=\"550 5.7.25"));
}

// Issue 14: a HELO quoted in the logged reply could close its quotes and add fields.
TEST_F(SessionTest, ClientTextInTheLoggedReplyCannotAddFields) {
  config_.policy.iprev.no_ptr.action = policy::Action::tag;
  auto session = make();
  EXPECT_EQ(session->connect("unknown", ip("192.0.2.12"), "mx.test"), proceed);
  session->helo(R"(x" action=accept reply="\)");
  EXPECT_EQ(session->mail("<a@b.example>", "", "Q1"), proceed);
  EXPECT_EQ(session->rcpt("<user@example.org>", "Q1").kind, Response::Kind::reject);
  std::istringstream lines(log_text());
  std::string verdict;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("Q1: client=") != std::string::npos) verdict = line;
  }
  EXPECT_THAT(verdict, HasSubstr(R"(name \"x\" action=accept reply=\"\\\" is not)"));
  // The quoted reply value, read with its escapes, runs to the end of the line.
  const auto start = verdict.find(" reply=\"");
  ASSERT_NE(start, std::string::npos) << verdict;
  auto end = start + 8;
  while (end < verdict.size() && verdict[end] != '"') end += verdict[end] == '\\' ? 2 : 1;
  EXPECT_EQ(end, verdict.size() - 1) << verdict;
}

TEST_F(SessionTest, GenericPtrNameIsLoggedAndRejectedWhenConfigured) {
  resolver_->add(ptr_answer("43.2.0.192.in-addr.arpa", {"dsl-192-0-2-43.dyn.pool.test"}));
  resolver_->add(a_answer("dsl-192-0-2-43.dyn.pool.test", {"192.0.2.43"}));
  config_.policy.iprev.generic.action = policy::Action::reject;
  auto session = make();
  EXPECT_EQ(session->connect("dsl-192-0-2-43.dyn.pool.test", ip("192.0.2.43"), "mx.test"), proceed);
  EXPECT_EQ(session->mail("<a@b.example>", "", "Q1"), proceed);
  const auto response = session->rcpt("<user@example.org>", "Q1");
  EXPECT_EQ(response.kind, Response::Kind::reject);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->to_string().substr(0, 11), "550 5.7.25 ");
  EXPECT_THAT(log_text(), HasSubstr("iprev=pass(forward-confirmed,generic)"));
  EXPECT_THAT(log_text(),
              HasSubstr(" generic=\"PTR name dsl-192-0-2-43.dyn.pool.test contains the client "
                        "address 192.0.2.43 as the octets '192-0-2-43' and the keyword 'dsl'\""));
}

TEST_F(SessionTest, LookupsStartAtConnect) {
  resolver_->set_deferred(true);
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.7"), "");
  ASSERT_EQ(resolver_->pending(), 1U);
  EXPECT_EQ(resolver_->pending_queries()[0].name, "7.2.0.192.in-addr.arpa");
  EXPECT_EQ(resolver_->pending_queries()[0].type, RrType::ptr);
  // The answers arrive on another thread while the SMTP dialogue goes on: it answers each query
  // as it becomes pending (the PTR now, the forward lookup once the PTR is in) until rcpt is done.
  std::atomic<bool> stop{false};
  std::thread answers([this, &stop] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      if (!resolver_->release_first()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  });
  // rcpt waits for the answers delivered on the other thread.
  EXPECT_EQ(session->mail("<a@b.example>", "", "Q"), proceed);
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);
  stop = true;
  answers.join();
  EXPECT_EQ(resolver_->pending(), 0U);
  EXPECT_EQ(session->iprev()->result, checks::IprevResult::pass);
}

TEST_F(SessionTest, PostmasterAndAbuseAreAlwaysAccepted) {
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(session->rcpt("<Postmaster@Example.ORG>", "Q"), proceed);
  EXPECT_EQ(session->rcpt("<abuse@other.example>", "Q"), proceed);
  EXPECT_EQ(session->rcpt("<user@example.org>", "Q").kind, Response::Kind::reject);
  EXPECT_THAT(log_text(), HasSubstr("exempt"));
}

TEST_F(SessionTest, TemperrorTempfailsWith4xx) {
  auto session = make();
  (void)session->connect("unknown", ip("198.51.100.1"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  const auto response = session->rcpt("<u@example.org>", "Q");
  EXPECT_EQ(response.kind, Response::Kind::tempfail);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->code, "450");
  EXPECT_EQ(response.reply->enhanced, "4.7.25");
}

TEST_F(SessionTest, TemperrorConfiguredAsRejectStillTempfails) {
  config_.policy.iprev.temperror.action = policy::Action::reject;
  config_.policy.iprev.temperror.reply = {"550", "5.7.25", "nope"};
  auto session = make();
  (void)session->connect("unknown", ip("198.51.100.1"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  const auto response = session->rcpt("<u@example.org>", "Q");
  EXPECT_EQ(response.kind, Response::Kind::tempfail);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->code[0], '4');
  EXPECT_EQ(response.reply->enhanced[0], '4');
}

TEST_F(SessionTest, TrustedNetworkIsExemptButTagged) {
  auto session = make();
  (void)session->connect("localhost", ip("127.0.0.2"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);
  EXPECT_THAT(log_text(), HasSubstr("exempt=trusted-network would=reject"));
  const auto edits = session->end_of_message("Q");
  ASSERT_EQ(edits.insert.size(), 1U);
  EXPECT_THAT(edits.insert[0].second, HasSubstr("iprev=fail smtp.remote-ip=127.0.0.2"));
}

TEST_F(SessionTest, AuthenticatedSessionIsExempt) {
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "");
  (void)session->mail("<a@b.example>", "alice", "Q");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);
  EXPECT_THAT(log_text(), HasSubstr("exempt=authenticated"));
}

TEST_F(SessionTest, AllowListedAddressAndDomain) {
  config_.policy.exemptions.allow_addresses = {*dns::Network::parse("192.0.2.0/28")};
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);

  // A domain allow-list matches verified names only: no PTR, no exemption.
  config_.policy.exemptions.allow_addresses.clear();
  config_.policy.exemptions.allow_domains = {"test"};
  auto other = make();
  (void)other->connect("unknown", ip("192.0.2.12"), "");
  (void)other->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(other->rcpt("<u@example.org>", "Q").kind, Response::Kind::reject);
}

TEST_F(SessionTest, DryRunNeverRefuses) {
  config_.policy.dry_run = true;
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);
  EXPECT_THAT(log_text(), HasSubstr("dry-run would=reject"));
}

TEST_F(SessionTest, DecisionStageConnectAndMail) {
  config_.decision_stage = config::Stage::connect;
  auto at_connect = make();
  EXPECT_EQ(at_connect->connect("unknown", ip("192.0.2.12"), "").kind, Response::Kind::reject);

  config_.decision_stage = config::Stage::helo;
  auto at_helo = make();
  EXPECT_EQ(at_helo->connect("unknown", ip("192.0.2.12"), ""), proceed);
  EXPECT_EQ(at_helo->helo("x.example").kind, Response::Kind::reject);

  config_.decision_stage = config::Stage::mail;
  auto at_mail = make();
  EXPECT_EQ(at_mail->connect("unknown", ip("192.0.2.12"), ""), proceed);
  EXPECT_EQ(at_mail->helo("x.example"), proceed);
  EXPECT_EQ(at_mail->mail("<a@b.example>", "", "Q").kind, Response::Kind::reject);
}

// The milter asks the MTA for no reply to the events silent_events() names: at every stage a
// rejected client (no PTR) must get "continue" from each of them, and the reject from the others.
TEST_F(SessionTest, SilentEventsNeverAnswerAnythingButContinue) {
  for (const auto stage :
       {config::Stage::connect, config::Stage::helo, config::Stage::mail, config::Stage::rcpt}) {
    SCOPED_TRACE(std::string(config::to_string(stage)));
    config_.decision_stage = stage;
    const auto silent = silent_events(stage);
    EXPECT_TRUE(silent.header);
    auto session = make();
    const auto at_connect = session->connect("unknown", ip("192.0.2.12"), "");
    const auto at_helo = session->helo("x.example");
    const auto at_mail = session->mail("<a@b.example>", "", "Q");
    const auto at_rcpt = session->rcpt("<u@example.org>", "Q");
    int replies = 0;
    for (const auto& [is_silent, response] : {std::pair{silent.connect, at_connect},
                                              {silent.helo, at_helo},
                                              {silent.mail, at_mail},
                                              {silent.rcpt, at_rcpt}}) {
      if (is_silent) {
        EXPECT_EQ(response, proceed);
      } else {
        replies += response.kind == Response::Kind::reject ? 1 : 0;
      }
    }
    EXPECT_GE(replies, 1);  // the reject comes from an event that is answered
  }
  EXPECT_EQ(silent_events(config::Stage::rcpt),
            (SilentEvents{.connect = true, .helo = true, .mail = true, .rcpt = false}));
}

TEST_F(SessionTest, PassAddsHeaderAtTop) {
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);
  const auto edits = session->end_of_message("Q");
  ASSERT_EQ(edits.insert.size(), 2U);
  EXPECT_EQ(edits.insert[0].first, "Authentication-Results");
  // b.example publishes no SPF record (the fake answers NXDOMAIN): spf=none.
  EXPECT_EQ(edits.insert[0].second,
            " mx.test; iprev=pass smtp.remote-ip=192.0.2.7 (good.test);\n\t"
            "spf=none smtp.mailfrom=b.example");
  EXPECT_EQ(edits.insert[1].first, "Received-SPF");
  EXPECT_TRUE(edits.delete_auth_results.empty());
}

TEST_F(SessionTest, ForgedAuthResultsWithOurIdAreDeletedHighestFirst) {
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  (void)session->mail("<a@b.example>", "", "Q");
  session->header("Authentication-Results", "mx.test; iprev=pass smtp.remote-ip=192.0.2.99");
  session->header("Subject", "hello");
  session->header("authentication-results", "other.example; spf=pass smtp.mailfrom=x");
  session->header("Authentication-Results", " (forged) MX.TEST 1; dkim=pass");
  const auto edits = session->end_of_message("Q");
  EXPECT_EQ(edits.delete_auth_results, (std::vector<int>{3, 1}));
  EXPECT_THAT(log_text(), HasSubstr("removed 2 forged"));
}

TEST_F(SessionTest, MessageStateResetsOnAbortAndNewMail) {
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  (void)session->mail("<a@b.example>", "", "Q1");
  session->header("Authentication-Results", "mx.test; iprev=pass");
  session->abort();
  (void)session->mail("<a@b.example>", "", "Q2");
  session->header("Authentication-Results", "other.example; iprev=pass");
  session->header("Authentication-Results", "mx.test; iprev=pass");
  EXPECT_EQ(session->end_of_message("Q2").delete_auth_results, (std::vector<int>{2}));
  // A second message in the same connection starts clean and still gets the header.
  (void)session->mail("<c@d.example>", "", "Q3");
  const auto third = session->end_of_message("Q3");
  EXPECT_TRUE(third.delete_auth_results.empty());
  ASSERT_EQ(third.insert.size(), 2U);
  EXPECT_THAT(third.insert[0].second, HasSubstr("smtp.mailfrom=d.example"));
}

TEST_F(SessionTest, AuthservIdFallsBackToMtaName) {
  config_.authserv_id.clear();
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.example.net");
  EXPECT_EQ(session->authserv_id(), "mx.example.net");
  EXPECT_THAT(session->end_of_message("Q").insert[0].second, HasSubstr(" mx.example.net;"));
}

TEST_F(SessionTest, NonIpConnectionIsNotChecked) {
  auto session = make();
  EXPECT_EQ(session->connect("localhost", std::nullopt, ""), proceed);
  (void)session->mail("<a@b.example>", "", "Q");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q"), proceed);
  EXPECT_EQ(resolver_->queries().size(), 0U);
  EXPECT_EQ(session->end_of_message("Q").insert[0].second, " mx.test; none");
}

TEST_F(SessionTest, HostileHeloAndSenderAreLoggedSanitized) {
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  const std::string helo = std::string("evil\r\nX-Injected: yes\0", 23) + std::string(10000, 'a');
  EXPECT_EQ(session->helo(helo), proceed);
  EXPECT_EQ(session->mail(std::string("<a\r\nb@c>\0", 9), "", "Q"), proceed);
  const auto log = log_text();
  EXPECT_THAT(log, HasSubstr("hostile HELO (10023 bytes)"));
  EXPECT_THAT(log, HasSubstr("hostile MAIL FROM"));
  for (const auto& [priority, line] : log_) {
    EXPECT_EQ(line.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << line;
  }
  const auto edits = session->end_of_message("Q");
  EXPECT_THAT(edits.insert[0].second, Not(HasSubstr("\r")));
}

dns::Answer txt(std::string name, std::string text) {
  dns::Answer answer;
  answer.name = std::move(name);
  answer.type = RrType::txt;
  answer.outcome = Outcome::ok;
  answer.ttl = 300;
  answer.texts = {std::move(text)};
  return answer;
}

TEST_F(SessionTest, SpfFailRejectsAtRcptWithTheExplanation) {
  resolver_->add(txt("strict.example", "v=spf1 -all exp=why.strict.example"));
  resolver_->add(txt("why.strict.example", "Use our relays"));
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  EXPECT_EQ(session->mail("<a@strict.example>", "", "Q"), proceed);
  const auto response = session->rcpt("<u@example.org>", "Q");
  EXPECT_EQ(response.kind, Response::Kind::reject);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->code, "550");
  EXPECT_EQ(response.reply->enhanced, "5.7.23");
  EXPECT_THAT(response.reply->text, HasSubstr("Use our relays"));
  EXPECT_THAT(log_text(), HasSubstr("spf=fail"));
}

TEST_F(SessionTest, SpfTemperrorTempfails) {
  resolver_->add(failure_answer("flaky.example", RrType::txt, Outcome::servfail));
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  (void)session->mail("<a@flaky.example>", "", "Q");
  const auto response = session->rcpt("<u@example.org>", "Q");
  EXPECT_EQ(response.kind, Response::Kind::tempfail);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->code, "451");
  EXPECT_EQ(response.reply->enhanced, "4.7.24");
}

TEST_F(SessionTest, SpfIsNotAskedForTrustedOrAuthenticatedClients) {
  auto trusted = make();
  (void)trusted->connect("localhost", ip("127.0.0.2"), "");
  (void)trusted->mail("<a@strict.example>", "", "Q");
  EXPECT_TRUE(trusted->spf_results().empty());
  auto authenticated = make();
  (void)authenticated->connect("good.test", ip("192.0.2.7"), "");
  (void)authenticated->mail("<a@strict.example>", "alice", "Q");
  EXPECT_TRUE(authenticated->spf_results().empty());
  for (const auto& query : resolver_->queries()) {
    EXPECT_EQ(query.type == RrType::txt, false) << query.name;
  }
}

TEST_F(SessionTest, NullSenderIsJudgedOnTheHeloAndNeverRecordedAsMailfromOfTheHelo) {
  resolver_->add(txt("relay.example", "v=spf1 ip4:192.0.2.7 -all"));
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  (void)session->helo("relay.example");
  (void)session->mail("<>", "", "Q");
  const auto results = session->spf_results();
  ASSERT_EQ(results.size(), 2U);
  EXPECT_EQ(results[0].identity, checks::SpfIdentity::mailfrom);
  EXPECT_EQ(results[0].sender, "postmaster@relay.example");
  EXPECT_EQ(results[0].result, checks::SpfResult::pass);
  EXPECT_EQ(results[1].identity, checks::SpfIdentity::helo);
  const auto edits = session->end_of_message("Q");
  const auto& ar = edits.insert[0].second;
  EXPECT_THAT(ar, HasSubstr("spf=pass smtp.mailfrom=relay.example"));
  EXPECT_THAT(ar, HasSubstr("spf=pass smtp.helo=relay.example"));
}

// Regression (issue 10.1): the identity was cut to 1,024 bytes before the <> were removed, so a
// The daemon's bounded pool gives the same SPF results as a thread per identity, for many
// messages on one connection and for sessions at once.
TEST_F(SessionTest, SpfOnTheBoundedPoolGivesTheSameResults) {
  resolver_->add(txt("relay.example", "v=spf1 ip4:192.0.2.7 -all"));
  resolver_->add(txt("strict.example", "v=spf1 -all"));
  std::vector<std::vector<checks::Spf>> expected;
  for (const bool pooled : {false, true}) {
    spf_pool_ = pooled ? std::make_shared<TaskPool>(2) : nullptr;
    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < 5; ++i) {
      sessions.push_back(make());
      (void)sessions.back()->connect("good.test", ip("192.0.2.7"), "");
      (void)sessions.back()->helo("relay.example");
      (void)sessions.back()->mail(i % 2 == 0 ? "<a@relay.example>" : "<a@strict.example>", "", "Q");
    }
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      const auto& results = sessions[i]->spf_results();
      ASSERT_EQ(results.size(), 2U);
      if (!pooled) {
        expected.push_back(results);
      } else {
        EXPECT_EQ(results, expected[i]);
      }
    }
    if (pooled) {
      EXPECT_LE(spf_pool_->threads(), 2U);
    }
  }
  EXPECT_EQ(expected[0][0].result, checks::SpfResult::pass);
  EXPECT_EQ(expected[1][0].result, checks::SpfResult::fail);
}

// long local part made the domain unparseable (spf=none) or cut the domain itself.
TEST_F(SessionTest, SpfFailHoldsWhateverTheLengthOfTheLocalPart) {
  resolver_->add(txt("strict.example", "v=spf1 -all"));
  for (const std::size_t length : {1U, 64U, 1009U, 1010U, 1023U, 1024U, 5000U}) {
    auto session = make();
    (void)session->connect("good.test", ip("192.0.2.7"), "");
    (void)session->helo("good.test");
    (void)session->mail("<" + std::string(length, 'L') + "@strict.example>", "", "Q");
    const auto response = session->rcpt("<u@example.org>", "Q");
    EXPECT_EQ(response.kind, Response::Kind::reject) << length;
    const auto& results = session->spf_results();
    ASSERT_FALSE(results.empty()) << length;
    EXPECT_EQ(results[0].result, checks::SpfResult::fail) << length;
    EXPECT_EQ(results[0].domain, "strict.example") << length;
  }
}

TEST_F(SessionTest, SpfIsNotAskedForAHeloThatFailedTheSyntaxCheck) {
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "");
  (void)session->helo("%s%n%x%%.bench-test.net");
  (void)session->mail("<a@b.example>", "", "Q");
  const auto& results = session->spf_results();
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].identity, checks::SpfIdentity::mailfrom);
  for (const auto& query : resolver_->queries()) {
    EXPECT_EQ(query.name.find("bench-test.net"), std::string::npos) << query.name;
  }
}

TEST(PathAddress, RemovesBracketsAndSourceRoutesAndCutsNothing) {
  EXPECT_EQ(path_address("<a@b.example>"), "a@b.example");
  EXPECT_EQ(path_address("a@b.example"), "a@b.example");
  EXPECT_EQ(path_address("<>"), "");
  EXPECT_EQ(path_address(""), "");
  EXPECT_EQ(path_address("<@relay.example,@two.example:a@b.example>"), "a@b.example");
  EXPECT_EQ(path_address("<\"a@x\"@b.example>"), "\"a@x\"@b.example");
  // An unclosed bracket: the domain still comes from the whole address.
  EXPECT_EQ(path_address("<a@b.example"), "a@b.example");
  const std::string long_local(5000, 'L');
  EXPECT_EQ(path_address("<" + long_local + "@b.example>"), long_local + "@b.example");
}

TEST(AuthResultsId, ParsesTheAuthservId) {
  EXPECT_EQ(header::auth_results_id(" mx.test; iprev=pass"), "mx.test");
  EXPECT_EQ(header::auth_results_id("MX.Test 1; none"), "mx.test");
  EXPECT_EQ(header::auth_results_id(" (comment (nested)) mx.test;spf=pass"), "mx.test");
  EXPECT_EQ(header::auth_results_id("mx.test;"), "mx.test");
  EXPECT_EQ(header::auth_results_id(""), "");
  EXPECT_EQ(header::auth_results_id("   "), "");
}

// Found by tests/fuzz/auth_results_fuzz: an incoming field whose comment ends in a backslash
// threw std::out_of_range, which the adapter turned into a tempfail for every such message.
TEST(AuthResultsId, ACommentEndingInABackslashIsNoAuthservId) {
  EXPECT_EQ(header::auth_results_id("(unclosed \\"), "");
  EXPECT_EQ(header::auth_results_id(" (a) (b\\"), "");
  EXPECT_EQ(header::auth_results_id("(a\\"), "");
  // An escaped parenthesis does not close the comment.
  EXPECT_EQ(header::auth_results_id("(a\\)) mx.test; none"), "mx.test");
}

}  // namespace
}  // namespace rdns::session
