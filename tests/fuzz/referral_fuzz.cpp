// libFuzzer target: referrals read from reply packets (wire format) and where they lead. Any
// packet gives a referral or none, never a crash; a referral has NS names, sorted and unique,
// and glue only for them; next_step never follows a referral that does not lead down.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "rdns/dns/name.h"
#include "rdns/dns/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto referral = rdns::dns::parse_referral(std::span(data, size));
  if (!referral) return 0;
  const auto& ns = referral->ns;
  rdns::fuzz::require(!ns.empty() && std::is_sorted(ns.begin(), ns.end()) &&
                      std::adjacent_find(ns.begin(), ns.end()) == ns.end());
  for (const auto& [name, address] : referral->glue) {
    rdns::fuzz::require(std::binary_search(ns.begin(), ns.end(), name) && !address.empty());
  }
  rdns::dns::TraceZone zone;
  zone.zone = "arpa";
  zone.name = "7.2.0.192.in-addr.arpa";
  rdns::dns::ServerAnswer reply;
  reply.responded = true;
  reply.rcode = 0;
  zone.servers.push_back({reply, referral});
  const auto step = rdns::dns::next_step(zone);
  if (step.kind == rdns::dns::TraceStepKind::referral) {
    rdns::fuzz::require(rdns::dns::at_or_below(zone.name, step.referral.zone) &&
                        step.referral.zone != "arpa" &&
                        rdns::dns::at_or_below(step.referral.zone, "arpa"));
  }
  return 0;
}
