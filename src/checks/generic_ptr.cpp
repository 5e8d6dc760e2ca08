#include "rdns/checks/generic_ptr.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include "rdns/dns/name.h"

namespace rdns::checks {
namespace {

/// A maximal run of letters and digits in the name, and the label it is in.
struct Token {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t label = 0;
};

/// A maximal run of digits.
struct DigitRun {
  std::size_t begin = 0;
  std::size_t end = 0;
};

bool is_hex(char c) {
  return dns::is_ascii_digit(c) || (c >= 'a' && c <= 'f');
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), dns::is_ascii_digit);
}

/// The name split into letter-and-digit tokens; any other byte separates, a dot also labels.
std::vector<Token> tokens_of(std::string_view name) {
  std::vector<Token> tokens;
  std::size_t label = 0;
  for (std::size_t i = 0; i < name.size();) {
    if (!dns::is_ascii_alnum(name[i])) {
      if (name[i] == '.') ++label;
      ++i;
      continue;
    }
    const std::size_t begin = i;
    while (i < name.size() && dns::is_ascii_alnum(name[i])) ++i;
    tokens.push_back({begin, i, label});
  }
  return tokens;
}

/// Runs of digit atoms that only separators (no letters) divide: "ip85-105-64-87" gives one
/// run 85, 105, 64, 87. Each inner vector holds the atoms of one run.
std::vector<std::vector<DigitRun>> octet_runs(std::string_view name) {
  std::vector<std::vector<DigitRun>> runs;
  std::vector<DigitRun> current;
  std::size_t i = 0;
  while (i < name.size()) {
    if (dns::is_ascii_alpha(name[i])) {
      if (!current.empty()) runs.push_back(std::move(current));
      current.clear();
      ++i;
      continue;
    }
    if (!dns::is_ascii_digit(name[i])) {
      ++i;
      continue;
    }
    const std::size_t begin = i;
    while (i < name.size() && dns::is_ascii_digit(name[i])) ++i;
    current.push_back({begin, i});
  }
  if (!current.empty()) runs.push_back(std::move(current));
  return runs;
}

/// The value of an octet written with 1 to 3 digits, or nullopt.
std::optional<unsigned> octet_value(std::string_view digits) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  unsigned value = 0;
  for (const char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > 255) return std::nullopt;
  return value;
}

/// True if `digits` is exactly the octets written one after another, each plain or padded to 3.
bool concatenation_of(std::string_view digits, const std::array<unsigned, 4>& octets,
                      std::size_t index = 0) {
  if (index == octets.size()) return digits.empty();
  const std::string plain = std::to_string(octets[index]);
  const std::string padded = fmt::format("{:03}", octets[index]);
  for (const auto& form : {plain, padded}) {
    if (digits.substr(0, form.size()) == form &&
        concatenation_of(digits.substr(form.size()), octets, index + 1)) {
      return true;
    }
    if (plain == padded) break;
  }
  return false;
}

/// What the address search found: how the address was written, and the text.
struct AddressMatch {
  std::string how;
  std::string text;
};

/// `needle` in `name`; an all-digit needle must not be part of a longer number.
std::optional<std::size_t> find_hex(std::string_view name, std::string_view needle) {
  const bool digits_only = all_digits(needle);
  for (auto at = name.find(needle); at != std::string_view::npos; at = name.find(needle, at + 1)) {
    const auto end = at + needle.size();
    const bool glued = (at > 0 && dns::is_ascii_digit(name[at - 1])) ||
                       (end < name.size() && dns::is_ascii_digit(name[end]));
    if (!digits_only || !glued) return at;
  }
  return std::nullopt;
}

std::optional<AddressMatch> find_v4_hex(std::string_view name,
                                        const std::array<unsigned, 4>& octets) {
  const auto forward =
      fmt::format("{:02x}{:02x}{:02x}{:02x}", octets[0], octets[1], octets[2], octets[3]);
  const auto reverse =
      fmt::format("{:02x}{:02x}{:02x}{:02x}", octets[3], octets[2], octets[1], octets[0]);
  if (find_hex(name, forward)) return AddressMatch{"as hexadecimal", forward};
  if (find_hex(name, reverse)) return AddressMatch{"in reverse order as hexadecimal", reverse};
  return std::nullopt;
}

/// 4 (then 3) adjacent octets of a run equal to the address, in order or reversed.
std::optional<AddressMatch> find_v4_octets(std::string_view name,
                                           const std::array<unsigned, 4>& octets) {
  const std::array<unsigned, 4> reversed{octets[3], octets[2], octets[1], octets[0]};
  const auto runs = octet_runs(name);
  for (const std::size_t width : {std::size_t{4}, std::size_t{3}}) {
    for (const auto& run : runs) {
      for (std::size_t start = 0; start + width <= run.size(); ++start) {
        for (const auto* order : {&octets, &reversed}) {
          for (std::size_t first = 0; first + width <= 4; ++first) {
            bool equal = true;
            for (std::size_t k = 0; k < width && equal; ++k) {
              const auto& atom = run[start + k];
              const auto value = octet_value(name.substr(atom.begin, atom.end - atom.begin));
              equal = value && *value == (*order)[first + k];
            }
            if (!equal) continue;
            const auto from = run[start].begin;
            const auto text = std::string(name.substr(from, run[start + width - 1].end - from));
            std::string how = width == 4 ? "as the octets" : "as 3 of its 4 octets";
            if (order == &reversed && width == 4) how = "in reverse order as";
            if (order == &reversed && width == 3) how += " reversed";
            return AddressMatch{how, text};
          }
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<AddressMatch> find_v4(std::string_view name, const dns::IpAddress& client) {
  const auto& bytes = client.bytes();
  const std::array<unsigned, 4> octets{bytes[0], bytes[1], bytes[2], bytes[3]};
  const std::array<unsigned, 4> reversed{octets[3], octets[2], octets[1], octets[0]};
  if (auto hex = find_v4_hex(name, octets)) return hex;
  if (auto dotted = find_v4_octets(name, octets)) return dotted;
  for (const auto& run : octet_runs(name)) {
    for (const auto& atom : run) {
      const auto digits = name.substr(atom.begin, atom.end - atom.begin);
      // Note: fewer than 6 digits ("1234" for 1.2.3.4) is too often just a number.
      if (digits.size() < 6 || digits.size() > 12) continue;
      if (concatenation_of(digits, octets)) {
        return AddressMatch{"as decimal digits", std::string(digits)};
      }
      if (concatenation_of(digits, reversed)) {
        return AddressMatch{"in reverse order as decimal digits", std::string(digits)};
      }
    }
  }
  return std::nullopt;
}

/// The 8 groups of an IPv6 address.
std::array<unsigned, 8> groups_of(const dns::IpAddress& client) {
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < groups.size(); ++i) {
    groups[i] = (static_cast<unsigned>(client.bytes()[2 * i]) << 8U) | client.bytes()[2 * i + 1];
  }
  return groups;
}

/// 4 or more leading groups of the address as adjacent hex tokens ("2001-db8-0-0").
std::optional<AddressMatch> find_v6_groups(std::string_view name,
                                           const std::array<unsigned, 8>& groups) {
  const auto tokens = tokens_of(name);
  const auto value_of = [&name](const Token& token) -> std::optional<unsigned> {
    const auto text = name.substr(token.begin, token.end - token.begin);
    if (text.size() > 4 || !std::all_of(text.begin(), text.end(), is_hex)) return std::nullopt;
    return static_cast<unsigned>(std::stoul(std::string(text), nullptr, 16));
  };
  for (std::size_t start = 0; start < tokens.size(); ++start) {
    std::size_t count = 0;
    while (count < groups.size() && start + count < tokens.size()) {
      const auto value = value_of(tokens[start + count]);
      if (!value || *value != groups[count]) break;
      ++count;
    }
    if (count >= 4) {
      const auto from = tokens[start].begin;
      return AddressMatch{
          count == 8 ? "as its groups" : fmt::format("as its first {} groups", count),
          std::string(name.substr(from, tokens[start + count - 1].end - from))};
    }
  }
  return std::nullopt;
}

/// A label, or its end after a '-', that is the address with '-' for ':' ("2001-db8--5").
std::optional<AddressMatch> find_v6_dashed(std::string_view name, const dns::IpAddress& client) {
  for (const auto label : dns::labels(name)) {
    for (std::size_t from = 0; from < label.size(); ++from) {
      if (from > 0 && label[from - 1] != '-') continue;
      std::string text(label.substr(from));
      std::replace(text.begin(), text.end(), '-', ':');
      if (const auto parsed = dns::IpAddress::parse(text); parsed && *parsed == client) {
        return AddressMatch{"with '-' for ':' as", std::string(label.substr(from))};
      }
    }
  }
  return std::nullopt;
}

std::optional<AddressMatch> find_v6(std::string_view name, const dns::IpAddress& client) {
  std::string nibbles;
  for (const auto byte : client.bytes()) nibbles += fmt::format("{:02x}", byte);
  std::string reversed(nibbles.rbegin(), nibbles.rend());
  if (find_hex(name, nibbles)) return AddressMatch{"as hexadecimal", nibbles};
  if (find_hex(name, reversed)) return AddressMatch{"in reverse nibble order as", reversed};
  const auto prefix = nibbles.substr(0, 16);
  if (find_hex(name, prefix)) return AddressMatch{"by its /64 prefix in hexadecimal", prefix};
  if (auto groups = find_v6_groups(name, groups_of(client))) return groups;
  return find_v6_dashed(name, client);
}

/// A keyword found in a token.
struct KeywordMatch {
  std::string keyword;
  std::string token;
  bool glued_digits = false;  ///< "dip0", "123ppp"
  std::size_t label = 0;
};

std::vector<KeywordMatch> find_keywords(std::string_view name, const std::vector<Token>& tokens,
                                        const std::vector<std::string>& keywords) {
  std::vector<KeywordMatch> found;
  for (const auto& token : tokens) {
    const auto text = name.substr(token.begin, token.end - token.begin);
    for (const auto& keyword : keywords) {
      if (keyword.empty() || text.size() < keyword.size()) continue;
      const bool whole = text == keyword;
      const bool prefix =
          text.substr(0, keyword.size()) == keyword && all_digits(text.substr(keyword.size()));
      const bool suffix = text.substr(text.size() - keyword.size()) == keyword &&
                          all_digits(text.substr(0, text.size() - keyword.size()));
      if (whole || prefix || suffix) {
        found.push_back({keyword, std::string(text), !whole, token.label});
        break;
      }
    }
  }
  return found;
}

/// A token of digits only in `label`, if any.
std::optional<std::string> number_in_label(std::string_view name, const std::vector<Token>& tokens,
                                           std::size_t label) {
  for (const auto& token : tokens) {
    const auto text = name.substr(token.begin, token.end - token.begin);
    if (token.label == label && all_digits(text)) return std::string(text);
  }
  return std::nullopt;
}

/// 2 adjacent octets of the client in one run, in order or reversed ("22-44").
std::optional<std::string> octet_pair(std::string_view name, const dns::IpAddress& client) {
  if (!client.is_v4()) return std::nullopt;
  const auto& bytes = client.bytes();
  for (const auto& run : octet_runs(name)) {
    for (std::size_t i = 0; i + 1 < run.size(); ++i) {
      const auto a = octet_value(name.substr(run[i].begin, run[i].end - run[i].begin));
      const auto b = octet_value(name.substr(run[i + 1].begin, run[i + 1].end - run[i + 1].begin));
      if (!a || !b) continue;
      for (std::size_t k = 0; k + 1 < 4; ++k) {
        if ((*a == bytes[k] && *b == bytes[k + 1]) || (*a == bytes[k + 1] && *b == bytes[k])) {
          return std::string(name.substr(run[i].begin, run[i + 1].end - run[i].begin));
        }
      }
    }
  }
  return std::nullopt;
}

/// The keyword rule: a keyword with a number beside it, or nullopt.
std::optional<std::string> keyword_reason(std::string_view name, const dns::IpAddress& client,
                                          const std::vector<KeywordMatch>& found) {
  const auto tokens = tokens_of(name);
  for (const auto& match : found) {
    if (match.glued_digits) {
      return fmt::format("has the keyword '{}' with a number ('{}')", match.keyword, match.token);
    }
  }
  for (const auto& match : found) {
    if (const auto number = number_in_label(name, tokens, match.label)) {
      return fmt::format("has the keyword '{}' and the number '{}' in the label '{}'",
                         match.keyword, *number, dns::labels(name).at(match.label));
    }
  }
  if (!found.empty()) {
    if (const auto pair = octet_pair(name, client)) {
      return fmt::format("has the keyword '{}' and the client's address octets '{}'",
                         found.front().keyword, *pair);
    }
  }
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& default_generic_ptr_keywords() {
  // Note: no "static" (business lines with a mail server of their own use it; an embedded
  // address still counts) and no "mail", "ip" or "host".
  static const std::vector<std::string> keywords = {
      "adsl", "broadband", "cable",  "client", "cpe",   "cust", "customer", "dhcp",
      "dial", "dialin",    "dialup", "dip",    "dsl",   "dyn",  "dynamic",  "dynip",
      "ftth", "hsd",       "pool",   "ppp",    "pppoe", "vdsl", "xdsl",
  };
  return keywords;
}

bool valid_generic_ptr_keyword(std::string_view keyword) noexcept {
  return !keyword.empty() && keyword.size() <= 63 &&
         std::all_of(keyword.begin(), keyword.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || dns::is_ascii_digit(c); }) &&
         std::any_of(keyword.begin(), keyword.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

GenericPtr detect_generic_ptr(const dns::IpAddress& client, std::string_view name,
                              const std::vector<std::string>& keywords) {
  // Note: one output byte per input byte, so what the reason quotes is safe to log.
  const std::string lower = dns::printable_ascii(dns::to_lower(dns::strip_trailing_dot(name)), 255);
  const auto address = client.unmapped();
  const auto found = find_keywords(lower, tokens_of(lower), keywords);
  GenericPtr result;
  if (auto match = address.is_v4() ? find_v4(lower, address) : find_v6(lower, address)) {
    result.generic = true;
    result.reason = fmt::format("PTR name {} contains the client address {} {} '{}'", lower,
                                address.to_string(), match->how, match->text);
    if (!found.empty())
      result.reason += fmt::format(" and the keyword '{}'", found.front().keyword);
    return result;
  }
  if (const auto why = keyword_reason(lower, address, found)) {
    result.generic = true;
    result.reason = fmt::format("PTR name {} {}", lower, *why);
  }
  return result;
}

}  // namespace rdns::checks
