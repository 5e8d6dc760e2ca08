#include "rdns/dns/name.h"

#include <algorithm>

namespace rdns::dns {

bool has_control(std::string_view text) noexcept {
  return std::any_of(text.begin(), text.end(), is_ascii_control);
}

std::string printable_ascii(std::string_view text, std::size_t max_length) {
  std::string out(text.substr(0, max_length));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return !is_ascii_printable(c); }, '?');
  return out;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

std::string_view strip_trailing_dot(std::string_view name) noexcept {
  if (name.size() > 1 && name.back() == '.') {
    name.remove_suffix(1);
  }
  return name;
}

bool at_or_below(std::string_view name, std::string_view domain) noexcept {
  name = strip_trailing_dot(name);
  domain = strip_trailing_dot(domain);
  if (domain.empty() || domain == ".") {
    return true;
  }
  if (name.size() < domain.size() || !iequals(name.substr(name.size() - domain.size()), domain)) {
    return false;
  }
  // Note: the match must start at a label boundary ("xexample.org" is not below "example.org").
  return name.size() == domain.size() || name[name.size() - domain.size() - 1] == '.';
}

std::vector<std::string_view> labels(std::string_view name) {
  std::vector<std::string_view> out;
  if (name.empty()) {
    return out;
  }
  std::size_t start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(name.substr(start));
      return out;
    }
    out.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
}

std::string_view parent(std::string_view name) noexcept {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
}

std::string_view top_label(std::string_view name) noexcept {
  name = strip_trailing_dot(name);
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace rdns::dns
