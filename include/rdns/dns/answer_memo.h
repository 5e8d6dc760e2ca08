#pragma once
/// A bounded, TTL-respecting memo of recent answers in front of libunbound: a warm question
/// costs a hash lookup instead of a round trip through libunbound's worker thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "rdns/dns/answer.h"

namespace rdns::dns {

/// Answers by (name, type), each until its TTL runs out; thread-safe. Keeps only answers that
/// are safe to repeat: NOERROR with records, NXDOMAIN and NODATA, not bogus, not confirmed (a
/// cache-bypassing re-check is never answered from here), TTL > 0. Least recently used entries
/// go first when the entry or byte bound is reached.
class AnswerMemo {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::size_t max_entries = 20000;
    std::size_t max_bytes = std::size_t{16} << 20;
    std::uint32_t max_ttl = 86400;         ///< cache-max-ttl
    std::uint32_t max_negative_ttl = 300;  ///< cache-max-negative-ttl (RFC 2308 answers)
  };

  explicit AnswerMemo(Limits limits) : limits_(limits) {}

  /// The answer to (name, type) with its TTL counted down to `now`; nullopt when absent or
  /// expired. `name` is normalized (lower case, no trailing dot).
  [[nodiscard]] std::optional<Answer> find(const std::string& name, RrType type,
                                           Clock::time_point now);

  /// Keeps `answer` (as asked: answer.name, answer.type) if it may be repeated, for min(its TTL,
  /// the cap for its kind) seconds from `now`.
  void store(const Answer& answer, Clock::time_point now);

  /// Forgets everything (a rebuilt resolver context).
  void clear();

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t bytes() const;

  /// An estimate of the memory one answer holds (its strings and vectors included).
  [[nodiscard]] static std::size_t footprint(const Answer& answer);

 private:
  struct Entry {
    std::string key;
    Answer answer;
    Clock::time_point expires;
    std::size_t bytes = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first

  void erase(Lru::iterator it);  // under mutex_

  Limits limits_;
  mutable std::mutex mutex_;
  Lru lru_;                                               // guarded by mutex_
  std::unordered_map<std::string, Lru::iterator> index_;  // guarded by mutex_
  std::size_t bytes_ = 0;                                 // guarded by mutex_
};

/// The memo key of a question: "name/type".
[[nodiscard]] std::string memo_key(const std::string& name, RrType type);

}  // namespace rdns::dns
