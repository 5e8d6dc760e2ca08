#pragma once
/// The delegation path of a name from the root, as a careful admin would read it with
/// `dig +trace` and `dig @ns`: each zone cut, the servers asked (RD=0), what each said and how
/// fast, CNAMEs (RFC 2317) followed into their zones, and the resolver's cached answer beside
/// the authoritative one. The types and the pure steps need no ldns; Tracer does the I/O.

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/authority_probe.h"
#include "rdns/dns/resolver.h"

namespace rdns::dns {

/// A referral: a child zone's NS records in the authority section, with their glue.
struct Referral {
  std::string zone;             ///< the child zone (normalized)
  std::vector<std::string> ns;  ///< its NS targets, normalized, sorted, unique
  /// (NS name, address) from the additional section, for NS names of the referral only.
  std::vector<std::pair<std::string, std::string>> glue;
  bool operator==(const Referral&) const = default;
};

/// What one server said at one zone of the path.
struct TraceServer {
  ServerAnswer reply;                ///< who, rcode, AA, TCP, latency or failure, the records
  std::optional<Referral> referral;  ///< NS records in the authority section, if any
  bool operator==(const TraceServer&) const = default;
};

/// One zone on the path: the servers asked about one name and what each said.
struct TraceZone {
  std::string zone;  ///< normalized; "." for the root
  std::string name;  ///< the name asked (a CNAME target after the first CNAME)
  RrType type = RrType::ptr;
  /// Where the addresses came from: "stub-addr" (unbound.conf), "resolver" (NS and A/AAAA
  /// through the resolver), "glue", "glue+resolver".
  std::string servers_from;
  std::vector<TraceServer> servers;
  bool operator==(const TraceZone&) const = default;
};

/// What the servers of one zone mean for the walk.
enum class TraceStepKind : std::uint8_t {
  answer,       ///< an authoritative answer (records, NXDOMAIN, NODATA or a CNAME)
  referral,     ///< a referral to a zone below, closer to the name
  lame,         ///< servers answered, none authoritatively nor with a useful referral
  unreachable,  ///< no server answered (or none could be asked)
};

/// The meaning of one zone's answers.
struct TraceStep {
  TraceStepKind kind = TraceStepKind::unreachable;
  Referral referral;  ///< for a referral: the first server's
  /// For an answer: the CNAME target leaving the zone, when the answer is only a chain out.
  std::optional<std::string> cname_target;
  bool operator==(const TraceStep&) const = default;
};

[[nodiscard]] std::string_view to_string(TraceStepKind kind);

/// Pure: what the servers of `zone` said about its name means. An AA answer (NOERROR or
/// NXDOMAIN) wins; else the first referral to a zone strictly below `zone.zone` at or above the
/// name; else lame when a server responded, unreachable when none did.
[[nodiscard]] TraceStep next_step(const TraceZone& zone);

/// Pure: the referral in a wire-format reply (NS records of the authority section, glue from
/// the additional section), or nullopt when there is none or the packet does not parse.
[[nodiscard]] std::optional<Referral> parse_referral(std::span<const std::uint8_t> wire);

/// One traced question.
struct Trace {
  std::string name;  ///< normalized
  RrType type = RrType::ptr;
  std::vector<TraceZone> path;           ///< every zone asked, in order
  std::vector<std::string> cname_chain;  ///< CNAME targets followed (RFC 2317), in order
  Answer cached;                         ///< the resolver's answer (its cache, its forwarder)
  /// The authoritative view: the zones that answered with AA (and the one that failed, if the
  /// walk stopped short) as a ProbeResult, judged with judge().
  ProbeResult authority;
  std::string failure;      ///< why the walk stopped short; empty when it reached an answer
  std::string failed_zone;  ///< the zone whose servers failed (with `failure`)
  std::chrono::milliseconds elapsed{0};
  bool operator==(const Trace&) const = default;
};

/// Pure: judge(trace.authority).
[[nodiscard]] Judgement authoritative_view(const Trace& trace);

/// How the cached view compares with the authoritative one.
enum class ViewMatch : std::uint8_t {
  same,            ///< the same outcome and data
  stale_negative,  ///< cached NXDOMAIN/NODATA, the servers have records
  stale_positive,  ///< cached records, the servers say NXDOMAIN/NODATA
  different_data,  ///< both have records, not the same
  cache_failure,   ///< the resolver failed (SERVFAIL, timeout, bogus), the servers answered
  unconfirmed,     ///< the authoritative view is unknown (lame, unreachable, limits)
};

[[nodiscard]] std::string_view to_string(ViewMatch match);

/// Pure: the cached answer beside the authoritative view.
[[nodiscard]] ViewMatch compare_views(const Trace& trace);

/// The servers that gave the authoritative answer: "ns1.test 127.0.0.3 (zone test)".
[[nodiscard]] std::string answering_servers(const Trace& trace);

/// The zone that holds the final name (the last zone that answered with AA); empty if none.
[[nodiscard]] std::string answering_zone(const Trace& trace);

/// Bounds of one trace.
struct TraceLimits {
  std::chrono::milliseconds per_server{1500};  ///< UDP (and TCP after TC) per server
  std::chrono::milliseconds total{10000};      ///< the whole walk of one name
  std::size_t max_servers = 4;                 ///< addresses asked per zone
  std::size_t max_zones = 16;                  ///< zones asked along the path
  std::size_t max_cnames = 4;                  ///< CNAMEs followed
};

/// Walks delegations from the root (or the closest stub-zone of the unbound.conf, whose
/// stub-addr wins): the root servers are the resolver's NS "." and their A/AAAA; referrals'
/// NS addresses come from glue, else through the resolver.
class Tracer {
 public:
  Tracer(Resolver& resolver, std::vector<StubZone> stubs, TraceLimits limits = {});

  /// Traces one question (blocking, bounded by the limits).
  [[nodiscard]] Trace trace(const std::string& name, RrType type) const;

  /// Traces the questions in parallel; one Trace per question, in order.
  [[nodiscard]] std::vector<Trace> trace_all(
      const std::vector<std::pair<std::string, RrType>>& questions) const;

 private:
  Resolver& resolver_;
  std::vector<StubZone> stubs_;
  TraceLimits limits_;
};

/// One line per zone: ". (stub-addr): stub-addr 127.0.0.2 referral in-addr.arpa [ns1.test] 1
/// ms; ...".
[[nodiscard]] std::string describe(const TraceZone& zone);

}  // namespace rdns::dns
