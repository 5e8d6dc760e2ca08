#pragma once
/// The DNS side of one SPF check, over our Resolver: every lookup asked once and recorded as
/// evidence, the RFC 7208 §4.6.4 limits, and libspf2's evaluation of one a, mx, ptr or exists
/// term at a time. libspf2 itself stays behind this interface (src/dns/spf_libspf2.h); no
/// thread-local or global state.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver.h"

namespace rdns::dns {

/// The DNS-querying mechanisms libspf2 evaluates for us (RFC 7208 §5.3-5.5, §5.7).
enum class SpfTerm : std::uint8_t { a, mx, ptr, exists };

/// RFC 7208 §4.6.4 processing limits.
struct SpfLimits {
  unsigned max_dns_terms = 10;  ///< include, a, mx, ptr, exists, redirect per check
  unsigned max_void = 2;        ///< terms whose lookup gave NXDOMAIN or NODATA
  unsigned max_ptr_names = 10;  ///< PTR names examined by ptr (the rest are ignored)
  /// Elapsed time for one check; past it nothing more is asked and the check is a temperror.
  std::chrono::milliseconds max_elapsed{20000};
};

/// True if `name` can be asked at all: 1-253 octets, labels of 1-63 octets, no control or
/// non-ASCII octets. RFC 7208 §4.3, §4.8: anything else is treated as a name that does not exist.
[[nodiscard]] bool spf_queryable_name(std::string_view name);

/// `name` in DNS presentation format as the Resolver expects it: spaces, control and non-ASCII
/// octets as \DDD, backslash doubled (a macro expansion may produce any of them).
[[nodiscard]] std::string spf_presentation_name(std::string_view name);

/// One a, mx, ptr or exists term, its domain-spec already expanded.
struct SpfTermQuery {
  SpfTerm term = SpfTerm::a;
  std::string target;             ///< the name to look up; spf_queryable_name(target) must hold
  std::string domain;             ///< the current <domain> (RFC 7208 §4.1)
  std::optional<unsigned> cidr4;  ///< a, mx: ip4-cidr-length, if given (0 allowed)
  std::optional<unsigned> cidr6;  ///< a, mx: ip6-cidr-length, if given (0 allowed)
};

/// How a term came out.
enum class SpfTermOutcome : std::uint8_t { match, no_match, temperror, permerror };

struct SpfTermResult {
  SpfTermOutcome outcome = SpfTermOutcome::no_match;
  std::string problem;  ///< temperror, permerror: why, in plain words (without the term)

  bool operator==(const SpfTermResult&) const = default;
};

/// Per-check DNS and term evaluation. Not thread-safe: a check runs on one thread.
class SpfCheckDns {
 public:
  /// `receiver`: our host name for libspf2 ("unknown" when empty). Throws std::bad_alloc when
  /// libspf2 cannot allocate its server or request.
  SpfCheckDns(Resolver& resolver, const IpAddress& client, std::string_view receiver,
              SpfLimits limits = {});
  SpfCheckDns(const SpfCheckDns&) = delete;
  SpfCheckDns& operator=(const SpfCheckDns&) = delete;
  SpfCheckDns(SpfCheckDns&&) = delete;
  SpfCheckDns& operator=(SpfCheckDns&&) = delete;
  ~SpfCheckDns();

  /// Asks the Resolver once per name and type per check (later calls reuse the answer) and
  /// records the answer as evidence. `name` must satisfy spf_queryable_name. Once the check's
  /// time is up, answers a timeout without asking (and without evidence).
  Answer resolve(std::string_view name, RrType type);
  /// True once a question went unasked because the check ran out of time (RFC 7208 §4.6.4).
  [[nodiscard]] bool out_of_time() const;
  /// Counts one DNS-querying term (RFC 7208 §4.6.4); false once the limit is exceeded.
  [[nodiscard]] bool charge_term();
  /// True once more than max_void terms have had a void lookup.
  [[nodiscard]] bool void_limit_exceeded() const;
  /// Every answer used, in the order first asked.
  [[nodiscard]] std::vector<Answer> take_evidence();

  /// libspf2 evaluates the one term against the client, each lookup answered by resolve().
  /// Does not charge the term (charge_term) nor check the void limit (void_limit_exceeded).
  [[nodiscard]] SpfTermResult evaluate(const SpfTermQuery& query);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdns::dns
