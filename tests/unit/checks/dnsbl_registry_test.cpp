// The DNS lists' shared state: pauses after error answers (a fake clock), one warning per
// zone per interval, and the RFC 5782 §5 health check over the fake resolver.
#include "rdns/checks/dnsbl_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <syslog.h>

#include <chrono>
#include <vector>

#include "testutil/fake_resolver.h"

namespace rdns::checks {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testutil::a_answer;
using testutil::failure_answer;
using testutil::FakeResolver;

class FakeClock {
 public:
  DnsblRegistry::Clock clock() {
    return [this] { return now_; };
  }
  void advance(std::chrono::seconds by) { now_ += by; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

TEST(DnsblRegistry, AnErrorPausesTheZoneAndWarnsOncePerInterval) {
  FakeClock clock;
  DnsblRegistry registry(clock.clock());
  EXPECT_FALSE(registry.skip("zen.example"));
  const auto first =
      registry.report_error("zen.example", "zen.shown", "127.255.255.254", "public resolver", 300s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->priority, LOG_WARNING);
  EXPECT_EQ(first->line,
            "DNS list zen.shown answers 127.255.255.254: public resolver; not used for 300 s");
  const auto skipped = registry.skip("zen.example");
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->outcome, "paused");
  EXPECT_EQ(skipped->answer, "127.255.255.254");
  EXPECT_THAT(skipped->reason, HasSubstr("paused for another 300 s"));
  EXPECT_FALSE(registry.skip("other.example"));
  // An answer still in flight when the pause began: no second warning.
  clock.advance(10s);
  EXPECT_FALSE(registry.report_error("zen.example", "zen.shown", "127.255.255.254", "again", 300s));
  clock.advance(299s);
  EXPECT_TRUE(registry.skip("zen.example"));  // the second report extended the pause
  clock.advance(2s);
  EXPECT_FALSE(registry.skip("zen.example"));
  EXPECT_TRUE(registry.report_error("zen.example", "zen.shown", "127.255.255.254", "x", 300s));
}

TEST(DnsblRegistry, ABrokenListIsSkippedUntilItRecovers) {
  FakeClock clock;
  DnsblRegistry registry(clock.clock());
  const ListHealth broken{"bl.example", ListHealth::State::broken, "it lists 127.0.0.1"};
  const auto note = registry.record_health(broken, "bl.example");
  ASSERT_TRUE(note);
  EXPECT_EQ(note->priority, LOG_ERR);
  EXPECT_THAT(note->line, HasSubstr("bl.example is broken and not used: it lists 127.0.0.1"));
  ASSERT_TRUE(registry.skip("bl.example"));
  EXPECT_EQ(registry.skip("bl.example")->outcome, "broken");
  clock.advance(100000s);
  EXPECT_TRUE(registry.skip("bl.example"));  // no time limit: until a check says otherwise
  EXPECT_TRUE(registry.record_health(broken, "bl.example"));  // logged every check
  const auto recovered =
      registry.record_health({"bl.example", ListHealth::State::ok, ""}, "bl.example");
  ASSERT_TRUE(recovered);
  EXPECT_THAT(recovered->line, HasSubstr("recovered"));
  EXPECT_FALSE(registry.skip("bl.example"));
  EXPECT_FALSE(registry.record_health({"bl.example", ListHealth::State::ok, ""}, "bl.example"));
}

TEST(DnsblRegistry, AMissingTestEntryWarnsOnceAndIsStillUsed) {
  DnsblRegistry registry;
  const ListHealth missing{"bl.example", ListHealth::State::no_test_entry, "no 127.0.0.2"};
  EXPECT_TRUE(registry.record_health(missing, "bl.example"));
  EXPECT_FALSE(registry.record_health(missing, "bl.example"));
  EXPECT_FALSE(registry.skip("bl.example"));
}

class HealthCheckTest : public ::testing::Test {
 protected:
  HealthCheckTest() : registry_(clock_.clock()) {}

  std::vector<ListHealth> run(std::initializer_list<const char*> sites,
                              std::initializer_list<const char*> rhsbl = {}) {
    HealthCheckConfig config;
    for (const auto* text : sites) config.sites.push_back(*parse_dnsbl_site(text).site);
    for (const auto* text : rhsbl) config.rhsbl.push_back(*parse_dnsbl_site(text).site);
    return check_dnsbl_health(resolver_, config, registry_,
                              [this](const DnsblRegistry::Note& note) { notes_.push_back(note); });
  }

  FakeResolver resolver_;
  FakeClock clock_;
  DnsblRegistry registry_;
  std::vector<DnsblRegistry::Note> notes_;
};

TEST_F(HealthCheckTest, AHealthyListListsTheTestEntryOnly) {
  resolver_.add(a_answer("2.0.0.127.bl.example", {"127.0.0.2"}));
  const auto health = run({"bl.example*2", "bl.example=127.0.0.3"});
  ASSERT_EQ(health.size(), 1U);  // one check per zone
  EXPECT_EQ(health[0].state, ListHealth::State::ok);
  EXPECT_TRUE(notes_.empty());
  EXPECT_FALSE(registry_.skip("bl.example"));
}

TEST_F(HealthCheckTest, AListThatListsTheMustNotEntryIsBroken) {
  resolver_.add(a_answer("1.0.0.127.dead.example", {"127.0.0.2"}));
  resolver_.add(a_answer("2.0.0.127.dead.example", {"127.0.0.2"}));
  const auto health = run({"dead.example"});
  ASSERT_EQ(health.size(), 1U);
  EXPECT_EQ(health[0].state, ListHealth::State::broken);
  EXPECT_THAT(health[0].reason, HasSubstr("127.0.0.1"));
  ASSERT_EQ(notes_.size(), 1U);
  EXPECT_EQ(notes_[0].priority, LOG_ERR);
  ASSERT_TRUE(registry_.skip("dead.example"));
  // It recovers: the next check finds it healthy and it is used again.
  resolver_.add(failure_answer("1.0.0.127.dead.example", dns::RrType::a, dns::Outcome::nxdomain));
  EXPECT_EQ(run({"dead.example"})[0].state, ListHealth::State::ok);
  EXPECT_FALSE(registry_.skip("dead.example"));
}

TEST_F(HealthCheckTest, AnIpv6ListIsCheckedWithItsMappedEntries) {
  // ::ffff:127.0.0.1 listed: broken, although the IPv4 entry is fine.
  resolver_.add(a_answer("2.0.0.127.v6.example", {"127.0.0.2"}));
  resolver_.add(a_answer(
      "1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.v6.example", {"127.0.0.2"}));
  EXPECT_EQ(run({"v6.example"})[0].state, ListHealth::State::broken);
  // An IPv6-only list with only ::FFFF:7F00:2 is fine.
  resolver_.add(
      a_answer("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.v6only.example",
               {"127.0.0.2"}));
  EXPECT_EQ(run({"v6only.example"})[0].state, ListHealth::State::ok);
}

TEST_F(HealthCheckTest, AMissingTestEntryIsOnlyAWarning) {
  const auto health = run({"empty.example"});
  EXPECT_EQ(health[0].state, ListHealth::State::no_test_entry);
  ASSERT_EQ(notes_.size(), 1U);
  EXPECT_EQ(notes_[0].priority, LOG_WARNING);
  EXPECT_FALSE(registry_.skip("empty.example"));
}

TEST_F(HealthCheckTest, AnErrorCodeForEverythingPausesTheListWithOneWarning) {
  resolver_.set_handler([](const testutil::Query& query) -> std::optional<dns::Answer> {
    if (!query.name.ends_with(".pub.example")) return std::nullopt;
    return a_answer(query.name, {"127.255.255.254"});
  });
  const auto health = run({"pub.example"});
  EXPECT_EQ(health[0].state, ListHealth::State::error);
  ASSERT_EQ(notes_.size(), 1U);
  EXPECT_THAT(notes_[0].line, HasSubstr("public or shared resolver"));
  ASSERT_TRUE(registry_.skip("pub.example"));
  EXPECT_EQ(registry_.skip("pub.example")->outcome, "paused");
  (void)run({"pub.example"});
  EXPECT_EQ(notes_.size(), 1U);  // still within the interval
}

TEST_F(HealthCheckTest, DomainListsUseTestAndInvalid) {
  resolver_.add(a_answer("test.dbl.example", {"127.0.1.2"}));
  EXPECT_EQ(run({}, {"dbl.example"})[0].state, ListHealth::State::ok);
  resolver_.add(a_answer("invalid.dbl.example", {"127.0.1.2"}));
  const auto health = run({}, {"dbl.example"});
  EXPECT_EQ(health[0].state, ListHealth::State::broken);
  EXPECT_THAT(health[0].reason, HasSubstr("invalid"));
}

TEST_F(HealthCheckTest, AnUnreachableListIsReportedButStillUsed) {
  resolver_.set_handler([](const testutil::Query& query) -> std::optional<dns::Answer> {
    return failure_answer(query.name, query.type, dns::Outcome::servfail);
  });
  const auto health = run({"down.example"});
  EXPECT_EQ(health[0].state, ListHealth::State::unreachable);
  EXPECT_FALSE(registry_.skip("down.example"));
}

}  // namespace
}  // namespace rdns::checks
