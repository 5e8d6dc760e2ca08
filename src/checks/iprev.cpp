#include "rdns/checks/iprev.h"

#include <algorithm>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "rdns/dns/name.h"

namespace rdns::checks {
namespace {

using dns::Answer;
using dns::IpAddress;
using dns::Outcome;
using dns::RrType;
using dns::Security;

/// A PTR target we can look up: LDH labels (underscore tolerated, as many real PTRs use it),
/// 1-63 octets each, at most 253 in all, at least one label, not the root.
bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  const auto ldh = [](char c) {
    return (c >= 'a' && c <= 'z') || dns::is_ascii_digit(c) || c == '-' || c == '_';
  };
  const auto parts = dns::labels(name);  // a trailing dot or ".." gives an empty label
  return std::all_of(parts.begin(), parts.end(), [&ldh](std::string_view label) {
    return !label.empty() && label.size() <= 63 && std::all_of(label.begin(), label.end(), ldh);
  });
}

std::vector<std::string> all_names(const Answer& ptr) {
  std::vector<std::string> names;
  names.reserve(ptr.names.size());
  for (const auto& name : ptr.names) {
    names.push_back(dns::normalize_name(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

/// Shared state of one asynchronous iprev run. Callbacks may arrive on any thread, in any order.
class IprevRun : public std::enable_shared_from_this<IprevRun> {
 public:
  IprevRun(dns::Resolver& resolver, const IpAddress& client, IprevOptions options,
           std::function<void(Iprev)> done)
      : resolver_(resolver),
        client_(client.unmapped()),
        options_(std::move(options)),
        done_(std::move(done)) {}

  void start() {
    resolver_.resolve_async(
        client_.reverse_name(), RrType::ptr, {},
        [self = shared_from_this()](Answer answer) { self->on_ptr(std::move(answer)); });
  }

 private:
  void on_ptr(Answer answer) {
    evidence_.push_back(answer);
    if (answer.negative() && options_.confirm_no_ptr && !answer.confirmed) {
      // Note: confirm before reject. A stale negative cache must never become a 5xx: ask the
      // zone's own servers, past every cache (the resolver's and any forwarder's).
      confirm(answer.name, RrType::ptr, [self = shared_from_this()](Answer confirmed) {
        self->on_ptr_confirmed(std::move(confirmed));
      });
      return;
    }
    on_ptr_final(std::move(answer));
  }

  /// Asks the authoritative servers; `done` gets their view as a confirmed Answer.
  void confirm(const std::string& name, RrType type, std::function<void(Answer)> done) {
    if (options_.authority == nullptr) {
      dns::ProbeResult none;
      none.name = name;
      none.type = type;
      done(dns::judge(none).answer);
      return;
    }
    options_.authority->probe_async(
        name, type, [self = shared_from_this(), done = std::move(done)](dns::ProbeResult probe) {
          auto answer = dns::judge(probe).answer;
          {
            const std::scoped_lock lock(self->mutex_);
            self->probes_.push_back(std::move(probe));
          }
          done(std::move(answer));
        });
  }

  void on_ptr_confirmed(Answer answer) {
    evidence_.push_back(answer);
    on_ptr_final(std::move(answer));
  }

  void on_ptr_final(Answer answer) {
    ptr_ = std::move(answer);
    names_ = ptr_names_to_confirm(ptr_, options_.max_names);
    if (ptr_.outcome != Outcome::ok || names_.empty()) {
      finish(decide_iprev(client_, ptr_, {}));
      return;
    }
    forward_.resize(names_.size());
    pending_ = names_.size();
    const auto type = client_.is_v4() ? RrType::a : RrType::aaaa;
    // Copy: a callback may finish the run (and touch names_) before this loop ends.
    const auto names = names_;
    for (std::size_t i = 0; i < names.size(); ++i) {
      resolver_.resolve_async(names[i], type, {}, [self = shared_from_this(), i](Answer forward) {
        self->on_forward(i, std::move(forward), false);
      });
    }
  }

  void on_forward(std::size_t index, Answer answer, bool recheck) {
    std::unique_lock lock(mutex_);
    if (recheck) {
      answer.confirmed = true;
      rechecks_.push_back(answer);
    }
    forward_[index] = std::move(answer);
    if (--pending_ > 0) {
      return;
    }
    Iprev result = decide_iprev(client_, ptr_, forward_);
    if (!recheck && result.reason == IprevReason::no_forward_match &&
        options_.confirm_no_forward_match) {
      std::vector<std::size_t> negative;
      for (std::size_t i = 0; i < forward_.size(); ++i) {
        if (forward_[i].negative() && !forward_[i].confirmed) {
          negative.push_back(i);
        }
      }
      if (!negative.empty()) {
        first_forward_ = forward_;  // the evidence keeps the answers as first given
        pending_ = negative.size();
        const auto type = client_.is_v4() ? RrType::a : RrType::aaaa;
        std::vector<std::string> names;
        names.reserve(negative.size());
        for (const auto i : negative) names.push_back(names_[i]);
        lock.unlock();
        for (std::size_t k = 0; k < negative.size(); ++k) {
          confirm(names[k], type, [self = shared_from_this(), i = negative[k]](Answer forward) {
            self->on_forward(i, std::move(forward), true);
          });
        }
        return;
      }
    }
    lock.unlock();
    finish(std::move(result));
  }

  void finish(Iprev result) {
    result.generic = generic_ptr_of(result, options_.generic_keywords);
    result.evidence = evidence_;
    for (const auto& answer : first_forward_.empty() ? forward_ : first_forward_) {
      result.evidence.push_back(answer);
    }
    for (const auto& answer : rechecks_) {
      result.evidence.push_back(answer);
    }
    {
      const std::scoped_lock lock(mutex_);
      result.authority = probes_;
    }
    done_(std::move(result));
  }

  dns::Resolver& resolver_;
  IpAddress client_;
  IprevOptions options_;
  std::function<void(Iprev)> done_;
  std::vector<Answer> evidence_;  // PTR and its confirmation: sequential, no lock needed
  Answer ptr_;
  std::vector<std::string> names_;
  std::mutex mutex_;
  std::vector<Answer> forward_;           // guarded by mutex_ while lookups are in flight
  std::vector<Answer> first_forward_;     // guarded by mutex_
  std::vector<Answer> rechecks_;          // guarded by mutex_
  std::vector<dns::ProbeResult> probes_;  // guarded by mutex_
  std::size_t pending_ = 0;               // guarded by mutex_
};

}  // namespace

std::string_view to_string(IprevResult result) {
  switch (result) {
    case IprevResult::pass: return "pass";
    case IprevResult::fail: return "fail";
    case IprevResult::temperror: return "temperror";
    case IprevResult::permerror: return "permerror";
  }
  return "?";
}

std::string_view to_string(IprevReason reason) {
  switch (reason) {
    case IprevReason::forward_confirmed: return "forward-confirmed";
    case IprevReason::no_ptr: return "no-ptr";
    case IprevReason::no_forward_match: return "no-forward-match";
    case IprevReason::ptr_servfail: return "ptr-servfail";
    case IprevReason::ptr_timeout: return "ptr-timeout";
    case IprevReason::ptr_bogus: return "ptr-bogus";
    case IprevReason::forward_temperror: return "forward-temperror";
    case IprevReason::unconfirmed: return "unconfirmed-negative";
    case IprevReason::malformed: return "malformed-ptr";
  }
  return "?";
}

std::vector<std::string> ptr_names_to_confirm(const Answer& ptr, std::size_t max_names) {
  std::vector<std::string> names;
  if (ptr.outcome != Outcome::ok) {
    return names;
  }
  for (auto& name : all_names(ptr)) {
    if (is_host_name(name)) {
      names.push_back(std::move(name));
    }
  }
  if (names.size() > max_names) {
    names.resize(max_names);
  }
  return names;
}

namespace {

/// Sets `result` when the PTR answer alone decides (no PTR, a failed or bogus lookup, an
/// unconfirmed negative answer) and returns true; false when the PTR names need confirming.
bool decided_by_ptr(const Answer& ptr, Iprev& result) {
  if (ptr.confirmed && ptr.temporary_failure()) {
    // The first answer was negative; its re-check failed: neither fail nor pass is proven.
    result.result = IprevResult::temperror;
    result.reason = IprevReason::unconfirmed;
    result.dnssec = ptr.outcome == Outcome::bogus ? Security::bogus : ptr.security;
    return true;
  }
  switch (ptr.outcome) {
    case Outcome::nxdomain:
    case Outcome::nodata:
      result.result = IprevResult::fail;
      result.reason = IprevReason::no_ptr;
      return true;
    case Outcome::servfail:
      result.result = IprevResult::temperror;
      result.reason = IprevReason::ptr_servfail;
      return true;
    case Outcome::timeout:
      result.result = IprevResult::temperror;
      result.reason = IprevReason::ptr_timeout;
      return true;
    case Outcome::bogus:
      result.result = IprevResult::temperror;
      result.reason = IprevReason::ptr_bogus;
      result.dnssec = Security::bogus;
      return true;
    case Outcome::ok: break;
  }
  return false;
}

}  // namespace

Iprev decide_iprev(const IpAddress& client, const Answer& ptr, const std::vector<Answer>& forward) {
  Iprev result;
  result.client = client.unmapped();
  result.dnssec = ptr.security;
  if (decided_by_ptr(ptr, result)) {
    return result;
  }
  result.ptr = all_names(ptr);
  // Note: the limit is applied by the caller that looked the names up; here every usable
  // name with a forward answer counts.
  const auto usable = ptr_names_to_confirm(ptr, result.ptr.size());
  if (usable.empty()) {
    result.result = IprevResult::permerror;
    result.reason = IprevReason::malformed;
    return result;
  }
  const auto wanted = client.unmapped();
  bool temporary = false;
  bool all_verified_secure = true;
  for (const auto& answer : forward) {
    const auto name = dns::normalize_name(answer.name);
    const auto it = std::lower_bound(usable.begin(), usable.end(), name);
    if (it == usable.end() || *it != name) {
      continue;
    }
    if (answer.security == Security::bogus) {
      result.dnssec = Security::bogus;
    }
    if (answer.temporary_failure()) {
      temporary = true;
      continue;
    }
    if (answer.outcome == Outcome::ok && std::find(answer.addresses.begin(), answer.addresses.end(),
                                                   wanted) != answer.addresses.end()) {
      if (std::find(result.verified.begin(), result.verified.end(), name) ==
          result.verified.end()) {
        result.verified.push_back(name);
        all_verified_secure = all_verified_secure && answer.security == Security::secure;
      }
    }
  }
  std::sort(result.verified.begin(), result.verified.end());
  if (!result.verified.empty()) {
    result.result = IprevResult::pass;
    result.reason = IprevReason::forward_confirmed;
    if (result.dnssec != Security::bogus) {
      result.dnssec = ptr.security == Security::secure && all_verified_secure ? Security::secure
                                                                              : Security::insecure;
    }
    return result;
  }
  // No forward answer at all proves nothing; neither does a temporary failure.
  if (temporary || forward.empty()) {
    result.result = IprevResult::temperror;
    result.reason = IprevReason::forward_temperror;
    return result;
  }
  result.result = IprevResult::fail;
  result.reason = IprevReason::no_forward_match;
  return result;
}

namespace {

/// Each confirmed answer with records in `evidence`, paired with the earlier negative answer
/// (same name and type, not confirmed) it contradicts: a stale negative cache entry.
std::vector<std::pair<const Answer*, const Answer*>> contradictions(
    const std::vector<Answer>& evidence) {
  std::vector<std::pair<const Answer*, const Answer*>> pairs;
  for (auto it = evidence.begin(); it != evidence.end(); ++it) {
    if (!it->confirmed || it->outcome != Outcome::ok) continue;
    const auto stale = std::find_if(evidence.begin(), it, [&it](const Answer& earlier) {
      return !earlier.confirmed && earlier.negative() && earlier.type == it->type &&
             dns::normalize_name(earlier.name) == dns::normalize_name(it->name);
    });
    if (stale != it) pairs.emplace_back(&*stale, &*it);
  }
  return pairs;
}

}  // namespace

std::size_t contradicted_negatives(const Iprev& iprev) {
  return contradictions(iprev.evidence).size();
}

GenericPtr generic_ptr_of(const Iprev& iprev, const std::vector<std::string>& keywords) {
  std::vector<std::string> names;
  if (iprev.result == IprevResult::pass) {
    names = iprev.verified;
  } else if (iprev.result == IprevResult::fail) {
    std::copy_if(iprev.ptr.begin(), iprev.ptr.end(), std::back_inserter(names), is_host_name);
  }
  GenericPtr first;
  for (const auto& name : names) {
    auto generic = detect_generic_ptr(iprev.client, name, keywords);
    if (!generic.generic) return {};
    if (!first.generic) first = std::move(generic);
  }
  return first;
}

std::vector<std::string> stale_negative_warnings(const Iprev& iprev, std::string_view source) {
  std::vector<std::string> lines;
  const bool forwarder = source.starts_with("forwarder");
  for (const auto& [stale, found] : contradictions(iprev.evidence)) {
    std::vector<std::string> data = found->names;
    for (const auto& address : found->addresses) data.push_back(address.to_string());
    lines.push_back(fmt::format(
        "{} answered {} for {} but its authoritative servers publish {} {}: a stale negative "
        "cache {}",
        source, stale->outcome == Outcome::nxdomain ? "NXDOMAIN" : "NODATA", stale->name,
        dns::to_string(found->type), fmt::join(data, ", "),
        forwarder ? "at the forwarder" : "in the resolver"));
  }
  return lines;
}

void start_iprev(dns::Resolver& resolver, const IpAddress& client, IprevOptions options,
                 std::function<void(Iprev)> done) {
  std::make_shared<IprevRun>(resolver, client, std::move(options), std::move(done))->start();
}

Iprev check_iprev(dns::Resolver& resolver, const IpAddress& client, IprevOptions options) {
  auto promise = std::make_shared<std::promise<Iprev>>();
  auto future = promise->get_future();
  start_iprev(resolver, client, std::move(options),
              [promise](Iprev result) { promise->set_value(std::move(result)); });
  return future.get();
}

}  // namespace rdns::checks
