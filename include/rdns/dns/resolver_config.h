#pragma once
/// Resolver settings, kept apart from the libunbound adapter so config/ need not include it.

#include <chrono>
#include <string>
#include <vector>

namespace rdns::dns {

/// Resolver settings; each maps to an option of the same name (see config/).
struct ResolverConfig {
  /// Forward every query to these resolvers ("192.0.2.53" or "192.0.2.53@5353"); empty means
  /// full recursion from the root.
  std::vector<std::string> forwarders;
  /// An unbound.conf read with ub_ctx_config (stub zones, trust anchors, ...); empty for none.
  std::string unbound_config;
  /// Root trust anchor for DNSSEC validation; empty disables validation.
  std::string trust_anchor_file = "/usr/share/dns/root.key";
  std::chrono::milliseconds query_timeout{5000};
  unsigned cache_max_ttl = 86400;
  unsigned cache_max_negative_ttl = 300;

  bool operator==(const ResolverConfig&) const = default;
};

}  // namespace rdns::dns
