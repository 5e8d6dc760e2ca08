#include "rdns/header/auth_results.h"

#include <algorithm>

#include "rdns/dns/name.h"

namespace rdns::header {
namespace {

/// RFC 2045 token characters (RFC 8601 §2.2 uses "value" = token / quoted-string).
bool is_token_char(char c) {
  if (!dns::is_ascii_visible(c)) {
    return false;
  }
  constexpr std::string_view tspecials = "()<>@,;:\\\"/[]?=";
  return tspecials.find(c) == std::string_view::npos;
}

/// An RFC 5322 quoted-string of already sanitized text: '"' and '\\' escaped.
std::string quoted_string(std::string_view clean) {
  std::string quoted = "\"";
  for (const char c : clean) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

/// RFC 5322 atext.
bool is_atext(char c) {
  if (!dns::is_ascii_visible(c)) return false;
  constexpr std::string_view specials = "()<>[]:;@\\,.\"";
  return specials.find(c) == std::string_view::npos;
}

/// A value as an RFC 5322 dot-atom when it is one, else a quoted-string; sanitized.
std::string dot_atom_or_quoted(std::string_view value) {
  const std::string clean = sanitize(value);
  bool dot_atom = !clean.empty() && clean.front() != '.' && clean.back() != '.' &&
                  clean.find("..") == std::string::npos;
  for (const char c : clean) {
    dot_atom = dot_atom && (is_atext(c) || c == '.');
  }
  return dot_atom ? clean : quoted_string(clean);
}

}  // namespace

std::string sanitize(std::string_view value, std::size_t max_length) {
  return dns::printable_ascii(value, max_length);
}

std::string value_or_quoted(std::string_view value) {
  std::string clean = sanitize(value);
  // Note: strictly RFC 2045 tokens; an IPv6 address or local@domain gets quotes, which every
  // RFC 8601 parser accepts.
  if (!clean.empty() && std::all_of(clean.begin(), clean.end(), is_token_char)) {
    return clean;
  }
  return quoted_string(clean);
}

std::string comment_text(std::string_view value) {
  std::string out;
  for (const char c : sanitize(value)) {
    if (c == '(' || c == ')' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

std::string assemble_auth_results(std::string_view authserv_id,
                                  const std::vector<AuthResult>& results) {
  std::string id = sanitize(authserv_id);
  id.erase(std::remove_if(id.begin(), id.end(), [](char c) { return !is_token_char(c); }),
           id.end());
  if (id.empty()) {
    id = "localhost";
  }
  std::string body = " " + id + ";";
  if (results.empty()) {
    return body + " none";
  }
  bool first = true;
  for (const auto& result : results) {
    std::string resinfo = sanitize(result.method) + "=" + sanitize(result.result);
    if (!result.reason.empty()) {
      resinfo += " reason=" + value_or_quoted(result.reason);
    }
    for (const auto& [property, value] : result.properties) {
      resinfo += " " + sanitize(property) + "=" + value_or_quoted(value);
    }
    if (!result.comment.empty()) {
      resinfo += " (" + comment_text(result.comment) + ")";
    }
    body += first ? " " : ";\n\t";
    body += resinfo;
    first = false;
  }
  return body;
}

AuthResult iprev_auth_result(const checks::Iprev& iprev) {
  AuthResult result;
  result.method = "iprev";
  result.result = std::string(checks::to_string(iprev.result));
  result.properties.emplace_back("smtp.remote-ip", iprev.client.to_string());
  if (iprev.result == checks::IprevResult::pass && !iprev.verified.empty()) {
    result.comment = iprev.verified.front();
  } else if (iprev.result != checks::IprevResult::pass) {
    result.comment = std::string(checks::to_string(iprev.reason));
  }
  return result;
}

AuthResult helo_auth_result(const checks::Helo& helo) {
  AuthResult result;
  result.method = "x-helo";
  result.result = std::string(checks::to_string(helo.result));
  result.properties.emplace_back("smtp.helo", helo.helo);
  if (helo.result != checks::HeloResult::pass) {
    result.comment = std::string(checks::to_string(helo.reason));
  } else if (helo.matched_by_ptr) {
    result.comment = "matches the verified PTR name";
  }
  return result;
}

AuthResult spf_auth_result(const checks::Spf& spf) {
  AuthResult result;
  result.method = "spf";
  result.result = std::string(checks::to_string(spf.result));
  if (spf.identity == checks::SpfIdentity::helo) {
    result.properties.emplace_back("smtp.helo", spf.domain);
  } else {
    result.properties.emplace_back("smtp.mailfrom", spf.domain);
  }
  if (spf.result == checks::SpfResult::permerror || spf.result == checks::SpfResult::temperror) {
    result.comment = spf.problem;
  }
  return result;
}

std::vector<AuthResult> dnsbl_auth_results(const checks::Dnsbl& dnsbl) {
  std::vector<AuthResult> out;
  for (const auto& hit : dnsbl.hits) {
    AuthResult result;
    const bool allow = hit.weight < 0;
    result.method = allow ? "dnswl" : "x-dnsbl";
    result.result = allow ? "pass" : "fail";
    result.properties.emplace_back("dns.zone", hit.zone);
    if (!hit.domain.empty()) result.properties.emplace_back("policy.domain", hit.domain);
    if (!hit.answer.empty()) {
      result.properties.emplace_back("policy.ip", hit.answer.front().to_string());
    }
    if (!hit.txt.empty()) result.properties.emplace_back("policy.txt", hit.txt);
    if (hit.source != checks::DnsblSource::client) {
      result.comment = std::string(checks::to_string(hit.source));
    }
    out.push_back(std::move(result));
  }
  return out;
}

std::string received_spf(const checks::Spf& spf, const checks::SpfRequest& request) {
  const std::string ip = request.client.unmapped().to_string();
  const std::string receiver = sanitize(request.receiver);
  std::string comment;
  switch (spf.result) {
    case checks::SpfResult::pass:
      comment = "domain of " + spf.sender + " designates " + ip + " as permitted sender";
      break;
    case checks::SpfResult::fail:
      comment = "domain of " + spf.sender + " does not designate " + ip + " as permitted sender";
      break;
    case checks::SpfResult::softfail:
      comment = "domain of transitioning " + spf.sender + " does not designate " + ip +
                " as permitted sender";
      break;
    case checks::SpfResult::neutral:
      comment = ip + " is neither permitted nor denied by domain of " + spf.sender;
      break;
    case checks::SpfResult::none:
      comment = "domain of " + spf.sender + " does not provide an SPF record";
      break;
    case checks::SpfResult::temperror:
      comment = "error in processing during lookup of " + spf.sender;
      break;
    case checks::SpfResult::permerror:
      comment = "the SPF record of " + spf.domain + " is invalid";
      break;
  }
  std::string body = " " + std::string(checks::to_string(spf.result)) + " (" +
                     comment_text(receiver.empty() ? comment : receiver + ": " + comment) + ")";
  std::vector<std::pair<std::string, std::string>> keys{
      {"client-ip", ip},
      {"envelope-from", spf.identity == checks::SpfIdentity::mailfrom ? spf.sender : ""},
      {"helo", request.helo},
      {"receiver", receiver},
      {"identity", std::string(checks::to_string(spf.identity))},
      {"mechanism", spf.mechanism},
      {"problem", spf.problem},
  };
  for (const auto& [key, value] : keys) {
    if (value.empty()) continue;
    // RFC 7208 §9.1: key-value-pair = key [CFWS] "=" ( dot-atom / quoted-string ).
    body += "\n\t" + key + "=" + dot_atom_or_quoted(value) + ";";
  }
  if (body.back() == ';') body.pop_back();
  return body;
}

std::string auth_results_id(std::string_view body) {
  std::size_t pos = 0;
  // Skip folding white space and comments (RFC 5322 CFWS) before the authserv-id.
  while (pos < body.size()) {
    if (body[pos] == ' ' || body[pos] == '\t' || body[pos] == '\r' || body[pos] == '\n') {
      ++pos;
    } else if (body[pos] == '(') {
      int depth = 0;
      for (; pos < body.size(); ++pos) {
        if (body[pos] == '\\') {
          // A quoted-pair skips the next character; a backslash at the very end has none.
          if (pos + 1 < body.size()) ++pos;
        } else if (body[pos] == '(') {
          ++depth;
        } else if (body[pos] == ')' && --depth == 0) {
          ++pos;
          break;
        }
      }
    } else {
      break;
    }
  }
  const auto end = body.find_first_of(" \t\r\n;(", pos);
  return dns::to_lower(body.substr(pos, end == std::string_view::npos ? end : end - pos));
}

}  // namespace rdns::header
