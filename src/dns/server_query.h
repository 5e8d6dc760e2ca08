#pragma once
// Private to src/dns: asking name servers directly (RD=0) with ldns packets, and the resolver
// questions that find them. Shared by the authority probe (authority_probe.cpp) and the
// delegation trace (trace.cpp).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "rdns/dns/authority_probe.h"
#include "rdns/dns/resolver.h"

namespace rdns::dns::detail {

using Clock = std::chrono::steady_clock;

/// One server to ask: its NS name (or "stub-addr") and "addr" or "addr@port".
struct ServerTarget {
  std::string ns_name;
  std::string address;
  bool operator==(const ServerTarget&) const = default;
};

/// What one server said, and the reply as it came (empty when none came).
struct ServerReply {
  ServerAnswer answer;
  std::vector<std::uint8_t> wire;
};

/// Asks `resolver` and waits until `deadline`; a late answer is a timeout.
[[nodiscard]] Answer ask_resolver(Resolver& resolver, const std::string& name, RrType type,
                                  Clock::time_point deadline);

/// The addresses of `ns` names (A and AAAA, asked in parallel), at most `limit`.
[[nodiscard]] std::vector<ServerTarget> addresses_of(Resolver& resolver,
                                                     const std::vector<std::string>& ns,
                                                     std::size_t limit, Clock::time_point deadline);

/// The closest stub zone at or above `name`, or null.
[[nodiscard]] const StubZone* closest_stub(const std::vector<StubZone>& stubs,
                                           std::string_view name);

/// Asks every target about (`name`, `type`) with RD=0 and EDNS(0), all in one poll loop: UDP
/// (one retransmission at half of `per_server`), TCP after a truncated reply. One reply per
/// target, in the order given; none runs past `deadline`.
[[nodiscard]] std::vector<ServerReply> ask_servers(const std::string& name, RrType type,
                                                   const std::vector<ServerTarget>& targets,
                                                   std::chrono::milliseconds per_server,
                                                   Clock::time_point deadline);

}  // namespace rdns::dns::detail
