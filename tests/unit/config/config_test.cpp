// Command line and config file parsing (same option names in both).

#include "rdns/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testutil/fake_resolver.h"
#include "testutil/printers.h"

namespace rdns::config {
namespace {

using policy::Action;
using policy::Reply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Invocation parse(std::vector<std::string> args) {
  args.insert(args.begin(), "rdns-milter");
  std::vector<const char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(args.size()), argv.data());
}

/// The ConfigError message for `args`; a test failure if parsing does not throw ConfigError.
std::string error_of(const std::vector<std::string>& args) {
  try {
    (void)parse(args);
  } catch (const ConfigError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    return message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw something other than ConfigError: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

/// A file in the temp directory with `content`, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string pattern = (std::filesystem::temp_directory_path() / "rdns-config-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    if (fd < 0) {
      ADD_FAILURE() << "mkstemp failed";
      return;
    }
    close(fd);
    path_ = pattern;
    std::ofstream(path_) << content;
  }
  ~TempFile() {
    if (!path_.empty()) {
      std::filesystem::remove(path_);
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile(TempFile&&) = delete;
  TempFile& operator=(TempFile&&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- defaults and modes ----------------------------------------------------------------------

TEST(ConfigTest, DefaultsWithNoArguments) {
  if (std::filesystem::exists(default_config_file)) {
    GTEST_SKIP() << default_config_file << " exists on this machine and would be read";
  }
  const auto inv = parse({});
  EXPECT_EQ(inv.mode, Invocation::Mode::run);
  EXPECT_FALSE(inv.json);
  EXPECT_EQ(inv.check_ip, "");
  const Config& c = inv.config;
  EXPECT_EQ(c.config_file, "");
  const dns::ResolverConfig resolver_defaults;
  EXPECT_EQ(c.resolver.forwarders, resolver_defaults.forwarders);
  EXPECT_EQ(c.resolver.unbound_config, resolver_defaults.unbound_config);
  EXPECT_EQ(c.resolver.trust_anchor_file, resolver_defaults.trust_anchor_file);
  EXPECT_EQ(c.resolver.query_timeout, resolver_defaults.query_timeout);
  EXPECT_EQ(c.resolver.cache_max_ttl, resolver_defaults.cache_max_ttl);
  EXPECT_EQ(c.resolver.cache_max_negative_ttl, resolver_defaults.cache_max_negative_ttl);
  EXPECT_TRUE(c.confirm_negative);
  EXPECT_EQ(c.policy.iprev, policy::IprevPolicy{});
  EXPECT_FALSE(c.policy.dry_run);
  EXPECT_EQ(c.authserv_id, "");
  const Config header_defaults;
  EXPECT_EQ(c.socket, header_defaults.socket);
  EXPECT_FALSE(c.foreground);
  EXPECT_EQ(c.decision_stage, header_defaults.decision_stage);
  EXPECT_EQ(c.allow_address_file, "");
  EXPECT_EQ(c.allow_domain_file, "");
  EXPECT_TRUE(c.policy.exemptions.allow_addresses.empty());
  EXPECT_TRUE(c.policy.exemptions.allow_domains.empty());
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_TRUE(iprev_options(c).confirm_no_ptr)
      << "no-ptr rejects by default, so it is confirmed first";
  EXPECT_FALSE(iprev_options(c).confirm_no_forward_match) << "no-forward-match only tags";
  EXPECT_EQ(iprev_options(c).max_names, checks::IprevOptions{}.max_names);
  EXPECT_TRUE(c == defaults()) << "parse_arguments starts from defaults()";
}

TEST(ConfigTest, DefaultsAreTheDocumentedOnes) {
  const Config c = defaults();
  EXPECT_THAT(c.policy.exemptions.trusted_networks,
              ElementsAre(*dns::Network::parse("127.0.0.0/8"), *dns::Network::parse("::1/128")));
  EXPECT_THAT(c.policy.exemptions.recipients, ElementsAre("postmaster", "abuse"));
  EXPECT_EQ(c.socket, "inet:8894@127.0.0.1");
  EXPECT_EQ(c.decision_stage, Stage::rcpt);
  EXPECT_TRUE(c.confirm_negative);
  EXPECT_FALSE(c.policy.dry_run);
  EXPECT_EQ(c.config_file, "");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigTest, DefaultExemptionsAreSafe) {
  if (std::filesystem::exists(default_config_file)) {
    GTEST_SKIP() << default_config_file << " exists on this machine and would be read";
  }
  const auto inv = parse({});
  const auto& e = inv.config.policy.exemptions;
  // RFC 5321 §4.5.1: mail to postmaster must not be refused.
  EXPECT_THAT(e.recipients, ::testing::Contains("postmaster"));
  const auto covers = [&e](const char* ip) {
    return std::any_of(e.trusted_networks.begin(), e.trusted_networks.end(),
                       [ip](const dns::Network& n) { return n.contains(testutil::ip(ip)); });
  };
  EXPECT_TRUE(covers("127.0.0.1")) << "local submission is never rejected";
  EXPECT_TRUE(covers("::1"));
  EXPECT_FALSE(covers("192.0.2.7"));
}

TEST(ConfigTest, CheckWithJson) {
  const auto inv = parse({"--check", "192.0.2.7", "--json"});
  EXPECT_EQ(inv.mode, Invocation::Mode::check);
  EXPECT_EQ(inv.check_ip, "192.0.2.7");
  EXPECT_TRUE(inv.json);
}

TEST(ConfigTest, CheckWithoutJson) {
  const auto inv = parse({"--check", "2001:db8::25"});
  EXPECT_EQ(inv.mode, Invocation::Mode::check);
  EXPECT_EQ(inv.check_ip, "2001:db8::25");
  EXPECT_FALSE(inv.json);
}

TEST(ConfigTest, Help) {
  const auto inv = parse({"--help"});
  EXPECT_EQ(inv.mode, Invocation::Mode::help);
  EXPECT_THAT(inv.help_text, HasSubstr("query-timeout"));
  EXPECT_THAT(inv.help_text, HasSubstr("iprev-no-ptr"));
}

TEST(ConfigTest, Version) {
  EXPECT_EQ(parse({"--version"}).mode, Invocation::Mode::version);
}

// ---- errors ----------------------------------------------------------------------------------

TEST(ConfigTest, UnknownOptionIsNamed) {
  EXPECT_THAT(error_of({"--no-such-option"}), HasSubstr("no-such-option"));
  EXPECT_THAT(error_of({"--no-such-option=3"}), HasSubstr("no-such-option"));
}

TEST(ConfigTest, BadQueryTimeoutNamesOptionAndValue) {
  const auto message = error_of({"--query-timeout", "banana"});
  EXPECT_THAT(message, HasSubstr("query-timeout"));
  EXPECT_THAT(message, HasSubstr("banana"));
}

TEST(ConfigTest, NegativeNumbersAreRejected) {
  EXPECT_THAT(error_of({"--query-timeout", "-1"}), HasSubstr("query-timeout"));
  EXPECT_THAT(error_of({"--cache-max-ttl", "-5"}), HasSubstr("cache-max-ttl"));
  EXPECT_THAT(error_of({"--cache-max-negative-ttl", "-5"}), HasSubstr("cache-max-negative-ttl"));
}

TEST(ConfigTest, BadNumbersAreRejected) {
  EXPECT_THAT(error_of({"--cache-max-ttl", "ten"}), HasSubstr("cache-max-ttl"));
  EXPECT_THAT(error_of({"--cache-max-ttl", "99999999999999999999"}), HasSubstr("cache-max-ttl"));
}

TEST(ConfigTest, MissingValueIsAnError) {
  EXPECT_THAT(error_of({"--query-timeout"}), HasSubstr("query-timeout"));
}

// ---- resolver options ------------------------------------------------------------------------

TEST(ConfigTest, QueryTimeoutInSecondsWithDecimals) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse({"--query-timeout", "3"}).config.resolver.query_timeout, milliseconds(3000));
  EXPECT_EQ(parse({"--query-timeout", "2.5"}).config.resolver.query_timeout, milliseconds(2500));
  EXPECT_EQ(parse({"--query-timeout=0.25"}).config.resolver.query_timeout, milliseconds(250));
}

TEST(ConfigTest, ForwarderIsRepeatable) {
  const auto inv = parse({"--forwarder", "192.0.2.53", "--forwarder", "192.0.2.54@5353"});
  EXPECT_THAT(inv.config.resolver.forwarders, ElementsAre("192.0.2.53", "192.0.2.54@5353"));
}

TEST(ConfigTest, ResolverFilesAndCacheLimits) {
  const TempFile unbound_conf("server:\n");
  const TempFile anchor(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC6834571\n");
  const auto inv = parse({"--unbound-config", unbound_conf.path(), "--trust-anchor-file",
                          anchor.path(), "--cache-max-ttl", "60", "--cache-max-negative-ttl", "5"});
  EXPECT_EQ(inv.config.resolver.unbound_config, unbound_conf.path());
  EXPECT_EQ(inv.config.resolver.trust_anchor_file, anchor.path());
  EXPECT_EQ(inv.config.resolver.cache_max_ttl, 60U);
  EXPECT_EQ(inv.config.resolver.cache_max_negative_ttl, 5U);
}

TEST(ConfigTest, EmptyTrustAnchorDisablesValidation) {
  EXPECT_EQ(parse({"--trust-anchor-file", ""}).config.resolver.trust_anchor_file, "");
}

TEST(ConfigTest, CheckNeedsAnAddress) {
  EXPECT_THAT(error_of({"--check", "banana"}), HasSubstr("banana"));
}

// ---- daemon options --------------------------------------------------------------------------

TEST(ConfigTest, SocketAndForeground) {
  const auto inv = parse({"--socket", "unix:/run/rdns-milter/milter.sock", "--foreground"});
  EXPECT_EQ(inv.config.socket, "unix:/run/rdns-milter/milter.sock");
  EXPECT_TRUE(inv.config.foreground);
  EXPECT_EQ(parse({"--socket", "inet:10025@127.0.0.1"}).config.socket, "inet:10025@127.0.0.1");
}

TEST(ConfigTest, DecisionStage) {
  EXPECT_EQ(parse({"--decision-stage", "connect"}).config.decision_stage, Stage::connect);
  EXPECT_EQ(parse({"--decision-stage", "helo"}).config.decision_stage, Stage::helo);
  EXPECT_EQ(parse({"--decision-stage", "mail"}).config.decision_stage, Stage::mail);
  EXPECT_EQ(parse({"--decision-stage", "rcpt"}).config.decision_stage, Stage::rcpt);
  const auto message = error_of({"--decision-stage", "data"});
  EXPECT_THAT(message, HasSubstr("decision-stage"));
  EXPECT_THAT(message, HasSubstr("data"));
}

TEST(ConfigTest, StageNames) {
  for (auto stage : {Stage::connect, Stage::helo, Stage::mail, Stage::rcpt}) {
    EXPECT_EQ(parse({"--decision-stage", std::string(to_string(stage))}).config.decision_stage,
              stage);
  }
}

// ---- exemption options -----------------------------------------------------------------------

dns::Network net(std::string_view text) {
  auto parsed = dns::Network::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(dns::Network{});
}

TEST(ConfigTest, TrustedNetworksCommaOrSpaceSeparated) {
  const auto inv = parse({"--trusted-networks", "192.0.2.0/24, 2001:db8::/32 198.51.100.7"});
  EXPECT_THAT(inv.config.policy.exemptions.trusted_networks,
              ElementsAre(net("192.0.2.0/24"), net("2001:db8::/32"), net("198.51.100.7")));
}

TEST(ConfigTest, BadTrustedNetworkNamesOptionAndValue) {
  const auto message = error_of({"--trusted-networks", "192.0.2.0/24,192.0.2.0/33"});
  EXPECT_THAT(message, HasSubstr("trusted-networks"));
  EXPECT_THAT(message, HasSubstr("192.0.2.0/33"));
}

TEST(ConfigTest, ExemptRecipients) {
  const auto inv = parse({"--exempt-recipients", "postmaster, abuse@example.org"});
  EXPECT_THAT(inv.config.policy.exemptions.recipients,
              ElementsAre("postmaster", "abuse@example.org"));
}

TEST(ConfigTest, ExemptRecipientsAreLowerCased) {
  const auto inv = parse({"--exempt-recipients", "PostMaster ABUSE@Example.ORG"});
  EXPECT_THAT(inv.config.policy.exemptions.recipients,
              ElementsAre("postmaster", "abuse@example.org"));
}

TEST(ConfigTest, YesAndNoInAnyCase) {
  EXPECT_TRUE(parse({"--dry-run", "YES"}).config.policy.dry_run);
  EXPECT_TRUE(parse({"--dry-run", "On"}).config.policy.dry_run);
  EXPECT_FALSE(parse({"--confirm-negative", "FALSE"}).config.confirm_negative);
}

TEST(ConfigTest, AllowAddressFile) {
  const TempFile file("192.0.2.7\n2001:db8::/64\n");
  const auto inv = parse({"--allow-address-file", file.path()});
  EXPECT_EQ(inv.config.allow_address_file, file.path());
  EXPECT_THAT(inv.config.policy.exemptions.allow_addresses,
              ElementsAre(net("192.0.2.7"), net("2001:db8::/64")));
}

TEST(ConfigTest, AllowDomainFileIsLowerCased) {
  const TempFile file("Example.COM\nexample.net\n");
  const auto inv = parse({"--allow-domain-file", file.path()});
  EXPECT_EQ(inv.config.allow_domain_file, file.path());
  EXPECT_THAT(inv.config.policy.exemptions.allow_domains,
              ElementsAre("example.com", "example.net"));
}

TEST(ConfigTest, BadLineInAllowAddressFileNamesTheFile) {
  const TempFile file("192.0.2.7\nnot-an-address\n");
  const auto message = error_of({"--allow-address-file", file.path()});
  EXPECT_THAT(message, HasSubstr(file.path()));
  EXPECT_THAT(message, HasSubstr("not-an-address"));
}

TEST(ConfigTest, AllowFilesSkipCommentsBlankLinesAndALeadingDot) {
  const TempFile addresses("# our partners\n\n  192.0.2.7  # mx1\r\n\t\n2001:db8::/64\n");
  const TempFile domains("# partners\n.Example.COM\n\n  example.net # with a comment\n");
  const auto inv =
      parse({"--allow-address-file", addresses.path(), "--allow-domain-file", domains.path()});
  EXPECT_THAT(inv.config.policy.exemptions.allow_addresses,
              ElementsAre(net("192.0.2.7"), net("2001:db8::/64")));
  EXPECT_THAT(inv.config.policy.exemptions.allow_domains,
              ElementsAre("example.com", "example.net"));
}

TEST(ConfigTest, BadLinesInAllowFilesNameFileLineAndValue) {
  const TempFile addresses("192.0.2.7\n\n# comment\n192.0.2.0/33\n");
  const auto address_message = error_of({"--allow-address-file", addresses.path()});
  EXPECT_THAT(address_message, HasSubstr(addresses.path() + ":4: invalid address or CIDR"));
  EXPECT_THAT(address_message, HasSubstr("192.0.2.0/33"));
  const TempFile domains("example.com\nuser@example.org\n");
  const auto domain_message = error_of({"--allow-domain-file", domains.path()});
  EXPECT_THAT(domain_message, HasSubstr(domains.path() + ":2: invalid domain"));
  EXPECT_THAT(domain_message, HasSubstr("user@example.org"));
}

TEST(ConfigTest, MissingAllowFilesAreNamed) {
  const std::string missing =
      (std::filesystem::temp_directory_path() / "rdns-no-such-dir" / "allow.txt").string();
  EXPECT_THAT(error_of({"--allow-address-file", missing}), HasSubstr(missing));
  EXPECT_THAT(error_of({"--allow-domain-file", missing}), HasSubstr(missing));
}

// ---- confirmation ----------------------------------------------------------------------------

TEST(ConfigTest, ConfirmNegative) {
  const auto off = parse({"--confirm-negative", "no"});
  EXPECT_FALSE(off.config.confirm_negative);
  EXPECT_FALSE(iprev_options(off.config).confirm_no_ptr);
  EXPECT_FALSE(iprev_options(off.config).confirm_no_forward_match);
  const auto on = parse({"--confirm-negative", "yes"});
  EXPECT_TRUE(on.config.confirm_negative);
  EXPECT_TRUE(iprev_options(on.config).confirm_no_ptr);
}

TEST(ConfigTest, RejectingNoForwardMatchTurnsOnItsConfirmation) {
  EXPECT_TRUE(
      iprev_options(parse({"--iprev-no-forward-match", "reject"}).config).confirm_no_forward_match);
  EXPECT_FALSE(iprev_options(
                   parse({"--iprev-no-forward-match", "reject", "--confirm-negative", "no"}).config)
                   .confirm_no_forward_match);
}

TEST(ConfigTest, NoPtrThatDoesNotRejectIsNotConfirmed) {
  for (const char* action : {"tempfail", "tag", "ignore"}) {
    EXPECT_FALSE(iprev_options(parse({"--iprev-no-ptr", action}).config).confirm_no_ptr) << action;
  }
}

TEST(ConfigTest, IprevOptionsFollowAConfigChangedInPlace) {
  // Derived, not stored: a Config edited after parsing (as tests do) gets matching options.
  Config c = defaults();
  c.policy.iprev.no_ptr.action = Action::tag;
  c.policy.iprev.no_forward_match.action = Action::reject;
  EXPECT_FALSE(iprev_options(c).confirm_no_ptr);
  EXPECT_TRUE(iprev_options(c).confirm_no_forward_match);
  c.confirm_negative = false;
  EXPECT_FALSE(iprev_options(c).confirm_no_forward_match);
}

TEST(ConfigTest, BadConfirmNegativeNamesOptionAndValue) {
  const auto message = error_of({"--confirm-negative", "maybe"});
  EXPECT_THAT(message, HasSubstr("confirm-negative"));
  EXPECT_THAT(message, HasSubstr("maybe"));
}

// ---- policy options --------------------------------------------------------------------------

struct ActionCase {
  const char* word;
  Action action;
};

class IprevActionTest : public ::testing::TestWithParam<ActionCase> {};

TEST_P(IprevActionTest, EveryIprevRuleAcceptsIt) {
  const auto& [word, action] = GetParam();
  EXPECT_EQ(parse({"--iprev-no-ptr", word}).config.policy.iprev.no_ptr.action, action);
  EXPECT_EQ(parse({"--iprev-no-forward-match", word}).config.policy.iprev.no_forward_match.action,
            action);
  EXPECT_EQ(parse({"--iprev-temperror", word}).config.policy.iprev.temperror.action, action);
  EXPECT_EQ(parse({"--iprev-permerror", word}).config.policy.iprev.permerror.action, action);
  EXPECT_EQ(parse({"--iprev-generic", word}).config.policy.iprev.generic.action, action);
}

INSTANTIATE_TEST_SUITE_P(Words, IprevActionTest,
                         ::testing::Values(ActionCase{"reject", Action::reject},
                                           ActionCase{"tempfail", Action::tempfail},
                                           ActionCase{"tag", Action::tag},
                                           ActionCase{"ignore", Action::accept}),
                         [](const auto& info) { return std::string(info.param.word); });

TEST(ConfigTest, SettingOneRuleLeavesTheOthers) {
  const auto inv = parse({"--iprev-no-ptr", "tag"});
  const policy::IprevPolicy defaults;
  EXPECT_EQ(inv.config.policy.iprev.no_ptr.action, Action::tag);
  EXPECT_EQ(inv.config.policy.iprev.no_ptr.reply, defaults.no_ptr.reply);
  EXPECT_EQ(inv.config.policy.iprev.no_forward_match, defaults.no_forward_match);
  EXPECT_EQ(inv.config.policy.iprev.temperror, defaults.temperror);
  EXPECT_EQ(inv.config.policy.iprev.permerror, defaults.permerror);
}

TEST(ConfigTest, BadActionNamesOptionAndValue) {
  for (const char* key :
       {"iprev-no-ptr", "iprev-no-forward-match", "iprev-temperror", "iprev-permerror"}) {
    const auto message = error_of({std::string("--") + key, "bogus"});
    EXPECT_THAT(message, HasSubstr(key));
    EXPECT_THAT(message, HasSubstr("bogus"));
  }
}

TEST(ConfigTest, Replies) {
  const auto inv =
      parse({"--iprev-no-ptr-reply", "550 5.7.1 Go away %{ip}", "--iprev-no-forward-match-reply",
             "554 5.7.25 No match for %{ip}", "--iprev-temperror-reply", "451 4.4.3 Try later",
             "--iprev-permerror-reply", "550 5.7.25 Broken PTR"});
  const auto& iprev = inv.config.policy.iprev;
  EXPECT_EQ(iprev.no_ptr.reply, (Reply{"550", "5.7.1", "Go away %{ip}"}));
  EXPECT_EQ(iprev.no_forward_match.reply, (Reply{"554", "5.7.25", "No match for %{ip}"}));
  EXPECT_EQ(iprev.temperror.reply, (Reply{"451", "4.4.3", "Try later"}));
  EXPECT_EQ(iprev.permerror.reply, (Reply{"550", "5.7.25", "Broken PTR"}));
  EXPECT_EQ(iprev.no_ptr.action, policy::IprevPolicy{}.no_ptr.action) << "action untouched";
}

TEST(ConfigTest, BadReplyNamesOption) {
  EXPECT_THAT(error_of({"--iprev-no-ptr-reply", "hello there"}), HasSubstr("iprev-no-ptr-reply"));
  EXPECT_THAT(error_of({"--iprev-temperror-reply", "45 4.7.1 short code"}),
              HasSubstr("iprev-temperror-reply"));
}

TEST(ConfigTest, AuthservIdAndDryRun) {
  const auto inv = parse({"--authserv-id", "mx.example.org", "--dry-run", "yes"});
  EXPECT_EQ(inv.config.authserv_id, "mx.example.org");
  EXPECT_TRUE(inv.config.policy.dry_run);
  EXPECT_FALSE(parse({"--dry-run", "no"}).config.policy.dry_run);
  const auto message = error_of({"--dry-run", "perhaps"});
  EXPECT_THAT(message, HasSubstr("dry-run"));
  EXPECT_THAT(message, HasSubstr("perhaps"));
}

TEST(ConfigTest, IprevGenericTagsByDefaultWithA550Reply) {
  const auto& rule = defaults().policy.iprev.generic;
  EXPECT_EQ(rule.action, Action::tag);
  EXPECT_EQ(rule.reply.code, "550");
  EXPECT_EQ(rule.reply.enhanced, "5.7.25");
  EXPECT_THAT(rule.reply.text, HasSubstr("a mail server needs a PTR name of its own"));
  const auto inv = parse({"--iprev-generic", "reject", "--iprev-generic-reply",
                          "554 5.7.25 Use a PTR name of your own, not %{ptr}"});
  EXPECT_EQ(inv.config.policy.iprev.generic.action, Action::reject);
  EXPECT_EQ(inv.config.policy.iprev.generic.reply,
            (Reply{"554", "5.7.25", "Use a PTR name of your own, not %{ptr}"}));
  EXPECT_THAT(error_of({"--iprev-generic", "maybe"}), HasSubstr("iprev-generic"));
}

TEST(ConfigTest, GenericPtrKeywordsDefaultToTheBuiltInSet) {
  const Config c = defaults();
  EXPECT_EQ(c.generic_ptr_keywords, checks::default_generic_ptr_keywords());
  EXPECT_THAT(c.generic_ptr_keywords, ::testing::Contains("dsl"));
  EXPECT_EQ(iprev_options(c).generic_keywords, c.generic_ptr_keywords);
}

TEST(ConfigTest, GenericPtrKeywordsAreLowerCasedDeduplicatedAndMayBeEmpty) {
  const auto inv = parse({"--generic-ptr-keywords", "DSL, pool  Ppp,dsl"});
  EXPECT_THAT(inv.config.generic_ptr_keywords, ElementsAre("dsl", "pool", "ppp"));
  EXPECT_THAT(iprev_options(inv.config).generic_keywords, ElementsAre("dsl", "pool", "ppp"));
  EXPECT_TRUE(parse({"--generic-ptr-keywords", ""}).config.generic_ptr_keywords.empty());
}

TEST(ConfigFileTest, BadGenericPtrKeywordNamesFileLineKeyAndValue) {
  for (const char* bad : {"dial-up", "123", "d.s.l", "d\xc3\xbcsl"}) {
    const TempFile file(std::string("dry-run = no\ngeneric-ptr-keywords = dsl, ") + bad + "\n");
    const auto message = error_of({"--config", file.path()});
    EXPECT_THAT(message, HasSubstr(file.path() + ":2: option 'generic-ptr-keywords'"));
    EXPECT_THAT(message, HasSubstr(std::string("'") + bad + "'"));
  }
}

// ---- config file -----------------------------------------------------------------------------

TEST(ConfigFileTest, ValuesApply) {
  const TempFile file(
      "# rdns-milter test configuration\n"
      "iprev-no-ptr = tag\n"
      "iprev-temperror-reply = 451 4.4.3 Try later\n"
      "forwarder = 192.0.2.53\n"
      "forwarder = 192.0.2.54@5353\n"
      "query-timeout = 1.5\n"
      "authserv-id = mx.example.org\n"
      "dry-run = yes\n"
      "confirm-negative = no\n");
  const auto inv = parse({"--config", file.path()});
  const Config& c = inv.config;
  EXPECT_EQ(c.config_file, file.path());
  EXPECT_EQ(c.policy.iprev.no_ptr.action, Action::tag);
  EXPECT_EQ(c.policy.iprev.temperror.reply, (Reply{"451", "4.4.3", "Try later"}));
  EXPECT_THAT(c.resolver.forwarders, ElementsAre("192.0.2.53", "192.0.2.54@5353"));
  EXPECT_EQ(c.resolver.query_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.authserv_id, "mx.example.org");
  EXPECT_TRUE(c.policy.dry_run);
  EXPECT_FALSE(c.confirm_negative);
}

TEST(ConfigFileTest, UnknownKeyNamesFileAndKey) {
  const TempFile file("iprev-no-ptr = tag\nno-such-key = 1\n");
  const auto message = error_of({"--config", file.path()});
  EXPECT_THAT(message, HasSubstr(file.path()));
  EXPECT_THAT(message, HasSubstr("no-such-key"));
}

TEST(ConfigFileTest, BadValueNamesFileKeyAndValue) {
  const TempFile file("iprev-no-ptr = bogus\n");
  const auto message = error_of({"--config", file.path()});
  EXPECT_THAT(message, HasSubstr(file.path()));
  EXPECT_THAT(message, HasSubstr("iprev-no-ptr"));
  EXPECT_THAT(message, HasSubstr("bogus"));
}

TEST(ConfigFileTest, UnreadableFileIsNamed) {
  const std::string missing =
      (std::filesystem::temp_directory_path() / "rdns-no-such-dir" / "missing.conf").string();
  EXPECT_THAT(error_of({"--config", missing}), HasSubstr(missing));
}

TEST(ConfigFileTest, DirectoryIsNotAConfigFile) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  EXPECT_THAT(error_of({"--config", dir}), HasSubstr(dir));
}

TEST(ConfigFileTest, CommandLineOverridesFileWhateverTheOrder) {
  const TempFile file("iprev-no-ptr = tag\niprev-permerror = reject\n");
  const auto after = parse({"--config", file.path(), "--iprev-no-ptr", "tempfail"});
  EXPECT_EQ(after.config.policy.iprev.no_ptr.action, Action::tempfail);
  EXPECT_EQ(after.config.policy.iprev.permerror.action, Action::reject) << "from the file";
  const auto before = parse({"--iprev-no-ptr", "tempfail", "--config", file.path()});
  EXPECT_EQ(before.config.policy.iprev.no_ptr.action, Action::tempfail);
  EXPECT_EQ(before.config.policy.iprev.permerror.action, Action::reject);
}

TEST(ConfigFileTest, CommandLineForwardersReplaceTheFileOnes) {
  const TempFile file("forwarder = 192.0.2.53\n");
  const auto inv = parse({"--config", file.path(), "--forwarder", "198.51.100.53"});
  EXPECT_THAT(inv.config.resolver.forwarders, ElementsAre("198.51.100.53"));
}

TEST(ConfigFileTest, FileCanSetDaemonOptions) {
  const TempFile file(
      "socket = unix:/run/rdns.sock\n"
      "foreground = yes\n"
      "decision-stage = mail\n"
      "trusted-networks = 192.0.2.0/24\n");
  const auto inv = parse({"--config", file.path()});
  const Config& c = inv.config;
  EXPECT_EQ(c.socket, "unix:/run/rdns.sock");
  EXPECT_TRUE(c.foreground);
  EXPECT_EQ(c.decision_stage, Stage::mail);
  EXPECT_THAT(c.policy.exemptions.trusted_networks, ElementsAre(net("192.0.2.0/24")));
}

TEST(ConfigFileTest, ArgumentsAreKeptForReloading) {
  TempFile file("iprev-no-ptr = tag\niprev-permerror = reject\n");
  const std::vector<std::string> args = {"--config", file.path(), "--iprev-no-ptr", "tempfail"};
  const auto first = parse_arguments(args);
  EXPECT_EQ(first.args, args);
  EXPECT_EQ(first.config.policy.iprev.no_ptr.action, Action::tempfail);
  EXPECT_EQ(first.config.policy.iprev.permerror.action, Action::reject);

  // SIGHUP: the file changed; re-reading keeps the command line's override.
  std::ofstream(file.path()) << "iprev-no-ptr = tag\niprev-permerror = ignore\n";
  const auto reloaded = parse_arguments(first.args);
  EXPECT_EQ(reloaded.config.policy.iprev.no_ptr.action, Action::tempfail);
  EXPECT_EQ(reloaded.config.policy.iprev.permerror.action, Action::accept);
}

// ---- a config file without settings (issue 10: a reload caught the file mid-write) ----------

/// `config` equals defaults() but for the file name and the warnings.
void expect_defaults_from(const Config& config, const std::string& file) {
  Config expected = defaults();
  expected.config_file = file;
  expected.warnings = config.warnings;
  EXPECT_TRUE(config == expected) << "only the built-in defaults apply";
}

TEST(ConfigFileTest, EmptyFileAtStartMeansDefaultsWithAWarning) {
  const TempFile file("");
  const auto inv = parse({"--config", file.path()});
  expect_defaults_from(inv.config, file.path());
  ASSERT_EQ(inv.config.warnings.size(), 1U);
  EXPECT_THAT(inv.config.warnings[0], HasSubstr(file.path() + " has no settings"));
  EXPECT_THAT(inv.config.warnings[0], HasSubstr("built-in defaults"));
}

TEST(ConfigFileTest, CommentsOnlyFileAtStartMeansDefaultsWithAWarning) {
  const TempFile file("# rdns-milter configuration\n\n   \n\t# everything commented out\n");
  const auto inv = parse_arguments({"--config", file.path()}, Purpose::start);
  expect_defaults_from(inv.config, file.path());
  ASSERT_EQ(inv.config.warnings.size(), 1U);
  EXPECT_THAT(inv.config.warnings[0], HasSubstr(file.path() + " has no settings"));
}

TEST(ConfigFileTest, EmptyFileAtStartStillTakesTheCommandLine) {
  const TempFile file("");
  const auto inv = parse({"--config", file.path(), "--dry-run", "yes"});
  EXPECT_TRUE(inv.config.policy.dry_run);
  EXPECT_EQ(inv.config.warnings.size(), 1U);
}

TEST(ConfigFileTest, FileWithSettingsHasNoEmptyFileWarning) {
  const TempFile file("# only the default value\ndry-run = no\n");
  EXPECT_TRUE(parse({"--config", file.path()}).config.warnings.empty());
}

/// The ConfigError message of parsing `args` for a reload; a test failure if it does not throw.
std::string reload_error_of(const std::vector<std::string>& args) {
  try {
    (void)parse_arguments(args, Purpose::reload);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "the reload was not refused";
  return {};
}

TEST(ConfigFileTest, EmptyFileAtReloadIsRefused) {
  const TempFile file("");
  EXPECT_EQ(reload_error_of({"--config", file.path()}),
            file.path() + " has no settings (empty or still being written)");
}

TEST(ConfigFileTest, CommentsOnlyFileAtReloadIsRefused) {
  const TempFile file("# rdns-milter configuration\n\n");
  EXPECT_EQ(reload_error_of({"--config", file.path()}),
            file.path() + " has no settings (empty or still being written)");
}

TEST(ConfigFileTest, EmptyFileAtReloadIsRefusedWhateverTheCommandLine) {
  const TempFile file("");
  EXPECT_THAT(reload_error_of({"--config", file.path(), "--dry-run", "yes"}),
              HasSubstr("has no settings"));
}

TEST(ConfigFileTest, FileWithSettingsIsAcceptedAtReload) {
  TempFile file("dry-run = yes\niprev-no-ptr = tag\n");
  const std::vector<std::string> args = {"--config", file.path()};
  const auto reloaded = parse_arguments(args, Purpose::reload);
  EXPECT_TRUE(reloaded.config.policy.dry_run);
  EXPECT_EQ(reloaded.config.policy.iprev.no_ptr.action, Action::tag);
  EXPECT_TRUE(reloaded.config.warnings.empty());

  // Truncated, then written again: refused while empty, accepted once it has settings.
  std::ofstream(file.path(), std::ios::trunc).close();
  EXPECT_THAT(reload_error_of(args), HasSubstr("has no settings"));
  std::ofstream(file.path()) << "dry-run = no\n";
  EXPECT_FALSE(parse_arguments(args, Purpose::reload).config.policy.dry_run);
}

TEST(ConfigTest, ParseCommandLineDropsArgv0) {
  const auto inv = parse({"--check", "192.0.2.7"});
  EXPECT_THAT(inv.args, ElementsAre("--check", "192.0.2.7"));
}

TEST(ConfigFileTest, CheckModeReadsTheFileToo) {
  const TempFile file("iprev-no-ptr = tag\n");
  const auto inv = parse({"--config", file.path(), "--check", "192.0.2.7"});
  EXPECT_EQ(inv.mode, Invocation::Mode::check);
  EXPECT_EQ(inv.config.policy.iprev.no_ptr.action, Action::tag);
}

// ---- file errors name the file and the line ------------------------------------------------

TEST(ConfigFileLineTest, BadValueNamesFileLineOptionAndValue) {
  const TempFile file("# comment\n\niprev-no-ptr = bogus\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":3: option 'iprev-no-ptr': invalid value 'bogus'"));
}

TEST(ConfigFileLineTest, UnknownOptionNamesTheLine) {
  const TempFile file("dry-run = yes\nno-such-key = 1\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":2: unknown option 'no-such-key' (value '1')"));
}

TEST(ConfigFileLineTest, LineWithoutEqualsIsASyntaxError) {
  const TempFile file("dry-run = yes\njust some words\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":2: expected 'name = value', found 'just some words'"));
  const TempFile no_name("= yes\n");
  EXPECT_THAT(error_of({"--config", no_name.path()}), HasSubstr(no_name.path() + ":1: expected"));
}

TEST(ConfigFileLineTest, OptionSetTwiceNamesBothLines) {
  const TempFile file("dry-run = yes\n# again\ndry-run = no\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":3: option 'dry-run' is already set on line 1"));
}

TEST(ConfigFileLineTest, CommandLineOnlyOptionsAreRefusedInTheFile) {
  for (const std::string key : {"config-test", "check", "config", "version", "help", "json"}) {
    const TempFile file("dry-run = yes\n" + key + " = 1\n");
    EXPECT_THAT(error_of({"--config", file.path()}),
                HasSubstr(file.path() + ":2: option '" + key + "' belongs on the command line"));
  }
}

TEST(ConfigFileLineTest, FileValueOverriddenOnTheCommandLineIsStillValidated) {
  const TempFile file("dry-run = yes\niprev-no-ptr = bogus\n");
  EXPECT_THAT(error_of({"--config", file.path(), "--iprev-no-ptr", "tag"}),
              HasSubstr(file.path() + ":2: option 'iprev-no-ptr': invalid value 'bogus'"));
  const TempFile good("iprev-no-ptr = tempfail\n");
  EXPECT_EQ(
      parse({"--config", good.path(), "--iprev-no-ptr", "tag"}).config.policy.iprev.no_ptr.action,
      Action::tag);
}

TEST(ConfigFileLineTest, CommandLineErrorsSayCommandLine) {
  EXPECT_THAT(error_of({"--socket-mode", "999"}),
              HasSubstr("command line: option 'socket-mode': invalid value '999'"));
}

TEST(ConfigFileLineTest, AllowFileErrorNamesTheOptionLineAndTheFileLine) {
  const TempFile addresses("192.0.2.7\nnot-an-address\n");
  const TempFile file("dry-run = yes\nallow-address-file = " + addresses.path() + "\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":2: option 'allow-address-file': " + addresses.path() +
                        ":2: invalid address or CIDR 'not-an-address'"));
}

TEST(ConfigFileLineTest, UnreadableResolverFilesNameTheLine) {
  const std::string missing =
      (std::filesystem::temp_directory_path() / "rdns-no-such-dir" / "unbound.conf").string();
  const TempFile file("unbound-config = " + missing + "\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":1: option 'unbound-config': cannot read '" + missing));
  EXPECT_THAT(error_of({"--trust-anchor-file", missing}),
              HasSubstr("command line: option 'trust-anchor-file': cannot read"));
}

TEST(ConfigFileLineTest, BadForwarderNamesTheLine) {
  const TempFile file("forwarder = 192.0.2.53\nforwarder = banana\n");
  EXPECT_THAT(error_of({"--config", file.path()}),
              HasSubstr(file.path() + ":1: option 'forwarder': invalid value 'banana'"));
  EXPECT_THAT(error_of({"--forwarder", "192.0.2.53@70000"}), HasSubstr("192.0.2.53@70000"));
  EXPECT_THAT(parse({"--forwarder", "2001:db8::53@5353"}).config.resolver.forwarders,
              ElementsAre("2001:db8::53@5353"));
}

// ---- sockets and privileges ------------------------------------------------------------------

TEST(ConfigTest, SocketSyntax) {
  for (const std::string good : {"unix:/run/rdns-milter/rdns-milter.sock", "local:/tmp/m.sock",
                                 "inet:8894@127.0.0.1", "inet:8894", "inet:25@localhost",
                                 "inet6:8894@::1", "inet6:8894@[::1]", "inet:8894@[127.0.0.1]"}) {
    EXPECT_EQ(parse({"--socket", good}).config.socket, good);
  }
  for (const std::string& bad : std::vector<std::string>{
           "unix:relative.sock", "unix:", "unix:/run/dir/", "inet:0@127.0.0.1",
           "inet:99999@127.0.0.1", "inet:smtp@127.0.0.1", "inet6:8894@127.0.0.1", "inet:8894@::1",
           "inet:8894@bad_host", "tcp:25", "/run/x.sock", "unix:/" + std::string(120, 'x')}) {
    const auto message = error_of({"--socket", bad});
    EXPECT_THAT(message, HasSubstr("option 'socket': invalid value '" + bad + "'")) << bad;
  }
}

TEST(ConfigTest, PrivilegeOptions) {
  const auto inv = parse({"--user", "nobody", "--group", "nogroup", "--socket", "unix:/tmp/m.sock",
                          "--socket-mode", "0640", "--socket-group", "nogroup", "--pid-file",
                          "/run/rdns-milter/rdns-milter.pid"});
  const Config& c = inv.config;
  EXPECT_EQ(c.user, "nobody");
  EXPECT_EQ(c.group, "nogroup");
  EXPECT_EQ(c.socket_mode, 0640U);
  EXPECT_EQ(c.socket_group, "nogroup");
  EXPECT_EQ(c.pid_file, "/run/rdns-milter/rdns-milter.pid");
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(parse({"--socket-mode", "660"}).config.socket_mode, 0660U) << "octal without 0";
  const Config standard;
  EXPECT_EQ(standard.socket_mode, 0660U);
  EXPECT_EQ(standard.user, "");
  EXPECT_EQ(standard.pid_file, "");
}

TEST(ConfigTest, BadPrivilegeOptionsAreNamed) {
  EXPECT_THAT(error_of({"--user", "no-such-user-rdns"}),
              HasSubstr("option 'user': invalid value 'no-such-user-rdns' (no such user)"));
  EXPECT_THAT(error_of({"--group", "no-such-group-rdns"}),
              HasSubstr("option 'group': invalid value 'no-such-group-rdns' (no such group)"));
  EXPECT_THAT(error_of({"--socket-group", "no-such-group-rdns"}),
              HasSubstr("option 'socket-group': invalid value 'no-such-group-rdns'"));
  for (const std::string mode : {"888", "01000", "rw-rw----", "", "-1"}) {
    EXPECT_THAT(error_of({"--socket-mode", mode}), HasSubstr("option 'socket-mode'")) << mode;
  }
  EXPECT_THAT(error_of({"--pid-file", "run/rdns.pid"}), HasSubstr("option 'pid-file'"));
}

TEST(ConfigTest, SocketModeOnAnInetSocketIsAWarning) {
  const auto inv = parse({"--socket", "inet:8894@127.0.0.1", "--socket-mode", "0600"});
  ASSERT_EQ(inv.config.warnings.size(), 1U);
  EXPECT_THAT(inv.config.warnings[0], HasSubstr("unix sockets only"));
}

TEST(ConfigFileTest, EmptyValuesMeanTheDefault) {
  const TempFile file(
      "user =\ngroup =\nsocket-group =\npid-file =\nunbound-config =\nforwarder =\n"
      "allow-address-file =\nallow-domain-file =\nhelo-own-names =\nauthserv-id =\n");
  const auto inv = parse({"--config", file.path()});
  Config expected = defaults();
  expected.config_file = file.path();
  EXPECT_EQ(inv.config, expected);
}

// ---- --config-test ---------------------------------------------------------------------------

TEST(ConfigTestMode, FlagsSelectTheMode) {
  const TempFile file("dry-run = yes\n");
  const auto inv = parse({"--config-test", "--config", file.path()});
  EXPECT_EQ(inv.mode, Invocation::Mode::config_test);
  EXPECT_FALSE(inv.all_settings);
  EXPECT_TRUE(parse({"-n", "--all", "--config", file.path()}).all_settings);
}

TEST(ConfigTestMode, DefaultsPrintNothingAndChangesPrintTheirLines) {
  EXPECT_EQ(describe_settings(defaults(), false), "");
  const TempFile file(
      "socket-mode = 640\ndry-run = yes\nforwarder = 192.0.2.53\nforwarder = 192.0.2.54@5353\n"
      "iprev-no-ptr-reply = 550 5.7.25 go away %{ip}\n");
  const auto inv = parse({"--config-test", "--config", file.path(), "--query-timeout", "1.5"});
  EXPECT_EQ(describe_settings(inv.config, false),
            "socket-mode = 0640\n"
            "forwarder = 192.0.2.53\n"
            "forwarder = 192.0.2.54@5353\n"
            "query-timeout = 1.5\n"
            "iprev-no-ptr-reply = 550 5.7.25 go away %{ip}\n"
            "dry-run = yes\n");
}

TEST(ConfigTestMode, AllSettingsReadBackAsTheSameConfiguration) {
  const TempFile addresses("192.0.2.7\n");
  const auto changed = parse({"--socket",
                              "unix:/tmp/m.sock",
                              "--user",
                              "nobody",
                              "--socket-mode",
                              "0600",
                              "--forwarder",
                              "192.0.2.53",
                              "--query-timeout",
                              "0.25",
                              "--helo-syntax",
                              "tag",
                              "--spf-fail-reply",
                              "550 5.7.23 no %{ip}",
                              "--trusted-networks",
                              "192.0.2.0/24 2001:db8::/32",
                              "--exempt-recipients",
                              "postmaster abuse@example.org",
                              "--allow-address-file",
                              addresses.path(),
                              "--helo-own-names",
                              "mx.example.org",
                              "--authserv-id",
                              "mx.example.org",
                              "--decision-stage",
                              "mail"})
                           .config;
  const auto all = describe_settings(changed, true);
  for (const auto& setting : settings_of(defaults())) {
    EXPECT_THAT("\n" + all, HasSubstr("\n" + setting.name + " =")) << setting.name;
  }
  const TempFile file("# from --config-test --all\n" + all);
  auto read_back = parse({"--config", file.path()}).config;
  read_back.config_file.clear();
  EXPECT_EQ(read_back, changed);
}

}  // namespace
}  // namespace rdns::config
