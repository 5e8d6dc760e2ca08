#include "rdns/dns/answer_memo.h"

#include <algorithm>

namespace rdns::dns {
namespace {

/// True for an answer that may be given again until its TTL runs out.
bool repeatable(const Answer& answer) {
  const bool kept_outcome = answer.outcome == Outcome::ok || answer.negative();
  return kept_outcome && answer.security != Security::bogus && !answer.confirmed && answer.ttl > 0;
}

std::size_t strings_bytes(const std::vector<std::string>& strings) {
  std::size_t bytes = strings.capacity() * sizeof(std::string);
  for (const auto& s : strings) bytes += s.capacity();
  return bytes;
}

}  // namespace

std::string memo_key(const std::string& name, RrType type) {
  return name + '/' + std::to_string(static_cast<unsigned>(type));
}

std::size_t AnswerMemo::footprint(const Answer& answer) {
  std::size_t bytes =
      sizeof(Entry) + answer.name.capacity() + answer.why_bogus.capacity() +
      answer.error.capacity() + answer.zone.capacity() + strings_bytes(answer.cname_chain) +
      strings_bytes(answer.names) + strings_bytes(answer.texts) +
      answer.addresses.capacity() * sizeof(IpAddress) + answer.mx.capacity() * sizeof(MxRecord);
  for (const auto& mx : answer.mx) bytes += mx.exchange.capacity();
  return bytes;
}

std::optional<Answer> AnswerMemo::find(const std::string& name, RrType type,
                                       Clock::time_point now) {
  const std::lock_guard lock(mutex_);
  const auto found = index_.find(memo_key(name, type));
  if (found == index_.end()) return std::nullopt;
  const auto it = found->second;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->expires - now).count();
  if (left <= 0) {
    erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it);
  Answer answer = it->answer;
  answer.ttl = static_cast<std::uint32_t>(left);
  return answer;
}

void AnswerMemo::store(const Answer& answer, Clock::time_point now) {
  if (!repeatable(answer)) return;
  const auto cap = answer.negative() ? limits_.max_negative_ttl : limits_.max_ttl;
  const auto lifetime = std::min(answer.ttl, cap);
  const auto bytes = footprint(answer);
  if (lifetime == 0 || limits_.max_entries == 0 || bytes > limits_.max_bytes / 16) return;
  auto key = memo_key(answer.name, answer.type);
  const std::lock_guard lock(mutex_);
  if (const auto old = index_.find(key); old != index_.end()) erase(old->second);
  while (!lru_.empty() && (lru_.size() >= limits_.max_entries ||
                           bytes_ + bytes + key.capacity() > limits_.max_bytes)) {
    erase(std::prev(lru_.end()));
  }
  Entry entry{key, answer, now + std::chrono::seconds(lifetime), bytes + key.capacity()};
  entry.answer.ttl = lifetime;
  lru_.push_front(std::move(entry));
  bytes_ += lru_.front().bytes;
  index_.emplace(std::move(key), lru_.begin());
}

void AnswerMemo::erase(Lru::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

void AnswerMemo::clear() {
  const std::lock_guard lock(mutex_);
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

std::size_t AnswerMemo::size() const {
  const std::lock_guard lock(mutex_);
  return lru_.size();
}

std::size_t AnswerMemo::bytes() const {
  const std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace rdns::dns
