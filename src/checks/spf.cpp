#include "rdns/checks/spf.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "rdns/dns/spf_dns.h"

// Division of labour: this file owns check_host()'s control flow —
// record lookup and selection (RFC 7208 §4.4, §4.5), the §12 syntax of the whole record, term
// order, include and redirect (§5.2, §6.1), the §4.6.4 limits, macros (§7) and exp= (§6.2).
// libspf2 evaluates each DNS-querying mechanism (a, mx, ptr, exists): it compiles the single
// mechanism, walks MX and PTR names and matches addresses, with every lookup answered by the
// check's SpfDns. Note: libspf2 1.2.10's own record handling is not used because it is wrong in
// ways no rewrite fully hides: it silently drops every mechanism past 511 compiled bytes (a
// 70-ip4 record ending in -all evaluates to neutral), resets the lookup count at each include,
// evaluates redirect= where it stands, refuses valid /0 and '.' in modifier names, accepts
// invalid domain-specs, and passes every 127/8 client in SPF_request_query_mailfrom.

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::IpAddress;
using dns::Outcome;
using dns::RrType;
using dns::SpfDns;
using dns::SpfTerm;

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
// Characters

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool iequals(std::string_view x, std::string_view y) {
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(),
                                            [](char a, char b) { return lower(a) == lower(b); });
}

/// `text` safe for a log line or a header comment: non-printable octets as \xHH, at most 200.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet < 0x20 || octet >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", octet);
    } else {
      out += c;
    }
  }
  if (text.size() > 200) {
    out += "...";
  }
  return out;
}

/// A CIDR length per RFC 7208 §12: "0" or digits without a leading zero, at most `max`.
std::optional<unsigned> parse_cidr(std::string_view digits, unsigned max) {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(), is_digit)) {
    return std::nullopt;
  }
  unsigned value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (value > max) {
    return std::nullopt;
  }
  return value;
}

/// ip4-network: four decimal octets without leading zeros (RFC 7208 §12 qnum).
bool is_ip4_network(std::string_view text) {
  int parts = 0;
  while (true) {
    const auto dot = text.find('.');
    const auto part = text.substr(0, dot);
    if (!parse_cidr(part, 255)) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) {
      break;
    }
    text.remove_prefix(dot + 1);
  }
  return parts == 4;
}

// ---------------------------------------------------------------------------------------------
// Macros (RFC 7208 §7)

enum class MacroUse : std::uint8_t {
  domain,       ///< domain-spec or unknown-modifier value: no c, r, t; no spaces
  explanation,  ///< the exp= TXT: explain-string = *( macro-string / SP ), c, r, t allowed
};

struct MacroToken {
  enum class Kind : std::uint8_t { literal, escape, macro };
  Kind kind = Kind::literal;
  std::string text;  ///< literal text, or an escape's expansion
  char letter = 0;   ///< lower-case macro letter
  bool url_escape = false;
  unsigned keep = 0;  ///< rightmost parts to keep; 0 = all
  bool reverse = false;
  std::string delimiters;  ///< empty = "."
};
using MacroString = std::vector<MacroToken>;

/// Parses a macro-string; on error returns nullopt and says why in `problem`.
std::optional<MacroString> parse_macro_string(std::string_view text, MacroUse use,
                                              std::string& problem) {
  MacroString out;
  auto add_literal = [&out](char c) {
    if (out.empty() || out.back().kind != MacroToken::Kind::literal) {
      out.push_back({});
    }
    out.back().text += c;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '%') {
      const auto octet = static_cast<unsigned char>(c);
      if ((octet >= 0x21 && octet <= 0x7e) || (c == ' ' && use == MacroUse::explanation)) {
        add_literal(c);
        continue;
      }
      problem = fmt::format("invalid character '{}'", printable(text.substr(i, 1)));
      return std::nullopt;
    }
    if (i + 1 >= text.size()) {
      problem = "'%' at the end of a macro-string";
      return std::nullopt;
    }
    const char next = text[++i];
    if (next == '%' || next == '_' || next == '-') {
      MacroToken token;
      token.kind = MacroToken::Kind::escape;
      token.text = next == '%' ? "%" : next == '_' ? " " : "%20";
      out.push_back(std::move(token));
      continue;
    }
    if (next != '{') {
      problem = fmt::format("invalid macro '%{}'", printable(text.substr(i, 1)));
      return std::nullopt;
    }
    const auto close = text.find('}', i);
    if (close == std::string_view::npos) {
      problem = "unterminated macro '%{'";
      return std::nullopt;
    }
    const std::string_view body = text.substr(i + 1, close - i - 1);
    const std::string_view whole = text.substr(i - 1, close - i + 2);
    i = close;
    if (body.empty()) {
      problem = "empty macro '%{}'";
      return std::nullopt;
    }
    MacroToken token;
    token.kind = MacroToken::Kind::macro;
    token.letter = lower(body[0]);
    token.url_escape = body[0] >= 'A' && body[0] <= 'Z';
    static constexpr std::string_view letters = "slodiphcrtv";
    if (letters.find(token.letter) == std::string_view::npos || !is_alpha(body[0])) {
      problem = fmt::format("unknown macro letter in '{}'", printable(whole));
      return std::nullopt;
    }
    if (use == MacroUse::domain &&
        (token.letter == 'c' || token.letter == 'r' || token.letter == 't')) {
      problem = fmt::format("macro '{}' is allowed only in explanation text", printable(whole));
      return std::nullopt;
    }
    std::size_t k = 1;
    while (k < body.size() && is_digit(body[k])) {
      ++k;
    }
    if (k > 1) {
      const auto digits = body.substr(1, k - 1);
      unsigned keep = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), keep);
      if (ec == std::errc::result_out_of_range) {
        keep = 0;  // more parts than any name has: keep them all
      } else if (ec != std::errc{} || keep == 0) {
        problem = fmt::format("zero transformer in '{}'", printable(whole));  // RFC 7208 §7.3
        return std::nullopt;
      }
      token.keep = keep;
    }
    if (k < body.size() && lower(body[k]) == 'r') {
      token.reverse = true;
      ++k;
    }
    for (; k < body.size(); ++k) {
      static constexpr std::string_view delimiters = ".-+,/_=";
      if (delimiters.find(body[k]) == std::string_view::npos) {
        problem = fmt::format("invalid delimiter in '{}'", printable(whole));
        return std::nullopt;
      }
      token.delimiters += body[k];
    }
    out.push_back(std::move(token));
  }
  return out;
}

/// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
  if (label.empty() ||
      !std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; })) {
    return false;
  }
  if (label.find('-') != std::string_view::npos) {
    return is_alnum(label.front()) && is_alnum(label.back());
  }
  return std::any_of(label.begin(), label.end(), is_alpha);
}

/// Parses a domain-spec = macro-string domain-end (RFC 7208 §12).
std::optional<MacroString> parse_domain_spec(std::string_view text, std::string& problem) {
  if (text.empty()) {
    problem = "empty domain-spec";
    return std::nullopt;
  }
  auto spec = parse_macro_string(text, MacroUse::domain, problem);
  if (!spec) {
    return std::nullopt;
  }
  if (spec->back().kind != MacroToken::Kind::literal) {
    return spec;  // domain-end = macro-expand
  }
  // domain-end = "." toplabel [ "." ]
  std::string_view tail = spec->back().text;
  if (tail.back() == '.') {
    tail.remove_suffix(1);
  }
  const auto dot = tail.rfind('.');
  if (dot == std::string_view::npos || !is_toplabel(tail.substr(dot + 1))) {
    problem =
        fmt::format("'{}' does not end in a valid top-level label or a macro", printable(text));
    return std::nullopt;
  }
  return spec;
}

/// The values macros expand to (RFC 7208 §7.2).
struct MacroValues {
  std::string sender;         // s
  std::string local;          // l
  std::string sender_domain;  // o
  std::string ip;             // i
  std::string pretty_ip;      // c
  std::string version;        // v
  std::string helo;           // h
  std::string receiver;       // r
};

std::string url_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

/// Applies a macro's transformers (RFC 7208 §7.3) to `value`.
std::string transform(std::string_view value, const MacroToken& token) {
  std::string_view delimiters = token.delimiters;
  if (delimiters.empty()) {
    delimiters = ".";
  }
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (token.reverse) {
    std::reverse(parts.begin(), parts.end());
  }
  if (token.keep != 0 && token.keep < parts.size()) {
    parts.erase(parts.begin(), parts.end() - token.keep);
  }
  return fmt::format("{}", fmt::join(parts, "."));
}

// ---------------------------------------------------------------------------------------------
// Records (RFC 7208 §4.5, §4.6, §12)

enum class MechKind : std::uint8_t { all, include, a, mx, ptr, ip4, ip6, exists };

struct Mechanism {
  SpfResult qualifier = SpfResult::pass;
  MechKind kind = MechKind::all;
  std::string text;                 ///< as written, for Spf::mechanism
  std::optional<MacroString> spec;  ///< domain-spec, when given
  std::optional<unsigned> cidr4;    ///< a, mx
  std::optional<unsigned> cidr6;    ///< a, mx
  dns::Network network;             ///< ip4, ip6
};

struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<MacroString> redirect;
  std::string redirect_text;
  std::optional<MacroString> exp;
};

/// True if `text` is an SPF record: "v=spf1" (any case) followed by a space or the end.
bool is_spf_record(std::string_view text) {
  return text.size() >= 6 && iequals(text.substr(0, 6), "v=spf1") &&
         (text.size() == 6 || text[6] == ' ');
}

/// Strips a trailing dual-cidr-length from `arg` (a, mx).
bool strip_dual_cidr(std::string_view& arg, Mechanism& mech, std::string& problem) {
  auto trailing_digits = [](std::string_view text) {
    std::size_t start = text.size();
    while (start > 0 && is_digit(text[start - 1])) {
      --start;
    }
    return start;
  };
  auto valid_digits = [](std::string_view digits) {
    return !digits.empty() && (digits.size() == 1 || digits[0] != '0');
  };
  std::size_t start = trailing_digits(arg);
  if (start >= 2 && start < arg.size() && arg.substr(start - 2, 2) == "//" &&
      valid_digits(arg.substr(start))) {
    mech.cidr6 = parse_cidr(arg.substr(start), 128);
    if (!mech.cidr6) {
      problem = fmt::format("invalid IPv6 CIDR length in '{}'", printable(mech.text));
      return false;
    }
    arg = arg.substr(0, start - 2);
    start = trailing_digits(arg);
  }
  if (start >= 1 && start < arg.size() && arg[start - 1] == '/' &&
      valid_digits(arg.substr(start))) {
    mech.cidr4 = parse_cidr(arg.substr(start), 32);
    if (!mech.cidr4) {
      problem = fmt::format("invalid IPv4 CIDR length in '{}'", printable(mech.text));
      return false;
    }
    arg = arg.substr(0, start - 1);
  }
  return true;
}

std::optional<Mechanism> parse_mechanism(std::string_view term, std::string& problem) {
  Mechanism mech;
  mech.text = std::string(term);
  switch (term.front()) {
    case '+':
      mech.qualifier = SpfResult::pass;
      term.remove_prefix(1);
      break;
    case '-':
      mech.qualifier = SpfResult::fail;
      term.remove_prefix(1);
      break;
    case '~':
      mech.qualifier = SpfResult::softfail;
      term.remove_prefix(1);
      break;
    case '?':
      mech.qualifier = SpfResult::neutral;
      term.remove_prefix(1);
      break;
    default: break;
  }
  std::size_t name_end = 0;
  while (name_end < term.size() && is_alnum(term[name_end])) {
    ++name_end;
  }
  const std::string name = to_lower(term.substr(0, name_end));
  std::string_view arg = term.substr(name_end);
  const auto bad = [&](std::string_view why) {
    problem = fmt::format("{} in '{}'", why, printable(mech.text));
    return std::nullopt;
  };
  auto spec_after_colon = [&](bool required) -> bool {
    if (arg.empty()) {
      if (required) {
        problem = fmt::format("missing domain-spec in '{}'", printable(mech.text));
      }
      return !required;
    }
    if (arg.front() != ':') {
      problem =
          fmt::format("unexpected '{}' in '{}'", printable(arg.substr(0, 1)), printable(mech.text));
      return false;
    }
    std::string why;
    mech.spec = parse_domain_spec(arg.substr(1), why);
    if (!mech.spec) {
      problem = fmt::format("{} in '{}'", why, printable(mech.text));
      return false;
    }
    return true;
  };
  if (name == "all") {
    mech.kind = MechKind::all;
    if (!arg.empty()) {
      return bad("'all' takes no argument");
    }
  } else if (name == "include" || name == "exists") {
    mech.kind = name == "include" ? MechKind::include : MechKind::exists;
    if (!spec_after_colon(true)) {
      return std::nullopt;
    }
  } else if (name == "ptr") {
    mech.kind = MechKind::ptr;
    if (!spec_after_colon(false)) {
      return std::nullopt;
    }
  } else if (name == "a" || name == "mx") {
    mech.kind = name == "a" ? MechKind::a : MechKind::mx;
    if (!strip_dual_cidr(arg, mech, problem) || !spec_after_colon(false)) {
      return std::nullopt;
    }
  } else if (name == "ip4" || name == "ip6") {
    const bool v4 = name == "ip4";
    mech.kind = v4 ? MechKind::ip4 : MechKind::ip6;
    if (arg.empty() || arg.front() != ':') {
      return bad("missing address");
    }
    arg.remove_prefix(1);
    const auto slash = arg.find('/');
    const auto address_text = arg.substr(0, slash);
    unsigned length = v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      const auto cidr = parse_cidr(arg.substr(slash + 1), length);
      if (!cidr) {
        return bad("invalid CIDR length");
      }
      length = *cidr;
    }
    const auto address = IpAddress::parse(address_text);
    if (!address || address->is_v4() != v4 || (v4 && !is_ip4_network(address_text))) {
      return bad(v4 ? "invalid IPv4 address" : "invalid IPv6 address");
    }
    mech.network = dns::Network{*address, length};
  } else {
    problem = fmt::format("unknown mechanism '{}'", printable(mech.text));
    return std::nullopt;
  }
  return mech;
}

/// Parses and validates a whole record (RFC 7208 §4.6: any syntax error anywhere is permerror,
/// before anything is evaluated).
std::optional<Record> parse_record(std::string_view text, std::string& problem) {
  Record record;
  text.remove_prefix(6);  // "v=spf1", checked by is_spf_record
  bool have_exp = false;
  while (!text.empty()) {
    if (text.front() == ' ') {
      text.remove_prefix(1);
      continue;
    }
    const auto end = text.find(' ');
    const std::string_view term = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end);

    // modifier = name "=" ... with name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    std::size_t name_end = 0;
    if (is_alpha(term.front())) {
      name_end = 1;
      while (name_end < term.size() && (is_alnum(term[name_end]) || term[name_end] == '-' ||
                                        term[name_end] == '_' || term[name_end] == '.')) {
        ++name_end;
      }
    }
    if (name_end > 0 && name_end < term.size() && term[name_end] == '=') {
      const std::string name = to_lower(term.substr(0, name_end));
      const std::string_view value = term.substr(name_end + 1);
      std::string why;
      if (name == "redirect" || name == "exp") {
        // RFC 7208 §6: each at most once; a known modifier is never an unknown-modifier.
        if (name == "redirect" ? record.redirect.has_value() : have_exp) {
          problem = fmt::format("'{}=' appears more than once", name);
          return std::nullopt;
        }
        auto spec = parse_domain_spec(value, why);
        if (!spec) {
          problem = fmt::format("{} in '{}'", why, printable(term));
          return std::nullopt;
        }
        if (name == "redirect") {
          record.redirect = std::move(spec);
          record.redirect_text = std::string(term);
        } else {
          record.exp = std::move(spec);
          have_exp = true;
        }
      } else if (!parse_macro_string(value, MacroUse::domain, why)) {
        // RFC 7208 §6: unknown modifiers are ignored, but must be well-formed.
        problem = fmt::format("{} in '{}'", why, printable(term));
        return std::nullopt;
      }
      continue;
    }
    auto mech = parse_mechanism(term, problem);
    if (!mech) {
      return std::nullopt;
    }
    record.mechanisms.push_back(std::move(*mech));
  }
  return record;
}

/// RFC 7208 §4.3: a domain check_host() can start from — a multi-label name of 1-63 octet labels,
/// at most 253 octets, printable ASCII, not an address literal and not an IPv4 address.
bool is_spf_domain(std::string_view domain) {
  if (domain.empty() || domain.front() == '[') {
    return false;
  }
  if (domain.back() == '.') {
    domain.remove_suffix(1);
  }
  if (domain.empty() || domain.size() > 253) {
    return false;
  }
  std::size_t labels = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i < domain.size() && domain[i] != '.') {
      const auto octet = static_cast<unsigned char>(domain[i]);
      if (octet <= 0x20 || octet >= 0x7f) {
        return false;
      }
      continue;
    }
    const auto label = domain.substr(start, i - start);
    if (label.empty() || label.size() > 63) {
      return false;
    }
    ++labels;
    start = i + 1;
    if (i == domain.size() && std::all_of(label.begin(), label.end(), is_digit)) {
      return false;
    }
  }
  return labels >= 2;
}

std::string strip_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return std::string(name);
}

// ---------------------------------------------------------------------------------------------
// check_host() (RFC 7208 §4)

/// The outcome of one check_host() with what the caller needs besides the result.
struct HostResult {
  SpfResult result = SpfResult::none;
  std::string problem;    ///< permerror, temperror
  std::string mechanism;  ///< the matching term, as written
  /// exp= of the record that decided (RFC 7208 §6.2: the original domain's, or the redirect
  /// target's), and that record's domain.
  std::optional<MacroString> exp;
  std::string exp_domain;
};

HostResult error(SpfResult result, std::string problem) {
  HostResult out;
  out.result = result;
  out.problem = std::move(problem);
  return out;
}

/// Whether a mechanism matched, or the error that ended the evaluation.
struct Match {
  bool matched = false;
  std::optional<HostResult> error;
};

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

constexpr std::string_view kLimitProblem =
    "more than 10 DNS-querying mechanisms and modifiers (RFC 7208 section 4.6.4)";
constexpr std::string_view kVoidProblem =
    "more than 2 lookups found no records (RFC 7208 section 4.6.4)";

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const SpfRequest& request, IpAddress client,
             MacroValues values)
      : dns_(resolver, client), client_(client), values_(std::move(values)) {
    server_.reset(SPF_server_new_dns(dns_.layer(), 0));
    if (!server_) {
      throw std::bad_alloc();
    }
    // Note: no local policy, no whitelist, no default explanation (libspf2's points at the
    // dead openspf.org); exp= is ours. The request never enters SPF_request_query_mailfrom,
    // whose "localhost is always allowed" would pass any 127/8 client.
    SPF_response_t* raw = nullptr;
    SPF_server_set_localpolicy(server_.get(), "", 0, &raw);
    ResponsePtr discard(raw);
    raw = nullptr;
    SPF_server_set_explanation(server_.get(), "", &raw);
    discard.reset(raw);
    SPF_server_set_rec_dom(server_.get(),
                           request.receiver.empty() ? "unknown" : request.receiver.c_str());
    request_.reset(SPF_request_new(server_.get()));
    if (!request_) {
      throw std::bad_alloc();
    }
    if (client_.is_v4()) {
      in_addr address{};
      std::memcpy(&address, client_.bytes().data(), sizeof(address));
      SPF_request_set_ipv4(request_.get(), address);
    } else {
      in6_addr address{};
      std::memcpy(&address, client_.bytes().data(), sizeof(address));
      SPF_request_set_ipv6(request_.get(), address);
    }
  }

  /// check_host(<ip>, <domain>, <sender>) (RFC 7208 §4).
  HostResult check_host(const std::string& domain, unsigned depth) {
    if (!is_spf_domain(domain)) {
      return {};  // RFC 7208 §4.3: none
    }
    if (depth > 20) {  // Note: cannot happen within the lookup limit; a guard, not a rule.
      return error(SpfResult::permerror, "include/redirect nested too deeply");
    }
    const Answer txt = dns_.resolve(strip_dot(domain), RrType::txt);
    if (txt.temporary_failure()) {
      return error(SpfResult::temperror, fmt::format("looking up the SPF record of {}: {}",
                                                     printable(domain), dns::describe(txt)));
    }
    std::vector<const std::string*> records;
    for (const auto& text : txt.texts) {
      if (is_spf_record(text)) {
        records.push_back(&text);
      }
    }
    if (txt.outcome != Outcome::ok || records.empty()) {
      return {};  // RFC 7208 §4.5: none
    }
    if (records.size() > 1) {
      return error(SpfResult::permerror, fmt::format("{} SPF records at {} (RFC 7208 section 4.5)",
                                                     records.size(), printable(domain)));
    }
    if (depth == 0) {
      top_record_ = *records.front();
    }
    step(depth, fmt::format("{}: \"{}\"", printable(domain), printable(*records.front())));
    std::string problem;
    const auto record = parse_record(*records.front(), problem);
    if (!record) {
      return error(SpfResult::permerror,
                   fmt::format("invalid SPF record at {}: {}", printable(domain), problem));
    }
    return evaluate(*record, domain, depth);
  }

  /// RFC 7208 §6.2: the explanation for a fail, or "" when there is none or it is unusable.
  std::string explanation(const HostResult& host) {
    if (!host.exp) {
      return {};
    }
    const std::string target = expand(*host.exp, host.exp_domain, true);
    if (!dns::spf_queryable_name(target)) {
      return {};
    }
    const Answer txt = dns_.resolve(target, RrType::txt);  // not a term: no limits apply
    if (txt.outcome != Outcome::ok || txt.texts.size() != 1) {
      return {};
    }
    std::string problem;
    const auto text = parse_macro_string(txt.texts.front(), MacroUse::explanation, problem);
    if (!text) {
      return {};
    }
    return expand(*text, host.exp_domain, false);
  }

  [[nodiscard]] const std::string& top_record() const { return top_record_; }
  std::vector<std::string> take_steps() { return std::move(steps_); }
  [[nodiscard]] bool out_of_time() const { return dns_.out_of_time(); }
  std::vector<Answer> take_evidence() { return dns_.take_evidence(); }

 private:
  HostResult evaluate(const Record& record, const std::string& domain, unsigned depth) {
    for (const auto& mech : record.mechanisms) {
      Match match = evaluate(mech, domain, depth);
      step(depth + 1, fmt::format("{}: {}", printable(mech.text),
                                  match.error     ? std::string(to_string(match.error->result))
                                  : match.matched ? std::string("match")
                                                  : std::string("no match")));
      if (match.error) {
        return std::move(*match.error);
      }
      if (match.matched) {
        HostResult out;
        out.result = mech.qualifier;
        out.mechanism = mech.text;
        out.exp = record.exp;
        out.exp_domain = domain;
        return out;
      }
    }
    if (record.redirect) {
      // RFC 7208 §6.1: only when no mechanism matched; the target's result is the result.
      if (!dns_.charge_term()) {
        return error(SpfResult::permerror, std::string(kLimitProblem));
      }
      const std::string target = expand(*record.redirect, domain, true);
      HostResult sub = check_host(target, depth + 1);
      if (sub.result == SpfResult::none) {
        return error(SpfResult::permerror,
                     fmt::format("{}: no SPF record at {}", printable(record.redirect_text),
                                 printable(target)));
      }
      return sub;
    }
    HostResult out;
    out.result = SpfResult::neutral;  // RFC 7208 §4.7
    out.exp = record.exp;
    out.exp_domain = domain;
    return out;
  }

  Match evaluate(const Mechanism& mech, const std::string& domain, unsigned depth) {
    switch (mech.kind) {
      case MechKind::all: return {true, std::nullopt};
      case MechKind::ip4:
      case MechKind::ip6:
        return {client_.in_network(mech.network.prefix, mech.network.length), std::nullopt};
      case MechKind::include: return include(mech, domain, depth);
      case MechKind::a: return lookup(mech, SpfTerm::a, domain);
      case MechKind::mx: return lookup(mech, SpfTerm::mx, domain);
      case MechKind::ptr: return lookup(mech, SpfTerm::ptr, domain);
      case MechKind::exists: return lookup(mech, SpfTerm::exists, domain);
    }
    return {};
  }

  /// RFC 7208 §5.2.
  Match include(const Mechanism& mech, const std::string& domain, unsigned depth) {
    if (!dns_.charge_term()) {
      return {false, error(SpfResult::permerror, std::string(kLimitProblem))};
    }
    const std::string target = expand(*mech.spec, domain, true);
    HostResult sub = check_host(target, depth + 1);
    switch (sub.result) {
      case SpfResult::pass: return {true, std::nullopt};
      case SpfResult::fail:
      case SpfResult::softfail:
      case SpfResult::neutral: return {false, std::nullopt};
      case SpfResult::temperror:
      case SpfResult::permerror: return {false, std::move(sub)};
      case SpfResult::none: break;
    }
    return {false,
            error(SpfResult::permerror,
                  fmt::format("{}: no SPF record at {}", printable(mech.text), printable(target)))};
  }

  /// a, mx, ptr, exists: libspf2 evaluates the single mechanism, asking SpfDns.
  Match lookup(const Mechanism& mech, SpfTerm term, const std::string& domain) {
    if (!dns_.charge_term()) {
      return {false, error(SpfResult::permerror, std::string(kLimitProblem))};
    }
    const std::string target = mech.spec ? expand(*mech.spec, domain, true) : strip_dot(domain);
    if (!dns::spf_queryable_name(target)) {
      return {};  // RFC 7208 §4.8: a target that cannot be a DNS name does not exist
    }
    std::string text = fmt::format("v=spf1 +{}:{}", term_name(term), libspf2_literal(target));
    bool zero_prefix = false;
    if (term == SpfTerm::a || term == SpfTerm::mx) {
      const auto length = client_.is_v4() ? mech.cidr4 : mech.cidr6;
      zero_prefix = length.has_value() && *length == 0;
      // Note: libspf2 rejects /0 and takes a missing length as the longest.
      const unsigned cidr4 = mech.cidr4.value_or(32) == 0 ? 32 : mech.cidr4.value_or(32);
      const unsigned cidr6 = mech.cidr6.value_or(128) == 0 ? 128 : mech.cidr6.value_or(128);
      text += fmt::format("/{}//{}", cidr4, cidr6);
    }

    ResponsePtr compile_errors(SPF_response_new(request_.get()));
    SPF_record_t* raw = nullptr;
    const SPF_errcode_t compiled =
        SPF_record_compile(server_.get(), compile_errors.get(), &raw, text.c_str());
    const RecordPtr record(raw);
    if (compiled != SPF_E_SUCCESS || !record || record->num_mech != 1) {
      return {false, error(SpfResult::permerror,
                           fmt::format("{}: libspf2 cannot evaluate it: {}", printable(mech.text),
                                       SPF_strerror(compiled)))};
    }
    ResponsePtr response(SPF_response_new(request_.get()));
    response->spf_record_exp = record.get();
    request_->cur_dom = domain.c_str();
    dns_.begin_term(term, zero_prefix);
    SPF_record_interpret(record.get(), request_.get(), response.get(), 0);
    dns_.end_term();
    request_->cur_dom = nullptr;

    if (dns_.void_limit_exceeded()) {
      return {false, error(SpfResult::permerror, std::string(kVoidProblem))};
    }
    switch (SPF_response_result(response.get())) {
      case SPF_RESULT_PASS: return {true, std::nullopt};
      case SPF_RESULT_NEUTRAL: return {};
      case SPF_RESULT_TEMPERROR: {
        const Answer* failed = dns_.term_failure();
        return {false,
                error(SpfResult::temperror,
                      fmt::format("{}: {}", printable(mech.text),
                                  failed != nullptr ? dns::describe(*failed) : "DNS failure"))};
      }
      default: {
        const auto err = SPF_response_errcode(response.get());
        const std::string why = err == SPF_E_BIG_DNS
                                    ? "more than 10 MX records (RFC 7208 section 4.6.4)"
                                    : std::string(SPF_strerror(err));
        return {false,
                error(SpfResult::permerror, fmt::format("{}: {}", printable(mech.text), why))};
      }
    }
  }

  /// Expands a macro-string with <domain> = `domain` (RFC 7208 §7). For a domain name
  /// (`for_domain`) one trailing dot is dropped and the name is cut to 253 octets from the left.
  std::string expand(const MacroString& spec, std::string_view domain, bool for_domain) {
    std::string out;
    for (const auto& token : spec) {
      if (token.kind != MacroToken::Kind::macro) {
        out += token.text;
        continue;
      }
      std::string value;
      switch (token.letter) {
        case 's': value = values_.sender; break;
        case 'l': value = values_.local; break;
        case 'o': value = values_.sender_domain; break;
        case 'd': value = std::string(domain); break;
        case 'i': value = values_.ip; break;
        case 'p': value = validated_name(domain); break;
        case 'v': value = values_.version; break;
        case 'h': value = values_.helo; break;
        case 'c': value = values_.pretty_ip; break;
        case 'r': value = values_.receiver; break;
        case 't':
          value = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
          break;
        default: break;
      }
      value = transform(value, token);
      out += token.url_escape ? url_escape(value) : value;
    }
    if (!for_domain) {
      return out;
    }
    if (!out.empty() && out.back() == '.') {
      out.pop_back();
    }
    // RFC 7208 §7.3: remove whole labels from the left until the name fits.
    while (out.size() > 253) {
      const auto dot = out.find('.');
      if (dot == std::string::npos) {
        break;
      }
      out.erase(0, dot + 1);
    }
    return out;
  }

  /// The p macro (RFC 7208 §7.3): a validated name of the client, preferring <domain> or a
  /// subdomain of it; "unknown" if none. Note: its lookups are evidence but no term.
  std::string validated_name(std::string_view domain) {
    if (!validated_) {
      validated_.emplace();
      const Answer ptr = dns_.resolve(client_.reverse_name(), RrType::ptr);
      if (ptr.outcome == Outcome::ok) {
        const auto type = client_.is_v4() ? RrType::a : RrType::aaaa;
        const std::size_t count = std::min<std::size_t>(ptr.names.size(), 10);
        for (std::size_t i = 0; i < count; ++i) {
          const auto& name = ptr.names[i];
          if (!dns::spf_queryable_name(name)) {
            continue;
          }
          const Answer forward = dns_.resolve(name, type);
          if (std::find(forward.addresses.begin(), forward.addresses.end(), client_) !=
              forward.addresses.end()) {
            validated_->push_back(strip_dot(name));
          }
        }
      }
    }
    if (validated_->empty()) {
      return "unknown";
    }
    const std::string wanted = to_lower(strip_dot(domain));
    for (const auto& name : *validated_) {
      if (to_lower(name) == wanted) {
        return name;
      }
    }
    for (const auto& name : *validated_) {
      const std::string lowered = to_lower(name);
      if (lowered.size() > wanted.size() &&
          lowered.compare(lowered.size() - wanted.size(), wanted.size(), wanted) == 0 &&
          lowered[lowered.size() - wanted.size() - 1] == '.') {
        return name;
      }
    }
    return validated_->front();
  }

  SpfDns dns_;  // Note: declared before server_, so the server is freed first.
  IpAddress client_;
  MacroValues values_;
  ServerPtr server_;
  RequestPtr request_;
  std::string top_record_;
  std::vector<std::string> steps_;  // what --check shows: each record and term, indented

  void step(unsigned depth, std::string line) {
    if (steps_.size() < 200) steps_.push_back(std::string(2 * depth, ' ') + std::move(line));
  }
  std::optional<std::vector<std::string>> validated_;
};

/// %{i}: dotted quad, or 32 dot-separated nibbles for IPv6 (upper case, as the RFC 7208 test
/// suite and pyspf write them).
std::string macro_ip(const IpAddress& client) {
  if (client.is_v4()) {
    return client.to_string();
  }
  std::string out;
  for (const auto byte : client.bytes()) {
    out += fmt::format("{:X}.{:X}.", byte >> 4U, byte & 0x0fU);
  }
  out.pop_back();
  return out;
}

}  // namespace

std::string_view to_string(SpfResult result) {
  switch (result) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
  }
  return "?";
}

std::string_view to_string(SpfIdentity identity) {
  switch (identity) {
    case SpfIdentity::mailfrom: return "mailfrom";
    case SpfIdentity::helo: return "helo";
  }
  return "?";
}

bool spf_helo_checkable(std::string_view helo) {
  return is_spf_domain(helo);
}

Spf check_spf(dns::Resolver& resolver, const SpfRequest& request) {
  Spf out;
  out.identity = request.identity;
  const IpAddress client = request.client.unmapped();  // RFC 7208 §5: mapped IPv4 is IPv4

  // RFC 7208 §2.3, §2.4, §4.3: the identity, its domain, and "postmaster" for a missing
  // local-part.
  std::string local;
  std::string domain;
  if (request.identity == SpfIdentity::helo || request.mail_from.empty()) {
    local = "postmaster";
    domain = request.helo;
  } else {
    const auto at = request.mail_from.rfind('@');
    if (at == std::string::npos) {
      local = "postmaster";
      domain = request.mail_from;
    } else {
      local = request.mail_from.substr(0, at);
      domain = request.mail_from.substr(at + 1);
      if (local.empty()) {
        local = "postmaster";
      }
    }
  }
  out.sender = local + "@" + domain;
  out.domain = dns::normalize_name(domain);
  if (!is_spf_domain(domain)) {
    return out;  // RFC 7208 §4.3: none
  }

  MacroValues values;
  values.sender = out.sender;
  values.local = local;
  values.sender_domain = strip_dot(domain);
  values.ip = macro_ip(client);
  values.pretty_ip = client.to_string();
  values.version = client.is_v4() ? "in-addr" : "ip6";
  values.helo = request.helo;
  values.receiver = request.receiver.empty() ? "unknown" : request.receiver;

  Evaluation evaluation(resolver, request, client, std::move(values));
  HostResult host = evaluation.check_host(strip_dot(domain), 0);
  if (evaluation.out_of_time()) {
    // Note: whatever the terms said once answers stopped (a PTR name skipped, say), the
    // evaluation is incomplete.
    host = error(SpfResult::temperror,
                 fmt::format("evaluation took longer than {} ms (RFC 7208 section 4.6.4)",
                             dns::SpfLimits{}.max_elapsed.count()));
  }
  out.result = host.result;
  out.record = evaluation.top_record();
  out.mechanism = std::move(host.mechanism);
  out.problem = std::move(host.problem);
  if (out.result == SpfResult::fail) {
    out.explanation = evaluation.explanation(host);
  }
  out.evidence = evaluation.take_evidence();
  out.steps = evaluation.take_steps();
  return out;
}

}  // namespace rdns::checks
