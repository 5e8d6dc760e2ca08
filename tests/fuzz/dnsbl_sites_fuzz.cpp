// libFuzzer target: the DNS list site syntax (dnsbl-sites, rhsbl-sites) must never crash; what
// it accepts has a valid zone, a non-zero bounded weight and a canonical form that reads back
// as the same site; what it refuses says what was expected. Scoring any answer stays bounded.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "rdns/checks/dnsbl.h"

using rdns::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<rdns::checks::DnsblSite> sites;
  for (const auto& item : rdns::checks::split_dnsbl_sites(text)) {
    const auto parsed = rdns::checks::parse_dnsbl_site(item);
    if (!parsed.site) {
      require(!parsed.error.empty());
      require(parsed.error.find("expected domain[=d.d.d.d][*weight]") != std::string::npos);
      continue;
    }
    const auto& site = *parsed.site;
    require(!site.domain.empty() && site.domain.size() <= 253);
    require(rdns::fuzz::printable(site.domain) && rdns::fuzz::printable(site.text));
    require(site.weight != 0 && site.weight >= -1000 && site.weight <= 1000);
    const auto again = rdns::checks::parse_dnsbl_site(site.text);
    require(again.site.has_value() && *again.site == site);
    sites.push_back(site);
  }
  // Every site against a few answers, including error codes: the score is the hits' sum.
  static const char* const answers[] = {"127.0.0.2", "127.0.0.4", "127.0.1.2", "127.255.255.254",
                                        "192.0.2.1"};
  std::vector<rdns::checks::DnsblLookup> lookups;
  for (const auto& site : sites) {
    rdns::checks::DnsblLookup lookup;
    lookup.zone = site.domain;
    lookup.query = "7.2.0.192." + site.domain;
    lookup.a.outcome = rdns::dns::Outcome::ok;
    lookup.a.addresses.push_back(
        *rdns::dns::IpAddress::parse(answers[lookup.query.size() % std::size(answers)]));
    lookups.push_back(lookup);
  }
  const auto result = rdns::checks::decide_dnsbl(sites, {}, lookups, {}, {});
  int sum = 0;
  for (const auto& hit : result.hits) {
    require(!hit.answer.empty());
    sum += hit.weight;
  }
  require(sum == result.score);
  return 0;
}
