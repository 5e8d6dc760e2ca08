// libFuzzer target: the Authentication-Results authserv-id reader (RFC 8601 §2.2, used to find
// forged fields) and the sanitizers every header value goes through. Nothing they return may
// carry CR, LF, NUL or another control character into a header.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "rdns/header/auth_results.h"

using rdns::fuzz::printable;
using rdns::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto id = rdns::header::auth_results_id(text);
  require(id.size() <= text.size());
  const auto clean = rdns::header::sanitize(text);
  require(clean.size() <= 255 && printable(clean));
  const auto quoted = rdns::header::value_or_quoted(text);
  require(printable(quoted));
  const auto comment = rdns::header::comment_text(text);
  require(printable(comment));
  // Inside (...) every parenthesis and backslash is escaped.
  for (std::size_t i = 0; i < comment.size(); ++i) {
    if (comment[i] == '\\') {
      require(i + 1 < comment.size());
      ++i;
    } else {
      require(comment[i] != '(' && comment[i] != ')');
    }
  }
  rdns::header::AuthResult result;
  result.method = "iprev";
  result.result = "pass";
  result.reason = std::string(text.substr(0, 100));
  result.properties = {{"smtp.remote-ip", std::string(text)}};
  result.comment = std::string(text);
  const auto field = rdns::header::assemble_auth_results(text, {result, result});
  rdns::fuzz::require_header_safe(field);
  return 0;
}
