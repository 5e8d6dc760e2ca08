// The RFC 7208 test suite (openspf.org, release 2014.04; BSD licence beside the YAML) through
// the real check_spf. Each scenario's zonedata is served by a ZoneResolver that answers like the
// suite's reference driver. The suite's path comes from RDNS_SPF_SUITE (set by meson). Each case is
// its own test, SpfConformance/Rfc7208.Case/<scenario>_<name>.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "rdns/checks/spf.h"
#include "rdns/dns/ip_address.h"
#include "zone_resolver.h"

namespace rdns::checks {
namespace {

/// Cases that cannot pass because of libspf2 itself, with the reason. Asserted exactly: a new
/// failure and a new pass both fail the test, so this list stays true.
const std::map<std::string, std::string> kKnownDeviations = {};

/// The suite's expected explanation for "no exp= applies" (the driver's default explanation).
constexpr std::string_view kDefaultExplanation = "DEFAULT";

struct Case {
  std::string scenario;
  std::string name;
  std::string helo;
  std::string host;
  std::string mailfrom;
  std::set<std::string> results;
  std::optional<std::string> explanation;
  std::shared_ptr<spftest::ZoneResolver> zone;  // the scenario's zonedata, shared by its cases
};

/// gtest names the case with this rather than dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name << " (" << c.scenario << ")";
}

std::string scalar(const YAML::Node& node) {
  return node.IsDefined() ? node.as<std::string>() : "";
}

/// Loads one scenario's zonedata the way the reference driver does: SPF records are copied to
/// TXT unless the name has a TXT entry of its own (TXT: NONE suppresses the copy).
void load_zone(const YAML::Node& zonedata, spftest::ZoneResolver& zone, std::string& error) {
  for (const auto& item : zonedata) {
    const std::string name = item.first.as<std::string>();
    zone.touch(name);
    bool has_txt = false;
    std::vector<std::vector<std::string>> spf;
    for (const auto& entry : item.second) {
      if (entry.IsScalar()) {
        if (entry.as<std::string>() == "TIMEOUT") {
          zone.timeout(name);
        }
        continue;
      }
      for (const auto& field : entry) {
        const std::string type = field.first.as<std::string>();
        const YAML::Node& value = field.second;
        auto strings = [&value] {
          std::vector<std::string> out;
          if (value.IsSequence()) {
            for (const auto& s : value) out.push_back(s.as<std::string>());
          } else {
            out.push_back(value.as<std::string>());
          }
          return out;
        };
        if (type == "TXT") {
          has_txt = true;
          if (!(value.IsScalar() && value.as<std::string>() == "NONE")) {
            zone.txt_strings(name, strings());
          }
        } else if (type == "SPF") {
          spf.push_back(strings());  // type 99 itself is never asked
        } else if (type == "A") {
          zone.a(name, value.as<std::string>());
        } else if (type == "AAAA") {
          zone.aaaa(name, value.as<std::string>());
        } else if (type == "PTR") {
          zone.ptr(name, value.as<std::string>());
        } else if (type == "CNAME") {
          zone.cname(name, value.as<std::string>());
        } else if (type == "MX") {
          zone.mx(name, value[0].as<std::uint16_t>(), value[1].as<std::string>());
        } else {
          error += "unknown record type " + type + " at " + name + "\n";
        }
      }
    }
    if (!has_txt) {
      for (const auto& strings : spf) zone.txt_strings(name, strings);
    }
  }
}

std::string suite_path() {
  const char* path = std::getenv("RDNS_SPF_SUITE");
  return path != nullptr ? path : "";
}

/// Every case of the suite, read once when the tests are registered. Problems reading it end up
/// in Suite::error, asserted by SpfConformance.Suite.
struct Suite {
  std::vector<Case> cases;
  std::string error;
};

Suite load_suite() {
  Suite suite;
  const std::string path = suite_path();
  if (path.empty()) {
    suite.error = "RDNS_SPF_SUITE is not set; run this test through meson";
    return suite;
  }
  if (!std::filesystem::exists(path)) {
    suite.error = "the RFC 7208 test suite is missing: " + path +
                  " (the shared/ directory must sit beside the repository)";
    return suite;
  }
  try {
    for (const auto& doc : YAML::LoadAllFromFile(path)) {
      auto zone = std::make_shared<spftest::ZoneResolver>();
      load_zone(doc["zonedata"], *zone, suite.error);
      const std::string scenario = scalar(doc["description"]);
      for (const auto& item : doc["tests"]) {
        Case c;
        c.scenario = scenario;
        c.name = item.first.as<std::string>();
        const YAML::Node& t = item.second;
        c.helo = scalar(t["helo"]);
        c.host = scalar(t["host"]);
        c.mailfrom = scalar(t["mailfrom"]);
        if (t["result"].IsSequence()) {
          for (const auto& r : t["result"]) c.results.insert(r.as<std::string>());
        } else {
          c.results.insert(t["result"].as<std::string>());
        }
        if (t["explanation"]) {
          c.explanation = t["explanation"].as<std::string>();
        }
        c.zone = zone;
        suite.cases.push_back(std::move(c));
      }
    }
  } catch (const YAML::Exception& e) {
    suite.error += std::string("cannot read ") + path + ": " + e.what();
  }
  return suite;
}

const Suite& suite() {
  static const Suite loaded = load_suite();
  return loaded;
}

/// "<scenario>_<test name>" with every run of other characters turned into one '_'.
std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string out;
  for (const char ch : info.param.scenario + " " + info.param.name) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0) {
      out += ch;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

TEST(SpfConformance, Suite) {
  ASSERT_EQ(suite().error, "");
  EXPECT_EQ(suite().cases.size(), 203U) << "the suite should hold 203 test cases";
  for (const auto& [name, reason] : kKnownDeviations) {
    EXPECT_TRUE(std::any_of(suite().cases.begin(), suite().cases.end(),
                            [&name = name](const Case& c) { return c.name == name; }))
        << "known deviation " << name << " is not a case of the suite";
  }
}

class Rfc7208 : public testing::TestWithParam<Case> {};

// A case listed in kKnownDeviations must fail and every other case must pass, so both a new
// failure and a new pass fail a test and the list stays true.
TEST_P(Rfc7208, Case) {
  const Case& c = GetParam();
  const auto client = dns::IpAddress::parse(c.host);
  ASSERT_TRUE(client.has_value()) << c.name << ": bad host " << c.host;
  SpfRequest request;
  request.client = *client;
  request.helo = c.helo;
  request.mail_from = c.mailfrom;
  request.identity = SpfIdentity::mailfrom;
  const Spf spf = check_spf(*c.zone, request);

  const std::string result(to_string(spf.result));
  bool ok = c.results.count(result) > 0;
  std::string want_exp;
  if (c.explanation) {
    want_exp = *c.explanation == kDefaultExplanation ? "" : *c.explanation;
    ok = ok && spf.explanation == want_exp;
  }
  std::ostringstream report;
  report << c.name << " (" << c.scenario << "): got " << result;
  if (!spf.problem.empty()) report << " [" << spf.problem << "]";
  report << ", want";
  for (const auto& r : c.results) report << " " << r;
  if (c.explanation) {
    report << "; explanation got '" << spf.explanation << "' want '" << want_exp << "'";
  }
  const auto deviation = kKnownDeviations.find(c.name);
  if (deviation == kKnownDeviations.end()) {
    EXPECT_TRUE(ok) << report.str();
  } else {
    EXPECT_FALSE(ok) << report.str() << ": passes, but is listed as a known deviation ("
                     << deviation->second << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(SpfConformance, Rfc7208, testing::ValuesIn(suite().cases), case_name);
// No cases when the suite cannot be read: SpfConformance.Suite then says why.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Rfc7208);

}  // namespace
}  // namespace rdns::checks
