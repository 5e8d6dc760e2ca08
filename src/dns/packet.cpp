#include "rdns/dns/packet.h"

#include "rdns/dns/name.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace rdns::dns {
namespace {

struct LdnsPktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using LdnsPktPtr = std::unique_ptr<ldns_pkt, LdnsPktDeleter>;

/// Longest CNAME chain followed; CNAME loops end here too.
constexpr int max_cname_hops = 16;

/// A domain name from wire format, lower-case, no trailing dot; '/' and other printable
/// characters kept as they are (RFC 2317 names), dots inside labels and non-printables escaped.
std::string dname_to_string(const ldns_rdf* rdf) {
  const auto* data = ldns_rdf_data(rdf);
  const auto size = ldns_rdf_size(rdf);
  std::string name;
  std::size_t pos = 0;
  while (pos < size && data[pos] != 0) {
    const std::size_t length = data[pos++];
    if (pos + length > size) {
      break;
    }
    if (!name.empty()) {
      name += '.';
    }
    for (std::size_t i = 0; i < length; ++i) {
      const auto c = static_cast<unsigned char>(data[pos + i]);
      if (c == '.' || c == '\\') {
        name += '\\';
        name += static_cast<char>(c);
      } else if (!is_ascii_visible(static_cast<char>(c))) {
        name += fmt::format("\\{:03d}", c);
      } else {
        name += static_cast<char>(c);
      }
    }
    pos += length;
  }
  return name.empty() ? "." : normalize_name(name);
}

std::string rdf_name(const ldns_rr* rr, std::size_t index) {
  const auto* rdf = ldns_rr_rdf(rr, index);
  return rdf != nullptr ? dname_to_string(rdf) : std::string();
}

/// Follows CNAMEs from answer.name through `section`, recording each target; returns the name
/// at the end of the chain.
std::string follow_cnames(const ldns_rr_list* section, Answer& answer) {
  const std::size_t count = section != nullptr ? ldns_rr_list_rr_count(section) : 0;
  std::string current = answer.name;
  for (int hop = 0; hop < max_cname_hops; ++hop) {
    bool followed = false;
    for (std::size_t i = 0; i < count; ++i) {
      const auto* rr = ldns_rr_list_rr(section, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
          dname_to_string(ldns_rr_owner(rr)) == current) {
        current = rdf_name(rr, 0);
        answer.cname_chain.push_back(current);
        followed = true;
        break;
      }
    }
    if (!followed || answer.type == RrType::cname) {
      break;
    }
  }
  return current;
}

/// Adds the data of one record of the asked type to `answer`.
void add_record(const ldns_rr* rr, Answer& answer) {
  switch (answer.type) {
    case RrType::a:
    case RrType::aaaa: {
      const auto* rdf = ldns_rr_rdf(rr, 0);
      const auto family = answer.type == RrType::a ? IpAddress::Family::v4 : IpAddress::Family::v6;
      const std::size_t want = answer.type == RrType::a ? 4 : 16;
      if (rdf != nullptr && ldns_rdf_size(rdf) == want) {
        answer.addresses.push_back(IpAddress::from_bytes(family, ldns_rdf_data(rdf)));
      }
      break;
    }
    case RrType::ptr:
    case RrType::ns:
    case RrType::cname: answer.names.push_back(rdf_name(rr, 0)); break;
    case RrType::mx: {
      const auto* pref = ldns_rr_rdf(rr, 0);
      if (pref != nullptr && ldns_rdf_size(pref) == 2) {
        answer.mx.push_back({ldns_rdf2native_int16(pref), rdf_name(rr, 1)});
      }
      break;
    }
    case RrType::txt:
    case RrType::spf: {
      std::string text;
      for (std::size_t r = 0; r < ldns_rr_rd_count(rr); ++r) {
        const auto* rdf = ldns_rr_rdf(rr, r);
        const auto* data = ldns_rdf_data(rdf);
        const auto size = ldns_rdf_size(rdf);
        if (size >= 1) {
          text.append(reinterpret_cast<const char*>(data + 1),
                      std::min<std::size_t>(data[0], size - 1));
        }
      }
      answer.texts.push_back(std::move(text));
      break;
    }
    case RrType::soa: answer.names.push_back(rdf_name(rr, 0)); break;
  }
}

/// Collects the records of the asked type owned by `owner`; returns their smallest TTL, or
/// nullopt when there are none.
std::optional<std::uint32_t> collect_records(const ldns_rr_list* section, const std::string& owner,
                                             Answer& answer) {
  const std::size_t count = section != nullptr ? ldns_rr_list_rr_count(section) : 0;
  std::optional<std::uint32_t> ttl;
  for (std::size_t i = 0; i < count; ++i) {
    const auto* rr = ldns_rr_list_rr(section, i);
    if (static_cast<std::uint16_t>(ldns_rr_get_type(rr)) !=
            static_cast<std::uint16_t>(answer.type) ||
        dname_to_string(ldns_rr_owner(rr)) != owner) {
      continue;
    }
    ttl = std::min(ttl.value_or(std::numeric_limits<std::uint32_t>::max()), ldns_rr_ttl(rr));
    add_record(rr, answer);
  }
  return ttl;
}

/// A negative answer's TTL: min(SOA TTL, SOA MINIMUM) of the authority section's SOA (RFC 2308
/// §5); 0 without one.
/// Also records the SOA's owner as the answer's zone.
std::uint32_t negative_ttl(const ldns_rr_list* authority, Answer& answer) {
  std::uint32_t ttl = 0;
  for (std::size_t i = 0; authority != nullptr && i < ldns_rr_list_rr_count(authority); ++i) {
    const auto* rr = ldns_rr_list_rr(authority, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 7) {
      ttl = std::min(ldns_rr_ttl(rr), ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)));
      answer.zone = dname_to_string(ldns_rr_owner(rr));
    }
  }
  return ttl;
}

bool has_data(const Answer& answer) {
  return !answer.names.empty() || !answer.addresses.empty() || !answer.texts.empty() ||
         !answer.mx.empty();
}

}  // namespace

Answer parse_packet(std::span<const std::uint8_t> wire, std::string_view name, RrType type) {
  Answer answer;
  answer.name = normalize_name(name);
  answer.type = type;
  ldns_pkt* raw = nullptr;
  if (wire.empty() || ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    answer.outcome = Outcome::servfail;
    answer.error = "unparsable answer packet";
    return answer;
  }
  const LdnsPktPtr pkt(raw);
  const auto rcode = ldns_pkt_get_rcode(pkt.get());
  if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
    answer.outcome = Outcome::servfail;
    answer.error = rcode == LDNS_RCODE_SERVFAIL ? "SERVFAIL"
                                                : fmt::format("rcode {}", static_cast<int>(rcode));
    return answer;
  }
  const auto* section = ldns_pkt_answer(pkt.get());
  const std::string owner = follow_cnames(section, answer);
  if (rcode == LDNS_RCODE_NXDOMAIN) {
    answer.outcome = Outcome::nxdomain;
    answer.ttl = negative_ttl(ldns_pkt_authority(pkt.get()), answer);
    return answer;
  }
  const auto ttl = collect_records(section, owner, answer);
  if (ttl && has_data(answer)) {
    answer.outcome = Outcome::ok;
    answer.ttl = *ttl;
    return answer;
  }
  // NODATA, e.g. only a CNAME chain to a name without the type.
  answer.outcome = Outcome::nodata;
  const auto soa_ttl = negative_ttl(ldns_pkt_authority(pkt.get()), answer);
  answer.ttl = ttl ? *ttl : soa_ttl;
  return answer;
}

}  // namespace rdns::dns
