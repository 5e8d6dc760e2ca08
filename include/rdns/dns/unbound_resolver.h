#pragma once
/// Resolver backed by libunbound: one validating, caching context for the whole process.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rdns/dns/resolver.h"

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

/// libunbound-backed Resolver with its own event thread and per-query deadlines.
/// Thread-safe: any thread may call resolve_async. A main context that fails every query for a
/// while although a fresh context gets answers is rebuilt (see ContextHealth).
class UnboundResolver final : public Resolver {
 public:
  /// Receives the resolver's log lines: a syslog priority and the text.
  using Logger = std::function<void(int priority, const std::string& line)>;

  /// Creates the context; throws std::runtime_error naming the problem (bad forwarder, unreadable
  /// unbound-config, trust anchor...). `log` may be empty.
  explicit UnboundResolver(const ResolverConfig& config, Logger log = {});
  ~UnboundResolver() override;

  void resolve_async(const std::string& name, RrType type, QueryOptions options,
                     Callback done) override;

  /// How many times the main context was rebuilt because it was wedged.
  [[nodiscard]] std::uint64_t rebuilds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdns::dns
