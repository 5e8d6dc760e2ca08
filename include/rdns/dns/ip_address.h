#pragma once
/// IP address value type shared by every layer.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rdns::dns {

/// An IPv4 or IPv6 address; a value, comparable and printable.
class IpAddress {
 public:
  enum class Family : std::uint8_t { v4, v6 };

  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text; nullopt when invalid.
  [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);
  /// Builds an address from 4 (IPv4) or 16 (IPv6) network-order bytes.
  [[nodiscard]] static IpAddress from_bytes(Family family, const std::uint8_t* bytes);

  [[nodiscard]] Family family() const { return family_; }
  [[nodiscard]] bool is_v4() const { return family_ == Family::v4; }
  /// Network-order bytes; only the first 4 are used for IPv4.
  [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4, anything else unchanged.
  [[nodiscard]] IpAddress unmapped() const;
  /// Canonical text (RFC 5952 for IPv6).
  [[nodiscard]] std::string to_string() const;
  /// The PTR owner name, without trailing dot: 7.2.0.192.in-addr.arpa or nibbles.ip6.arpa.
  [[nodiscard]] std::string reverse_name() const;
  /// True if the address lies in the network `prefix`/`length`.
  [[nodiscard]] bool in_network(const IpAddress& prefix, unsigned length) const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::v4;
  std::array<std::uint8_t, 16> bytes_{};
};

/// An address block such as 192.0.2.0/24 or 2001:db8::/32.
struct Network {
  IpAddress prefix;
  unsigned length = 0;

  /// Parses "ADDR" or "ADDR/LEN"; nullopt when invalid.
  [[nodiscard]] static std::optional<Network> parse(std::string_view text);
  [[nodiscard]] bool contains(const IpAddress& address) const;
  [[nodiscard]] std::string to_string() const;
  bool operator==(const Network&) const = default;
};

}  // namespace rdns::dns
