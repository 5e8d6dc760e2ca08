// libFuzzer target: the generic-PTR-name detector must never crash, must say why whenever (and
// only when) it calls a name generic, and keywords can only add to what the address finds.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "rdns/checks/generic_ptr.h"

using rdns::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Byte 0 picks the client; the rest is the PTR name.
  static const std::array<rdns::dns::IpAddress, 5> clients = {
      *rdns::dns::IpAddress::parse("93.246.80.144"),
      *rdns::dns::IpAddress::parse("192.0.2.43"),
      *rdns::dns::IpAddress::parse("::ffff:85.105.64.87"),
      *rdns::dns::IpAddress::parse("2003:e5:bf1a:4d00:d8c2:f0ff:fe1d:2b3c"),
      *rdns::dns::IpAddress::parse("2001:db8::25"),
  };
  const auto& client = clients[data[0] % clients.size()];
  const std::string_view name(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& keywords = rdns::checks::default_generic_ptr_keywords();

  const auto result = rdns::checks::detect_generic_ptr(client, name, keywords);
  require(result.generic == !result.reason.empty());
  require(rdns::fuzz::printable(result.reason));
  require(result.reason.size() <= 1024);
  require(result == rdns::checks::detect_generic_ptr(client, name, keywords));

  const auto address_only = rdns::checks::detect_generic_ptr(client, name, {});
  require(!address_only.generic ||
          address_only.reason.find("contains the client address") != std::string::npos);
  require(!address_only.generic || result.generic);
  return 0;
}
