// libFuzzer target: the SPF record parser (RFC 7208 §12) never crashes, and either returns a
// record or says why not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rdns/checks/spf_record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!rdns::checks::is_spf_record(text)) {
    return 0;
  }
  std::string problem;
  const auto record = rdns::checks::parse_spf_record(text, problem);
  if (!record && problem.empty()) std::abort();
  if (record) {
    // Parsing is deterministic: the same text gives the same record.
    std::string again_problem;
    const auto again = rdns::checks::parse_spf_record(text, again_problem);
    if (!again || !(*again == *record)) std::abort();
  }
  return 0;
}
