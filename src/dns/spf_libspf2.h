#pragma once
/// Private to rdns-core (and its tests): libspf2's DNS layer over our Resolver. One SpfDns serves
/// one SPF check: every lookup libspf2 makes is answered from the Resolver, recorded as
/// evidence, and shaped by the RFC 7208 rules libspf2 1.2.10 lacks (§4.6.4 void lookups, §5.5
/// PTR name limit and error skipping, zero-length CIDR prefixes). The layer's hook points at its
/// SpfDns, so the callback always knows which check it serves. Only src/dns/spf_dns.cpp calls
/// into libspf2; the rest of the code sees rdns/dns/spf_dns.h.

extern "C" {
#include <netinet/in.h>  // Note: libspf2's headers use in_addr without including it.
#include <spf2/spf.h>
}

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"
#include "rdns/dns/spf_dns.h"

namespace rdns::dns {

/// libspf2's herrno for an answer: ok -> NETDB_SUCCESS, NXDOMAIN -> HOST_NOT_FOUND, NODATA ->
/// NO_DATA, SERVFAIL/timeout/bogus -> TRY_AGAIN.
[[nodiscard]] int spf_herrno(const Answer& answer);

/// Per-check DNS for libspf2. Not thread-safe: a check runs on one thread.
class SpfDns {
 public:
  SpfDns(Resolver& resolver, const IpAddress& client, SpfLimits limits = {});
  SpfDns(const SpfDns&) = delete;
  SpfDns& operator=(const SpfDns&) = delete;
  SpfDns(SpfDns&&) = delete;
  SpfDns& operator=(SpfDns&&) = delete;
  ~SpfDns() = default;

  /// The libspf2 layer for SPF_server_new_dns. Its destroy is NULL, so SPF_server_free leaves
  /// it alone; free the server before this object.
  [[nodiscard]] SPF_dns_server_t* layer() { return &layer_; }

  /// Asks the Resolver once per name and type per check (later calls reuse the answer) and
  /// records the answer as evidence. `name` must satisfy spf_queryable_name. Once the check's
  /// time is up, answers a timeout without asking (and without evidence).
  Answer resolve(std::string_view name, RrType type);
  /// True once a question went unasked because the check ran out of time (RFC 7208 §4.6.4).
  [[nodiscard]] bool out_of_time() const { return out_of_time_; }

  /// Counts one DNS-querying term (RFC 7208 §4.6.4); false once the limit is exceeded.
  [[nodiscard]] bool charge_term();
  /// Terms counted so far.
  [[nodiscard]] unsigned terms() const { return terms_; }
  /// Void lookups counted so far (only the first lookup of a term counts).
  [[nodiscard]] unsigned void_lookups() const { return voids_; }
  /// True once more than max_void terms have had a void lookup.
  [[nodiscard]] bool void_limit_exceeded() const { return voids_ > limits_.max_void; }

  /// Marks the mechanism libspf2 is about to evaluate, so lookups can be attributed to it.
  /// `zero_prefix`: the CIDR length for the client's family is 0 (any address matches).
  void begin_term(SpfTerm term, bool zero_prefix);
  /// Ends the term begun last.
  void end_term();
  /// The last temporary failure libspf2 was handed during the current or last term, if any.
  [[nodiscard]] const Answer* term_failure() const { return has_failure_ ? &failure_ : nullptr; }

  /// Every answer used, in the order first asked.
  [[nodiscard]] const std::vector<Answer>& evidence() const { return evidence_; }
  [[nodiscard]] std::vector<Answer> take_evidence() { return std::move(evidence_); }

  /// The SPF_dns_rr_t libspf2 gets for `answer` (of type `type`), before any per-term shaping.
  /// Never NULL unless memory runs out. Exposed for tests.
  [[nodiscard]] static SPF_dns_rr_t* to_rr(SPF_dns_server_t* layer, const char* domain,
                                           ns_type type, const Answer& answer);

 private:
  static SPF_dns_rr_t* lookup_callback(SPF_dns_server_t* layer, const char* domain, ns_type type,
                                       int should_cache);
  SPF_dns_rr_t* lookup(const char* domain, ns_type type);
  /// The answer libspf2 sees inside the current term.
  Answer shape(const Answer& answer, RrType type, bool first);

  Resolver& resolver_;
  IpAddress client_;
  SpfLimits limits_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool out_of_time_ = false;
  SPF_dns_server_t layer_{};
  std::map<std::pair<std::string, RrType>, std::size_t> asked_;  // -> index in evidence_
  std::vector<Answer> evidence_;
  unsigned terms_ = 0;
  unsigned voids_ = 0;
  bool in_term_ = false;
  SpfTerm term_ = SpfTerm::a;
  bool zero_prefix_ = false;
  unsigned term_lookups_ = 0;  // lookups seen in the current term
  bool has_failure_ = false;
  Answer failure_;
};

}  // namespace rdns::dns
