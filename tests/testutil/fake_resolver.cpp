#include "testutil/fake_resolver.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace rdns::testutil {

namespace {

// Note: the fake keeps its own normalization so that a bug in dns::normalize_name cannot hide
// behind the test double.
std::string key_name(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out.back() == '.') {
    out.pop_back();
  }
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  });
  return out;
}

dns::Answer address_answer(std::string_view name, dns::RrType type,
                           std::initializer_list<std::string_view> addresses, std::uint32_t ttl) {
  dns::Answer answer;
  answer.name = std::string(name);
  answer.type = type;
  answer.outcome = dns::Outcome::ok;
  answer.ttl = ttl;
  for (auto text : addresses) {
    answer.addresses.push_back(ip(text));
  }
  return answer;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const Query& query) {
  return out << "{" << query.name << " type=" << static_cast<int>(query.type)
             << (query.bypass_cache ? " bypass_cache" : "") << "}";
}

dns::IpAddress ip(std::string_view text) {
  auto parsed = dns::IpAddress::parse(text);
  if (!parsed) {
    std::fprintf(stderr, "test data error: not an IP address: '%.*s'\n",
                 static_cast<int>(text.size()), text.data());
    std::abort();
  }
  return *parsed;
}

dns::Answer ptr_answer(std::string_view owner, std::vector<std::string> targets,
                       std::uint32_t ttl) {
  dns::Answer answer;
  answer.name = std::string(owner);
  answer.type = dns::RrType::ptr;
  answer.outcome = dns::Outcome::ok;
  answer.ttl = ttl;
  answer.names = std::move(targets);
  return answer;
}

dns::Answer a_answer(std::string_view name, std::initializer_list<std::string_view> addresses,
                     std::uint32_t ttl) {
  return address_answer(name, dns::RrType::a, addresses, ttl);
}

dns::Answer aaaa_answer(std::string_view name, std::initializer_list<std::string_view> addresses,
                        std::uint32_t ttl) {
  return address_answer(name, dns::RrType::aaaa, addresses, ttl);
}

dns::Answer failure_answer(std::string_view name, dns::RrType type, dns::Outcome outcome) {
  dns::Answer answer;
  answer.name = std::string(name);
  answer.type = type;
  answer.outcome = outcome;
  answer.ttl = 0;
  switch (outcome) {
    case dns::Outcome::servfail: answer.error = "SERVFAIL from 192.0.2.53"; break;
    case dns::Outcome::timeout: answer.error = "no answer within 5000 ms"; break;
    case dns::Outcome::bogus:
      answer.security = dns::Security::bogus;
      answer.why_bogus = "signature expired";
      break;
    default: break;
  }
  return answer;
}

dns::Answer with_security(dns::Answer answer, dns::Security security) {
  answer.security = security;
  return answer;
}

void FakeResolver::add(dns::Answer answer) {
  const std::lock_guard lock(mutex_);
  Key key{key_name(answer.name), answer.type};
  cached_.insert_or_assign(std::move(key), std::move(answer));
}

void FakeResolver::add_authoritative(dns::Answer answer) {
  const std::lock_guard lock(mutex_);
  Key key{key_name(answer.name), answer.type};
  authoritative_.insert_or_assign(std::move(key), std::move(answer));
}

void FakeResolver::clear_tables() {
  const std::lock_guard lock(mutex_);
  cached_.clear();
  authoritative_.clear();
}

void FakeResolver::set_handler(Handler handler) {
  const std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

void FakeResolver::set_deferred(bool deferred) {
  const std::lock_guard lock(mutex_);
  deferred_ = deferred;
}

dns::Answer FakeResolver::lookup_locked(const Query& query) const {
  const Key key{key_name(query.name), query.type};
  if (query.bypass_cache) {
    if (auto it = authoritative_.find(key); it != authoritative_.end()) {
      return it->second;
    }
  }
  if (auto it = cached_.find(key); it != cached_.end()) {
    return it->second;
  }
  dns::Answer answer;
  answer.name = key.first;
  answer.type = query.type;
  answer.outcome = dns::Outcome::nxdomain;
  return answer;
}

void FakeResolver::resolve_async(const std::string& name, dns::RrType type,
                                 dns::QueryOptions options, Callback done) {
  Query query{name, type, options.bypass_cache};
  Handler handler;
  {
    const std::lock_guard lock(mutex_);
    handler = handler_;
  }
  std::optional<dns::Answer> answer;
  if (handler) {
    answer = handler(query);
  }
  {
    const std::lock_guard lock(mutex_);
    if (!answer) {
      answer = lookup_locked(query);
    }
    answer->confirmed = options.bypass_cache;
    queries_.push_back(query);
    answers_.push_back(*answer);
    if (deferred_) {
      pending_.push_back(Pending{std::move(query), std::move(*answer), std::move(done)});
      return;
    }
  }
  // Note: outside the lock, so the callback may start further queries.
  done(std::move(*answer));
}

std::vector<Query> FakeResolver::queries() const {
  const std::lock_guard lock(mutex_);
  return queries_;
}

std::vector<dns::Answer> FakeResolver::answers() const {
  const std::lock_guard lock(mutex_);
  return answers_;
}

std::size_t FakeResolver::count(dns::RrType type, bool bypass_cache) const {
  const std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      queries_.begin(), queries_.end(),
      [&](const Query& q) { return q.type == type && q.bypass_cache == bypass_cache; }));
}

std::size_t FakeResolver::bypass_count() const {
  const std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(queries_.begin(), queries_.end(),
                                                [](const Query& q) { return q.bypass_cache; }));
}

void FakeResolver::clear_log() {
  const std::lock_guard lock(mutex_);
  queries_.clear();
  answers_.clear();
}

std::size_t FakeResolver::pending() const {
  const std::lock_guard lock(mutex_);
  return pending_.size();
}

std::vector<Query> FakeResolver::pending_queries() const {
  const std::lock_guard lock(mutex_);
  std::vector<Query> out;
  out.reserve(pending_.size());
  for (const auto& p : pending_) {
    out.push_back(p.query);
  }
  return out;
}

std::optional<FakeResolver::Pending> FakeResolver::take(std::size_t index, bool from_back) {
  const std::lock_guard lock(mutex_);
  if (pending_.empty() || index >= pending_.size()) {
    return std::nullopt;
  }
  const std::size_t at = from_back ? pending_.size() - 1 : index;
  Pending p = std::move(pending_[at]);
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(at));
  return p;
}

bool FakeResolver::release(std::size_t index) {
  auto p = take(index, false);
  if (!p) {
    return false;
  }
  p->done(std::move(p->answer));
  return true;
}

bool FakeResolver::release_first() {
  return release(0);
}

bool FakeResolver::release_last() {
  auto p = take(0, true);
  if (!p) {
    return false;
  }
  p->done(std::move(p->answer));
  return true;
}

void FakeResolver::release_all() {
  while (release_first()) {
  }
}

void FakeResolver::release_all_reversed() {
  while (release_last()) {
  }
}

void FakeResolver::release_all_shuffled(std::uint32_t seed) {
  std::mt19937 random(seed);
  while (true) {
    const std::size_t n = pending();
    if (n == 0) {
      return;
    }
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    release(pick(random));
  }
}

void FakeResolver::release_all_on_other_thread() {
  std::thread worker([this] { release_all(); });
  worker.join();
}

void FakeResolver::release_all_concurrently(unsigned threads) {
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    workers.emplace_back([this] { release_all(); });
  }
  for (auto& worker : workers) {
    worker.join();
  }
}

dns::ServerAnswer server_answer(std::string address, dns::Answer answer, bool aa) {
  dns::ServerAnswer server;
  server.ns_name = "ns.fake.test";
  server.address = std::move(address);
  server.responded = true;
  server.rcode = answer.outcome == dns::Outcome::nxdomain ? 3 : answer.temporary_failure() ? 2 : 0;
  server.aa = aa;
  server.answer = std::move(answer);
  server.latency = std::chrono::milliseconds(1);
  return server;
}

dns::ServerAnswer silent_server(std::string address) {
  dns::ServerAnswer server;
  server.ns_name = "ns.fake.test";
  server.address = std::move(address);
  server.failure = "timeout";
  return server;
}

dns::ProbeResult probe_result(std::string_view name, dns::RrType type, std::string zone,
                              std::vector<dns::ServerAnswer> servers) {
  dns::ProbeResult result;
  result.name = dns::normalize_name(name);
  result.type = type;
  dns::ZoneProbe step;
  step.name = result.name;
  step.type = type;
  step.zone = std::move(zone);
  step.servers = std::move(servers);
  result.steps.push_back(std::move(step));
  return result;
}

void FakeAuthorityProbe::probe_async(const std::string& name, dns::RrType type, Callback done) {
  std::optional<dns::ProbeResult> canned;
  {
    const std::lock_guard lock(mutex_);
    ++probes_;
    if (const auto it = results_.find({dns::normalize_name(name), type}); it != results_.end()) {
      canned = it->second;
    }
  }
  if (canned) {
    done(std::move(*canned));
    return;
  }
  resolver_.resolve_async(
      name, type, {.bypass_cache = true}, [name, type, done = std::move(done)](dns::Answer answer) {
        auto server = answer.temporary_failure() ? silent_server("192.0.2.53")
                                                 : server_answer("192.0.2.53", answer);
        done(probe_result(name, type, "fake.test", {std::move(server)}));
      });
}

void FakeAuthorityProbe::set_result(dns::ProbeResult result) {
  const std::lock_guard lock(mutex_);
  auto key = std::pair{result.name, result.type};
  results_.insert_or_assign(std::move(key), std::move(result));
}

std::size_t FakeAuthorityProbe::probes() const {
  const std::lock_guard lock(mutex_);
  return probes_;
}

}  // namespace rdns::testutil
