#include "rdns/checks/helo.h"

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>

#include "rdns/dns/name.h"

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::Outcome;
using dns::RrType;

HeloName invalid(std::string error) {
  HeloName name;
  name.error = std::move(error);
  return name;
}

Helo verdict(std::string_view helo, HeloName parsed, HeloResult result, HeloReason reason) {
  Helo out;
  out.helo = dns::printable_ascii(helo, 255);
  out.parsed = std::move(parsed);
  out.result = result;
  out.reason = reason;
  return out;
}

}  // namespace

HeloName parse_helo(std::string_view text) {
  if (text.empty()) {
    return invalid("empty HELO");
  }
  if (text.front() == '[') {
    if (text.size() < 3 || text.back() != ']') {
      return invalid("an address literal must be enclosed in [ ]");
    }
    auto inner = text.substr(1, text.size() - 2);
    std::optional<dns::IpAddress> address;
    if (inner.size() > 5 && dns::iequals(inner.substr(0, 5), "ipv6:")) {
      address = dns::IpAddress::parse(inner.substr(5));
      if (address && address->is_v4()) address.reset();
    } else if (inner.find(':') == std::string_view::npos) {
      address = dns::IpAddress::parse(inner);
    }
    if (!address) {
      return invalid("not a valid address literal ([192.0.2.7] or [IPv6:2001:db8::7])");
    }
    HeloName name;
    name.kind = HeloName::Kind::address_literal;
    name.literal = address;
    return name;
  }
  std::string domain = dns::to_lower(dns::strip_trailing_dot(text));
  if (domain.size() > 253) {
    return invalid("longer than 253 octets");
  }
  if (dns::IpAddress::parse(domain)) {
    return invalid("a bare address; an address must be written as [192.0.2.7]");
  }
  const auto labels = dns::labels(domain);
  for (const auto label : labels) {
    if (label.empty()) {
      return invalid("empty label (two dots in a row, or a leading dot)");
    }
    if (label.size() > 63) {
      return invalid("a label longer than 63 octets");
    }
    for (const char c : label) {
      if (!dns::is_ascii_alnum(c) && c != '-') {
        return invalid(dns::is_ascii_control(c)                ? "control characters"
                       : static_cast<unsigned char>(c) >= 0x80 ? "non-ASCII characters"
                       : c == '_' ? "an underscore (not allowed in host names)"
                       : c == ' ' ? "a space"
                                  : "characters other than letters, digits, - and .");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return invalid("a label starting or ending with a hyphen");
    }
  }
  const auto tld = labels.back();
  if (labels.size() > 1 && std::all_of(tld.begin(), tld.end(), dns::is_ascii_digit)) {
    return invalid("an all-numeric top-level label (an unbracketed address?)");
  }
  HeloName name;
  name.kind = HeloName::Kind::domain;
  name.domain = std::move(domain);
  return name;
}

bool is_private_name(std::string_view domain) {
  // RFC 6761 (test, localhost, invalid, example), RFC 6762 (local), RFC 8375 (home.arpa),
  // RFC 7686 (onion), RFC 9476 (alt), ICANN's reserved "internal", and private names that
  // are not delegated in the root and never will be in practice (lan, home, corp, ...).
  static constexpr std::array<std::string_view, 18> suffixes{
      "local",    "localhost", "localdomain", "invalid",     "test",        "example",
      "internal", "lan",       "home",        "corp",        "intranet",    "private",
      "onion",    "alt",       "home.arpa",   "example.com", "example.net", "example.org"};
  return std::any_of(suffixes.begin(), suffixes.end(), [name = domain](std::string_view suffix) {
    return dns::at_or_below(name, suffix);
  });
}

std::string special_use_reason(std::string_view domain) {
  struct Reserved {
    std::string_view suffix;
    std::string_view why;
  };
  static constexpr std::array<Reserved, 18> reserved{{
      {"example", "reserved for documentation (RFC 6761 section 6.5)"},
      {"example.com", "reserved for documentation (RFC 6761 section 6.5)"},
      {"example.net", "reserved for documentation (RFC 6761 section 6.5)"},
      {"example.org", "reserved for documentation (RFC 6761 section 6.5)"},
      {"test", "reserved for testing (RFC 6761 section 6.2)"},
      {"invalid", "reserved as never valid (RFC 6761 section 6.4)"},
      {"localhost", "reserved for the loopback host (RFC 6761 section 6.3)"},
      {"local", "reserved for multicast DNS on the local link (RFC 6762)"},
      {"home.arpa", "reserved for home networks (RFC 8375)"},
      {"onion", "reserved for Tor onion services (RFC 7686)"},
      {"alt", "reserved for names outside the DNS (RFC 9476)"},
      {"internal", "reserved by ICANN for private networks"},
      {"localdomain", "a private name, never delegated in the root zone"},
      {"lan", "a private name, never delegated in the root zone"},
      {"home", "a private name, never delegated in the root zone"},
      {"corp", "a private name, never delegated in the root zone"},
      {"intranet", "a private name, never delegated in the root zone"},
      {"private", "a private name, never delegated in the root zone"},
  }};
  // The most specific match wins (example.com before a bare .com rule, home.arpa before none).
  const Reserved* best = nullptr;
  for (const auto& entry : reserved) {
    if (dns::at_or_below(domain, entry.suffix) &&
        (best == nullptr || entry.suffix.size() > best->suffix.size())) {
      best = &entry;
    }
  }
  if (best == nullptr) return {};
  const bool special = best->why.starts_with("reserved") && best->suffix != "internal";
  return std::string(domain) + (special ? " is a special-use name " : " is ") +
         std::string(best->why) + ", not a public host name";
}

std::string_view to_string(HeloResult result) {
  switch (result) {
    case HeloResult::pass: return "pass";
    case HeloResult::fail: return "fail";
    case HeloResult::temperror: return "temperror";
    case HeloResult::none: return "none";
  }
  return "?";
}

std::string_view to_string(HeloReason reason) {
  switch (reason) {
    case HeloReason::ok: return "ok";
    case HeloReason::syntax: return "syntax";
    case HeloReason::not_fqdn: return "not-fqdn";
    case HeloReason::bad_tld: return "bad-tld";
    case HeloReason::no_address: return "no-address";
    case HeloReason::mismatch: return "mismatch";
    case HeloReason::forged_local: return "forged-local";
    case HeloReason::dns_error: return "dns-error";
    case HeloReason::no_helo: return "no-helo";
  }
  return "?";
}

std::optional<Helo> decide_helo_offline(std::string_view helo, const dns::IpAddress& client,
                                        const HeloIdentity& identity) {
  auto parsed = parse_helo(helo);
  const auto who = client.unmapped();
  switch (parsed.kind) {
    case HeloName::Kind::invalid:
      return verdict(helo, std::move(parsed), HeloResult::fail, HeloReason::syntax);
    case HeloName::Kind::address_literal: {
      const auto literal = parsed.literal->unmapped();
      if (literal == who) {
        return verdict(helo, std::move(parsed), HeloResult::pass, HeloReason::ok);
      }
      const bool ours = std::find(identity.own_addresses.begin(), identity.own_addresses.end(),
                                  literal) != identity.own_addresses.end();
      return verdict(
          helo, std::move(parsed), HeloResult::fail,
          ours && !identity.client_trusted ? HeloReason::forged_local : HeloReason::mismatch);
    }
    case HeloName::Kind::domain: break;
  }
  if (!identity.client_trusted && std::find(identity.own_names.begin(), identity.own_names.end(),
                                            parsed.domain) != identity.own_names.end()) {
    return verdict(helo, std::move(parsed), HeloResult::fail, HeloReason::forged_local);
  }
  if (parsed.domain.find('.') == std::string::npos) {
    return verdict(helo, std::move(parsed), HeloResult::fail, HeloReason::not_fqdn);
  }
  if (is_private_name(parsed.domain)) {
    return verdict(helo, std::move(parsed), HeloResult::fail, HeloReason::bad_tld);
  }
  return std::nullopt;
}

Helo decide_helo(std::string_view helo, const dns::IpAddress& client, const HeloIdentity& identity,
                 const HeloAnswers& answers, const std::vector<std::string>& verified_ptr_names) {
  std::vector<Answer> evidence;
  for (const auto* answer : {&answers.tld, &answers.a, &answers.aaaa, &answers.mx}) {
    if (*answer) evidence.push_back(**answer);
  }
  if (auto offline = decide_helo_offline(helo, client, identity)) {
    offline->evidence = std::move(evidence);
    return *offline;
  }
  auto parsed = parse_helo(helo);
  const auto who = client.unmapped();
  const auto temporary = [](const std::optional<Answer>& answer) {
    return !answer || answer->temporary_failure();
  };
  auto finish = [&](HeloResult result, HeloReason reason, std::vector<dns::IpAddress> addresses,
                    bool by_ptr) {
    auto out = verdict(helo, parsed, result, reason);
    out.addresses = std::move(addresses);
    out.matched_by_ptr = by_ptr;
    out.evidence = evidence;
    return out;
  };

  // RFC 1035 §3.7 semantics: an NXDOMAIN for the TLD itself means no such TLD.
  if (answers.tld && answers.tld->outcome == Outcome::nxdomain) {
    return finish(HeloResult::fail, HeloReason::bad_tld, {}, false);
  }
  std::vector<dns::IpAddress> addresses;
  for (const auto* answer : {&answers.a, &answers.aaaa}) {
    if (*answer && (*answer)->outcome == Outcome::ok) {
      addresses.insert(addresses.end(), (*answer)->addresses.begin(), (*answer)->addresses.end());
    }
  }
  if (std::find(addresses.begin(), addresses.end(), who) != addresses.end()) {
    return finish(HeloResult::pass, HeloReason::ok, std::move(addresses), false);
  }
  if (std::find(verified_ptr_names.begin(), verified_ptr_names.end(), parsed.domain) !=
      verified_ptr_names.end()) {
    return finish(HeloResult::pass, HeloReason::ok, std::move(addresses), true);
  }
  const bool has_mx = answers.mx && answers.mx->outcome == Outcome::ok;
  if (addresses.empty() && !has_mx) {
    const bool unsure = temporary(answers.a) || temporary(answers.aaaa) || temporary(answers.mx) ||
                        (answers.tld && answers.tld->temporary_failure());
    return finish(unsure ? HeloResult::temperror : HeloResult::fail,
                  unsure ? HeloReason::dns_error : HeloReason::no_address, {}, false);
  }
  // It resolves, but not to the client: unless the client's own family failed to resolve.
  const bool unsure = who.is_v4() ? temporary(answers.a) : temporary(answers.aaaa);
  return finish(unsure ? HeloResult::temperror : HeloResult::fail,
                unsure ? HeloReason::dns_error : HeloReason::mismatch, std::move(addresses), false);
}

void start_helo_lookups(dns::Resolver& resolver, std::string_view helo,
                        std::function<void(HeloAnswers)> done) {
  const auto parsed = parse_helo(helo);
  if (parsed.kind != HeloName::Kind::domain || parsed.domain.find('.') == std::string::npos ||
      is_private_name(parsed.domain)) {
    done({});
    return;
  }
  struct State {
    std::mutex mutex;
    HeloAnswers answers;
    int pending = 4;
    std::function<void(HeloAnswers)> done;
  };
  auto state = std::make_shared<State>();
  state->done = std::move(done);
  const std::string tld(dns::top_label(parsed.domain));
  const std::array<std::pair<std::string, RrType>, 4> queries{{{tld, RrType::soa},
                                                               {parsed.domain, RrType::a},
                                                               {parsed.domain, RrType::aaaa},
                                                               {parsed.domain, RrType::mx}}};
  for (std::size_t i = 0; i < queries.size(); ++i) {
    resolver.resolve_async(queries[i].first, queries[i].second, {}, [state, i](Answer answer) {
      std::unique_lock lock(state->mutex);
      std::optional<Answer>* slots[] = {&state->answers.tld, &state->answers.a,
                                        &state->answers.aaaa, &state->answers.mx};
      *slots[i] = std::move(answer);
      if (--state->pending > 0) return;
      lock.unlock();
      state->done(std::move(state->answers));
    });
  }
}

}  // namespace rdns::checks
