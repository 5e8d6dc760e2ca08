#pragma once
/// Resolver backed by libunbound: one validating, caching context for the whole process.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "rdns/dns/resolver.h"
#include "rdns/dns/resolver_config.h"

namespace rdns::dns {

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

  /// Empties the answer memo (libunbound's own cache stays, as on any reload that keeps it).
  void forget_answers() override;

  /// How many times the main context was rebuilt because it was wedged.
  [[nodiscard]] std::uint64_t rebuilds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdns::dns
