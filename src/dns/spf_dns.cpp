#include "rdns/dns/spf_dns.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>

#include "rdns/dns/name.h"
#include "spf_libspf2.h"

// Every call into libspf2 is in this file: the DNS layer (SpfDns) and the evaluation of one
// DNS-querying term (SpfCheckDns::evaluate), with the libspf2 handles they need.

namespace rdns::dns {
namespace {

// ---------------------------------------------------------------------------------------------
// libspf2 handles

struct ServerDeleter {
  void operator()(SPF_server_t* server) const { SPF_server_free(server); }
};
struct RequestDeleter {
  void operator()(SPF_request_t* request) const { SPF_request_free(request); }
};
struct ResponseDeleter {
  void operator()(SPF_response_t* response) const { SPF_response_free(response); }
};
struct RecordDeleter {
  void operator()(SPF_record_t* record) const { SPF_record_free(record); }
};
using ServerPtr = std::unique_ptr<SPF_server_t, ServerDeleter>;
using RequestPtr = std::unique_ptr<SPF_request_t, RequestDeleter>;
using ResponsePtr = std::unique_ptr<SPF_response_t, ResponseDeleter>;
using RecordPtr = std::unique_ptr<SPF_record_t, RecordDeleter>;

// ---------------------------------------------------------------------------------------------
// The DNS layer

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
  name = strip_trailing_dot(name);  // Note: keeps the root "."; its two empty labels fail below
  if (name.empty() || name.size() > 253) {
    return false;
  }
  const auto parts = labels(name);
  return std::all_of(parts.begin(), parts.end(), [](std::string_view label) {
    return !label.empty() && label.size() <= 63 &&
           std::all_of(label.begin(), label.end(), is_ascii_printable);
  });
}

std::string spf_presentation_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    if (c == '\\') {
      out += "\\\\";
    } else if (!is_ascii_visible(c)) {
      out += fmt::format("\\{:03d}", static_cast<unsigned char>(c));
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

// ---------------------------------------------------------------------------------------------
// One term through libspf2

namespace {

std::string_view term_name(SpfTerm term) {
  switch (term) {
    case SpfTerm::a: return "a";
    case SpfTerm::mx: return "mx";
    case SpfTerm::ptr: return "ptr";
    case SpfTerm::exists: return "exists";
  }
  return "?";
}

/// `name` in libspf2's macro syntax, so that it reaches its lookups unchanged.
std::string libspf2_literal(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == '%') {
      out += "%%";
    } else if (c == ' ') {
      out += "%_";
    } else {
      out += c;
    }
  }
  return out;
}

/// The single-mechanism record libspf2 compiles for `query`.
std::string term_record(const SpfTermQuery& query) {
  std::string text =
      fmt::format("v=spf1 +{}:{}", term_name(query.term), libspf2_literal(query.target));
  if (query.term == SpfTerm::a || query.term == SpfTerm::mx) {
    // Note: libspf2 rejects /0 and takes a missing length as the longest.
    const unsigned cidr4 = query.cidr4.value_or(32) == 0 ? 32 : query.cidr4.value_or(32);
    const unsigned cidr6 = query.cidr6.value_or(128) == 0 ? 128 : query.cidr6.value_or(128);
    text += fmt::format("/{}//{}", cidr4, cidr6);
  }
  return text;
}

}  // namespace

struct SpfCheckDns::Impl {
  Impl(Resolver& resolver, const IpAddress& client, std::string_view receiver, SpfLimits limits);

  SpfDns dns;  // Note: declared before server, so the server is freed first.
  IpAddress client;
  ServerPtr server;
  RequestPtr request;
};

SpfCheckDns::Impl::Impl(Resolver& resolver, const IpAddress& client_address,
                        std::string_view receiver, SpfLimits limits)
    : dns(resolver, client_address, limits), client(client_address.unmapped()) {
  server.reset(SPF_server_new_dns(dns.layer(), 0));
  if (!server) {
    throw std::bad_alloc();
  }
  // Note: no local policy, no whitelist, no default explanation (libspf2's points at the
  // dead openspf.org); exp= is ours. The request never enters SPF_request_query_mailfrom,
  // whose "localhost is always allowed" would pass any 127/8 client.
  SPF_response_t* raw = nullptr;
  SPF_server_set_localpolicy(server.get(), "", 0, &raw);
  ResponsePtr discard(raw);
  raw = nullptr;
  SPF_server_set_explanation(server.get(), "", &raw);
  discard.reset(raw);
  const std::string rec_dom = receiver.empty() ? "unknown" : std::string(receiver);
  SPF_server_set_rec_dom(server.get(), rec_dom.c_str());
  request.reset(SPF_request_new(server.get()));
  if (!request) {
    throw std::bad_alloc();
  }
  if (client.is_v4()) {
    in_addr address{};
    std::memcpy(&address, client.bytes().data(), sizeof(address));
    SPF_request_set_ipv4(request.get(), address);
  } else {
    in6_addr address{};
    std::memcpy(&address, client.bytes().data(), sizeof(address));
    SPF_request_set_ipv6(request.get(), address);
  }
}

SpfCheckDns::SpfCheckDns(Resolver& resolver, const IpAddress& client, std::string_view receiver,
                         SpfLimits limits)
    : impl_(std::make_unique<Impl>(resolver, client, receiver, limits)) {}

SpfCheckDns::~SpfCheckDns() = default;

Answer SpfCheckDns::resolve(std::string_view name, RrType type) {
  return impl_->dns.resolve(name, type);
}

bool SpfCheckDns::out_of_time() const {
  return impl_->dns.out_of_time();
}

bool SpfCheckDns::charge_term() {
  return impl_->dns.charge_term();
}

bool SpfCheckDns::void_limit_exceeded() const {
  return impl_->dns.void_limit_exceeded();
}

std::vector<Answer> SpfCheckDns::take_evidence() {
  return impl_->dns.take_evidence();
}

SpfTermResult SpfCheckDns::evaluate(const SpfTermQuery& query) {
  bool zero_prefix = false;
  if (query.term == SpfTerm::a || query.term == SpfTerm::mx) {
    const auto length = impl_->client.is_v4() ? query.cidr4 : query.cidr6;
    zero_prefix = length.has_value() && *length == 0;
  }
  const std::string text = term_record(query);
  SPF_request_t* request = impl_->request.get();
  ResponsePtr compile_errors(SPF_response_new(request));
  SPF_record_t* raw = nullptr;
  const SPF_errcode_t compiled =
      SPF_record_compile(impl_->server.get(), compile_errors.get(), &raw, text.c_str());
  const RecordPtr record(raw);
  if (compiled != SPF_E_SUCCESS || !record || record->num_mech != 1) {
    return {SpfTermOutcome::permerror,
            fmt::format("libspf2 cannot evaluate it: {}", SPF_strerror(compiled))};
  }
  ResponsePtr response(SPF_response_new(request));
  // Note: libspf2 has no setters for these. SPF_record_interpret refuses to run without the
  // record to explain (response->spf_record_exp) and <domain> (request->cur_dom), which only
  // SPF_request_query_mailfrom fills in, and that call is what we must avoid (it evaluates the
  // whole record and passes every 127/8 client). cur_dom is cleared again at once so it never
  // points at a string that is gone.
  response->spf_record_exp = record.get();
  request->cur_dom = query.domain.c_str();
  impl_->dns.begin_term(query.term, zero_prefix);
  SPF_record_interpret(record.get(), request, response.get(), 0);
  impl_->dns.end_term();
  request->cur_dom = nullptr;

  switch (SPF_response_result(response.get())) {
    case SPF_RESULT_PASS: return {SpfTermOutcome::match, {}};
    case SPF_RESULT_NEUTRAL: return {SpfTermOutcome::no_match, {}};
    case SPF_RESULT_TEMPERROR: {
      const Answer* failed = impl_->dns.term_failure();
      return {SpfTermOutcome::temperror, failed != nullptr ? describe(*failed) : "DNS failure"};
    }
    default: {
      const auto err = SPF_response_errcode(response.get());
      return {SpfTermOutcome::permerror, err == SPF_E_BIG_DNS
                                             ? "more than 10 MX records (RFC 7208 section 4.6.4)"
                                             : std::string(SPF_strerror(err))};
    }
  }
}

}  // namespace rdns::dns
