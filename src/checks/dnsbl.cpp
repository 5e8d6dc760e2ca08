#include "rdns/checks/dnsbl.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "rdns/dns/name.h"

namespace rdns::checks {
namespace {

constexpr std::string_view site_syntax = "expected domain[=d.d.d.d][*weight]";
constexpr int max_weight = 1000;
/// TXT records are shown in replies and headers: bounded, printable ASCII only.
constexpr std::size_t max_txt = 250;

/// A whole decimal number within [min, max] with nothing else around it.
std::optional<int> whole_number(std::string_view text, int min, int max) {
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

/// An octet value 0..255 written as plain digits (no sign, no spaces).
std::optional<std::uint8_t> octet_value(std::string_view text) {
  if (text.empty() || text.size() > 3 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return dns::is_ascii_digit(c); })) {
    return std::nullopt;
  }
  const auto value = whole_number(text, 0, 255);
  if (!value) return std::nullopt;
  return static_cast<std::uint8_t>(*value);
}

/// One item inside [...]: "n" or "a..b".
std::optional<std::string> parse_range(std::string_view item, OctetSet& set) {
  const auto dots = item.find("..");
  if (dots == std::string_view::npos) {
    const auto value = octet_value(item);
    if (!value) {
      return fmt::format("'{}' inside [...] is not a number from 0 to 255 or a range a..b", item);
    }
    set.ranges.emplace_back(*value, *value);
    return std::nullopt;
  }
  const auto low = octet_value(item.substr(0, dots));
  const auto high = octet_value(item.substr(dots + 2));
  if (!low || !high) {
    return fmt::format("range '{}' needs two numbers from 0 to 255, as in 2..11", item);
  }
  if (*low > *high) {
    return fmt::format("range '{}' runs backwards (write the smaller number first)", item);
  }
  set.ranges.emplace_back(*low, *high);
  return std::nullopt;
}

/// One octet of a filter: "n" or "[item;item...]".
std::optional<std::string> parse_octet(std::string_view text, OctetSet& set) {
  if (text.empty()) return std::string("an octet of the filter is empty");
  if (text.front() != '[') {
    const auto value = octet_value(text);
    if (!value) {
      return fmt::format("filter octet '{}' is not a number from 0 to 255 or [...]", text);
    }
    set.ranges.emplace_back(*value, *value);
    return std::nullopt;
  }
  if (text.size() < 2 || text.back() != ']') {
    return fmt::format("filter octet '{}' opens '[' without a closing ']'", text);
  }
  const auto inside = text.substr(1, text.size() - 2);
  if (inside.empty()) return fmt::format("filter octet '{}' allows nothing", text);
  std::size_t pos = 0;
  while (pos <= inside.size()) {
    const auto semi = std::min(inside.find(';', pos), inside.size());
    const auto item = inside.substr(pos, semi - pos);
    if (item.empty()) return fmt::format("filter octet '{}' has an empty item", text);
    if (auto problem = parse_range(item, set)) return problem;
    pos = semi + 1;
  }
  return std::nullopt;
}

/// The filter d.d.d.d; dots inside [...] belong to ranges.
std::optional<std::string> parse_filter(std::string_view text, std::array<OctetSet, 4>& filter) {
  std::vector<std::string_view> octets;
  std::size_t start = 0;
  bool bracket = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '[') {
      if (bracket) return fmt::format("filter '{}' has '[' inside '[...]'", text);
      bracket = true;
    } else if (c == ']') {
      if (!bracket) return fmt::format("filter '{}' has ']' without '['", text);
      bracket = false;
    } else if (c == '.' && !bracket) {
      octets.push_back(text.substr(start, i - start));
      start = i + 1;
    } else if (!dns::is_ascii_digit(c) && c != ';' && c != '.') {
      return fmt::format("filter '{}' may hold only digits, '.', '[', ']', ';' and '..'", text);
    }
  }
  if (bracket) return fmt::format("filter '{}' opens '[' without a closing ']'", text);
  octets.push_back(text.substr(start));
  if (octets.size() != 4) {
    return fmt::format("filter '{}' has {} octet(s); it needs four, as in 127.0.0.[2..11]", text,
                       octets.size());
  }
  for (std::size_t i = 0; i < 4; ++i) {
    if (auto problem = parse_octet(octets[i], filter[i])) return problem;
  }
  return std::nullopt;
}

/// The list's zone: a domain name of at least two LDH labels (underscores tolerated).
std::optional<std::string> domain_problem(std::string_view domain) {
  if (domain.empty()) return std::string("the list's domain is missing");
  if (domain.size() > 253) return fmt::format("domain '{}' is longer than 253 bytes", domain);
  const auto labels = dns::labels(domain);
  if (labels.size() < 2) {
    return fmt::format("'{}' is not a list's domain (at least two labels, e.g. bl.example.org)",
                       domain);
  }
  for (const auto label : labels) {
    const bool ldh = !label.empty() && label.size() <= 63 && label.front() != '-' &&
                     label.back() != '-' && std::all_of(label.begin(), label.end(), [](char c) {
                       return dns::is_ascii_alnum(c) || c == '-' || c == '_';
                     });
    if (!ldh) {
      return fmt::format(
          "'{}' is not a domain name (labels of letters, digits, '-' and '_', 1 to 63 bytes)",
          domain);
    }
  }
  return std::nullopt;
}

std::string octet_text(const OctetSet& set) {
  if (set.ranges.size() == 1 && set.ranges[0].first == set.ranges[0].second) {
    return std::to_string(set.ranges[0].first);
  }
  std::string out = "[";
  for (const auto& [low, high] : set.ranges) {
    if (out.size() > 1) out += ';';
    out += low == high ? std::to_string(low) : fmt::format("{}..{}", low, high);
  }
  return out + "]";
}

std::string canonical_text(const DnsblSite& site) {
  std::string out = site.domain;
  if (site.filter) {
    out += '=';
    for (std::size_t i = 0; i < 4; ++i) {
      if (i > 0) out += '.';
      out += octet_text((*site.filter)[i]);
    }
  }
  if (site.weight != 1) out += fmt::format("*{}", site.weight);
  return out;
}

}  // namespace

bool OctetSet::contains(std::uint8_t value) const {
  return std::any_of(ranges.begin(), ranges.end(),
                     [value](const auto& r) { return value >= r.first && value <= r.second; });
}

bool DnsblSite::matches(const dns::IpAddress& answer) const {
  if (!filter) return true;
  if (!answer.is_v4()) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    if (!(*filter)[i].contains(answer.bytes()[i])) return false;
  }
  return true;
}

DnsblSiteParse parse_dnsbl_site(std::string_view text) {
  DnsblSiteParse out;
  const auto fail = [&out](std::string problem) {
    out.error = fmt::format("{}; {}", problem, site_syntax);
    return out;
  };
  if (text.empty()) return fail("the entry is empty");
  DnsblSite site;
  const auto star = text.find('*');
  if (star != std::string_view::npos) {
    const auto weight_text = text.substr(star + 1);
    if (weight_text.find('*') != std::string_view::npos) return fail("more than one '*'");
    const auto weight = whole_number(weight_text, -max_weight, max_weight);
    if (!weight) {
      return fail(fmt::format("weight '{}' after '*' is not a whole number from {} to {}",
                              weight_text, -max_weight, max_weight));
    }
    if (*weight == 0) return fail("a weight of 0 never counts");
    site.weight = *weight;
    text = text.substr(0, star);
  }
  const auto equals = text.find('=');
  if (equals != std::string_view::npos) {
    const auto filter_text = text.substr(equals + 1);
    if (filter_text.empty()) return fail("'=' without a filter after it");
    if (filter_text.find('=') != std::string_view::npos) return fail("more than one '='");
    std::array<OctetSet, 4> filter;
    if (auto problem = parse_filter(filter_text, filter)) return fail(*problem);
    site.filter = filter;
    text = text.substr(0, equals);
  }
  if (text.ends_with('.')) text.remove_suffix(1);
  if (auto problem = domain_problem(text)) return fail(*problem);
  site.domain = dns::to_lower(text);
  site.text = canonical_text(site);
  out.site = std::move(site);
  return out;
}

std::vector<std::string> split_dnsbl_sites(std::string_view text) {
  std::vector<std::string> items;
  std::string item;
  int depth = 0;
  for (const char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (depth > 0 && dns::is_ascii_space(c)) continue;  // "[2; 3]" is "[2;3]"
    if (depth <= 0 && (c == ',' || dns::is_ascii_space(c))) {
      if (!item.empty()) items.push_back(std::move(item));
      item.clear();
      depth = 0;
    } else {
      item += c;
    }
  }
  if (!item.empty()) items.push_back(std::move(item));
  return items;
}

std::string_view to_string(DnsblSource source) {
  switch (source) {
    case DnsblSource::client: return "client";
    case DnsblSource::helo: return "helo";
    case DnsblSource::mailfrom: return "mailfrom";
    case DnsblSource::ptr: return "ptr";
  }
  return "?";
}

std::string_view to_string(DnsblResult result) {
  switch (result) {
    case DnsblResult::clean: return "clean";
    case DnsblResult::listed: return "listed";
    case DnsblResult::allowlisted: return "allowlisted";
    case DnsblResult::error: return "error";
  }
  return "?";
}

std::optional<std::string> dnsbl_error_reason(std::string_view zone, const dns::IpAddress& answer,
                                              const DnsblErrorCodes& codes) {
  const auto& b = answer.bytes();
  if (!answer.is_v4() || b[0] != 127) {
    return fmt::format(
        "an answer outside 127.0.0.0/8 is no list answer (the zone is gone, parked or "
        "wildcarded); remove {} from the list options",
        zone);
  }
  if (b[1] == 255 && b[2] == 255) {
    switch (b[3]) {
      case 252:
        return fmt::format("typing error in the list's name; check the spelling of {}", zone);
      case 254:
        return std::string(
            "your queries reach it through a public or shared resolver; use rdns-milter's own "
            "recursion (no forwarder) or a registered DQS key");
      case 255:
        return std::string(
            "excessive number of queries; register for a free DQS key or a data feed, or cut "
            "the query volume");
      default:
        return fmt::format("error code 127.255.255.{} of the list operator (127.255.255.0/24)",
                           b[3]);
    }
  }
  if (b[1] == 0 && b[2] == 1 && b[3] == 255) {
    return std::string(
        "an IP address was asked from a domain list; put this zone under rhsbl-sites, not "
        "dnsbl-sites");
  }
  if (b[1] == 0 && b[2] == 0 && b[3] == 255) {
    return std::string(
        "the list refuses our queries (too many, or through a public resolver); register with "
        "the list or use rdns-milter's own recursion");
  }
  for (const auto& network : codes.extra) {
    if (network.contains(answer)) {
      return fmt::format("{} is listed in dnsbl-error-codes", answer.to_string());
    }
  }
  return std::nullopt;
}

std::string dnsbl_query_name(const dns::IpAddress& client, std::string_view zone) {
  std::string out;
  const auto& b = client.bytes();
  if (client.is_v4()) {
    out = fmt::format("{}.{}.{}.{}", b[3], b[2], b[1], b[0]);
  } else {
    constexpr std::string_view hex = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      const auto byte = b[static_cast<std::size_t>(i)];
      if (!out.empty()) out += '.';
      out += hex[byte & 0x0f];
      out += '.';
      out += hex[byte >> 4];
    }
  }
  return out + "." + std::string(zone);
}

std::string rhsbl_query_name(std::string_view domain, std::string_view zone) {
  return dns::normalize_name(domain) + "." + std::string(zone);
}

std::string shown_zone(const DnsblScoring& scoring, std::string_view zone) {
  for (const auto& [from, to] : scoring.reply_map) {
    if (from == zone) return to;
  }
  return std::string(zone);
}

namespace {

std::string txt_of(const DnsblLookup& lookup) {
  if (!lookup.txt || lookup.txt->outcome != dns::Outcome::ok) return {};
  std::string joined;
  for (const auto& text : lookup.txt->texts) {
    if (!joined.empty()) joined += ' ';
    joined += text;
  }
  return dns::printable_ascii(joined, max_txt);
}

DnsblError error_of(const DnsblLookup& lookup, const DnsblScoring& scoring) {
  DnsblError error;
  error.zone = shown_zone(scoring, lookup.zone);
  error.real_zone = lookup.zone;
  error.query = lookup.query;
  error.domain = lookup.domain;
  error.source = lookup.source;
  return error;
}

/// The hits (or the error) of one lookup.
void score_lookup(const std::vector<DnsblSite>& sites, const DnsblLookup& lookup,
                  const DnsblScoring& scoring, Dnsbl& out) {
  if (lookup.a.temporary_failure()) {
    auto error = error_of(lookup, scoring);
    error.outcome = std::string(dns::to_string(lookup.a.outcome));
    error.reason = "the list could not be asked; skipped for this client";
    out.errors.push_back(std::move(error));
    out.dns_failure = true;
    return;
  }
  if (lookup.a.outcome != dns::Outcome::ok) return;  // not listed
  for (const auto& address : lookup.a.addresses) {
    if (auto reason = dnsbl_error_reason(lookup.zone, address, scoring.error_codes)) {
      // Note: one error code makes the whole answer an error: never a listing.
      auto error = error_of(lookup, scoring);
      error.answer = address.to_string();
      error.reason = std::move(*reason);
      out.errors.push_back(std::move(error));
      return;
    }
  }
  const auto txt = txt_of(lookup);
  for (const auto& site : sites) {
    if (site.domain != lookup.zone) continue;
    DnsblHit hit;
    for (const auto& address : lookup.a.addresses) {
      if (site.matches(address)) hit.answer.push_back(address);
    }
    if (hit.answer.empty()) continue;
    // postscreen: a pattern counts once however many of its answers match.
    hit.zone = shown_zone(scoring, lookup.zone);
    hit.query = lookup.query;
    hit.domain = lookup.domain;
    hit.source = lookup.source;
    hit.weight = site.weight;
    hit.txt = txt;
    out.score += site.weight;
    out.hits.push_back(std::move(hit));
  }
}

}  // namespace

Dnsbl decide_dnsbl(const std::vector<DnsblSite>& sites, const std::vector<DnsblSite>& rhsbl,
                   const std::vector<DnsblLookup>& lookups,
                   const std::vector<DnsblSkipped>& skipped, const DnsblScoring& scoring,
                   bool generic_ptr) {
  Dnsbl out;
  out.threshold = scoring.threshold;
  if (generic_ptr) out.generic_weight = scoring.generic_ptr_weight;
  out.score = out.generic_weight;
  for (const auto& lookup : lookups) {
    score_lookup(lookup.source == DnsblSource::client ? sites : rhsbl, lookup, scoring, out);
  }
  for (const auto& skip : skipped) {
    DnsblError error;
    error.zone = shown_zone(scoring, skip.zone);
    error.real_zone = skip.zone;
    error.outcome = skip.outcome;
    error.answer = skip.answer;
    error.query = skip.query;
    error.domain = skip.domain;
    error.source = skip.source;
    error.reason = skip.reason;
    out.errors.push_back(std::move(error));
  }
  // Note: the generic-name weight alone can list a client (rspamd's hfilter way), never a
  // score of nothing.
  if (out.score >= scoring.threshold && (!out.hits.empty() || out.generic_weight > 0)) {
    out.result = DnsblResult::listed;
  } else if (scoring.allowlist_threshold < 0 && out.score <= scoring.allowlist_threshold) {
    out.result = DnsblResult::allowlisted;
  } else if (!out.errors.empty()) {
    out.result = DnsblResult::error;
  }
  out.lookups = lookups;
  return out;
}

std::vector<DnsblTarget> dnsbl_targets(const std::vector<DnsblSite>& sites,
                                       const dns::IpAddress& client) {
  std::vector<DnsblTarget> targets;
  for (const auto& site : sites) {
    if (std::any_of(targets.begin(), targets.end(),
                    [&site](const DnsblTarget& t) { return t.zone == site.domain; })) {
      continue;
    }
    targets.push_back(
        {site.domain, dnsbl_query_name(client, site.domain), "", DnsblSource::client});
  }
  return targets;
}

std::vector<DnsblTarget> rhsbl_targets(const std::vector<DnsblSite>& rhsbl, std::string_view domain,
                                       DnsblSource source) {
  std::vector<DnsblTarget> targets;
  const auto name = dns::normalize_name(domain);
  // Note: a query name longer than a DNS name can be is never asked.
  if (name.empty()) return targets;
  for (const auto& site : rhsbl) {
    if (name.size() + 1 + site.domain.size() > 253 ||
        std::any_of(targets.begin(), targets.end(),
                    [&site](const DnsblTarget& t) { return t.zone == site.domain; })) {
      continue;
    }
    targets.push_back({site.domain, rhsbl_query_name(name, site.domain), name, source});
  }
  return targets;
}

namespace {

/// The lookups of one start_dnsbl call while they run.
struct Batch {
  std::mutex mutex;
  std::size_t outstanding = 0;
  std::vector<DnsblLookup> lookups;
  DnsblErrorCodes codes;
  std::function<void(std::vector<DnsblLookup>)> done;

  void finish_one() {
    std::vector<DnsblLookup> result;
    {
      const std::lock_guard lock(mutex);
      if (--outstanding != 0) return;
      result = std::move(lookups);
    }
    done(std::move(result));
  }
};

bool worth_txt(const DnsblLookup& lookup, const DnsblErrorCodes& codes) {
  if (lookup.a.outcome != dns::Outcome::ok || lookup.a.addresses.empty()) return false;
  return std::none_of(lookup.a.addresses.begin(), lookup.a.addresses.end(),
                      [&](const dns::IpAddress& address) {
                        return dnsbl_error_reason(lookup.zone, address, codes).has_value();
                      });
}

}  // namespace

void start_dnsbl(dns::Resolver& resolver, std::vector<DnsblTarget> targets, DnsblErrorCodes codes,
                 std::function<void(std::vector<DnsblLookup>)> done) {
  if (targets.empty()) {
    done({});
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->outstanding = targets.size();
  batch->codes = std::move(codes);
  batch->done = std::move(done);
  for (auto& target : targets) {
    DnsblLookup lookup;
    lookup.zone = std::move(target.zone);
    lookup.query = std::move(target.query);
    lookup.domain = std::move(target.domain);
    lookup.source = target.source;
    batch->lookups.push_back(std::move(lookup));
  }
  // Note: the names are copied first; once a query is out, `batch->lookups` belongs to the
  // callbacks (the last one moves it out), even before resolve_async returns.
  std::vector<std::string> queries;
  queries.reserve(batch->lookups.size());
  for (const auto& lookup : batch->lookups) queries.push_back(lookup.query);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    resolver.resolve_async(
        queries[i], dns::RrType::a, {}, [batch, i, &resolver](dns::Answer answer) {
          bool txt = false;
          std::string name;
          {
            const std::lock_guard lock(batch->mutex);
            auto& lookup = batch->lookups[i];
            lookup.a = std::move(answer);
            txt = worth_txt(lookup, batch->codes);
            name = lookup.query;
          }
          if (!txt) {
            batch->finish_one();
            return;
          }
          resolver.resolve_async(name, dns::RrType::txt, {}, [batch, i](dns::Answer text) {
            {
              const std::lock_guard lock(batch->mutex);
              batch->lookups[i].txt = std::move(text);
            }
            batch->finish_one();
          });
        });
  }
}

}  // namespace rdns::checks
