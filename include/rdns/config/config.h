#pragma once
/// Configuration: command line and config file, same option names (Boost.Program_options).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "rdns/checks/dnsbl.h"
#include "rdns/checks/dnsbl_registry.h"
#include "rdns/checks/iprev.h"
#include "rdns/dns/ip_address.h"
#include "rdns/dns/resolver_config.h"
#include "rdns/metrics/endpoint.h"
#include "rdns/policy/policy.h"

namespace rdns::config {

/// A configuration problem; what() is one line naming the file, the option and the value.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The SMTP stage at which the verdict is applied.
enum class Stage : std::uint8_t { connect, helo, mail, rcpt };

[[nodiscard]] std::string_view to_string(Stage stage);

/// The DNS lists (dnsbl-sites, rhsbl-sites and their companions; the action and reply are in
/// policy::DnsblPolicy). Default: no lists.
struct DnsblSettings {
  std::vector<checks::DnsblSite> sites;  ///< address lists (DNSBL, DNSWL)
  std::vector<checks::DnsblSite> rhsbl;  ///< domain lists
  checks::DnsblScoring scoring;          ///< thresholds, error codes, reply map
  unsigned error_pause = 300;            ///< seconds a zone rests after an error answer
  unsigned health_interval = 600;        ///< seconds between health checks; 0: at start only

  [[nodiscard]] bool any() const { return !sites.empty() || !rhsbl.empty(); }
  bool operator==(const DnsblSettings&) const = default;
};

/// Everything the daemon and the CLI run on. Immutable once built; shared as
/// shared_ptr<const Config> so a reload can swap it for new connections. parse_arguments()
/// starts from defaults() (trusted-networks 127.0.0.0/8 and ::1/128, exempt-recipients
/// postmaster and abuse); a default-constructed Config has empty lists.
struct Config {
  std::string config_file;  ///< the file read, empty if none
  std::string socket = "inet:8894@127.0.0.1";
  bool foreground = false;
  std::string user;             ///< drop to this user after binding; empty: never root
  std::string group;            ///< and this group; empty: the user's primary group
  unsigned socket_mode = 0660;  ///< permissions of a unix socket
  std::string socket_group;     ///< group of a unix socket; empty: the process's group
  std::string pid_file;         ///< locked for the life of the process; empty: none
  std::optional<metrics::Endpoint> metrics_listen;  ///< the metrics listener; none: off
  dns::ResolverConfig resolver;
  bool confirm_negative = true;  ///< see iprev_options()
  policy::Policy policy;         ///< actions, replies, dry-run and the exemption lists
  Stage decision_stage = Stage::rcpt;
  std::string allow_address_file;
  std::string allow_domain_file;
  std::vector<std::string> helo_own_names;  ///< besides the j macro, lower-case
  std::string authserv_id;                  ///< empty: the MTA's j macro, else the host name
  DnsblSettings dnsbl;
  /// Keywords of generic PTR names, lower-case (option generic-ptr-keywords; defaults():
  /// checks::default_generic_ptr_keywords()).
  std::vector<std::string> generic_ptr_keywords;
  std::vector<std::string> warnings;  ///< accepted, but worth a log line at start

  bool operator==(const Config&) const = default;
};

/// The documented default configuration, the one parse_arguments() starts from.
[[nodiscard]] Config defaults();

/// How the iprev check runs under `config`: a negative answer is re-checked without the
/// negative cache (confirm_*) only when confirm-negative is on and the result it would give
/// is configured to reject.
[[nodiscard]] checks::IprevOptions iprev_options(const Config& config);

/// The health check's view of `config`'s lists.
[[nodiscard]] checks::HealthCheckConfig health_check_config(const Config& config);

/// What the command line asked for.
struct Invocation {
  enum class Mode : std::uint8_t { run, check, help, version, config_test };
  Mode mode = Mode::run;
  bool all_settings = false;  ///< --config-test --all
  std::string check_ip;
  std::optional<std::string> check_helo;       ///< --helo with --check
  std::optional<std::string> check_mail_from;  ///< --mail-from with --check
  bool json = false;
  bool trace = false;  ///< --trace with --check
  std::string help_text;
  std::vector<std::string> args;  ///< the arguments, kept for re-reading on SIGHUP
  Config config;
};

/// The default configuration file; read when it exists and --config is not given.
inline constexpr const char* default_config_file = "/etc/rdns-milter/rdns-milter.conf";

/// Why the arguments are parsed: at start an empty config file (or one with only comments and
/// blank lines) means the built-in defaults, with a warning; at reload it is refused, since a
/// file caught mid-write by an editor or a config-management tool looks just like that.
enum class Purpose : std::uint8_t { start, reload };

/// Parses the arguments (without argv[0]) and the config file they name (or the default one
/// when it exists). Throws ConfigError for unknown options, bad values and unreadable files,
/// and for a config file without any setting when `purpose` is reload.
[[nodiscard]] Invocation parse_arguments(const std::vector<std::string>& args,
                                         Purpose purpose = Purpose::start);

/// One effective setting, as the config file would spell it.
struct Setting {
  std::string name;
  std::string value;
  bool operator==(const Setting&) const = default;
};

/// Every setting of `config` in --help order, one per option (one per forwarder); values are
/// written as the config file takes them.
[[nodiscard]] std::vector<Setting> settings_of(const Config& config);

/// What --config-test prints: `name = value` lines for the settings that differ from
/// defaults() (every setting when `all`).
[[nodiscard]] std::string describe_settings(const Config& config, bool all);

/// Same, from main()'s argc/argv.
[[nodiscard]] Invocation parse_command_line(int argc, const char* const argv[]);

}  // namespace rdns::config
