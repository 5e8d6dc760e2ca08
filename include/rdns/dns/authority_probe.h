#pragma once
/// Asking a name's authoritative servers directly (RD=0), past every cache: the evidence that
/// confirm-before-reject rests on. The types, the pure judgement and the interface need no ldns;
/// DirectAuthorityProbe (ldns, sockets, worker threads) is the production implementation.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/resolver.h"

namespace rdns::dns {

/// What one authoritative server said about the name, or why it said nothing.
struct ServerAnswer {
  std::string ns_name;  ///< the NS target, or "stub-addr" for a stub-zone address
  std::string address;  ///< "192.0.2.53", "2001:db8::53" or "127.0.0.1@5353"
  bool responded = false;
  int rcode = -1;    ///< RCODE of the reply (0 NOERROR, 3 NXDOMAIN, 5 REFUSED, ...)
  bool aa = false;   ///< the AA flag: the server is authoritative for the answer
  bool tcp = false;  ///< the UDP reply was truncated and the answer came over TCP
  Answer answer;     ///< the reply read as an answer to the question (parse_packet)
  std::chrono::milliseconds latency{0};
  std::string failure;  ///< "timeout", "connection refused", "question mismatch", ...

  /// Responded with AA and NOERROR or NXDOMAIN: an answer that counts.
  [[nodiscard]] bool authoritative() const { return responded && aa && (rcode == 0 || rcode == 3); }
  bool operator==(const ServerAnswer&) const = default;
};

/// The servers of one zone asked about one name.
struct ZoneProbe {
  std::string name;  ///< the name asked (a CNAME target after the first step)
  RrType type = RrType::ptr;
  std::string zone;        ///< the zone found to hold `name`; empty if none was
  bool from_stub = false;  ///< the addresses are an unbound.conf stub-zone's
  /// The resolver serves the zone itself (RFC 6303 default zones: NS localhost); its answer is
  /// the authoritative one.
  bool local_zone = false;
  std::vector<ServerAnswer> servers;  ///< one per address asked, at most the server limit
  std::string failure;                ///< why no server could be asked (no zone, no NS, ...)
  bool operator==(const ZoneProbe&) const = default;
};

/// Everything one probe found: one step per zone, following CNAMEs out of a zone (RFC 2317).
struct ProbeResult {
  std::string name;
  RrType type = RrType::ptr;
  std::vector<ZoneProbe> steps;
  bool operator==(const ProbeResult&) const = default;
};

/// What the authoritative view says about the name.
enum class ProbeVerdict : std::uint8_t {
  confirmed_negative,  ///< ≥1 authoritative answer, every one NXDOMAIN or NODATA
  has_record,          ///< some authoritative server publishes records of the type
  unconfirmed,         ///< no authoritative answer (unreachable, lame, CNAME chain too long)
};

/// The judgement of a ProbeResult.
struct Judgement {
  ProbeVerdict verdict = ProbeVerdict::unconfirmed;
  /// The authoritative view as an Answer for `name`/`type`, `confirmed` set: ok with the
  /// records (CNAME chain included), nxdomain/nodata with the zone's negative TTL, or servfail
  /// with `error` saying why nothing was confirmed.
  Answer answer;
  /// The zone's servers gave different answers (some negative, some with records, or records
  /// that differ): a secondary out of sync.
  bool servers_disagree = false;
  bool operator==(const Judgement&) const = default;
};

[[nodiscard]] std::string_view to_string(ProbeVerdict verdict);

/// Pure decision over the last step of `result`: has_record when any authoritative answer holds
/// records (the first such one is used); confirmed_negative when at least one server answered
/// with AA and every authoritative answer is NXDOMAIN or NODATA; unconfirmed otherwise,
/// including a last step whose answers are only a CNAME out of the zone.
[[nodiscard]] Judgement judge(const ProbeResult& result);

/// True when a server's answer is only a CNAME chain leaving its zone (NOERROR, the chain, no
/// records of the type and no SOA): the records are in another zone, to be probed in turn.
[[nodiscard]] bool leaves_zone(const Answer& answer);

/// One line about a probe: "2.0.192.in-addr.arpa: ns.example.net 192.0.2.53 AA NXDOMAIN 2 ms;
/// ...".
[[nodiscard]] std::string describe(const ProbeResult& result);

/// Asks the authoritative servers of a name directly.
class AuthorityProbe {
 public:
  using Callback = std::function<void(ProbeResult)>;

  AuthorityProbe() = default;
  AuthorityProbe(const AuthorityProbe&) = delete;
  AuthorityProbe& operator=(const AuthorityProbe&) = delete;
  AuthorityProbe(AuthorityProbe&&) = delete;
  AuthorityProbe& operator=(AuthorityProbe&&) = delete;
  virtual ~AuthorityProbe() = default;

  /// Starts a probe. `done` runs exactly once, possibly on another thread, possibly before
  /// this call returns.
  virtual void probe_async(const std::string& name, RrType type, Callback done) = 0;
};

/// A stub-zone of an unbound.conf: its name and stub-addr entries ("127.0.0.1@5353").
struct StubZone {
  std::string name;  ///< normalized (lower-case, no trailing dot; "." for the root)
  std::vector<std::string> addresses;
  bool operator==(const StubZone&) const = default;
};

/// The stub-zone clauses of an unbound.conf text (name and stub-addr; stub-host and include
/// are not followed). Comments and quotes are handled as unbound does.
[[nodiscard]] std::vector<StubZone> parse_stub_zones(std::string_view text);

/// The stub zones of the unbound.conf at `unbound_config` (empty path: none). Throws
/// std::runtime_error when the file cannot be read.
[[nodiscard]] std::vector<StubZone> read_stub_zones(const std::string& unbound_config);

/// Limits of the production probe.
struct ProbeLimits {
  std::chrono::milliseconds per_server{1500};  ///< UDP (and TCP after TC) per server
  std::chrono::milliseconds total{4000};       ///< one zone's discovery plus its servers
  std::size_t max_servers = 8;                 ///< addresses asked per zone
  std::size_t max_steps = 3;                   ///< zones followed through CNAMEs
  std::size_t workers = 4;                     ///< probes running at once
  std::size_t max_queued = 256;                ///< waiting probes; past that: unconfirmed
};

/// Production probe: finds the zone, its servers and their addresses through `resolver`
/// (positive NS/A/AAAA answers; a stub-zone's stub-addr wins), then asks every address with
/// RD=0 over UDP, TCP when truncated, all of them in parallel. Runs on its own worker threads.
class DirectAuthorityProbe final : public AuthorityProbe {
 public:
  /// `stubs` usually come from parse_stub_zones of the resolver's unbound-config.
  DirectAuthorityProbe(std::shared_ptr<Resolver> resolver, std::vector<StubZone> stubs,
                       ProbeLimits limits = {});
  ~DirectAuthorityProbe() override;

  void probe_async(const std::string& name, RrType type, Callback done) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Remembers judgements briefly so that a flood from one address does not probe per message:
/// a confirmed negative for min(max_age, its negative TTL), records for min(max_age, their
/// TTL), an unconfirmed result for min(max_age, 5 s). Concurrent probes of the same question
/// share one inner probe. At most `max_entries` are kept (expired and oldest go first).
class CachingAuthorityProbe final : public AuthorityProbe {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit CachingAuthorityProbe(std::shared_ptr<AuthorityProbe> inner,
                                 std::chrono::seconds max_age = std::chrono::seconds(60),
                                 std::size_t max_entries = 4096, Clock clock = {});
  ~CachingAuthorityProbe() override;

  void probe_async(const std::string& name, RrType type, Callback done) override;

  /// Results kept now (expired ones included until they are swept).
  [[nodiscard]] std::size_t size() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// The probe the daemon and --check use: a DirectAuthorityProbe over `resolver` with the stub
/// zones of `unbound_config` (a path; empty for none), behind a CachingAuthorityProbe. Throws
/// std::runtime_error when the file cannot be read.
[[nodiscard]] std::shared_ptr<AuthorityProbe> make_authority_probe(
    std::shared_ptr<Resolver> resolver, const std::string& unbound_config);

}  // namespace rdns::dns
