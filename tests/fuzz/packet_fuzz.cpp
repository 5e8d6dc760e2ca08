// libFuzzer target: DNS reply packets (wire format) to Answer values. Truncated and malicious
// packets (compression loops, counts that lie) must give an Answer, never a crash; an answer
// that is not ok carries no records.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "rdns/dns/packet.h"

namespace {

using rdns::fuzz::require;

constexpr rdns::dns::RrType types[] = {
    rdns::dns::RrType::a,   rdns::dns::RrType::aaaa, rdns::dns::RrType::ptr,
    rdns::dns::RrType::mx,  rdns::dns::RrType::txt,  rdns::dns::RrType::cname,
    rdns::dns::RrType::soa, rdns::dns::RrType::ns,   rdns::dns::RrType::spf,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the question; the rest is the reply.
  const auto type = types[data[0] % std::size(types)];
  const char* name = (data[0] & 0x80) != 0 ? "7.2.0.192.in-addr.arpa" : "example.com";
  const auto answer = rdns::dns::parse_packet(std::span(data + 1, size - 1), name, type);
  require(answer.type == type);
  if (answer.outcome != rdns::dns::Outcome::ok) {
    require(answer.names.empty() || type == rdns::dns::RrType::cname);
    require(answer.addresses.empty() && answer.mx.empty() && answer.texts.empty());
  }
  if (answer.outcome == rdns::dns::Outcome::servfail) require(!answer.error.empty());
  for (const auto& address : answer.addresses) {
    require(type == rdns::dns::RrType::a ? address.is_v4() : !address.is_v4());
  }
  return 0;
}
