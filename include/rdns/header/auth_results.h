#pragma once
/// Authentication-Results (RFC 8601) formatting and header-value sanitizing. Pure functions.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rdns/checks/dnsbl.h"
#include "rdns/checks/helo.h"
#include "rdns/checks/iprev.h"
#include "rdns/checks/spf.h"

namespace rdns::header {

/// One resinfo of RFC 8601 §2.2: method=result [reason=...] ptype.property=value (comment).
struct AuthResult {
  std::string method;                                           ///< e.g. "iprev"
  std::string result;                                           ///< e.g. "pass"
  std::string reason;                                           ///< optional reason= text
  std::vector<std::pair<std::string, std::string>> properties;  ///< {"smtp.remote-ip", "..."}
  std::string comment;                                          ///< optional, without parentheses

  bool operator==(const AuthResult&) const = default;
};

/// Replaces CR, LF, NUL, other controls and non-ASCII bytes with '?', collapses nothing else,
/// and cuts the result to `max_length` bytes. Safe for any header position.
[[nodiscard]] std::string sanitize(std::string_view value, std::size_t max_length = 255);

/// A property value or reason as RFC 8601 wants it: a token as is, anything else as a quoted
/// string (RFC 5322 quoted-string, with \" and \\ escaped), sanitized.
[[nodiscard]] std::string value_or_quoted(std::string_view value);

/// Comment text safe inside (...): sanitized, parentheses and backslashes escaped.
[[nodiscard]] std::string comment_text(std::string_view value);

/// The field body (after "Authentication-Results:"), e.g.
/// " mx.example.org; iprev=pass smtp.remote-ip=192.0.2.7 (mail.example.com)". Each resinfo after
/// the first goes on a folded line (";\n\t" between resinfos, as libmilter expects folding);
/// with no results the body is " authserv-id; none" (RFC 8601 §2.2).
[[nodiscard]] std::string assemble_auth_results(std::string_view authserv_id,
                                                const std::vector<AuthResult>& results);

/// The iprev resinfo (RFC 8601 §3): "iprev=pass smtp.remote-ip=192.0.2.7 (mail.example.com)";
/// the comment names the verified host for pass and the reason otherwise.
[[nodiscard]] AuthResult iprev_auth_result(const checks::Iprev& iprev);

/// The HELO resinfo, an extension method (RFC 8601 §2.7.6):
/// "x-helo=fail smtp.helo=exchange.local (bad-tld)".
[[nodiscard]] AuthResult helo_auth_result(const checks::Helo& helo);

/// The SPF resinfo: "spf=pass smtp.mailfrom=example.com" for the MAIL FROM identity (the
/// domain only, as DMARC reads it) or "spf=pass smtp.helo=mail.example.com" for HELO; never a
/// HELO result under smtp.mailfrom (CVE-2019-20790).
[[nodiscard]] AuthResult spf_auth_result(const checks::Spf& spf);

/// One resinfo per DNS list hit; errors are never written. An allow-list hit (negative
/// weight) per RFC 8904: "dnswl=pass dns.zone=list.dnswl.org policy.ip=127.0.10.1
/// policy.txt=\"...\""; a block-list hit as the extension method x-dnsbl (RFC 8601 §2.7.6):
/// "x-dnsbl=fail dns.zone=zen.spamhaus.org policy.ip=127.0.0.4 policy.txt=\"...\"". Domain
/// list hits add policy.domain and name the source (helo, mailfrom, ptr) in the comment.
[[nodiscard]] std::vector<AuthResult> dnsbl_auth_results(const checks::Dnsbl& dnsbl);

/// The Received-SPF field body (RFC 7208 §9.1), e.g.
/// " pass (mx.example.org: domain of a@example.com designates 192.0.2.7 as permitted sender)
///  client-ip=192.0.2.7; envelope-from="a@example.com"; helo=mail.example.com;
///  receiver=mx.example.org; identity=mailfrom; mechanism="ip4:192.0.2.0/24"", folded.
[[nodiscard]] std::string received_spf(const checks::Spf& spf, const checks::SpfRequest& request);

/// The authserv-id an Authentication-Results field body names ("mx.example.org" in
/// " mx.example.org 1; iprev=pass"), lower-case; empty when there is none (RFC 8601 §2.2).
[[nodiscard]] std::string auth_results_id(std::string_view field_body);

}  // namespace rdns::header
