#include "milter/milter.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "rdns/dns/name.h"

namespace rdns::milter {
namespace {

Options options;  // set once by setup(), before any callback runs

/// One MTA connection: what was agreed at negotiation, and the SMTP session on it.
struct Connection {
  /// The runtime whose decision stage chose the silent events; sessions use it while a reload
  /// would change which events answer (the agreement holds for the whole connection).
  session::Runtime runtime;
  unsigned long no_reply = 0;  ///< SMFIP_NR_* bits agreed with the MTA
  /// An event without a reply failed: the next event that has one tempfails (names the step).
  std::string failed_step;
  std::unique_ptr<session::Session> session;
};

/// The last agreement on this thread: libmilter runs a connection's commands on one thread, and
/// a context re-used after QUIT_NC (whose close may have freed the Connection) is not
/// negotiated again.
thread_local std::optional<std::pair<session::Runtime, unsigned long>> last_agreement;

// Note: libmilter keeps one pointer per connection (smfi_setpriv). The Connection is owned by a
// unique_ptr everywhere but there: give_connection() hands it over with release(), and
// take_connection() (at close) reclaims it.

/// The connection's state, still owned by the context (null before negotiation).
Connection* connection_of(SMFICTX* ctx) {
  return static_cast<Connection*>(smfi_getpriv(ctx));
}

/// The connection's Session (null if it has none).
session::Session* session_of(SMFICTX* ctx) {
  auto* connection = connection_of(ctx);
  return connection != nullptr ? connection->session.get() : nullptr;
}

/// Takes the Connection back from the context (null if it has none).
std::unique_ptr<Connection> take_connection(SMFICTX* ctx) {
  std::unique_ptr<Connection> connection(connection_of(ctx));
  smfi_setpriv(ctx, nullptr);
  return connection;
}

/// Lets the context own the Connection until take_connection().
Connection& give_connection(SMFICTX* ctx, std::unique_ptr<Connection> connection) {
  if (smfi_setpriv(ctx, connection.get()) != MI_SUCCESS) {
    throw std::runtime_error("smfi_setpriv failed");
  }
  return *connection.release();
}

std::string macro(SMFICTX* ctx, const char* name) {
  const char* value = smfi_getsymval(ctx, const_cast<char*>(name));
  return value != nullptr ? value : "";
}

/// Reply text for smfi_setreply: printable ASCII only, '%' doubled (libmilter formats it),
/// bounded so the line stays within RFC 5321's 512 octets after the MTA undoubles it.
std::string reply_text(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 480)) {
    if (!dns::is_ascii_printable(c)) {
      out += '?';
    } else if (c == '%') {
      out += "%%";
    } else {
      out += c;
    }
  }
  return out;
}

sfsistat respond(SMFICTX* ctx, const session::Response& response) {
  using Kind = session::Response::Kind;
  if (response.kind == Kind::proceed) {
    return SMFIS_CONTINUE;
  }
  if (response.reply) {
    auto code = response.reply->code;
    auto enhanced = response.reply->enhanced;
    auto text = reply_text(response.reply->text);
    if (smfi_setreply(ctx, code.data(), enhanced.data(), text.data()) != MI_SUCCESS) {
      // The MTA would answer with its own generic text; say why ours was refused.
      options.logger(LOG_WARNING, fmt::format("smfi_setreply refused \"{} {} {}\" ({} bytes); "
                                              "the MTA uses its default reply text",
                                              code, enhanced, text.substr(0, 80), text.size()));
    }
  }
  return response.kind == Kind::reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/// Logs a failed step with the queue id.
void log_failure(SMFICTX* ctx, const char* step, const char* what) {
  const auto queue_id = macro(ctx, "i");
  options.logger(LOG_ERR, fmt::format("{}: {} failed: {}; tempfailing",
                                      queue_id.empty() ? "NOQUEUE" : queue_id, step, what));
}

/// Runs one callback body; any exception is logged with the queue id and becomes a tempfail.
/// For an event the MTA expects no reply to (`no_reply_bit` agreed), the answer is NOREPLY and a
/// failure tempfails the next event that has a reply. An earlier such failure tempfails now.
template <typename Body>
sfsistat guarded(SMFICTX* ctx, const char* step, unsigned long no_reply_bit, Body&& body) {
  auto* connection = connection_of(ctx);
  const bool silent = connection != nullptr && (connection->no_reply & no_reply_bit) != 0;
  if (!silent && connection != nullptr && !connection->failed_step.empty()) {
    const auto queue_id = macro(ctx, "i");
    options.logger(LOG_ERR, fmt::format("{}: tempfailing at {}: {} failed before",
                                        queue_id.empty() ? "NOQUEUE" : queue_id, step,
                                        std::exchange(connection->failed_step, {})));
    return SMFIS_TEMPFAIL;
  }
  sfsistat status = SMFIS_TEMPFAIL;
  try {
    status = body();
  } catch (const std::exception& e) {
    log_failure(ctx, step, e.what());
  } catch (...) {
    log_failure(ctx, step, "unknown error");
  }
  if (!silent) return status;
  if (status != SMFIS_CONTINUE && (connection = connection_of(ctx)) != nullptr) {
    connection->failed_step = step;
  }
  return SMFIS_NOREPLY;
}

std::optional<dns::IpAddress> address_of(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return dns::IpAddress::from_bytes(dns::IpAddress::Family::v4,
                                      reinterpret_cast<const std::uint8_t*>(&in->sin_addr));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return dns::IpAddress::from_bytes(dns::IpAddress::Family::v6,
                                      reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr));
  }
  return std::nullopt;
}

/// The SMFIP_NR_* bits for the events that never answer anything but "continue" at `stage`.
unsigned long no_reply_bits(config::Stage stage) {
  const auto silent = session::silent_events(stage);
  return (silent.connect ? SMFIP_NR_CONN : 0UL) | (silent.helo ? SMFIP_NR_HELO : 0UL) |
         (silent.mail ? SMFIP_NR_MAIL : 0UL) | (silent.rcpt ? SMFIP_NR_RCPT : 0UL) |
         (silent.header ? SMFIP_NR_HDR : 0UL);
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long /*f2*/,
                      unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1,
                      unsigned long* pf2, unsigned long* pf3) {
  constexpr unsigned long required = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
  if ((f0 & required) != required) {
    options.logger(LOG_ERR,
                   "the MTA does not allow adding and changing header fields; refusing to run "
                   "(Postfix: upgrade; sendmail: check the milter flags)");
    return SMFIS_REJECT;
  }
  std::unique_ptr<Connection> connection;
  try {
    connection = std::make_unique<Connection>();
    connection->runtime = options.runtime();
    // Note: an event whose answer never depends on us costs the MTA a round trip for nothing;
    // it gets no reply where the MTA offers that (Postfix 2.6+, sendmail 8.14+: protocol 6).
    connection->no_reply = f1 & no_reply_bits(connection->runtime.config->decision_stage);
  } catch (const std::exception& e) {
    log_failure(ctx, "negotiation", e.what());
    return SMFIS_REJECT;
  }
  *pf0 = required | (f0 & SMFIF_SETSYMLIST);
  // Skip the steps we do not use.
  *pf1 =
      (f1 & (SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH)) | connection->no_reply;
  *pf2 = 0;
  *pf3 = 0;
  if ((f0 & SMFIF_SETSYMLIST) != 0) {
    smfi_setsymlist(ctx, SMFIM_CONNECT,
                    const_cast<char*>("j {daemon_name} {if_addr} {daemon_addr}"));
    smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("i {auth_authen} {auth_type}"));
    smfi_setsymlist(ctx, SMFIM_ENVRCPT, const_cast<char*>("i"));
    smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
  }
  last_agreement.emplace(connection->runtime, connection->no_reply);
  take_connection(ctx).reset();
  (void)give_connection(ctx, std::move(connection));
  return SMFIS_CONTINUE;
}

/// The connection's state for a new SMTP session: the runtime is the current one unless a
/// reload changed which events are silent since the negotiation.
Connection& connection_for_connect(SMFICTX* ctx) {
  auto* connection = connection_of(ctx);
  if (connection == nullptr) {  // re-used after QUIT_NC, or an MTA that does not negotiate
    auto fresh = std::make_unique<Connection>();
    if (last_agreement) {
      std::tie(fresh->runtime, fresh->no_reply) = *last_agreement;
    } else {
      fresh->runtime = options.runtime();
    }
    connection = &give_connection(ctx, std::move(fresh));
  }
  auto current = options.runtime();
  if (no_reply_bits(current.config->decision_stage) ==
      no_reply_bits(connection->runtime.config->decision_stage)) {
    connection->runtime = std::move(current);
  }
  connection->session.reset();
  return *connection;
}

// NOLINTNEXTLINE(readability-non-const-parameter): libmilter's callback signature
sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* address) {
  Connection* connection = nullptr;
  try {
    connection = &connection_for_connect(ctx);
  } catch (const std::exception& e) {
    log_failure(ctx, "connect", e.what());
    connection = connection_of(ctx);
    if (connection == nullptr || (connection->no_reply & SMFIP_NR_CONN) == 0) {
      return SMFIS_TEMPFAIL;
    }
    connection->failed_step = "connect";
    return SMFIS_NOREPLY;
  }
  return guarded(ctx, "connect", SMFIP_NR_CONN, [&] {
    connection->session = std::make_unique<session::Session>(connection->runtime, options.logger);
    std::vector<dns::IpAddress> local;
    for (const char* name : {"{if_addr}", "{daemon_addr}"}) {
      if (auto ip = dns::IpAddress::parse(macro(ctx, name))) local.push_back(*ip);
    }
    return respond(
        ctx, connection->session->connect(hostname != nullptr ? hostname : "", address_of(address),
                                          macro(ctx, "j"), std::move(local)));
  });
}

// NOLINTNEXTLINE(readability-non-const-parameter): libmilter's callback signature
sfsistat on_helo(SMFICTX* ctx, char* name) {
  return guarded(ctx, "helo", SMFIP_NR_HELO, [&] {
    auto* session = session_of(ctx);
    return session != nullptr ? respond(ctx, session->helo(name != nullptr ? name : ""))
                              : SMFIS_CONTINUE;
  });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "mail", SMFIP_NR_MAIL, [&] {
    auto* session = session_of(ctx);
    const char* sender = argv != nullptr && argv[0] != nullptr ? argv[0] : "";
    return session != nullptr
               ? respond(ctx, session->mail(sender, macro(ctx, "{auth_authen}"), macro(ctx, "i")))
               : SMFIS_CONTINUE;
  });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
  return guarded(ctx, "rcpt", SMFIP_NR_RCPT, [&] {
    auto* session = session_of(ctx);
    const char* recipient = argv != nullptr && argv[0] != nullptr ? argv[0] : "";
    return session != nullptr ? respond(ctx, session->rcpt(recipient, macro(ctx, "i")))
                              : SMFIS_CONTINUE;
  });
}

// NOLINTNEXTLINE(readability-non-const-parameter): libmilter's callback signature
sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
  return guarded(ctx, "header", SMFIP_NR_HDR, [&] {
    if (auto* session = session_of(ctx); session != nullptr) {
      session->header(name != nullptr ? name : "", value != nullptr ? value : "");
    }
    return SMFIS_CONTINUE;
  });
}

sfsistat on_eom(SMFICTX* ctx) {
  return guarded(ctx, "end of message", 0, [&] {
    auto* session = session_of(ctx);
    if (session == nullptr) return SMFIS_CONTINUE;
    const auto edits = session->end_of_message(macro(ctx, "i"));
    for (const int index : edits.delete_auth_results) {
      smfi_chgheader(ctx, const_cast<char*>("Authentication-Results"), index, nullptr);
    }
    for (std::size_t i = edits.insert.size(); i-- > 0;) {  // last first: each goes in at 0
      auto name = edits.insert[i].first;
      const auto& body = edits.insert[i].second;
      // Without SMFIP_HDR_LEADSPC the MTA puts the space after the colon itself.
      auto value = body.starts_with(' ') ? body.substr(1) : body;
      if (smfi_insheader(ctx, 0, name.data(), value.data()) != MI_SUCCESS) {
        throw std::runtime_error("smfi_insheader refused the " + name + " field");
      }
    }
    return SMFIS_CONTINUE;
  });
}

sfsistat on_abort(SMFICTX* ctx) {
  // Note: not guarded(): the MTA reads no reply to an abort, and an earlier failure must still
  // tempfail the next transaction.
  try {
    if (auto* session = session_of(ctx); session != nullptr) session->abort();
  } catch (const std::exception& e) {
    log_failure(ctx, "abort", e.what());
  }
  return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) {
  take_connection(ctx).reset();
  return SMFIS_CONTINUE;
}

// ----- running short of file descriptors ------------------------------------------------------

/// How many descriptors stay free for the sessions already open (DNS sockets, reloads, logs).
int descriptor_reserve(rlim_t limit) {
  return static_cast<int>(std::min<rlim_t>(32, limit / 4));
}

/// The soft RLIMIT_NOFILE, read each time so that a later prlimit(1) counts.
rlim_t descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<int>::max();
  }
  return limit.rlim_cur;
}

/// A descriptor held back so that a connection can still be accepted (and closed) at EMFILE.
std::atomic<int> spare_descriptor{-1};
std::atomic<long> refused_since_notice{0};
std::atomic<std::int64_t> last_notice{std::numeric_limits<std::int64_t>::min()};
constexpr std::int64_t notice_interval_seconds = 60;

void reopen_spare() {
  if (spare_descriptor.load() < 0) {
    spare_descriptor.store(open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
}

/// Counts a connection closed for want of descriptors; logs at most once per interval.
void note_refused() {
  ++refused_since_notice;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  auto last = last_notice.load();
  if (last != std::numeric_limits<std::int64_t>::min() && now - last < notice_interval_seconds) {
    return;
  }
  if (!last_notice.compare_exchange_strong(last, now)) return;
  const auto refused = refused_since_notice.exchange(0);
  const auto limit = descriptor_limit();
  options.logger(LOG_ERR,
                 fmt::format("out of file descriptors (limit {}, {} kept in reserve): refused {} "
                             "new connection{} since the last notice; the MTA applies its "
                             "milter_default_action (raise LimitNOFILE or ulimit -n)",
                             limit, descriptor_reserve(limit), refused, refused == 1 ? "" : "s"));
}

using AcceptFn = int (*)(int, sockaddr*, socklen_t*);

/// accept() failed with EMFILE or ENFILE: take the waiting connection with the spare descriptor
/// and close it, so that libmilter's listener neither spins on a readable socket nor leaves
/// the MTA waiting. Returns -1 with errno set for the listener (which then carries on).
int refuse_at_exhaustion(AcceptFn real, int fd) {
  const int spare = spare_descriptor.exchange(-1);
  if (spare < 0) {
    reopen_spare();
    // Nothing to accept with: wait a little instead of letting the listener poll at full speed.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    errno = EMFILE;
    return -1;
  }
  close(spare);
  const int connection = real(fd, nullptr, nullptr);
  const int accept_errno = errno;
  if (connection >= 0) close(connection);
  reopen_spare();  // before logging, which may need a descriptor of its own
  if (connection < 0) {
    errno = accept_errno;
    return -1;
  }
  note_refused();
  errno = ECONNABORTED;
  return -1;
}

}  // namespace

void setup(const Options& opts) {
  options = opts;
  reopen_spare();
  static smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("rdns-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST;
  desc.xxfi_connect = on_connect;
  desc.xxfi_helo = on_helo;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_envrcpt = on_envrcpt;
  desc.xxfi_header = on_header;
  desc.xxfi_eom = on_eom;
  desc.xxfi_abort = on_abort;
  desc.xxfi_close = on_close;
  desc.xxfi_negotiate = on_negotiate;
  if (smfi_setconn(const_cast<char*>(options.socket.c_str())) != MI_SUCCESS) {
    throw std::runtime_error(fmt::format("socket {}: not a valid milter socket", options.socket));
  }
  if (smfi_register(desc) != MI_SUCCESS) {
    throw std::runtime_error("smfi_register failed");
  }
  if (smfi_opensocket(true) != MI_SUCCESS) {
    throw std::runtime_error(fmt::format(
        "socket {}: cannot listen (in use, or no permission on its directory)", options.socket));
  }
}

int run() {
  return smfi_main();
}

void stop() {
  smfi_stop();
}

std::string library_version() {
  unsigned major = 0;
  unsigned minor = 0;
  unsigned patch = 0;
  (void)smfi_version(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

}  // namespace rdns::milter

// Note: libmilter answers end of message with separate small writes (each header edit, then
// the reply). With Nagle's algorithm on, the last write waits for the MTA's delayed ACK:
// about 40 ms per message (bench/README.md). libmilter offers no hook on its sockets, so the
// executable interposes accept(), which libmilter's listener calls (nothing else in the
// process accepts), and turns Nagle off on every milter connection. On a unix socket
// setsockopt fails harmlessly.
// It also keeps the daemon answering when descriptors run short: a connection accepted within
// the reserve of the soft limit, or one that could not be accepted (EMFILE, ENFILE), is closed
// at once, so the MTA applies its milter_default_action (Postfix: tempfail, 451) instead of
// waiting for an answer that never comes; libmilter's listener goes on after ECONNABORTED.
// Note: glibc declares it with reserved names (__fd, ...) that ours cannot match.
// NOLINTNEXTLINE(readability-inconsistent-declaration-parameter-name)
extern "C" int accept(int fd, sockaddr* address, socklen_t* length) {
  using rdns::milter::AcceptFn;
  static const auto real = reinterpret_cast<AcceptFn>(dlsym(RTLD_NEXT, "accept"));
  const int connection = real(fd, address, length);
  if (connection < 0) {
    return errno == EMFILE || errno == ENFILE ? rdns::milter::refuse_at_exhaustion(real, fd) : -1;
  }
  const auto limit = rdns::milter::descriptor_limit();
  if (static_cast<rlim_t>(connection) + rdns::milter::descriptor_reserve(limit) >= limit) {
    close(connection);
    rdns::milter::note_refused();
    errno = ECONNABORTED;
    return -1;
  }
  const int on = 1;
  (void)setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return connection;
}

// Note: smfi_main() starts a signal thread that sigwait()s for SIGHUP, SIGTERM and SIGINT and
// stops the milter on any of them. While a thread waits in sigwait(), Linux counts those
// signals as unblocked there, and it hands a process signal to the main thread only while that
// thread is ready to take one; under a burst of SIGHUPs some went to libmilter's thread, which
// ended smfi_main() with status 0 (issue 10). The executable interposes sigwait(), the one
// signal wait libmilter calls (its Debian build: sigwait, not sigwaitinfo or sigtimedwait): a
// wait for any of those signals blocks every signal in the calling thread and parks it for
// good, so the daemon's own handler is their only consumer. smfi_stop() does not need that
// thread.
// Note: glibc declares it with reserved names (__fd, ...) that ours cannot match.
// NOLINTNEXTLINE(readability-inconsistent-declaration-parameter-name)
extern "C" int sigwait(const sigset_t* set, int* signo) {
  using SigwaitFn = int (*)(const sigset_t*, int*);
  if (sigismember(set, SIGHUP) == 1 || sigismember(set, SIGTERM) == 1 ||
      sigismember(set, SIGINT) == 1) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    for (;;) pause();
  }
  static const auto real = reinterpret_cast<SigwaitFn>(dlsym(RTLD_NEXT, "sigwait"));
  return real(set, signo);
}
