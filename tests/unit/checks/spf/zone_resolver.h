#pragma once
/// A zone-data Resolver for SPF tests, answering like the RFC 7208 test suite's reference driver
/// (pyspf's testspf.py): records per name in order, TIMEOUT entries, CNAME following.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/answer.h"
#include "rdns/dns/resolver.h"

namespace rdns::spftest {

/// One question asked, as received (presentation format).
struct Asked {
  std::string name;
  dns::RrType type = dns::RrType::a;
  bool operator==(const Asked&) const = default;
};

/// Zone data served synchronously. Unknown names are NXDOMAIN; known names without the type are
/// NODATA; a TIMEOUT entry times out every type with no record listed before it (the driver's
/// rule); a CNAME is followed when the name has no record of the type; a CNAME loop is SERVFAIL.
class ZoneResolver final : public dns::Resolver {
 public:
  ZoneResolver() = default;
  ~ZoneResolver() override = default;
  ZoneResolver(const ZoneResolver&) = delete;
  ZoneResolver& operator=(const ZoneResolver&) = delete;
  ZoneResolver(ZoneResolver&&) = delete;
  ZoneResolver& operator=(ZoneResolver&&) = delete;

  void a(std::string_view name, std::string_view address);
  void aaaa(std::string_view name, std::string_view address);
  void ptr(std::string_view name, std::string_view target);
  void mx(std::string_view name, std::uint16_t preference, std::string_view exchange);
  /// A TXT record whose character-strings are `strings` (joined without separator).
  void txt_strings(std::string_view name, const std::vector<std::string>& strings);
  void txt(std::string_view name, std::string_view text);
  void cname(std::string_view name, std::string_view target);
  void timeout(std::string_view name);
  /// Makes `name` exist without adding a record (TXT: NONE in the suite).
  void touch(std::string_view name);
  /// Answers every query of `type` for `name` with `outcome` (servfail, bogus, ...).
  void fail(std::string_view name, dns::RrType type, dns::Outcome outcome);

  void resolve_async(const std::string& name, dns::RrType type, dns::QueryOptions options,
                     Callback done) override;

  /// Every question so far, in order.
  [[nodiscard]] std::vector<Asked> asked() const;
  void clear_asked();

  /// Lower case, no trailing dot, presentation escapes (\DDD, \X) undone.
  [[nodiscard]] static std::string key(std::string_view name);

 private:
  struct Entry {
    enum class Kind : std::uint8_t { record, timeout, failure };
    Kind kind = Kind::record;
    dns::RrType type = dns::RrType::a;
    std::string text;  // name target, address text, or joined TXT
    std::uint16_t preference = 0;
    dns::Outcome outcome = dns::Outcome::servfail;
  };

  void add(std::string_view name, Entry entry);
  void add_record(std::string_view name, dns::RrType type, std::string text,
                  std::uint16_t preference = 0);
  [[nodiscard]] dns::Answer lookup(const std::string& name, dns::RrType type) const;

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Entry>> zone_;
  std::vector<Asked> asked_;
};

}  // namespace rdns::spftest
