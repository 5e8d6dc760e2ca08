#include "rdns/dns/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace rdns::dns {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string copy(text);
  IpAddress address;
  if (copy.find(':') == std::string::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, copy.c_str(), &v4) != 1) {
      return std::nullopt;
    }
    address.family_ = Family::v4;
    std::memcpy(address.bytes_.data(), &v4, 4);
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, copy.c_str(), &v6) != 1) {
    return std::nullopt;
  }
  address.family_ = Family::v6;
  std::memcpy(address.bytes_.data(), &v6, 16);
  return address;
}

IpAddress IpAddress::from_bytes(Family family, const std::uint8_t* bytes) {
  IpAddress address;
  address.family_ = family;
  std::copy_n(bytes, family == Family::v4 ? 4 : 16, address.bytes_.begin());
  return address;
}

IpAddress IpAddress::unmapped() const {
  static constexpr std::array<std::uint8_t, 12> mapped_prefix{0, 0, 0, 0, 0,    0,
                                                              0, 0, 0, 0, 0xff, 0xff};
  if (family_ == Family::v6 &&
      std::equal(mapped_prefix.begin(), mapped_prefix.end(), bytes_.begin())) {
    return from_bytes(Family::v4, bytes_.data() + 12);
  }
  return *this;
}

std::string IpAddress::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  inet_ntop(family_ == Family::v4 ? AF_INET : AF_INET6, bytes_.data(), buffer.data(),
            buffer.size());
  return buffer.data();
}

std::string IpAddress::reverse_name() const {
  std::string name;
  if (family_ == Family::v4) {
    for (int i = 3; i >= 0; --i) {
      name += std::to_string(bytes_[static_cast<std::size_t>(i)]);
      name += '.';
    }
    return name + "in-addr.arpa";
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    const auto byte = bytes_[static_cast<std::size_t>(i)];
    name += hex[byte & 0x0fU];
    name += '.';
    name += hex[byte >> 4U];
    name += '.';
  }
  return name + "ip6.arpa";
}

bool IpAddress::in_network(const IpAddress& prefix, unsigned length) const {
  if (family_ != prefix.family_) {
    return false;
  }
  const unsigned max = family_ == Family::v4 ? 32 : 128;
  length = std::min(length, max);
  const unsigned whole = length / 8;
  if (!std::equal(bytes_.begin(), bytes_.begin() + whole, prefix.bytes_.begin())) {
    return false;
  }
  const unsigned rest = length % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xffU << (8 - rest));
  return (bytes_[whole] & mask) == (prefix.bytes_[whole] & mask);
}

std::optional<Network> Network::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    return std::nullopt;
  }
  const unsigned max = address->is_v4() ? 32 : 128;
  unsigned length = max;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, length);
    if (digits.empty() || ec != std::errc{} || ptr != end || length > max) {
      return std::nullopt;
    }
  }
  return Network{*address, length};
}

bool Network::contains(const IpAddress& address) const {
  return address.unmapped().in_network(prefix, length) || address.in_network(prefix, length);
}

std::string Network::to_string() const {
  return prefix.to_string() + "/" + std::to_string(length);
}

}  // namespace rdns::dns
