// rdns-milter: wiring only. Parses the configuration, builds the resolver, and runs either the
// one-shot check or the milter daemon.
#include <iostream>

#include "rdns/cli/check.h"
#include "rdns/config/config.h"
#include "rdns/dns/unbound_resolver.h"
#include "rdns_version.h"

namespace {

constexpr int exit_usage = 2;

int run_check(const rdns::config::Invocation& invocation) {
  const auto ip = rdns::dns::IpAddress::parse(invocation.check_ip);
  rdns::dns::UnboundResolver resolver(invocation.config.resolver);
  const auto report = rdns::cli::run_check(resolver, invocation.config, *ip);
  if (invocation.json) {
    rdns::cli::print_json(std::cout, report);
  } else {
    rdns::cli::print_text(std::cout, report);
  }
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
  for (const auto& warning : invocation.config.warnings) {
    std::cerr << "rdns-milter: warning: " << warning << "\n";
  }
  try {
    switch (invocation.mode) {
      case rdns::config::Invocation::Mode::help: std::cout << invocation.help_text; return 0;
      case rdns::config::Invocation::Mode::version:
        std::cout << "rdns-milter " << RDNS_VERSION << "\n";
        return 0;
      case rdns::config::Invocation::Mode::check: return run_check(invocation);
      case rdns::config::Invocation::Mode::run:
        std::cerr << "rdns-milter: the milter daemon is not built yet; use --check IP\n";
        return exit_usage;
    }
  } catch (const std::runtime_error& e) {
    // Resolver start-up problems (unreadable unbound-config, bad forwarder, trust anchor).
    std::cerr << "rdns-milter: " << e.what() << "\n";
    return exit_usage;
  }
  return 0;
}
