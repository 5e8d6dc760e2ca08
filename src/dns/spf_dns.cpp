#include "rdns/dns/spf_dns.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>

namespace rdns::dns {
namespace {

/// The Resolver's type for a libspf2 query type; nullopt for types we never ask.
std::optional<RrType> rr_type(ns_type type) {
  switch (type) {
    case ns_t_a: return RrType::a;
    case ns_t_aaaa: return RrType::aaaa;
    case ns_t_ptr: return RrType::ptr;
    case ns_t_mx: return RrType::mx;
    case ns_t_txt: return RrType::txt;
    default: return std::nullopt;
  }
}

/// Copies `text` (NUL-terminated) into record `index` of `rr`.
bool put_text(SPF_dns_rr_t* rr, int index, std::string_view text) {
  if (SPF_dns_rr_buf_realloc(rr, index, text.size() + 1) != SPF_E_SUCCESS) {
    return false;
  }
  // Note: ptr, mx and txt share the storage of the union; txt names it.
  char* out = rr->rr[index]->txt;
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return true;
}

bool put_address(SPF_dns_rr_t* rr, int index, const IpAddress& address) {
  if (SPF_dns_rr_buf_realloc(rr, index, sizeof(SPF_dns_rr_data_t)) != SPF_E_SUCCESS) {
    return false;
  }
  if (address.is_v4()) {
    std::memcpy(&rr->rr[index]->a, address.bytes().data(), sizeof(in_addr));
  } else {
    std::memcpy(&rr->rr[index]->aaaa, address.bytes().data(), sizeof(in6_addr));
  }
  return true;
}

}  // namespace

bool spf_queryable_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > 253) {
    return false;
  }
  std::size_t label = 0;
  for (const char c : name) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (octet < 0x20 || octet >= 0x7f || ++label > 63) {
      return false;
    }
  }
  return label > 0;
}

std::string spf_presentation_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet == '\\') {
      out += "\\\\";
    } else if (octet <= 0x20 || octet >= 0x7f) {
      out += fmt::format("\\{:03d}", octet);
    } else {
      out += c;
    }
  }
  return out;
}

int spf_herrno(const Answer& answer) {
  switch (answer.outcome) {
    case Outcome::ok: return NETDB_SUCCESS;
    case Outcome::nxdomain: return HOST_NOT_FOUND;
    case Outcome::nodata: return NO_DATA;
    case Outcome::servfail:
    case Outcome::timeout:
    case Outcome::bogus: return TRY_AGAIN;
  }
  return TRY_AGAIN;
}

SpfDns::SpfDns(Resolver& resolver, const IpAddress& client, SpfLimits limits)
    : resolver_(resolver), client_(client.unmapped()), limits_(limits) {
  layer_.destroy = nullptr;  // Note: NULL marks the layer as not owned by the SPF_server_t.
  layer_.lookup = &SpfDns::lookup_callback;
  layer_.get_spf = nullptr;
  layer_.get_exp = nullptr;
  layer_.add_cache = nullptr;
  layer_.layer_below = nullptr;
  layer_.name = "rdns";
  layer_.debug = 0;
  layer_.hook = this;
}

Answer SpfDns::resolve(std::string_view name, RrType type) {
  std::string key = normalize_name(name);
  const auto found = asked_.find({key, type});
  if (found != asked_.end()) {
    return evidence_[found->second];
  }
  Answer answer;
  if (std::chrono::steady_clock::now() - started_ >= limits_.max_elapsed) {
    // RFC 7208 §4.6.4: bound the elapsed time of check_host(); the check becomes temperror.
    out_of_time_ = true;
    answer.name = key;
    answer.type = type;
    answer.outcome = Outcome::timeout;
    answer.error = "SPF evaluation time limit reached; not asked";
    return answer;
  }
  try {
    answer = resolver_.resolve(spf_presentation_name(key), type);
  } catch (const std::exception& e) {
    answer = Answer{};
    answer.name = key;
    answer.type = type;
    answer.outcome = Outcome::servfail;
    answer.error = e.what();
  }
  asked_.emplace(std::pair{std::move(key), type}, evidence_.size());
  evidence_.push_back(answer);
  return answer;
}

bool SpfDns::charge_term() {
  return ++terms_ <= limits_.max_dns_terms;
}

void SpfDns::begin_term(SpfTerm term, bool zero_prefix) {
  in_term_ = true;
  term_ = term;
  zero_prefix_ = zero_prefix;
  term_lookups_ = 0;
  has_failure_ = false;
  failure_ = Answer{};
}

void SpfDns::end_term() {
  in_term_ = false;
}

SPF_dns_rr_t* SpfDns::to_rr(SPF_dns_server_t* layer, const char* domain, ns_type type,
                            const Answer& answer) {
  const int herrno = spf_herrno(answer);
  const auto ttl = static_cast<int>(std::min<std::uint32_t>(answer.ttl, INT32_MAX));
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(layer, domain, type, ttl, herrno);
  if (rr == nullptr || herrno != NETDB_SUCCESS) {
    return rr;
  }
  int count = 0;
  bool ok = true;
  switch (type) {
    case ns_t_a:
    case ns_t_aaaa:
      for (const auto& address : answer.addresses) {
        if (address.is_v4() == (type == ns_t_a)) {
          ok = ok && put_address(rr, count++, address);
        }
      }
      break;
    case ns_t_ptr:
      for (const auto& name : answer.names) {
        ok = ok && put_text(rr, count++, name);
      }
      break;
    case ns_t_mx: {
      // Note: libspf2 examines the first 10 exchanges; make them the most preferred ones.
      auto mx = answer.mx;
      std::stable_sort(mx.begin(), mx.end(), [](const MxRecord& x, const MxRecord& y) {
        return x.preference < y.preference;
      });
      for (const auto& record : mx) {
        ok = ok && put_text(rr, count++, record.exchange);
      }
      break;
    }
    case ns_t_txt:
      for (const auto& text : answer.texts) {
        ok = ok && put_text(rr, count++, text);
      }
      break;
    default: break;
  }
  if (!ok) {
    SPF_dns_rr_free(rr);
    return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
  }
  rr->num_rr = count;
  if (count == 0) {
    rr->herrno = NO_DATA;
  }
  return rr;
}

SPF_dns_rr_t* SpfDns::lookup_callback(SPF_dns_server_t* layer, const char* domain, ns_type type,
                                      int /*should_cache*/) {
  // Note: a C callback: nothing may escape. libspf2 aborts on NULL, so only running out of
  // memory inside libspf2's own allocator can end the process here.
  try {
    return static_cast<SpfDns*>(layer->hook)->lookup(domain != nullptr ? domain : "", type);
  } catch (...) {
    return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
  }
}

SPF_dns_rr_t* SpfDns::lookup(const char* domain, ns_type type) {
  const auto type_ours = rr_type(type);
  if (!type_ours) {
    // Type SPF (99) and anything else: RFC 7208 §3.1 publishes TXT only; never asked.
    return SPF_dns_rr_new_init(&layer_, domain, type, 0, NO_DATA);
  }
  const bool first = in_term_ && term_lookups_++ == 0;
  if (!spf_queryable_name(domain)) {
    // RFC 7208 §4.8, §5: a name that cannot be queried is treated as nonexistent.
    return SPF_dns_rr_new_init(&layer_, domain, type, 0, HOST_NOT_FOUND);
  }
  const Answer answer = resolve(domain, *type_ours);
  if (first && answer.negative()) {
    ++voids_;  // RFC 7208 §4.6.4: a term whose lookup found nothing
  }
  const Answer shaped = in_term_ ? shape(answer, *type_ours, first) : answer;
  if (shaped.temporary_failure()) {
    has_failure_ = true;
    failure_ = shaped;
  }
  return to_rr(&layer_, domain, type, shaped);
}

Answer SpfDns::shape(const Answer& answer, RrType type, bool first) {
  Answer shaped = answer;
  const RrType client_type = client_.is_v4() ? RrType::a : RrType::aaaa;
  if (term_ == SpfTerm::ptr) {
    if (first && type == RrType::ptr && shaped.names.size() > limits_.max_ptr_names) {
      // RFC 7208 §4.6.4: only the first 10 PTR names are examined (libspf2 would permerror).
      shaped.names.resize(limits_.max_ptr_names);
    }
    if (!first && (type == RrType::a || type == RrType::aaaa) && shaped.temporary_failure()) {
      // RFC 7208 §5.5: a DNS error while validating a PTR name skips that name.
      shaped.outcome = Outcome::nodata;
    }
  }
  if (zero_prefix_ && (term_ == SpfTerm::a || term_ == SpfTerm::mx) && type == client_type &&
      shaped.outcome == Outcome::ok && !shaped.addresses.empty()) {
    // RFC 7208 §5.3, §5.4: a zero-length prefix matches any address of the family. libspf2
    // rejects /0, so the mechanism goes to it with the full length and any address found
    // stands in for the client's own.
    shaped.addresses.assign(1, client_);
  }
  return shaped;
}

}  // namespace rdns::dns
