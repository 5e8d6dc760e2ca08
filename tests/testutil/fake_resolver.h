#pragma once
/// A scripted rdns::dns::Resolver for unit tests: table answers, a query log, an authoritative
/// table for cache-bypassing queries and deferred (reorderable, cross-thread) callbacks.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/authority_probe.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"

namespace rdns::testutil {

/// One question the fake was asked, exactly as asked.
struct Query {
  std::string name;
  dns::RrType type = dns::RrType::a;
  bool bypass_cache = false;

  bool operator==(const Query&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Query& query);

/// Parses an address or aborts the test program (test data is never invalid on purpose here).
[[nodiscard]] dns::IpAddress ip(std::string_view text);

/// A NOERROR PTR answer for `owner` listing `targets` (kept exactly as given).
[[nodiscard]] dns::Answer ptr_answer(std::string_view owner, std::vector<std::string> targets,
                                     std::uint32_t ttl = 3600);
/// A NOERROR A answer for `name` with `addresses` (IPv4 text).
[[nodiscard]] dns::Answer a_answer(std::string_view name,
                                   std::initializer_list<std::string_view> addresses,
                                   std::uint32_t ttl = 3600);
/// A NOERROR AAAA answer for `name` with `addresses` (IPv6 text).
[[nodiscard]] dns::Answer aaaa_answer(std::string_view name,
                                      std::initializer_list<std::string_view> addresses,
                                      std::uint32_t ttl = 3600);
/// A failed or negative answer (nxdomain, nodata, servfail, timeout, bogus) with the fields a
/// real resolver fills in for it (error text, why_bogus, security).
[[nodiscard]] dns::Answer failure_answer(std::string_view name, dns::RrType type,
                                         dns::Outcome outcome);
/// `answer` with its security set.
[[nodiscard]] dns::Answer with_security(dns::Answer answer, dns::Security security);

/// Fake resolver. Answers come from tables keyed by (normalized name, type); unknown names get
/// NXDOMAIN. Queries with bypass_cache consult the authoritative table first, then the normal one,
/// and their answers carry `confirmed = true`. Thread-safe; callbacks never run under its lock.
class FakeResolver final : public dns::Resolver {
 public:
  /// Consulted before the tables; returning nullopt falls through to them.
  using Handler = std::function<std::optional<dns::Answer>(const Query&)>;

  FakeResolver() = default;
  ~FakeResolver() override = default;
  FakeResolver(const FakeResolver&) = delete;
  FakeResolver& operator=(const FakeResolver&) = delete;
  FakeResolver(FakeResolver&&) = delete;
  FakeResolver& operator=(FakeResolver&&) = delete;

  /// The answer (possibly stale, from cache) for answer.name/answer.type; replaces any earlier.
  void add(dns::Answer answer);
  /// The authoritative answer, seen only by bypass_cache queries; replaces any earlier.
  void add_authoritative(dns::Answer answer);
  /// Removes everything added with add()/add_authoritative().
  void clear_tables();
  /// Installs a handler consulted before the tables (empty function to remove it).
  void set_handler(Handler handler);

  /// In deferred mode callbacks are queued until released; otherwise they run inside
  /// resolve_async before it returns.
  void set_deferred(bool deferred);

  void resolve_async(const std::string& name, dns::RrType type, dns::QueryOptions options,
                     Callback done) override;

  /// Every query asked so far, in order.
  [[nodiscard]] std::vector<Query> queries() const;
  /// The answers handed out for those queries, same order.
  [[nodiscard]] std::vector<dns::Answer> answers() const;
  /// How many queries matched `type` and `bypass_cache`.
  [[nodiscard]] std::size_t count(dns::RrType type, bool bypass_cache) const;
  /// How many asked with bypass_cache.
  [[nodiscard]] std::size_t bypass_count() const;
  /// Forgets the query log (tables stay).
  void clear_log();

  /// Deferred callbacks not yet released.
  [[nodiscard]] std::size_t pending() const;
  /// The queries of the pending callbacks, oldest first.
  [[nodiscard]] std::vector<Query> pending_queries() const;
  /// Releases the pending callback at `index` (0 = oldest); false if there is none.
  bool release(std::size_t index);
  /// Releases the oldest pending callback; false if there is none.
  bool release_first();
  /// Releases the newest pending callback; false if there is none.
  bool release_last();
  /// Releases oldest-first until nothing is pending (including callbacks queued meanwhile).
  void release_all();
  /// Releases newest-first until nothing is pending.
  void release_all_reversed();
  /// Releases in a pseudo-random order (deterministic for a seed) until nothing is pending.
  void release_all_shuffled(std::uint32_t seed);
  /// Runs release_all() on a new thread and joins it.
  void release_all_on_other_thread();
  /// Releases from `threads` threads at once until nothing is pending.
  void release_all_concurrently(unsigned threads);

 private:
  struct Pending {
    Query query;
    dns::Answer answer;
    Callback done;
  };
  using Key = std::pair<std::string, dns::RrType>;

  [[nodiscard]] dns::Answer lookup_locked(const Query& query) const;
  std::optional<Pending> take(std::size_t index, bool from_back);

  mutable std::mutex mutex_;
  std::map<Key, dns::Answer> cached_;
  std::map<Key, dns::Answer> authoritative_;
  Handler handler_;
  bool deferred_ = false;
  std::vector<Query> queries_;
  std::vector<dns::Answer> answers_;
  std::vector<Pending> pending_;
};

/// Fake authority probe over a FakeResolver: each probe is one bypass_cache query (the fake's
/// authoritative table, then its normal one), given as one zone "fake.test" with one server
/// "ns.fake.test" 192.0.2.53 that answers with AA (a temporary failure: it did not respond).
/// A result set with set_result is returned instead, as given. Thread-safe.
class FakeAuthorityProbe final : public dns::AuthorityProbe {
 public:
  explicit FakeAuthorityProbe(FakeResolver& resolver) : resolver_(resolver) {}

  void probe_async(const std::string& name, dns::RrType type, Callback done) override;
  /// A canned result for (name, type), replacing the resolver-backed one.
  void set_result(dns::ProbeResult result);
  /// How many probes were asked.
  [[nodiscard]] std::size_t probes() const;

 private:
  FakeResolver& resolver_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, dns::RrType>, dns::ProbeResult> results_;  // by mutex_
  std::size_t probes_ = 0;                                                   // by mutex_
};

/// One authoritative server's answer for a canned ProbeResult.
[[nodiscard]] dns::ServerAnswer server_answer(std::string address, dns::Answer answer,
                                              bool aa = true);
/// A server that did not respond ("timeout").
[[nodiscard]] dns::ServerAnswer silent_server(std::string address);
/// A one-step ProbeResult for `name`/`type` in `zone` with `servers`.
[[nodiscard]] dns::ProbeResult probe_result(std::string_view name, dns::RrType type,
                                            std::string zone,
                                            std::vector<dns::ServerAnswer> servers);

}  // namespace rdns::testutil
