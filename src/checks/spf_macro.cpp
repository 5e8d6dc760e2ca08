#include "rdns/checks/spf_macro.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>

#include "rdns/dns/name.h"
#include "spf_text.h"

namespace rdns::checks {
namespace {

using spf_text::printable;

/// Parses the body of one "%{...}" (`whole`, for messages): letter, transformers, delimiters.
std::optional<SpfMacroToken> parse_macro(std::string_view body, std::string_view whole,
                                         SpfMacroUse use, std::string& problem) {
  if (body.empty()) {
    problem = "empty macro '%{}'";
    return std::nullopt;
  }
  SpfMacroToken token;
  token.kind = SpfMacroToken::Kind::macro;
  token.letter = dns::ascii_lower(body[0]);
  token.url_escape = body[0] >= 'A' && body[0] <= 'Z';
  static constexpr std::string_view letters = "slodiphcrtv";
  if (letters.find(token.letter) == std::string_view::npos || !dns::is_ascii_alpha(body[0])) {
    problem = fmt::format("unknown macro letter in '{}'", printable(whole));
    return std::nullopt;
  }
  if (use == SpfMacroUse::domain &&
      (token.letter == 'c' || token.letter == 'r' || token.letter == 't')) {
    problem = fmt::format("macro '{}' is allowed only in explanation text", printable(whole));
    return std::nullopt;
  }
  std::size_t k = 1;
  while (k < body.size() && dns::is_ascii_digit(body[k])) {
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
  if (k < body.size() && dns::ascii_lower(body[k]) == 'r') {
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
  return token;
}

std::string url_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (dns::is_ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

/// Applies a macro's transformers (RFC 7208 §7.3) to `value`.
std::string transform(std::string_view value, const SpfMacroToken& token) {
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

/// The value of macro `letter` before its transformers.
std::string macro_value(char letter, const SpfMacroValues& values) {
  switch (letter) {
    case 's': return values.sender;
    case 'l': return values.local;
    case 'o': return values.sender_domain;
    case 'd': return values.domain;
    case 'i': return values.ip;
    case 'p': return values.validated_name ? values.validated_name(values.domain) : "unknown";
    case 'v': return values.version;
    case 'h': return values.helo;
    case 'c': return values.pretty_ip;
    case 'r': return values.receiver;
    case 't': return std::to_string(values.time);
    default: return {};
  }
}

}  // namespace

std::optional<SpfMacroString> parse_spf_macro_string(std::string_view text, SpfMacroUse use,
                                                     std::string& problem) {
  SpfMacroString out;
  auto add_literal = [&out](char c) {
    if (out.empty() || out.back().kind != SpfMacroToken::Kind::literal) {
      out.push_back({});
    }
    out.back().text += c;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '%') {
      if (dns::is_ascii_visible(c) || (c == ' ' && use == SpfMacroUse::explanation)) {
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
      SpfMacroToken token;
      token.kind = SpfMacroToken::Kind::escape;
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
    auto token = parse_macro(text.substr(i + 1, close - i - 1), text.substr(i - 1, close - i + 2),
                             use, problem);
    if (!token) {
      return std::nullopt;
    }
    i = close;
    out.push_back(std::move(*token));
  }
  return out;
}

std::string expand_spf_macros(const SpfMacroString& spec, const SpfMacroValues& values,
                              SpfMacroUse use) {
  std::string out;
  for (const auto& token : spec) {
    if (token.kind != SpfMacroToken::Kind::macro) {
      out += token.text;
      continue;
    }
    const std::string value = transform(macro_value(token.letter, values), token);
    out += token.url_escape ? url_escape(value) : value;
  }
  if (use != SpfMacroUse::domain) {
    return out;
  }
  // Note: not dns::strip_trailing_dot, which keeps "." whole; here "." expands to "".
  if (!out.empty() && out.back() == '.') {
    out.pop_back();
  }
  // RFC 7208 §7.3: remove whole labels from the left until the name fits.
  std::string_view name = out;
  while (name.size() > 253 && name.find('.') != std::string_view::npos) {
    name = dns::parent(name);
  }
  return std::string(name);
}

std::string spf_macro_ip(const dns::IpAddress& client) {
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

}  // namespace rdns::checks
