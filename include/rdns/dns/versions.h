#pragma once
/// The versions of the DNS and SPF libraries the process runs with (not those it was built
/// against), for --version.

#include <string>
#include <utility>
#include <vector>

namespace rdns::dns {

/// {"libunbound", "1.17.1"}, {"libspf2", "1.2.10"}, {"ldns", "1.8.3"}.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> library_versions();

}  // namespace rdns::dns
