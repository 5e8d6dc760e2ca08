// rdns-milter: wiring only. Parses the configuration, builds the resolver, and runs either the
// one-shot check or the milter daemon (signals, reload, logging).
#include <fcntl.h>
#include <poll.h>
#include <syslog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "milter/milter.h"
#include "rdns/cli/check.h"
#include "rdns/config/config.h"
#include "rdns/dns/unbound_resolver.h"
#include "rdns_version.h"

namespace {

constexpr int exit_usage = 2;
constexpr int exit_failure = 1;

int run_check(const rdns::config::Invocation& invocation) {
  const auto ip = rdns::dns::IpAddress::parse(invocation.check_ip);
  rdns::dns::UnboundResolver resolver(invocation.config.resolver);
  const auto report = rdns::cli::run_check(resolver, invocation.config, *ip, invocation.check_helo,
                                           invocation.check_mail_from);
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

// The self-pipe the signal handler writes to; the main thread reads it.
int signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int signo) {
  const auto byte = static_cast<char>(signo);
  [[maybe_unused]] const auto n = write(signal_pipe[1], &byte, 1);
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

void reload(const rdns::config::Invocation& invocation, RuntimeHolder& holder) {
  const auto current = holder.get();
  rdns::config::Config fresh;
  try {
    fresh = rdns::config::parse_arguments(invocation.args).config;
  } catch (const rdns::config::ConfigError& e) {
    log_line(LOG_ERR,
             fmt::format("reload refused: {}; the running configuration stays in force", e.what()));
    return;
  }
  rdns::session::Runtime next{nullptr, current.resolver};
  if (!(fresh.resolver == current.config->resolver)) {
    try {
      next.resolver = std::make_shared<rdns::dns::UnboundResolver>(fresh.resolver, log_line);
    } catch (const std::exception& e) {
      log_line(LOG_ERR, fmt::format("reload refused: {}; the running configuration stays in force",
                                    e.what()));
      return;
    }
  }
  if (fresh.socket != current.config->socket) {
    log_line(LOG_WARNING,
             fmt::format("socket changed to {}: takes effect only after a restart", fresh.socket));
  }
  for (const auto& warning : fresh.warnings) log_line(LOG_WARNING, warning);
  const auto file =
      fresh.config_file.empty() ? std::string("built-in defaults") : fresh.config_file;
  next.config = std::make_shared<const rdns::config::Config>(std::move(fresh));
  holder.set(std::move(next));
  log_line(LOG_NOTICE, fmt::format("configuration reloaded from {}", file));
}

int run_daemon(const rdns::config::Invocation& invocation) {
  const auto& config = invocation.config;
  openlog("rdns-milter", LOG_PID | (config.foreground ? LOG_PERROR : 0), LOG_MAIL);
  if (!config.foreground && daemon(0, 0) != 0) {
    std::perror("rdns-milter: daemon");
    return exit_failure;
  }
  // Signals: blocked in every thread but this one, which handles them through a self-pipe.
  // Note: libmilter's own signal thread would stop the milter on SIGHUP; Linux offers a
  // process signal to the main thread first when it does not block it, so ours wins.
  if (pipe2(signal_pipe, O_CLOEXEC) != 0) {
    std::perror("rdns-milter: pipe");
    return exit_failure;
  }
  sigset_t handled;
  sigemptyset(&handled);
  for (const int signo : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&handled, signo);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::shared_ptr<rdns::dns::Resolver> resolver;
  try {
    resolver = std::make_shared<rdns::dns::UnboundResolver>(config.resolver, log_line);
  } catch (const std::exception& e) {
    log_line(LOG_ERR, fmt::format("cannot start: {}", e.what()));
    return exit_usage;
  }
  RuntimeHolder holder({std::make_shared<const rdns::config::Config>(config), resolver});
  resolver.reset();
  for (const auto& warning : config.warnings) log_line(LOG_WARNING, warning);

  try {
    rdns::milter::setup({config.socket, [&holder] { return holder.get(); }, log_line});
  } catch (const std::exception& e) {
    log_line(LOG_ERR, fmt::format("cannot start: {}", e.what()));
    return exit_usage;
  }
  std::promise<int> finished;
  auto milter_done = finished.get_future();
  std::thread milter_thread([&finished] { finished.set_value(rdns::milter::run()); });

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  for (const int signo : {SIGHUP, SIGTERM, SIGINT}) sigaction(signo, &action, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
  log_line(LOG_NOTICE,
           fmt::format("rdns-milter {} listening on {} ({})", RDNS_VERSION, config.socket,
                       config.config_file.empty() ? "built-in defaults" : config.config_file));

  int status = 0;
  for (;;) {
    pollfd fd{signal_pipe[0], POLLIN, 0};
    if (milter_done.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      status = milter_done.get() == 0 ? 0 : exit_failure;
      log_line(status == 0 ? LOG_NOTICE : LOG_ERR, "milter main loop ended");
      break;
    }
    if (poll(&fd, 1, 200) <= 0) continue;
    char signo = 0;
    if (read(signal_pipe[0], &signo, 1) != 1) continue;
    if (signo == SIGHUP) {
      reload(invocation, holder);
      continue;
    }
    log_line(LOG_NOTICE, fmt::format("stopping on signal {}", static_cast<int>(signo)));
    // Note: smfi_stop() waits for a mutex libmilter's listener holds through its 5-second poll;
    // ask from another thread and give open connections a moment, not five seconds.
    std::thread(rdns::milter::stop).detach();
    milter_done.wait_for(std::chrono::milliseconds(300));
    break;
  }
  if (config.socket.rfind("unix:", 0) == 0 || config.socket.rfind("local:", 0) == 0) {
    unlink(config.socket.substr(config.socket.find(':') + 1).c_str());
  }
  closelog();
  std::fflush(nullptr);
  // Connections still open are dropped; the MTA applies its milter_default_action to them.
  _exit(status);
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
      case rdns::config::Invocation::Mode::version:
        std::cout << "rdns-milter " << RDNS_VERSION << "\n";
        return 0;
      case rdns::config::Invocation::Mode::check:
        for (const auto& warning : invocation.config.warnings) {
          std::cerr << "rdns-milter: warning: " << warning << "\n";
        }
        return run_check(invocation);
      case rdns::config::Invocation::Mode::run: return run_daemon(invocation);
    }
  } catch (const std::runtime_error& e) {
    // Resolver start-up problems (unreadable unbound-config, bad forwarder, trust anchor).
    std::cerr << "rdns-milter: " << e.what() << "\n";
    return exit_usage;
  }
  return 0;
}
