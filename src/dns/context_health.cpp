#include "rdns/dns/context_health.h"

#include <fmt/format.h>

namespace rdns::dns {
namespace {

bool failed(const Answer& answer) {
  return answer.outcome == Outcome::servfail || answer.outcome == Outcome::timeout;
}

}  // namespace

void ContextHealth::record(const Answer& answer, Clock::time_point now) {
  if (!failed(answer)) {
    reset();
    return;
  }
  if (!streak_start_) {
    streak_start_ = now;
  }
  ++failures_;
  last_failed_ = {answer.name, answer.type};
  last_failure_ = describe(answer);
}

bool ContextHealth::wedged(Clock::time_point now) const {
  return streak_start_ && failures_ >= limits_.failures && now - *streak_start_ >= limits_.window;
}

std::optional<ContextHealth::Question> ContextHealth::start_probe(Clock::time_point now) {
  if (probing_ || !wedged(now) || (last_probe_ && now - *last_probe_ < limits_.probe_interval)) {
    return std::nullopt;
  }
  probing_ = true;
  last_probe_ = now;
  return last_failed_;
}

bool ContextHealth::finish_probe(const Answer& probe, Clock::time_point now) {
  probing_ = false;
  if (failed(probe) || !wedged(now)) {
    return false;
  }
  reset();
  return true;
}

std::string ContextHealth::describe_streak(Clock::time_point now) const {
  const auto elapsed = streak_start_ ? now - *streak_start_ : Clock::duration::zero();
  return fmt::format("{} failures in {:.1f} s, last: {}", failures_,
                     std::chrono::duration<double>(elapsed).count(), last_failure_);
}

void ContextHealth::reset() {
  failures_ = 0;
  streak_start_.reset();
  last_probe_.reset();
}

}  // namespace rdns::dns
