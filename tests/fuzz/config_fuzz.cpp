// libFuzzer target: the configuration file reader. Any file either gives a configuration or a
// ConfigError that names the file; nothing else escapes, nothing crashes. The input is written
// to an anonymous memory file read through /proc/self/fd.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rdns/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("rdns-milter.conf", 0);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  for (const auto purpose : {rdns::config::Purpose::start, rdns::config::Purpose::reload}) {
    try {
      const auto invocation = rdns::config::parse_arguments({"--config", path}, purpose);
      // What was accepted can be described (as --config-test does) without throwing.
      (void)rdns::config::describe_settings(invocation.config, true);
    } catch (const rdns::config::ConfigError& error) {
      if (std::string(error.what()).find(path) == std::string::npos) std::abort();
    }
  }
  return 0;
}
