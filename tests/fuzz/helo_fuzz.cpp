// libFuzzer target: the HELO parser and offline decision must never crash, and what they
// accept must really be a host name or an address literal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "rdns/checks/helo.h"

using rdns::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = rdns::checks::parse_helo(text);
  switch (parsed.kind) {
    case rdns::checks::HeloName::Kind::domain:
      require(!parsed.domain.empty() && parsed.domain.size() <= 253);
      for (const char c : parsed.domain) {
        require((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
      }
      require(parsed.domain.front() != '.' && parsed.domain.back() != '.');
      break;
    case rdns::checks::HeloName::Kind::address_literal:
      require(parsed.literal.has_value() && text.front() == '[' && text.back() == ']');
      break;
    case rdns::checks::HeloName::Kind::invalid: require(!parsed.error.empty()); break;
  }
  static const auto client = *rdns::dns::IpAddress::parse("192.0.2.7");
  static const rdns::checks::HeloIdentity identity{{"mx.example.de"}, {}, false};
  if (const auto helo = rdns::checks::decide_helo_offline(text, client, identity)) {
    require(helo->helo.size() <= 255 && rdns::fuzz::printable(helo->helo));
  }
  return 0;
}
