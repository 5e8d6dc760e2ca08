#pragma once
/// Wedge detection for a resolver context: a context that fails every query for a sustained
/// interval while its servers answer a fresh context is rebuilt (issue 10).

#include <chrono>
#include <optional>
#include <string>

#include "rdns/dns/answer.h"

namespace rdns::dns {

/// Watches the outcomes of one long-lived resolver context. Fed by one thread (the resolver's
/// event thread), not thread-safe. SERVFAIL and timeouts are failures; any other outcome (an
/// answer, NXDOMAIN, NODATA, bogus) shows the context works and ends the failure streak.
class ContextHealth {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::chrono::milliseconds window{10000};         ///< a streak this long at least ...
    unsigned failures = 10;                          ///< ... with this many failures at least
    std::chrono::milliseconds probe_interval{5000};  ///< between two probes of one streak
  };

  /// A question to ask a fresh context.
  struct Question {
    std::string name;
    RrType type = RrType::a;
    bool operator==(const Question&) const = default;
  };

  explicit ContextHealth(Limits limits) : limits_(limits) {}

  /// Records how a query the context answered ended, at `now`.
  void record(const Answer& answer, Clock::time_point now);

  /// True while the context has failed every query for at least the window and the count.
  [[nodiscard]] bool wedged(Clock::time_point now) const;

  /// When the context looks wedged and no probe runs or ran within probe_interval: marks a
  /// probe as running and returns the last failed question to ask a fresh context.
  [[nodiscard]] std::optional<Question> start_probe(Clock::time_point now);

  /// Takes the fresh context's answer to the probe. True when the servers answered (not
  /// SERVFAIL or timeout) while the context is still wedged: rebuild it. The streak then ends.
  [[nodiscard]] bool finish_probe(const Answer& probe, Clock::time_point now);

  /// "12 failures in 10.4 s, last: <describe(answer)>", for the log line.
  [[nodiscard]] std::string describe_streak(Clock::time_point now) const;

 private:
  void reset();

  Limits limits_;
  unsigned failures_ = 0;
  std::optional<Clock::time_point> streak_start_;
  std::optional<Clock::time_point> last_probe_;
  bool probing_ = false;
  Question last_failed_;
  std::string last_failure_;
};

}  // namespace rdns::dns
