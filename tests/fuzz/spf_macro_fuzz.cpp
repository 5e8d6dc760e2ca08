// libFuzzer target: the SPF macro-string parser and expander (RFC 7208 §7). The first byte picks
// the use (domain-spec or explanation); a domain never expands beyond 253 octets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rdns/checks/spf_macro.h"

namespace {

rdns::checks::SpfMacroValues values() {
  rdns::checks::SpfMacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = "192.0.2.3";
  v.pretty_ip = "192.0.2.3";
  v.version = "in-addr";
  v.helo = "mx.example.org";
  v.receiver = "mx.example.net";
  v.time = 1700000000;
  v.validated_name = [](std::string_view) { return std::string("mx.example.org"); };
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto use = (data[0] & 1) != 0 ? rdns::checks::SpfMacroUse::explanation
                                      : rdns::checks::SpfMacroUse::domain;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string problem;
  const auto parsed = rdns::checks::parse_spf_macro_string(text, use, problem);
  if (!parsed) {
    if (problem.empty()) std::abort();
    return 0;
  }
  static const auto v = values();
  const auto expanded = rdns::checks::expand_spf_macros(*parsed, v, use);
  // RFC 7208 §7.3: labels are removed from the left until the name fits; only a single label
  // longer than that (no name at all: the query fails) can stay longer.
  if (use == rdns::checks::SpfMacroUse::domain && expanded.size() > 253 &&
      expanded.find('.') != std::string::npos) {
    std::abort();
  }
  return 0;
}
