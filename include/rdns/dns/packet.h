#pragma once
/// DNS reply packets (wire format, RFC 1035 §4) to Answer values: no I/O, no libunbound.

#include <cstdint>
#include <span>
#include <string_view>

#include "rdns/dns/answer.h"

namespace rdns::dns {

/// Reads a wire-format reply to the question (`name`, `type`). The outcome comes from the RCODE
/// and the records: ok when the answer section holds records of `type` at the end of the CNAME
/// chain from `name`, nodata when it holds none, nxdomain, servfail for any other RCODE or an
/// unparsable packet (with `error` set). Names keep RFC 2317 '/' as is; a negative answer's TTL
/// is min(SOA TTL, SOA MINIMUM) (RFC 2308 §5). Security, why_bogus and confirmed stay unset.
[[nodiscard]] Answer parse_packet(std::span<const std::uint8_t> wire, std::string_view name,
                                  RrType type);

}  // namespace rdns::dns
