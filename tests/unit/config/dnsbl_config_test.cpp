// The DNS list options: defaults, values, every refusal naming FILE:LINE, the option, the entry
// and what was expected, and --config-test's round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rdns/config/config.h"

namespace rdns::config {
namespace {

using ::testing::HasSubstr;

/// A config file that sets nothing of interest (so that no default file is read).
std::string plain_file() {
  static const std::string path = [] {
    const auto file = std::filesystem::temp_directory_path() /
                      ("rdns-dnsbl-plain-" + std::to_string(getpid()) + ".conf");
    std::ofstream(file) << "socket = inet:8894@127.0.0.1\n";
    return file.string();
  }();
  return path;
}

Config parse(const std::vector<std::string>& args) {
  return parse_arguments(args).config;
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    (void)parse_arguments(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(DnsblConfig, DefaultsAreNoListsAndPostscreensThreshold) {
  const auto config = defaults();
  EXPECT_TRUE(config.dnsbl.sites.empty());
  EXPECT_TRUE(config.dnsbl.rhsbl.empty());
  EXPECT_FALSE(config.dnsbl.any());
  EXPECT_EQ(config.dnsbl.scoring.threshold, 1);
  EXPECT_EQ(config.dnsbl.scoring.allowlist_threshold, 0);
  EXPECT_EQ(config.dnsbl.error_pause, 300U);
  EXPECT_EQ(config.dnsbl.health_interval, 600U);
  EXPECT_FALSE(config.policy.dnsbl.tempfail_on_error);
  EXPECT_EQ(config.policy.dnsbl.listed.action, policy::Action::reject);
  EXPECT_EQ(config.policy.dnsbl.listed.reply.code, "554");
  EXPECT_EQ(config.policy.dnsbl.listed.reply.enhanced, "5.7.1");
}

TEST(DnsblConfig, ReadsEveryOption) {
  const auto config = parse({"--config",
                             plain_file(),
                             "--dnsbl-sites",
                             "zen.spamhaus.org=127.0.0.[2..11]*3, bl.spamcop.net*2, "
                             "list.dnswl.org=127.0.[0..255].[1..3]*-5",
                             "--rhsbl-sites",
                             "dbl.spamhaus.org=127.0.1.[2..99]",
                             "--dnsbl-threshold",
                             "3",
                             "--dnsbl-allowlist-threshold",
                             "-5",
                             "--dnsbl-reply-map",
                             "KEY.zen.dq.spamhaus.net=zen.spamhaus.org",
                             "--dnsbl-error-codes",
                             "127.0.0.10, 127.1.0.0/16",
                             "--dnsbl-error-pause",
                             "60",
                             "--dnsbl-tempfail-on-error",
                             "--dnsbl-health-interval",
                             "0",
                             "--dnsbl-listed",
                             "tempfail",
                             "--dnsbl-listed-reply",
                             "450 4.7.1 listed by %{zone}"});
  ASSERT_EQ(config.dnsbl.sites.size(), 3U);
  EXPECT_EQ(config.dnsbl.sites[2].weight, -5);
  ASSERT_EQ(config.dnsbl.rhsbl.size(), 1U);
  EXPECT_EQ(config.dnsbl.rhsbl[0].domain, "dbl.spamhaus.org");
  EXPECT_EQ(config.dnsbl.scoring.threshold, 3);
  EXPECT_EQ(config.dnsbl.scoring.allowlist_threshold, -5);
  EXPECT_EQ(config.dnsbl.scoring.reply_map, (std::vector<std::pair<std::string, std::string>>{
                                                {"key.zen.dq.spamhaus.net", "zen.spamhaus.org"}}));
  EXPECT_EQ(config.dnsbl.scoring.error_codes.extra.size(), 2U);
  EXPECT_EQ(config.dnsbl.error_pause, 60U);
  EXPECT_EQ(config.dnsbl.health_interval, 0U);
  EXPECT_TRUE(config.policy.dnsbl.tempfail_on_error);
  EXPECT_EQ(config.policy.dnsbl.listed.action, policy::Action::tempfail);
  EXPECT_EQ(config.policy.dnsbl.listed.reply.text, "listed by %{zone}");
  // --config-test prints what reads back as the same configuration.
  const auto text = describe_settings(config, false);
  EXPECT_THAT(text, HasSubstr("dnsbl-sites = zen.spamhaus.org=127.0.0.[2..11]*3, "
                              "bl.spamcop.net*2, list.dnswl.org=127.0.[0..255].[1..3]*-5\n"));
  std::vector<std::string> args{"--config", plain_file()};
  for (const auto& setting : settings_of(config)) {
    if (setting.name.rfind("dnsbl", 0) == 0 || setting.name.rfind("rhsbl", 0) == 0) {
      args.push_back("--" + setting.name);
      args.push_back(setting.value);
    }
  }
  EXPECT_EQ(parse(args).dnsbl, config.dnsbl);
}

TEST(DnsblConfig, ABadEntryNamesTheFileLineOptionEntryAndSyntax) {
  const auto path =
      std::filesystem::temp_directory_path() / ("rdns-dnsbl-" + std::to_string(getpid()) + ".conf");
  std::ofstream(path) << "# lists\nrhsbl-sites = dbl.example.org\n"
                         "dnsbl-sites = zen.spamhaus.org, bl.example=127.0.0.[2..300]*3\n";
  const auto message = error_of({"--config", path.string()});
  std::filesystem::remove(path);
  EXPECT_EQ(message, path.string() +
                         ":3: option 'dnsbl-sites': invalid entry 'bl.example=127.0.0.[2..300]*3': "
                         "range '2..300' needs two numbers from 0 to 255, as in 2..11; expected "
                         "domain[=d.d.d.d][*weight]");
}

TEST(DnsblConfig, RefusesBadValuesOfTheOtherOptions) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--rhsbl-sites", "dbl"}, "option 'rhsbl-sites': invalid entry 'dbl'"},
      {{"--dnsbl-threshold", "0"}, "option 'dnsbl-threshold': invalid value '0'"},
      {{"--dnsbl-threshold", "x"}, "expected a whole number from 1 to 10000"},
      {{"--dnsbl-allowlist-threshold", "2"}, "expected 0 (off) or a negative whole number"},
      {{"--dnsbl-reply-map", "zen.example"}, "expected zone=shown"},
      {{"--dnsbl-reply-map", "zen.example="}, "expected zone=shown"},
      {{"--dnsbl-error-codes", "127.0.0"}, "option 'dnsbl-error-codes': invalid value '127.0.0'"},
      {{"--dnsbl-error-codes", "::1"}, "expected an IPv4 address or CIDR"},
      {{"--dnsbl-error-pause", "-1"}, "option 'dnsbl-error-pause'"},
      {{"--dnsbl-health-interval", "1h"}, "option 'dnsbl-health-interval'"},
      {{"--dnsbl-tempfail-on-error", "maybe"}, "expected yes or no"},
      {{"--dnsbl-listed", "drop"}, "expected reject, tempfail, tag or ignore"},
      {{"--dnsbl-listed-reply", "250 ok"}, "option 'dnsbl-listed-reply'"},
  };
  for (const auto& [args, expected] : cases) {
    std::vector<std::string> all{"--config", plain_file()};
    all.insert(all.end(), args.begin(), args.end());
    EXPECT_THAT(error_of(all), HasSubstr(expected)) << args[0] << " " << args[1];
  }
}

}  // namespace
}  // namespace rdns::config
