#include "rdns/dns/unbound_resolver.h"

#include <poll.h>
#include <sys/eventfd.h>
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

#include <fmt/format.h>

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

  explicit Impl(const ResolverConfig& cfg) : config(cfg), main_ctx(make_context(cfg)) {
    // Finalize now so configuration errors surface at start-up: localhost is a built-in
    // local zone, no packet leaves the machine.
    ub_result* probe = nullptr;
    const int rc = ub_resolve(main_ctx.get(), "localhost.", 1, 1, &probe);
    const UbResultPtr probe_result(probe);
    check_ub(rc, "resolver configuration");
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
      query.done(failure(query.name, query.type, Outcome::servfail, "resolver stopped"));
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
    } else {
      query.ctx = main_ctx.get();
    }
    ub_ctx* ctx = query.ctx;
    const std::uint64_t token = next_token++;
    {
      const std::lock_guard lock(mutex);
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
          failed = std::move(it->second);
          queries.erase(it);
        }
      } else if (it != queries.end()) {
        it->second.async_id = async_id;
        it->second.started = true;
      }
    }
    if (failed) {
      release(*failed);
      failed->done(failure(qname, type, Outcome::servfail, ub_strerror(rc)));
      return;
    }
    wake();  // a new deadline, and possibly a new context fd to watch
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
    std::vector<pollfd> fds;
    while (!stopping) {
      std::vector<UbCtxPtr> retired;
      {
        const std::lock_guard lock(mutex);
        retired.swap(graveyard);
      }
      confirmations.fetch_sub(retired.size());
      retired.clear();
      auto timeout = std::chrono::milliseconds(1000);
      fds.clear();
      fds.push_back({wake_fd.get(), POLLIN, 0});
      fds.push_back({ub_fd(main_ctx.get()), POLLIN, 0});
      std::vector<ub_ctx*> extra;
      {
        const std::lock_guard lock(mutex);
        const auto now = Clock::now();
        for (const auto& [token, query] : queries) {
          const auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(query.deadline - now);
          timeout = std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(0),
                               timeout);
          if (query.owned_ctx) {
            extra.push_back(query.ctx);
            fds.push_back({ub_fd(query.ctx), POLLIN, 0});
          }
        }
      }
      poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto n = read(wake_fd.get(), &count, sizeof count);
      }
      if ((fds[1].revents & POLLIN) != 0) {
        ub_process(main_ctx.get());
      }
      for (std::size_t i = 0; i < extra.size(); ++i) {
        if ((fds[i + 2].revents & POLLIN) != 0) {
          ub_process(extra[i]);
        }
      }
      deliver_finished();
      expire();
    }
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
          query = std::move(it->second);
          queries.erase(it);
        }
      }
      if (!query) {
        continue;  // expired meanwhile; `result` frees itself
      }
      const bool confirmed = static_cast<bool>(query->owned_ctx);
      auto answer = to_answer(query->name, query->type, err, std::move(result));
      answer.confirmed = confirmed;
      release(*query);
      query->done(std::move(answer));
    }
  }

  void expire() {
    std::vector<Query> expired;
    {
      const std::lock_guard lock(mutex);
      const auto now = Clock::now();
      for (auto it = queries.begin(); it != queries.end();) {
        if (it->second.started && it->second.deadline <= now) {
          expired.push_back(std::move(it->second));
          it = queries.erase(it);
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
      query.done(std::move(answer));
    }
  }

  ResolverConfig config;
  UbCtxPtr main_ctx;
  UniqueFd wake_fd;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_token{1};
  std::atomic<std::size_t> confirmations{0};
  std::mutex mutex;
  std::map<std::uint64_t, Query> queries;  // guarded by mutex
  std::vector<UbCtxPtr> graveyard;         // guarded by mutex
  std::vector<Finished> finished;          // event thread only
  std::thread thread;
};

thread_local UnboundResolver::Impl* UnboundResolver::Impl::processing = nullptr;

UnboundResolver::UnboundResolver(const ResolverConfig& config)
    : impl_(std::make_unique<Impl>(config)) {}

UnboundResolver::~UnboundResolver() = default;

void UnboundResolver::resolve_async(const std::string& name, RrType type, QueryOptions options,
                                    Callback done) {
  impl_->start(name, type, options, std::move(done));
}

}  // namespace rdns::dns
