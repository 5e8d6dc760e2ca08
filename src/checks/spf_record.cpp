#include "rdns/checks/spf_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "rdns/dns/name.h"
#include "spf_text.h"

namespace rdns::checks {
namespace {

using spf_text::printable;

/// A CIDR length per RFC 7208 §12: "0" or digits without a leading zero, at most `max`.
std::optional<unsigned> parse_cidr(std::string_view digits, unsigned max) {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(), dns::is_ascii_digit)) {
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
  const auto parts = dns::labels(text);
  return parts.size() == 4 && std::all_of(parts.begin(), parts.end(), [](std::string_view part) {
           return parse_cidr(part, 255).has_value();
         });
}

/// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
  if (label.empty() || !std::all_of(label.begin(), label.end(),
                                    [](char c) { return dns::is_ascii_alnum(c) || c == '-'; })) {
    return false;
  }
  if (label.find('-') != std::string_view::npos) {
    return dns::is_ascii_alnum(label.front()) && dns::is_ascii_alnum(label.back());
  }
  return std::any_of(label.begin(), label.end(), dns::is_ascii_alpha);
}

/// Parses a domain-spec = macro-string domain-end (RFC 7208 §12).
std::optional<SpfMacroString> parse_domain_spec(std::string_view text, std::string& problem) {
  if (text.empty()) {
    problem = "empty domain-spec";
    return std::nullopt;
  }
  auto spec = parse_spf_macro_string(text, SpfMacroUse::domain, problem);
  if (!spec) {
    return std::nullopt;
  }
  if (spec->back().kind != SpfMacroToken::Kind::literal) {
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

/// Strips a trailing dual-cidr-length from `arg` (a, mx).
bool strip_dual_cidr(std::string_view& arg, SpfMechanism& mech, std::string& problem) {
  auto trailing_digits = [](std::string_view text) {
    std::size_t start = text.size();
    while (start > 0 && dns::is_ascii_digit(text[start - 1])) {
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

/// Removes a leading qualifier from `term` and returns it ("+" when there is none).
SpfResult take_qualifier(std::string_view& term) {
  SpfResult qualifier = SpfResult::pass;
  switch (term.front()) {
    case '+': qualifier = SpfResult::pass; break;
    case '-': qualifier = SpfResult::fail; break;
    case '~': qualifier = SpfResult::softfail; break;
    case '?': qualifier = SpfResult::neutral; break;
    default: return qualifier;
  }
  term.remove_prefix(1);
  return qualifier;
}

/// Parses `arg` = [ ":" domain-spec ] into mech.spec; `required`: the domain-spec must be there.
bool parse_spec_after_colon(std::string_view arg, bool required, SpfMechanism& mech,
                            std::string& problem) {
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
}

/// Parses `arg` = ":" ip4-network [ ip4-cidr-length ] (or the ip6 forms) into mech.network.
bool parse_ip_network(std::string_view arg, bool v4, SpfMechanism& mech, std::string& problem) {
  const auto bad = [&](std::string_view why) {
    problem = fmt::format("{} in '{}'", why, printable(mech.text));
    return false;
  };
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
  const auto address = dns::IpAddress::parse(address_text);
  if (!address || address->is_v4() != v4 || (v4 && !is_ip4_network(address_text))) {
    return bad(v4 ? "invalid IPv4 address" : "invalid IPv6 address");
  }
  mech.network = dns::Network{*address, length};
  return true;
}

std::optional<SpfMechanism> parse_mechanism(std::string_view term, std::string& problem) {
  SpfMechanism mech;
  mech.text = std::string(term);
  mech.qualifier = take_qualifier(term);
  std::size_t name_end = 0;
  while (name_end < term.size() && dns::is_ascii_alnum(term[name_end])) {
    ++name_end;
  }
  const std::string name = dns::to_lower(term.substr(0, name_end));
  std::string_view arg = term.substr(name_end);
  bool ok = true;
  if (name == "all") {
    mech.kind = SpfMechanismKind::all;
    if (!arg.empty()) {
      problem = fmt::format("'all' takes no argument in '{}'", printable(mech.text));
      ok = false;
    }
  } else if (name == "include" || name == "exists") {
    mech.kind = name == "include" ? SpfMechanismKind::include : SpfMechanismKind::exists;
    ok = parse_spec_after_colon(arg, true, mech, problem);
  } else if (name == "ptr") {
    mech.kind = SpfMechanismKind::ptr;
    ok = parse_spec_after_colon(arg, false, mech, problem);
  } else if (name == "a" || name == "mx") {
    mech.kind = name == "a" ? SpfMechanismKind::a : SpfMechanismKind::mx;
    ok = strip_dual_cidr(arg, mech, problem) && parse_spec_after_colon(arg, false, mech, problem);
  } else if (name == "ip4" || name == "ip6") {
    const bool v4 = name == "ip4";
    mech.kind = v4 ? SpfMechanismKind::ip4 : SpfMechanismKind::ip6;
    ok = parse_ip_network(arg, v4, mech, problem);
  } else {
    problem = fmt::format("unknown mechanism '{}'", printable(mech.text));
    ok = false;
  }
  if (!ok) {
    return std::nullopt;
  }
  return mech;
}

/// The length of the modifier name at the start of `term` if a "=" follows it, else 0
/// (name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )).
std::size_t modifier_name_length(std::string_view term) {
  std::size_t name_end = 0;
  if (dns::is_ascii_alpha(term.front())) {
    name_end = 1;
    while (name_end < term.size() &&
           (dns::is_ascii_alnum(term[name_end]) || term[name_end] == '-' || term[name_end] == '_' ||
            term[name_end] == '.')) {
      ++name_end;
    }
  }
  return name_end > 0 && name_end < term.size() && term[name_end] == '=' ? name_end : 0;
}

/// Parses the modifier `term` (its name is `name_length` octets) into `record`.
bool parse_modifier(std::string_view term, std::size_t name_length, bool& have_exp,
                    SpfRecord& record, std::string& problem) {
  const std::string name = dns::to_lower(term.substr(0, name_length));
  const std::string_view value = term.substr(name_length + 1);
  std::string why;
  if (name != "redirect" && name != "exp") {
    if (!parse_spf_macro_string(value, SpfMacroUse::domain, why)) {
      // RFC 7208 §6: unknown modifiers are ignored, but must be well-formed.
      problem = fmt::format("{} in '{}'", why, printable(term));
      return false;
    }
    return true;
  }
  // RFC 7208 §6: each at most once; a known modifier is never an unknown-modifier.
  if (name == "redirect" ? record.redirect.has_value() : have_exp) {
    problem = fmt::format("'{}=' appears more than once", name);
    return false;
  }
  auto spec = parse_domain_spec(value, why);
  if (!spec) {
    problem = fmt::format("{} in '{}'", why, printable(term));
    return false;
  }
  if (name == "redirect") {
    record.redirect = std::move(spec);
    record.redirect_text = std::string(term);
  } else {
    record.exp = std::move(spec);
    have_exp = true;
  }
  return true;
}

}  // namespace

bool is_spf_record(std::string_view text) {
  return text.size() >= 6 && dns::iequals(text.substr(0, 6), "v=spf1") &&
         (text.size() == 6 || text[6] == ' ');
}

std::optional<SpfRecord> parse_spf_record(std::string_view text, std::string& problem) {
  if (!is_spf_record(text)) {
    problem = "not an SPF record (no \"v=spf1\")";
    return std::nullopt;
  }
  SpfRecord record;
  text.remove_prefix(6);  // "v=spf1"
  bool have_exp = false;
  while (!text.empty()) {
    if (text.front() == ' ') {
      text.remove_prefix(1);
      continue;
    }
    const auto end = text.find(' ');
    const std::string_view term = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end);
    if (const std::size_t name_length = modifier_name_length(term); name_length > 0) {
      if (!parse_modifier(term, name_length, have_exp, record, problem)) {
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

}  // namespace rdns::checks
