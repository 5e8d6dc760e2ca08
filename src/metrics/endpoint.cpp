#include "rdns/metrics/endpoint.h"

#include <charconv>

#include <fmt/format.h>

namespace rdns::metrics {

std::string Endpoint::to_string() const {
  return address.is_v4() ? fmt::format("{}:{}", address.to_string(), port)
                         : fmt::format("[{}]:{}", address.to_string(), port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const auto address = dns::IpAddress::parse(host);
  // An IPv6 address must be in brackets (so "::1:9466" is no address with a port), an IPv4
  // one must not.
  if (!address || address->is_v4() == text.starts_with('[')) return std::nullopt;
  unsigned number = 0;
  const auto* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, number);
  if (port.empty() || ec != std::errc{} || ptr != end || number == 0 || number > 65535) {
    return std::nullopt;
  }
  return Endpoint{*address, static_cast<std::uint16_t>(number)};
}

}  // namespace rdns::metrics
