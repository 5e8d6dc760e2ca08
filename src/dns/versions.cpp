#include "rdns/dns/versions.h"

#include <ldns/ldns.h>
#include <netinet/in.h>
#include <unbound.h>

extern "C" {
#include <spf2/spf.h>
}

#include <fmt/format.h>

namespace rdns::dns {

std::vector<std::pair<std::string, std::string>> library_versions() {
  int major = 0;
  int minor = 0;
  int patch = 0;
  SPF_get_lib_version(&major, &minor, &patch);
  return {{"libunbound", ub_version()},
          {"libspf2", fmt::format("{}.{}.{}", major, minor, patch)},
          {"ldns", ldns_version()}};
}

}  // namespace rdns::dns
