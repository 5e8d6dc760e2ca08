#pragma once
/// The address of the metrics listener (option metrics-listen): an IP literal and a port.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rdns/dns/ip_address.h"

namespace rdns::metrics {

struct Endpoint {
  dns::IpAddress address;
  std::uint16_t port = 0;

  /// "127.0.0.1:9466" or "[::1]:9466".
  [[nodiscard]] std::string to_string() const;
  bool operator==(const Endpoint&) const = default;
};

/// Parses "IPV4:PORT" or "[IPV6]:PORT" (port 1 to 65535); nullopt when invalid. Host names are
/// not accepted: the listener binds one address.
[[nodiscard]] std::optional<Endpoint> parse_endpoint(std::string_view text);

}  // namespace rdns::metrics
