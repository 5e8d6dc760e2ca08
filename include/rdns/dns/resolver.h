#pragma once
/// The one DNS seam: checks ask a Resolver; production uses UnboundResolver, tests a fake.

#include <functional>
#include <string>

#include "rdns/dns/answer.h"

namespace rdns::dns {

struct QueryOptions {
  /// Answer from the authoritative servers, not from any cache (confirm-before-reject).
  bool bypass_cache = false;
};

/// Asynchronous DNS resolution.
class Resolver {
 public:
  using Callback = std::function<void(Answer)>;

  Resolver() = default;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;
  Resolver(Resolver&&) = delete;
  Resolver& operator=(Resolver&&) = delete;
  virtual ~Resolver() = default;

  /// Starts a query. `done` runs exactly once, possibly on another thread, possibly before
  /// this call returns; it may start further queries.
  virtual void resolve_async(const std::string& name, RrType type, QueryOptions options,
                             Callback done) = 0;

  /// Forgets answers remembered in front of the resolver's cache (a reload); the default has
  /// none.
  virtual void forget_answers() {}

  /// Blocking helper: starts the query and waits for its answer.
  [[nodiscard]] Answer resolve(const std::string& name, RrType type, QueryOptions options = {});
};

}  // namespace rdns::dns
