#include "rdns/dns/answer.h"

#include <fmt/format.h>

#include "rdns/dns/name.h"

namespace rdns::dns {

std::string_view to_string(RrType type) {
  switch (type) {
    case RrType::a: return "A";
    case RrType::ns: return "NS";
    case RrType::cname: return "CNAME";
    case RrType::soa: return "SOA";
    case RrType::ptr: return "PTR";
    case RrType::mx: return "MX";
    case RrType::txt: return "TXT";
    case RrType::aaaa: return "AAAA";
    case RrType::spf: return "SPF";
  }
  return "TYPE?";
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::nxdomain: return "nxdomain";
    case Outcome::nodata: return "nodata";
    case Outcome::servfail: return "servfail";
    case Outcome::timeout: return "timeout";
    case Outcome::bogus: return "bogus";
  }
  return "?";
}

std::string_view to_string(Security security) {
  switch (security) {
    case Security::insecure: return "insecure";
    case Security::secure: return "secure";
    case Security::bogus: return "bogus";
  }
  return "?";
}

std::string normalize_name(std::string_view name) {
  return to_lower(strip_trailing_dot(name));
}

std::string describe(const Answer& answer) {
  std::string line = fmt::format("{} {}", answer.name, to_string(answer.type));
  for (const auto& target : answer.cname_chain) {
    line += fmt::format(" -> CNAME {}", target);
  }
  std::vector<std::string> values;
  switch (answer.outcome) {
    case Outcome::ok:
      for (const auto& name : answer.names) values.push_back(name);
      for (const auto& address : answer.addresses) values.push_back(address.to_string());
      for (const auto& text : answer.texts) values.push_back(fmt::format("\"{}\"", text));
      for (const auto& mx : answer.mx) {
        values.push_back(fmt::format("{} {}", mx.preference, mx.exchange));
      }
      line += fmt::format(" -> {}", fmt::join(values, ", "));
      break;
    case Outcome::nxdomain: line += " -> NXDOMAIN (no such name)"; break;
    case Outcome::nodata: line += fmt::format(" -> no {} record", to_string(answer.type)); break;
    case Outcome::servfail:
      line += " -> SERVFAIL";
      if (!answer.error.empty()) line += fmt::format(" ({})", answer.error);
      break;
    case Outcome::timeout: line += " -> timed out"; break;
    case Outcome::bogus: line += fmt::format(" -> BOGUS ({})", answer.why_bogus); break;
  }
  if (answer.outcome == Outcome::ok || answer.negative()) {
    line += fmt::format(" (TTL {}, {}", answer.ttl, to_string(answer.security));
    if (answer.confirmed) line += ", asked the authoritative servers";
    line += ")";
  }
  return line;
}

}  // namespace rdns::dns
