#include "rdns/dns/unbound_resolver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "rdns/dns/answer_memo.h"
#include "rdns/dns/context_health.h"
#include "rdns/dns/packet.h"
#include "rdns/dns/unique_fd.h"

namespace rdns::dns {
namespace {

using Clock = std::chrono::steady_clock;

struct UbCtxDeleter {
  void operator()(ub_ctx* ctx) const { ub_ctx_delete(ctx); }
};
using UbCtxPtr = std::unique_ptr<ub_ctx, UbCtxDeleter>;

struct UbResultDeleter {
  void operator()(ub_result* result) const { ub_resolve_free(result); }
};
using UbResultPtr = std::unique_ptr<ub_result, UbResultDeleter>;

/// Most confirmations (fresh contexts) alive at once; past that, negatives stay unconfirmed.
constexpr std::size_t max_confirmations = 32;

/// When the main context counts as wedged (issue 10): it failed every query for 10 s, at least
/// 10 of them, while a fresh context asking the last failed question gets an answer.
constexpr ContextHealth::Limits wedge_limits{std::chrono::seconds(10), 10, std::chrono::seconds(5)};

void check_ub(int rc, std::string_view what) {
  if (rc != 0) {
    throw std::runtime_error(fmt::format("{}: {}", what, ub_strerror(rc)));
  }
}

/// Builds a context from the configuration; throws naming the option at fault.
UbCtxPtr make_context(const ResolverConfig& config) {
  UbCtxPtr ctx(ub_ctx_create());
  if (!ctx) {
    throw std::runtime_error("cannot create the libunbound context");
  }
  check_ub(
      ub_ctx_set_option(ctx.get(), "cache-max-ttl:", std::to_string(config.cache_max_ttl).c_str()),
      fmt::format("cache-max-ttl {}", config.cache_max_ttl));
  check_ub(ub_ctx_set_option(ctx.get(), "cache-max-negative-ttl:",
                             std::to_string(config.cache_max_negative_ttl).c_str()),
           fmt::format("cache-max-negative-ttl {}", config.cache_max_negative_ttl));
  // An authoritative server that missed its one probe is otherwise not asked again for up to
  // infra-host-ttl (900 s): its zones stay SERVFAIL long after it is back. A milter must see the
  // recovery within seconds; an unbound-config may still say otherwise (read after this).
  check_ub(ub_ctx_set_option(ctx.get(), "infra-keep-probing:", "yes"), "infra-keep-probing");
  if (!config.trust_anchor_file.empty()) {
    if (access(config.trust_anchor_file.c_str(), R_OK) != 0) {
      throw std::runtime_error(
          fmt::format("trust-anchor-file {}: {}", config.trust_anchor_file, std::strerror(errno)));
    }
    check_ub(ub_ctx_add_ta_file(ctx.get(), config.trust_anchor_file.c_str()),
             fmt::format("trust-anchor-file {}", config.trust_anchor_file));
  }
  for (const auto& forwarder : config.forwarders) {
    check_ub(ub_ctx_set_fwd(ctx.get(), forwarder.c_str()), fmt::format("forwarder {}", forwarder));
  }
  if (!config.unbound_config.empty()) {
    if (access(config.unbound_config.c_str(), R_OK) != 0) {
      throw std::runtime_error(
          fmt::format("unbound-config {}: {}", config.unbound_config, std::strerror(errno)));
    }
    check_ub(ub_ctx_config(ctx.get(), config.unbound_config.c_str()),
             fmt::format("unbound-config {}", config.unbound_config));
  }
  check_ub(ub_ctx_async(ctx.get(), 1), "libunbound async mode");
  return ctx;
}

/// A context for the main queries, finalized now so configuration errors surface at once:
/// localhost is a built-in local zone, no packet leaves the machine.
UbCtxPtr make_main_context(const ResolverConfig& config) {
  auto ctx = make_context(config);
  ub_result* probe = nullptr;
  const int rc = ub_resolve(ctx.get(), "localhost.", 1, 1, &probe);
  const UbResultPtr probe_result(probe);
  check_ub(rc, "resolver configuration");
  return ctx;
}

Answer failure(const std::string& name, RrType type, Outcome outcome, std::string error) {
  Answer answer;
  answer.name = name;
  answer.type = type;
  answer.outcome = outcome;
  answer.error = std::move(error);
  return answer;
}

Answer to_answer(const std::string& name, RrType type, int err, UbResultPtr result) {
  if (err != 0 || !result) {
    return failure(name, type, Outcome::servfail, ub_strerror(err));
  }
  if (result->bogus != 0) {
    auto answer = failure(name, type, Outcome::bogus, {});
    answer.security = Security::bogus;
    answer.why_bogus = result->why_bogus != nullptr ? result->why_bogus : "validation failed";
    return answer;
  }
  if (result->rcode != 0 && result->rcode != 3) {
    return failure(name, type, Outcome::servfail,
                   result->rcode == 2 ? "SERVFAIL" : fmt::format("rcode {}", result->rcode));
  }
  Answer answer;
  if (result->answer_packet != nullptr && result->answer_len > 0) {
    answer = parse_packet({static_cast<const std::uint8_t*>(result->answer_packet),
                           static_cast<std::size_t>(result->answer_len)},
                          name, type);
  } else {
    answer = failure(name, type, result->rcode == 3 ? Outcome::nxdomain : Outcome::nodata, {});
  }
  if (result->secure != 0) {
    answer.security = Security::secure;
  }
  return answer;
}

}  // namespace

struct UnboundResolver::Impl {
  struct Query {
    std::string name;
    RrType type = RrType::a;
    Callback done;
    /// Identical questions asked while this one was in flight (coalesced): same answer.
    std::vector<Callback> also;
    std::string memo_key;  ///< set for a main-context question others may join
    Clock::time_point deadline;
    ub_ctx* ctx = nullptr;
    UbCtxPtr owned_ctx;  // a fresh context for a cache-bypassing confirmation
    int async_id = 0;
    bool started = false;
  };

  /// A result libunbound delivered, waiting to be matched with its query.
  struct Finished {
    std::uint64_t token = 0;
    int err = 0;
    UbResultPtr result;
  };

  Impl(const ResolverConfig& cfg, Logger logger)
      : config(cfg),
        log(std::move(logger)),
        main_ctx(make_main_context(cfg)),
        memo({.max_ttl = cfg.cache_max_ttl, .max_negative_ttl = cfg.cache_max_negative_ttl}) {
    wake_fd.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake_fd) {
      throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
    }
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    stopping = true;
    wake();
    thread.join();
    std::map<std::uint64_t, Query> left;
    {
      const std::lock_guard lock(mutex);
      left.swap(queries);
    }
    for (auto& [token, query] : left) {
      finish(query, failure(query.name, query.type, Outcome::servfail, "resolver stopped"));
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;

  void wake() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = write(wake_fd.get(), &one, sizeof one);
  }

  // Note: libunbound runs result callbacks inside ub_process, which only the event thread
  // calls; the token travels as the callback argument so a cancelled query leaks nothing.
  static thread_local Impl* processing;

  static void on_result(void* arg, int err, ub_result* result) {
    processing->finished.push_back(
        {reinterpret_cast<std::uintptr_t>(arg), err, UbResultPtr(result)});
  }

  void start(const std::string& name, RrType type, QueryOptions options, Callback done) {
    const std::string qname = normalize_name(name);
    if (stopping) {
      done(failure(qname, type, Outcome::servfail, "resolver stopped"));
      return;
    }
    if (!options.bypass_cache) {
      // Note: a warm question is answered here, on the caller's thread, with its TTL counted
      // down; the confirm-before-reject path (bypass_cache) never reads or fills the memo.
      if (auto hit = memo.find(qname, type, Clock::now())) {
        done(std::move(*hit));
        return;
      }
    }
    Query query;
    query.name = qname;
    query.type = type;
    query.done = std::move(done);
    query.deadline = Clock::now() + config.query_timeout;
    if (options.bypass_cache) {
      if (confirmations.fetch_add(1) >= max_confirmations) {
        confirmations.fetch_sub(1);
        query.done(failure(qname, type, Outcome::servfail, "too many re-checks at once"));
        return;
      }
      try {
        query.owned_ctx = make_context(config);
      } catch (const std::exception& e) {
        confirmations.fetch_sub(1);
        query.done(failure(qname, type, Outcome::servfail, e.what()));
        return;
      }
      query.ctx = query.owned_ctx.get();
    }
    ub_ctx* ctx = nullptr;
    const std::uint64_t token = next_token++;
    {
      // Note: the event thread may swap main_ctx (rebuild); it keeps the old one alive while
      // a query in `queries` names it, so `ctx` stays valid after the lock.
      const std::lock_guard lock(mutex);
      if (!query.owned_ctx) {
        query.memo_key = memo_key(qname, type);
        if (auto joined = in_flight.find(query.memo_key); joined != in_flight.end()) {
          if (auto first = queries.find(joined->second); first != queries.end()) {
            first->second.also.push_back(std::move(query.done));
            return;  // coalesced: the first asker's answer serves this one too
          }
        }
        in_flight.insert_or_assign(query.memo_key, token);
        query.ctx = main_ctx.get();
      }
      ctx = query.ctx;
      queries.emplace(token, std::move(query));
    }
    int async_id = 0;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the token, not an address
    auto* arg = reinterpret_cast<void*>(static_cast<std::uintptr_t>(token));
    const int rc = ub_resolve_async(ctx, qname.c_str(), static_cast<int>(type), 1, arg,
                                    &Impl::on_result, &async_id);
    std::optional<Query> failed;
    {
      const std::lock_guard lock(mutex);
      auto it = queries.find(token);
      if (rc != 0) {
        if (it != queries.end()) {
          failed = take(it);
        }
      } else if (it != queries.end()) {
        it->second.async_id = async_id;
        it->second.started = true;
      }
    }
    if (failed) {
      release(*failed);
      finish(*failed, failure(qname, type, Outcome::servfail, ub_strerror(rc)));
      return;
    }
    wake();  // a new deadline, and possibly a new context fd to watch
  }

  /// Moves a query out of `queries` and removes it from `in_flight` (under mutex); later
  /// identical questions start a query of their own. `it` moves to the next query.
  Query take(std::map<std::uint64_t, Query>::iterator& it) {
    if (!it->second.memo_key.empty()) {
      in_flight.erase(it->second.memo_key);
    }
    Query query = std::move(it->second);
    it = queries.erase(it);
    return query;
  }

  /// Gives `answer` to the query's caller and to every caller coalesced with it.
  static void finish(Query& query, Answer answer) {
    for (auto& also : query.also) {
      also(answer);
    }
    query.done(std::move(answer));
  }

  /// Retires a confirmation context; the event thread deletes it before its next poll, so a
  /// context is never deleted while that thread may still poll or process it.
  void release(Query& query) {
    if (query.owned_ctx) {
      const std::lock_guard lock(mutex);
      graveyard.push_back(std::move(query.owned_ctx));
    }
  }

  void run() {
    processing = this;
    while (!stopping) {
      bury_retired();
      std::vector<ub_ctx*> contexts{main_ctx.get()};
      for (const auto& old : retired_mains) {
        contexts.push_back(old.get());
      }
      const auto timeout = confirmation_contexts(contexts);
      std::vector<pollfd> fds{{wake_fd.get(), POLLIN, 0}};
      for (auto* ctx : contexts) {
        fds.push_back({ub_fd(ctx), POLLIN, 0});
      }
      poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto n = read(wake_fd.get(), &count, sizeof count);
      }
      for (std::size_t i = 0; i < contexts.size(); ++i) {
        if ((fds[i + 1].revents & POLLIN) != 0) {
          ub_process(contexts[i]);
        }
      }
      deliver_finished();
      expire();
      check_health();
    }
  }

  /// Deletes retired confirmation contexts, and retired main contexts no query uses any more.
  void bury_retired() {
    std::vector<UbCtxPtr> dead;
    {
      const std::lock_guard lock(mutex);
      dead.swap(graveyard);
      confirmations.fetch_sub(dead.size());
      for (auto it = retired_mains.begin(); it != retired_mains.end();) {
        const bool used = std::any_of(queries.begin(), queries.end(), [&](const auto& entry) {
          return entry.second.ctx == it->get();
        });
        if (used) {
          ++it;
        } else {
          dead.push_back(std::move(*it));
          it = retired_mains.erase(it);
        }
      }
    }
  }

  /// Adds the confirmation contexts in use to `contexts`; returns how long to poll: until the
  /// next deadline, 1 s at most.
  std::chrono::milliseconds confirmation_contexts(std::vector<ub_ctx*>& contexts) {
    auto timeout = std::chrono::milliseconds(1000);
    const std::lock_guard lock(mutex);
    const auto now = Clock::now();
    for (const auto& [token, query] : queries) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(query.deadline - now);
      timeout =
          std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(0), timeout);
      if (query.owned_ctx) {
        contexts.push_back(query.ctx);
      }
    }
    return timeout;
  }

  void deliver_finished() {
    std::vector<Finished> done;
    done.swap(finished);
    for (auto& [token, err, result] : done) {
      std::optional<Query> query;
      {
        const std::lock_guard lock(mutex);
        auto it = queries.find(token);
        if (it != queries.end()) {
          query = take(it);
        }
      }
      if (!query) {
        continue;  // expired meanwhile; `result` frees itself
      }
      const bool confirmed = static_cast<bool>(query->owned_ctx);
      auto answer = to_answer(query->name, query->type, err, std::move(result));
      answer.confirmed = confirmed;
      if (query->ctx == main_ctx.get()) {
        health.record(answer, Clock::now());
        memo.store(answer, Clock::now());
      }
      release(*query);
      finish(*query, std::move(answer));
    }
  }

  void expire() {
    std::vector<Query> expired;
    {
      const std::lock_guard lock(mutex);
      const auto now = Clock::now();
      for (auto it = queries.begin(); it != queries.end();) {
        if (it->second.started && it->second.deadline <= now) {
          expired.push_back(take(it));
        } else {
          ++it;
        }
      }
    }
    for (auto& query : expired) {
      ub_cancel(query.ctx, query.async_id);
      const bool confirmed = static_cast<bool>(query.owned_ctx);
      release(query);
      auto answer = failure(query.name, query.type, Outcome::timeout,
                            fmt::format("no answer within {} ms", config.query_timeout.count()));
      answer.confirmed = confirmed;
      if (query.ctx == main_ctx.get()) {
        health.record(answer, Clock::now());
      }
      finish(query, std::move(answer));
    }
  }

  /// Event thread: when the main context looks wedged, asks its last failed question of a fresh
  /// context (the cache-bypass path); when that one gets an answer, rebuilds the main context.
  void check_health() {
    if (rebuild_reason) {
      rebuild(*std::exchange(rebuild_reason, std::nullopt));
      return;
    }
    const auto question = health.start_probe(Clock::now());
    if (!question) {
      return;
    }
    start(question->name, question->type, {.bypass_cache = true}, [this](const Answer& probe) {
      const auto now = Clock::now();
      const auto streak = health.describe_streak(now);
      if (health.finish_probe(probe, now)) {
        rebuild_reason = fmt::format("{}; a fresh context got {}", streak, describe(probe));
      }
    });
  }

  /// Event thread: replaces the main context by a new one from the same configuration, as a
  /// reload would. Queries still running on the old one finish there; bury_retired deletes it.
  void rebuild(const std::string& reason) {
    UbCtxPtr fresh;
    try {
      fresh = make_main_context(config);
    } catch (const std::exception& e) {
      logf(LOG_ERR, fmt::format("resolver context failed every query ({}) and cannot be "
                                "rebuilt: {}",
                                reason, e.what()));
      return;
    }
    {
      const std::lock_guard lock(mutex);
      retired_mains.push_back(std::exchange(main_ctx, std::move(fresh)));
    }
    memo.clear();  // answers of the wedged context
    ++rebuild_count;
    logf(LOG_WARNING, fmt::format("resolver context rebuilt: it failed every query ({})", reason));
    wake();
  }

  void logf(int priority, const std::string& line) const {
    if (log) {
      log(priority, line);
    }
  }

  ResolverConfig config;
  Logger log;
  UbCtxPtr main_ctx;  // written by the event thread under mutex
  UniqueFd wake_fd;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_token{1};
  std::atomic<std::size_t> confirmations{0};
  std::mutex mutex;
  std::map<std::uint64_t, Query> queries;                    // guarded by mutex
  std::unordered_map<std::string, std::uint64_t> in_flight;  // memo key -> token; under mutex
  AnswerMemo memo;
  std::vector<UbCtxPtr> graveyard;            // guarded by mutex
  std::vector<UbCtxPtr> retired_mains;        // event thread; erased from under mutex
  ContextHealth health{wedge_limits};         // event thread only
  std::optional<std::string> rebuild_reason;  // event thread only
  std::atomic<std::uint64_t> rebuild_count{0};
  std::vector<Finished> finished;  // event thread only
  std::thread thread;
};

thread_local UnboundResolver::Impl* UnboundResolver::Impl::processing = nullptr;

UnboundResolver::UnboundResolver(const ResolverConfig& config, Logger log)
    : impl_(std::make_unique<Impl>(config, std::move(log))) {}

std::uint64_t UnboundResolver::rebuilds() const {
  return impl_->rebuild_count;
}

UnboundResolver::~UnboundResolver() = default;

void UnboundResolver::forget_answers() {
  impl_->memo.clear();
}

void UnboundResolver::resolve_async(const std::string& name, RrType type, QueryOptions options,
                                    Callback done) {
  impl_->start(name, type, options, std::move(done));
}

}  // namespace rdns::dns
