#pragma once
/// GoogleTest printers for the library's value types, so failed comparisons are readable.
/// Note: PrintTo must live in the type's namespace for gtest to find it.

#include <ostream>
#include <string>

#include "rdns/checks/iprev.h"
#include "rdns/dns/answer.h"
#include "rdns/dns/ip_address.h"
#include "rdns/header/auth_results.h"
#include "rdns/policy/policy.h"

namespace rdns::dns {

inline void PrintTo(const IpAddress& address, std::ostream* out) {
  *out << address.to_string();
}

inline void PrintTo(const Network& network, std::ostream* out) {
  *out << network.prefix.to_string() << "/" << network.length;
}

inline void PrintTo(Outcome outcome, std::ostream* out) {
  *out << "Outcome(" << static_cast<int>(outcome) << ")";
}

inline void PrintTo(Security security, std::ostream* out) {
  *out << "Security(" << static_cast<int>(security) << ")";
}

inline void PrintTo(const Answer& answer, std::ostream* out) {
  *out << "{" << answer.name << " type=" << static_cast<int>(answer.type)
       << " outcome=" << static_cast<int>(answer.outcome) << " ttl=" << answer.ttl
       << " security=" << static_cast<int>(answer.security)
       << (answer.confirmed ? " confirmed" : "");
  if (!answer.cname_chain.empty()) {
    *out << " cname_chain=[";
    for (const auto& c : answer.cname_chain) {
      *out << c << " ";
    }
    *out << "]";
  }
  if (!answer.names.empty()) {
    *out << " names=[";
    for (const auto& n : answer.names) {
      *out << "'" << n << "' ";
    }
    *out << "]";
  }
  if (!answer.addresses.empty()) {
    *out << " addresses=[";
    for (const auto& a : answer.addresses) {
      *out << a.to_string() << " ";
    }
    *out << "]";
  }
  *out << "}";
}

}  // namespace rdns::dns

namespace rdns::checks {

inline void PrintTo(IprevResult result, std::ostream* out) {
  *out << "IprevResult(" << static_cast<int>(result) << ")";
}

inline void PrintTo(IprevReason reason, std::ostream* out) {
  *out << "IprevReason(" << static_cast<int>(reason) << ")";
}

inline void PrintTo(const Iprev& iprev, std::ostream* out) {
  *out << "{client=" << iprev.client.to_string() << " result=" << static_cast<int>(iprev.result)
       << " reason=" << static_cast<int>(iprev.reason)
       << " dnssec=" << static_cast<int>(iprev.dnssec) << " ptr=[";
  for (const auto& p : iprev.ptr) {
    *out << "'" << p << "' ";
  }
  *out << "] verified=[";
  for (const auto& v : iprev.verified) {
    *out << "'" << v << "' ";
  }
  *out << "] evidence=[";
  for (const auto& e : iprev.evidence) {
    dns::PrintTo(e, out);
    *out << " ";
  }
  *out << "]}";
}

}  // namespace rdns::checks

namespace rdns::policy {

inline void PrintTo(Action action, std::ostream* out) {
  *out << "Action(" << static_cast<int>(action) << ")";
}

inline void PrintTo(const Reply& reply, std::ostream* out) {
  *out << "{'" << reply.code << "' '" << reply.enhanced << "' '" << reply.text << "'}";
}

}  // namespace rdns::policy

namespace rdns::header {

inline void PrintTo(const AuthResult& r, std::ostream* out) {
  *out << "{method='" << r.method << "' result='" << r.result << "' reason='" << r.reason
       << "' properties=[";
  for (const auto& [k, v] : r.properties) {
    *out << k << "='" << v << "' ";
  }
  *out << "] comment='" << r.comment << "'}";
}

}  // namespace rdns::header
