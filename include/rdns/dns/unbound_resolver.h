#pragma once
/// Resolver backed by libunbound: one validating, caching context for the whole process.

#include <memory>
#include <string>

#include "rdns/dns/resolver.h"
#include "rdns/dns/resolver_config.h"

namespace rdns::dns {

/// libunbound-backed Resolver with its own event thread and per-query deadlines.
/// Thread-safe: any thread may call resolve_async.
class UnboundResolver final : public Resolver {
 public:
  /// Creates the context; throws std::runtime_error naming the problem (bad forwarder, unreadable
  /// unbound-config, trust anchor...).
  explicit UnboundResolver(const ResolverConfig& config);
  ~UnboundResolver() override;

  void resolve_async(const std::string& name, RrType type, QueryOptions options,
                     Callback done) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdns::dns
