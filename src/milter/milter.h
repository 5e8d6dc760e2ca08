#pragma once
/// The libmilter adapter: callbacks -> Session, nothing else.

#include <functional>
#include <string>

#include "rdns/session/session.h"

namespace rdns::milter {

struct Options {
  std::string socket;                         ///< unix:/path or inet:PORT@HOST
  std::function<session::Runtime()> runtime;  ///< the configuration for a new connection
  session::Logger logger;
};

/// Registers the filter and opens the socket; throws std::runtime_error naming the problem.
void setup(const Options& opts);

/// Runs libmilter's main loop until stop(); returns its status (MI_SUCCESS is 0).
int run();

/// Asks the main loop to stop (safe from any thread).
void stop();

/// The version of the libmilter the process runs with (smfi_version), e.g. "1.0.2".
[[nodiscard]] std::string library_version();

}  // namespace rdns::milter
