// rdns-milter: wiring only. Parses the configuration, builds the resolver, and runs either the
// one-shot check or the milter daemon (signals, reload, logging).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "daemon/process.h"
#include "milter/milter.h"
#include "rdns/cli/check.h"
#include "rdns/cli/trace.h"
#include "rdns/config/config.h"
#include "rdns/dns/authority_probe.h"
#include "rdns/dns/unbound_resolver.h"
#include "rdns/dns/versions.h"
#include "rdns/metrics/http_server.h"
#include "rdns/metrics/milter_metrics.h"
#include "rdns_version.h"

namespace {

constexpr int exit_usage = 2;
constexpr int exit_failure = 1;

int run_check(const rdns::config::Invocation& invocation) {
  const auto ip = rdns::dns::IpAddress::parse(invocation.check_ip);
  const auto resolver = std::make_shared<rdns::dns::UnboundResolver>(invocation.config.resolver);
  auto report = rdns::cli::run_check(
      *resolver, invocation.config, *ip, invocation.check_helo, invocation.check_mail_from,
      rdns::dns::make_authority_probe(resolver, invocation.config.resolver.unbound_config));
  if (invocation.trace) {
    rdns::cli::add_traces(report, *resolver,
                          rdns::dns::read_stub_zones(invocation.config.resolver.unbound_config));
  }
  if (invocation.json) {
    rdns::cli::print_json(std::cout, report);
  } else {
    rdns::cli::print_text(std::cout, report);
  }
  return 0;
}

void log_line(int priority, const std::string& line) {
  syslog(priority, "%s", line.c_str());
}

/// Owns one file descriptor.
// Note: file-local until a shared owning-descriptor type exists in include/rdns.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// The self-pipe: the signal handler writes each signal number, the main thread reads them.
struct SignalPipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

/// The write end for the handler (an int, so that the handler stays async-signal-safe).
std::atomic<int> signal_write_end{-1};

extern "C" void on_signal(int signo) {
  const int saved_errno = errno;
  const auto byte = static_cast<unsigned char>(signo);
  // Non-blocking: with the pipe full, the main thread has a reload or a stop to read anyway.
  [[maybe_unused]] const auto n = write(signal_write_end.load(), &byte, 1);
  errno = saved_errno;
}

/// The runtime new connections get; replaced as a whole on SIGHUP.
class RuntimeHolder {
 public:
  explicit RuntimeHolder(rdns::session::Runtime runtime) : runtime_(std::move(runtime)) {}
  rdns::session::Runtime get() const {
    const std::lock_guard lock(mutex_);
    return runtime_;
  }
  void set(rdns::session::Runtime runtime) {
    const std::lock_guard lock(mutex_);
    runtime_ = std::move(runtime);
  }

 private:
  mutable std::mutex mutex_;
  rdns::session::Runtime runtime_;
};

/// Logs the settings a reload cannot apply (the socket, the metrics listener and the process's
/// identity).
void warn_restart_only(const rdns::config::Config& fresh, const rdns::config::Config& current) {
  const auto now = rdns::config::settings_of(fresh);
  const auto before = rdns::config::settings_of(current);
  for (std::size_t i = 0; i < std::min(now.size(), before.size()); ++i) {
    const auto& name = now[i].name;
    if (name != "socket" && name != "user" && name != "group" && name != "socket-mode" &&
        name != "socket-group" && name != "pid-file" && name != "metrics-listen") {
      continue;
    }
    if (now[i].value != before[i].value) {
      log_line(LOG_WARNING, fmt::format("{} changed to '{}': takes effect only after a restart",
                                        name, now[i].value));
    }
  }
}

/// A resolver for `config`; its queries are counted and timed when there are metrics.
std::shared_ptr<rdns::dns::Resolver> make_resolver(
    const rdns::dns::ResolverConfig& config,
    std::shared_ptr<rdns::metrics::MilterMetrics> metrics) {
  return rdns::metrics::metered(std::make_shared<rdns::dns::UnboundResolver>(config, log_line),
                                std::move(metrics));
}

/// Re-reads the configuration; false when it was refused (the running one stays).
bool reload(const rdns::config::Invocation& invocation, RuntimeHolder& holder) {
  const auto current = holder.get();
  rdns::config::Config fresh;
  try {
    // Note: Purpose::reload refuses a config file without settings (caught mid-write).
    fresh = rdns::config::parse_arguments(invocation.args, rdns::config::Purpose::reload).config;
  } catch (const rdns::config::ConfigError& e) {
    log_line(LOG_ERR,
             fmt::format("reload refused: {}; the running configuration stays in force", e.what()));
    return false;
  }
  rdns::session::Runtime next{nullptr, current.resolver, current.metrics, current.authority};
  next.dnsbl_registry = current.dnsbl_registry;  // paused and broken lists stay so
  next.spf_pool = current.spf_pool;
  if (!(fresh.resolver == current.config->resolver)) {
    try {
      next.resolver = make_resolver(fresh.resolver, current.metrics);
      next.authority =
          rdns::dns::make_authority_probe(next.resolver, fresh.resolver.unbound_config);
    } catch (const std::exception& e) {
      log_line(LOG_ERR, fmt::format("reload refused: {}; the running configuration stays in force",
                                    e.what()));
      return false;
    }
  }
  if (next.resolver == current.resolver) {
    next.resolver->forget_answers();  // the memo in front of the kept context starts afresh
  }
  warn_restart_only(fresh, *current.config);
  for (const auto& warning : fresh.warnings) log_line(LOG_WARNING, warning);
  const auto file =
      fresh.config_file.empty() ? std::string("built-in defaults") : fresh.config_file;
  next.config = std::make_shared<const rdns::config::Config>(std::move(fresh));
  holder.set(std::move(next));
  log_line(LOG_NOTICE, fmt::format("configuration reloaded from {}", file));
  return true;
}

constexpr std::array handled_signals{SIGHUP, SIGTERM, SIGINT};

sigset_t handled_set() {
  sigset_t set;
  sigemptyset(&set);
  for (const int signo : handled_signals) sigaddset(&set, signo);
  return set;
}

std::string limit_text(rlim_t limit) {
  return limit == RLIM_INFINITY ? std::string("unlimited") : std::to_string(limit);
}

/// Raises the soft descriptor limit to the hard one (each open session holds a descriptor)
/// and logs the limit in force.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    log_line(LOG_WARNING, fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
    return;
  }
  const auto before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (before != limit.rlim_max && setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    log_line(LOG_WARNING,
             fmt::format("cannot raise the file descriptor limit from {} to {}: {}",
                         limit_text(before), limit_text(limit.rlim_max), std::strerror(errno)));
    limit.rlim_cur = before;
  }
  log_line(LOG_NOTICE,
           fmt::format("file descriptor limit {}{}", limit_text(limit.rlim_cur),
                       limit.rlim_cur != before ? " (raised from " + limit_text(before) + ")"
                                                : std::string()));
}

/// Opens the self-pipe, both ends non-blocking, and points the handler at it.
bool open_signal_pipe(SignalPipe& signals) {
  int ends[2] = {-1, -1};
  if (pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  signals.read_end.reset(ends[0]);
  signals.write_end.reset(ends[1]);
  signal_write_end.store(ends[1]);
  return true;
}

/// Routes the handled signals to on_signal and unblocks them in this thread.
void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  // Threads started after this (a reload's resolver) can take a signal too: restart their calls.
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (const int signo : handled_signals) sigaction(signo, &action, nullptr);
  const auto set = handled_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

/// The first runtime, or null (logged) if the resolver cannot start.
std::unique_ptr<RuntimeHolder> start_runtime(const rdns::config::Config& config) {
  try {
    // Note: without metrics-listen nothing is counted (no metrics object, no decorator).
    auto metrics = config.metrics_listen
                       ? std::make_shared<rdns::metrics::MilterMetrics>(RDNS_VERSION)
                       : nullptr;
    auto resolver = make_resolver(config.resolver, metrics);
    auto authority = rdns::dns::make_authority_probe(resolver, config.resolver.unbound_config);
    rdns::session::Runtime runtime{std::make_shared<const rdns::config::Config>(config),
                                   std::move(resolver), std::move(metrics), std::move(authority)};
    runtime.dnsbl_registry = std::make_shared<rdns::checks::DnsblRegistry>();
    runtime.spf_pool = std::make_shared<rdns::session::TaskPool>(rdns::session::spf_pool_threads);
    return std::make_unique<RuntimeHolder>(std::move(runtime));
  } catch (const std::exception& e) {
    log_line(LOG_ERR, fmt::format("cannot start: {}", e.what()));
    return nullptr;
  }
}

/// One RFC 5782 section 5 health check of the runtime's DNS lists (blocks on its queries).
void check_lists(const rdns::session::Runtime& runtime) {
  const auto& config = *runtime.config;
  if (!config.dnsbl.any() || !runtime.dnsbl_registry) return;
  (void)rdns::checks::check_dnsbl_health(
      *runtime.resolver, rdns::config::health_check_config(config), *runtime.dnsbl_registry,
      [](const rdns::checks::DnsblRegistry::Note& note) { log_line(note.priority, note.line); });
}

/// The DNS lists' RFC 5782 section 5 health check: once before the milter accepts connections
/// (a dead list's wildcard never meets a client), then after each reload and every
/// dnsbl-health-interval on a thread of its own.
// Note: started while the handled signals are blocked, so its thread never takes one.
void start_dnsbl_health(const RuntimeHolder& holder) {
  const auto first = holder.get();
  check_lists(first);
  std::thread([&holder, checked = first.config]() mutable {
    auto next =
        std::chrono::steady_clock::now() + std::chrono::seconds(checked->dnsbl.health_interval);
    for (;;) {
      const auto runtime = holder.get();
      const auto& config = *runtime.config;
      const auto now = std::chrono::steady_clock::now();
      const bool due =
          runtime.config != checked || (config.dnsbl.health_interval > 0 && now >= next);
      if (due) check_lists(runtime);
      if (due) {
        checked = runtime.config;
        next = now + std::chrono::seconds(config.dnsbl.health_interval);
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }).detach();
}

/// What the self-pipe held: a stop signal (0 if none) and whether a reload is due.
struct PendingSignals {
  int stop = 0;
  bool reload = false;
};

PendingSignals read_signals(int fd) {
  PendingSignals pending;
  std::array<unsigned char, 64> bytes{};
  ssize_t n = 0;
  while ((n = read(fd, bytes.data(), bytes.size())) > 0) {
    for (const unsigned char signo : std::span(bytes.data(), static_cast<std::size_t>(n))) {
      if (signo == SIGHUP) {
        pending.reload = true;  // one reload reads the file as it is now, for all of them
      } else {
        pending.stop = signo;
      }
    }
  }
  return pending;
}

/// The main thread's loop: reload on SIGHUP, stop on SIGTERM or SIGINT. Returns the exit
/// status: 0 after a stop signal, 1 if libmilter's main loop ended without one.
int serve(const rdns::config::Invocation& invocation, RuntimeHolder& holder, int signals,
          std::future<int>& milter_done) {
  for (;;) {
    if (milter_done.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      // Nothing here asked it to stop (a stop returns below): a fatal error in libmilter.
      log_line(LOG_ERR, fmt::format("milter main loop ended without a stop signal (status {}); "
                                    "exiting with an error",
                                    milter_done.get()));
      return exit_failure;
    }
    pollfd fd{signals, POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) continue;
    const auto pending = read_signals(signals);
    if (pending.stop != 0) {
      log_line(LOG_NOTICE, fmt::format("stopping on signal {}", pending.stop));
      rdns::daemon::notify("STOPPING=1");
      // Note: smfi_stop() waits for a mutex libmilter's listener holds through its 5-second
      // poll; ask from another thread and give open connections a moment, not five seconds.
      std::thread(rdns::milter::stop).detach();
      milter_done.wait_for(std::chrono::milliseconds(300));
      return 0;
    }
    if (pending.reload) {
      rdns::daemon::notify("RELOADING=1\n" + rdns::daemon::monotonic_usec());
      rdns::metrics::count_reload(holder.get().metrics.get(), reload(invocation, holder));
      rdns::daemon::notify("READY=1");
    }
  }
}

/// The metrics listener when metrics-listen is set, else null; throws when it cannot listen.
// Note: started while the handled signals are blocked, so its thread never takes one.
std::unique_ptr<rdns::metrics::HttpServer> start_metrics(const rdns::config::Config& config,
                                                         const RuntimeHolder& holder) {
  if (!config.metrics_listen) return nullptr;
  auto server = std::make_unique<rdns::metrics::HttpServer>(
      *config.metrics_listen, [metrics = holder.get().metrics] { return metrics->exposition(); },
      log_line);
  log_line(LOG_NOTICE,
           fmt::format("metrics at http://{}/metrics", config.metrics_listen->to_string()));
  return server;
}

/// What the daemon removes when it stops: its socket (only the very file it bound, so never
/// another instance's) and its pid file.
struct Leftovers {
  std::optional<std::string> socket_path;
  dev_t socket_device = 0;
  ino_t socket_inode = 0;
  std::unique_ptr<rdns::daemon::PidFile> pid_file;

  /// Remembers the socket file just bound.
  void bound(const std::string& socket) {
    socket_path = rdns::daemon::unix_socket_path(socket);
    struct stat st {};
    if (socket_path && stat(socket_path->c_str(), &st) == 0) {
      socket_device = st.st_dev;
      socket_inode = st.st_ino;
    } else {
      socket_path.reset();
    }
  }

  void remove() {
    struct stat st {};
    if (socket_path && stat(socket_path->c_str(), &st) == 0 && st.st_dev == socket_device &&
        st.st_ino == socket_inode) {
      unlink(socket_path->c_str());
    }
    if (pid_file) pid_file->remove();
  }
};

[[noreturn]] void finish(Leftovers& leftovers, int status) {
  leftovers.remove();
  closelog();
  std::fflush(nullptr);
  // Connections still open are dropped; the MTA applies its milter_default_action to them.
  _exit(status);
}

/// Logs a start-up refusal; before the daemon detaches, also on stderr unless syslog copies it
/// there already.
int refuse_start(const std::string& message, bool to_stderr) {
  log_line(LOG_ERR, "cannot start: " + message);
  if (to_stderr) std::cerr << "rdns-milter: cannot start: " << message << "\n";
  return exit_usage;
}

/// The checks before the daemon detaches: whom to run as, the pid file's lock and an existing
/// unix socket (in use: refuse; stale: removed). Throws StartError.
rdns::daemon::Identity prepare_start(const rdns::config::Config& config, Leftovers& leftovers) {
  auto identity = rdns::daemon::target_identity(config.user, config.group);
  if (!config.pid_file.empty()) {
    leftovers.pid_file = std::make_unique<rdns::daemon::PidFile>(config.pid_file);
  }
  if (const auto path = rdns::daemon::unix_socket_path(config.socket)) {
    const auto note = rdns::daemon::clear_stale_socket(*path, config.pid_file);
    if (!note.empty()) log_line(LOG_NOTICE, note);
  }
  return identity;
}

/// Opens the milter socket (a unix one with socket-mode and socket-group), then switches to
/// the configured user. Throws.
void open_socket_and_switch(const rdns::config::Config& config,
                            const rdns::daemon::Identity& identity,
                            const std::unique_ptr<RuntimeHolder>& holder, Leftovers& leftovers) {
  // Note: created 0600 so that the socket is never more open than socket-mode says.
  const mode_t saved_umask = umask(0177);
  try {
    rdns::milter::setup({config.socket, [&holder] { return holder->get(); }, log_line});
  } catch (...) {
    umask(saved_umask);
    throw;
  }
  umask(saved_umask);
  leftovers.bound(config.socket);
  if (leftovers.socket_path) {
    rdns::daemon::set_socket_access(*leftovers.socket_path, config.socket_mode, config.socket_group,
                                    identity);
  }
  rdns::daemon::drop_privileges(identity);
}

int run_daemon(const rdns::config::Invocation& invocation) {
  const auto& config = invocation.config;
  // Note: under systemd (JOURNAL_STREAM set) stderr already goes to the journal, which also
  // reads syslog: copying each line to stderr would log every event twice.
  const bool under_journal = std::getenv("JOURNAL_STREAM") != nullptr;
  const bool copy_to_stderr = config.foreground && !under_journal;
  openlog("rdns-milter", LOG_PID | (copy_to_stderr ? LOG_PERROR : 0), LOG_MAIL);
  Leftovers leftovers;
  rdns::daemon::Identity identity;
  try {
    identity = prepare_start(config, leftovers);
  } catch (const rdns::daemon::StartError& e) {
    return refuse_start(e.what(), !copy_to_stderr && !under_journal);
  }
  if (!config.foreground && daemon(0, 0) != 0) {
    std::perror("rdns-milter: daemon");
    return exit_failure;
  }
  if (leftovers.pid_file) leftovers.pid_file->write_pid();
  raise_descriptor_limit();
  // Signals: blocked while the threads start (they inherit the mask), then handled here
  // through the self-pipe. libmilter's own signal thread never takes one (see the sigwait()
  // note in milter/milter.cpp): the daemon stops only on SIGTERM, SIGINT or a fatal error.
  SignalPipe signals;
  if (!open_signal_pipe(signals)) {
    std::perror("rdns-milter: pipe");
    return exit_failure;
  }
  const auto handled = handled_set();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<RuntimeHolder> holder;
  try {
    open_socket_and_switch(config, identity, holder, leftovers);
  } catch (const std::exception& e) {
    log_line(LOG_ERR, fmt::format("cannot start: {}", e.what()));
    finish(leftovers, exit_usage);
  }
  // The resolver starts as the unprivileged user: it reads its files with that user's rights.
  holder = start_runtime(config);
  if (!holder) finish(leftovers, exit_usage);
  for (const auto& warning : config.warnings) log_line(LOG_WARNING, warning);
  std::unique_ptr<rdns::metrics::HttpServer> metrics_server;
  try {
    metrics_server = start_metrics(config, *holder);
  } catch (const std::exception& e) {
    log_line(LOG_ERR, fmt::format("cannot start: {}", e.what()));
    finish(leftovers, exit_usage);
  }
  start_dnsbl_health(*holder);
  std::promise<int> finished;
  auto milter_done = finished.get_future();
  std::thread([&finished] { finished.set_value(rdns::milter::run()); }).detach();

  install_signal_handlers();
  log_line(LOG_NOTICE,
           fmt::format("rdns-milter {} listening on {} ({}){}", RDNS_VERSION, config.socket,
                       config.config_file.empty() ? "built-in defaults" : config.config_file,
                       identity.change ? fmt::format(" as user {}", identity.user) : ""));
  rdns::daemon::notify(
      fmt::format("READY=1\nSTATUS=listening on {}\nMAINPID={}", config.socket, getpid()));
  finish(leftovers, serve(invocation, *holder, signals.read_end.get(), milter_done));
}

/// --version: ours on the first line (scripts read it), then the libraries' as run.
void print_version() {
  std::cout << "rdns-milter " << RDNS_VERSION << "\n";
  std::cout << "libmilter " << rdns::milter::library_version() << "\n";
  for (const auto& [name, version] : rdns::dns::library_versions()) {
    std::cout << name << " " << version << "\n";
  }
}

/// --config-test: the configuration parsed, checked and printed (what differs from the
/// defaults, or all of it).
int run_config_test(const rdns::config::Invocation& invocation) {
  for (const auto& warning : invocation.config.warnings) {
    std::cerr << "rdns-milter: warning: " << warning << "\n";
  }
  std::cout << rdns::config::describe_settings(invocation.config, invocation.all_settings);
  std::cerr << "rdns-milter: configuration "
            << (invocation.config.config_file.empty() ? std::string("(built-in defaults)")
                                                      : invocation.config.config_file)
            << " is valid\n";
  return 0;
}

}  // namespace

int main(int argc, char* argv[]) {
  rdns::config::Invocation invocation;
  try {
    invocation = rdns::config::parse_command_line(argc, argv);
  } catch (const rdns::config::ConfigError& e) {
    std::cerr << "rdns-milter: " << e.what() << "\n";
    return exit_usage;
  }
  try {
    switch (invocation.mode) {
      case rdns::config::Invocation::Mode::help: std::cout << invocation.help_text; return 0;
      case rdns::config::Invocation::Mode::version: print_version(); return 0;
      case rdns::config::Invocation::Mode::check:
        for (const auto& warning : invocation.config.warnings) {
          std::cerr << "rdns-milter: warning: " << warning << "\n";
        }
        return run_check(invocation);
      case rdns::config::Invocation::Mode::run: return run_daemon(invocation);
      case rdns::config::Invocation::Mode::config_test: return run_config_test(invocation);
    }
  } catch (const std::runtime_error& e) {
    // Resolver start-up problems (unreadable unbound-config, bad forwarder, trust anchor).
    std::cerr << "rdns-milter: " << e.what() << "\n";
    return exit_usage;
  }
  return 0;
}
