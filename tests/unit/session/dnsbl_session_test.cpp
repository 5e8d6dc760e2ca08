// The DNS lists through a Session: client lists at connect in parallel with iprev, domain lists
// for HELO, MAIL FROM and the verified PTR names, the score in the verdict and the log line,
// the allow-list exemption, error answers that pause a zone, DNS failures, the headers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <syslog.h>

#include <algorithm>
#include <mutex>

#include "rdns/session/session.h"
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

std::vector<checks::DnsblSite> sites(std::initializer_list<const char*> texts) {
  std::vector<checks::DnsblSite> out;
  for (const auto* text : texts) out.push_back(*checks::parse_dnsbl_site(text).site);
  return out;
}

dns::Answer txt_answer(const std::string& name, const std::string& text) {
  dns::Answer answer;
  answer.name = name;
  answer.type = RrType::txt;
  answer.outcome = Outcome::ok;
  answer.texts = {text};
  return answer;
}

class DnsblSessionTest : public ::testing::Test {
 protected:
  DnsblSessionTest()
      : resolver_(std::make_shared<FakeResolver>()),
        registry_(std::make_shared<checks::DnsblRegistry>()) {
    // 192.0.2.7 passes iprev as good.test; 192.0.2.12 has no PTR.
    resolver_->add(ptr_answer("7.2.0.192.in-addr.arpa", {"good.test"}));
    resolver_->add(a_answer("good.test", {"192.0.2.7"}));
    config_.authserv_id = "mx.test";
    config_.dnsbl.sites =
        sites({"zen.example=127.0.0.[2..11]*3", "wl.example=127.0.[0..255].[1..3]*-5"});
    config_.dnsbl.rhsbl = sites({"dbl.example=127.0.1.[2..99]"});
  }

  std::unique_ptr<Session> make() {
    // Note: the fake probe answers as the resolver does: a no-PTR client is confirmed.
    Runtime runtime{std::make_shared<const config::Config>(config_), resolver_, nullptr, probe_};
    runtime.dnsbl_registry = registry_;
    return std::make_unique<Session>(runtime, [this](int priority, const std::string& line) {
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

  int warnings() {
    const std::lock_guard lock(log_mutex_);
    return static_cast<int>(std::count_if(log_.begin(), log_.end(),
                                          [](const auto& e) { return e.first == LOG_WARNING; }));
  }

  std::shared_ptr<FakeResolver> resolver_;
  std::shared_ptr<checks::DnsblRegistry> registry_;
  std::shared_ptr<testutil::FakeAuthorityProbe> probe_ =
      std::make_shared<testutil::FakeAuthorityProbe>(*resolver_);
  config::Config config_ = config::defaults();
  std::mutex log_mutex_;
  std::vector<std::pair<int, std::string>> log_;
};

TEST_F(DnsblSessionTest, ClientListsStartAtConnectInParallelWithIprev) {
  resolver_->set_deferred(true);
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  std::vector<std::string> names;
  for (const auto& query : resolver_->pending_queries()) names.push_back(query.name);
  EXPECT_THAT(names,
              ::testing::UnorderedElementsAre("7.2.0.192.zen.example", "7.2.0.192.wl.example",
                                              "7.2.0.192.in-addr.arpa"));
  resolver_->release_all();
  // The verified PTR name goes to the domain list once iprev is in.
  std::vector<std::string> asked;
  for (const auto& query : resolver_->queries()) asked.push_back(query.name);
  EXPECT_THAT(asked, ::testing::Contains("good.test.dbl.example"));
  resolver_->set_deferred(false);
}

TEST_F(DnsblSessionTest, AListedClientIsRejectedNamingTheListAndQuotingItsTxt) {
  resolver_->add(a_answer("7.2.0.192.zen.example", {"127.0.0.4"}));
  resolver_->add(txt_answer("7.2.0.192.zen.example", "Listed, see https://zen.example/q?7"));
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  (void)session->mail("<a@sender.example>", "", "Q1");
  const auto response = session->rcpt("<user@example.org>", "Q1");
  EXPECT_EQ(response.kind, Response::Kind::reject);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->to_string(),
            "554 5.7.1 Service unavailable; client [192.0.2.7] blocked using zen.example; "
            "Listed, see https://zen.example/q?7");
  EXPECT_THAT(log_text(), HasSubstr(" dnsbl=3(zen.example:127.0.0.4) "));
  EXPECT_THAT(log_text(), HasSubstr("action=reject"));
}

TEST_F(DnsblSessionTest, AListedClientWithoutPtrHearsOfTheListFirst) {
  resolver_->add(a_answer("12.2.0.192.zen.example", {"127.0.0.2"}));
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "mx.test");
  (void)session->mail("<a@sender.example>", "", "Q1");
  const auto response = session->rcpt("<user@example.org>", "Q1");
  EXPECT_EQ(response.kind, Response::Kind::reject);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->to_string(),
            "554 5.7.1 Service unavailable; client [192.0.2.12] blocked using zen.example");
  EXPECT_THAT(log_text(), HasSubstr("client=unknown[192.0.2.12] dnsbl=3(zen.example:127.0.0.2) "
                                    "iprev=fail(no-ptr)"));
}

TEST_F(DnsblSessionTest, DomainListsJudgeHeloMailFromAndPtrNames) {
  resolver_->add(a_answer("spammer.example.dbl.example", {"127.0.1.2"}));
  config_.dnsbl.scoring.threshold = 2;
  config_.dnsbl.rhsbl = sites({"dbl.example=127.0.1.[2..99]"});
  config_.policy.helo.bad_tld.action = policy::Action::tag;  // .example is no public TLD
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  (void)session->helo("spammer.example");
  (void)session->mail("<a@spammer.example>", "", "Q1");
  // The same name from HELO and MAIL FROM is one lookup, counted once: 1 < 2.
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q1").kind, Response::Kind::proceed);
  ASSERT_TRUE(session->dnsbl());
  EXPECT_EQ(session->dnsbl()->score, 1);
  ASSERT_EQ(session->dnsbl()->hits.size(), 1U);
  EXPECT_EQ(session->dnsbl()->hits[0].source, checks::DnsblSource::helo);
  EXPECT_THAT(log_text(), HasSubstr("dnsbl=1(spammer.example@dbl.example:127.0.1.2)"));
  // A second domain adds its own weight.
  resolver_->add(a_answer("other.example.dbl.example", {"127.0.1.3"}));
  (void)session->end_of_message("Q1");
  (void)session->mail("<b@other.example>", "", "Q2");
  EXPECT_EQ(session->rcpt("<u@example.org>", "Q2").kind, Response::Kind::reject);
  EXPECT_EQ(session->dnsbl()->score, 2);
}

TEST_F(DnsblSessionTest, TheVerifiedPtrNameIsLookedUp) {
  resolver_->add(a_answer("good.test.dbl.example", {"127.0.1.2"}));
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  ASSERT_TRUE(session->dnsbl());
  ASSERT_EQ(session->dnsbl()->hits.size(), 1U);
  EXPECT_EQ(session->dnsbl()->hits[0].source, checks::DnsblSource::ptr);
  EXPECT_EQ(session->dnsbl()->hits[0].domain, "good.test");
}

TEST_F(DnsblSessionTest, AnAllowListedClientSkipsTheOtherChecksRejects) {
  config_.dnsbl.scoring.allowlist_threshold = -5;
  resolver_->add(a_answer("12.2.0.192.wl.example", {"127.0.10.1"}));
  resolver_->add(txt_answer("12.2.0.192.wl.example", "https://dnswl.example/s?s=1"));
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "mx.test");
  (void)session->helo("client.example.net");
  (void)session->mail("<a@b.example>", "", "Q1");
  EXPECT_EQ(session->rcpt("<user@example.org>", "Q1").kind, Response::Kind::proceed);
  EXPECT_THAT(log_text(), HasSubstr("iprev=fail(no-ptr)"));
  EXPECT_THAT(log_text(), HasSubstr("dnsbl=-5(wl.example:127.0.10.1)"));
  EXPECT_THAT(log_text(), HasSubstr("exempt=dnswl would=reject"));
  const auto edits = session->end_of_message("Q1");
  ASSERT_FALSE(edits.insert.empty());
  EXPECT_THAT(edits.insert[0].second,
              HasSubstr(";\n\tdnswl=pass dns.zone=wl.example policy.ip=127.0.10.1 "
                        "policy.txt=\"https://dnswl.example/s?s=1\""));
}

TEST_F(DnsblSessionTest, WithoutTheAllowListThresholdTheNoPtrRejectStands) {
  resolver_->add(a_answer("12.2.0.192.wl.example", {"127.0.10.1"}));
  auto session = make();
  (void)session->connect("unknown", ip("192.0.2.12"), "mx.test");
  (void)session->mail("<a@b.example>", "", "Q1");
  EXPECT_EQ(session->rcpt("<user@example.org>", "Q1").kind, Response::Kind::reject);
}

TEST_F(DnsblSessionTest, AnErrorAnswerNeverRejectsPausesTheZoneAndWarnsOnce) {
  resolver_->add(a_answer("7.2.0.192.zen.example", {"127.255.255.254"}));
  for (int i = 0; i < 2; ++i) {
    auto session = make();
    (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
    (void)session->mail("<a@b.example>", "", "Q1");
    EXPECT_EQ(session->rcpt("<u@example.org>", "Q1").kind, Response::Kind::proceed);
    ASSERT_TRUE(session->dnsbl());
    EXPECT_EQ(session->dnsbl()->score, 0);
    ASSERT_FALSE(session->dnsbl()->errors.empty());
    // The second connection does not ask the paused zone at all.
    EXPECT_EQ(session->dnsbl()->errors[0].outcome, i == 0 ? "" : "paused");
    const auto edits = session->end_of_message("Q1");
    EXPECT_THAT(edits.insert[0].second, Not(HasSubstr("zen.example")));
  }
  EXPECT_EQ(warnings(), 1);
  EXPECT_THAT(log_text(), HasSubstr("DNS list zen.example answers 127.255.255.254: your queries "
                                    "reach it through a public or shared resolver"));
  std::size_t zen_queries = 0;
  for (const auto& query : resolver_->queries()) {
    zen_queries += query.name == "7.2.0.192.zen.example" ? 1 : 0;
  }
  EXPECT_EQ(zen_queries, 1U);
}

TEST_F(DnsblSessionTest, AServfailSkipsTheListUnlessTempfailOnError) {
  resolver_->add(failure_answer("7.2.0.192.zen.example", RrType::a, Outcome::servfail));
  {
    auto session = make();
    (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
    (void)session->mail("<a@b.example>", "", "Q1");
    EXPECT_EQ(session->rcpt("<u@example.org>", "Q1").kind, Response::Kind::proceed);
    EXPECT_EQ(session->dnsbl()->result, checks::DnsblResult::error);
  }
  config_.policy.dnsbl.tempfail_on_error = true;
  config_.policy.dnsbl.temperror.action = policy::Action::reject;  // never a 5xx anyway
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  (void)session->mail("<a@b.example>", "", "Q1");
  const auto response = session->rcpt("<u@example.org>", "Q1");
  EXPECT_EQ(response.kind, Response::Kind::tempfail);
  ASSERT_TRUE(response.reply);
  EXPECT_EQ(response.reply->code[0], '4');
  EXPECT_THAT(response.reply->text, HasSubstr("zen.example"));
}

TEST_F(DnsblSessionTest, TheReplyMapHidesTheZoneEverywhere) {
  config_.dnsbl.sites = sites({"secretkey.zen.dq.example=127.0.0.[2..11]*3"});
  config_.dnsbl.scoring.reply_map = {{"secretkey.zen.dq.example", "zen.example"}};
  resolver_->add(a_answer("7.2.0.192.secretkey.zen.dq.example", {"127.0.0.2"}));
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  (void)session->mail("<a@b.example>", "", "Q1");
  const auto response = session->rcpt("<u@example.org>", "Q1");
  ASSERT_TRUE(response.reply);
  EXPECT_THAT(response.reply->text, HasSubstr("blocked using zen.example"));
  EXPECT_THAT(log_text(), Not(HasSubstr("secretkey")));
}

TEST_F(DnsblSessionTest, NoListsNoQueries) {
  config_.dnsbl = {};
  auto session = make();
  (void)session->connect("good.test", ip("192.0.2.7"), "mx.test");
  (void)session->helo("good.test");
  (void)session->mail("<a@b.example>", "", "Q1");
  (void)session->rcpt("<u@example.org>", "Q1");
  EXPECT_FALSE(session->dnsbl());
  for (const auto& query : resolver_->queries()) {
    EXPECT_THAT(query.name, Not(HasSubstr(".example.")));
  }
  EXPECT_THAT(log_text(), Not(HasSubstr("dnsbl=")));
}

}  // namespace
}  // namespace rdns::session
