#include "rdns/config/config.h"

#include "rdns/checks/generic_ptr.h"
#include "rdns/dns/name.h"

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include <grp.h>
#include <pwd.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

namespace rdns::config {
namespace {

namespace po = boost::program_options;

/// One configurable rule: option NAME (the action) and NAME-reply (the SMTP reply).
struct RuleOption {
  const char* name;
  policy::Rule& (*rule)(policy::Policy&);
  const char* help;
  bool temporary;  // a DNS failure: never a 5xx
};

const RuleOption rule_options[] = {
    {"iprev-no-ptr", [](policy::Policy& p) -> policy::Rule& { return p.iprev.no_ptr; },
     "iprev fail, no PTR record (default reject, 550 5.7.25)", false},
    {"iprev-no-forward-match",
     [](policy::Policy& p) -> policy::Rule& { return p.iprev.no_forward_match; },
     "iprev fail, no PTR name resolves back (default tag)", false},
    {"iprev-temperror", [](policy::Policy& p) -> policy::Rule& { return p.iprev.temperror; },
     "iprev temperror (default tempfail, 450 4.7.25; never a 5xx)", true},
    {"iprev-permerror", [](policy::Policy& p) -> policy::Rule& { return p.iprev.permerror; },
     "iprev permerror, malformed PTR data (default tag)", false},
    {"iprev-generic", [](policy::Policy& p) -> policy::Rule& { return p.iprev.generic; },
     "iprev pass, but every verified PTR name is an address pool's generic name (default tag; "
     "reject gives 550 5.7.25)",
     false},
    {"helo-syntax", [](policy::Policy& p) -> policy::Rule& { return p.helo.syntax; },
     "HELO not a valid domain or address literal (default reject, 550 5.5.2)", false},
    {"helo-not-fqdn", [](policy::Policy& p) -> policy::Rule& { return p.helo.not_fqdn; },
     "HELO a single label (default reject, 550 5.5.2)", false},
    {"helo-bad-tld", [](policy::Policy& p) -> policy::Rule& { return p.helo.bad_tld; },
     "HELO in a private or non-existent TLD (default reject, 550 5.5.2)", false},
    {"helo-no-address", [](policy::Policy& p) -> policy::Rule& { return p.helo.no_address; },
     "HELO name without A, AAAA or MX (default tag)", false},
    {"helo-mismatch", [](policy::Policy& p) -> policy::Rule& { return p.helo.mismatch; },
     "HELO name does not resolve to the client (default tag; RFC 5321 4.1.4)", false},
    {"helo-forged-local", [](policy::Policy& p) -> policy::Rule& { return p.helo.forged_local; },
     "HELO claims one of our names or addresses (default reject, 550 5.7.1)", false},
    {"helo-temperror", [](policy::Policy& p) -> policy::Rule& { return p.helo.temperror; },
     "HELO lookups failed temporarily (default tag; never a 5xx)", true},
    {"spf-fail", [](policy::Policy& p) -> policy::Rule& { return p.spf.fail; },
     "SPF fail for MAIL FROM (default reject, 550 5.7.23 with the domain's explanation)", false},
    {"spf-softfail", [](policy::Policy& p) -> policy::Rule& { return p.spf.softfail; },
     "SPF softfail (default tag)", false},
    {"spf-neutral", [](policy::Policy& p) -> policy::Rule& { return p.spf.neutral; },
     "SPF neutral (default tag)", false},
    {"spf-none", [](policy::Policy& p) -> policy::Rule& { return p.spf.none; },
     "no SPF record (default tag)", false},
    {"spf-temperror", [](policy::Policy& p) -> policy::Rule& { return p.spf.temperror; },
     "SPF temperror (default tempfail, 451 4.7.24; never a 5xx)", true},
    {"spf-permerror", [](policy::Policy& p) -> policy::Rule& { return p.spf.permerror; },
     "SPF permerror, invalid record (default tag; reject gives 550 5.7.24)", false},
    {"dnsbl-listed", [](policy::Policy& p) -> policy::Rule& { return p.dnsbl.listed; },
     "DNS list score at or above dnsbl-threshold (default reject, 554 5.7.1 naming the list; "
     "%{zone}, %{txt})",
     false},
};

/// Adds one option that takes a value.
void value_option(po::options_description& group, const std::string& name, const char* value_name,
                  const char* help) {
  group.add_options()(name.c_str(), po::value<std::string>()->value_name(value_name), help);
}

/// Adds one yes/no option; a bare --name means yes.
void flag_option(po::options_description& group, const char* name, const char* help) {
  group.add_options()(name, po::value<std::string>()->implicit_value("yes")->value_name("yes|no"),
                      help);
}

/// The options that belong on the command line only (never in the config file).
const std::set<std::string, std::less<>> command_line_only = {
    "help",  "version", "config",    "config-test", "all",
    "check", "helo",    "mail-from", "json",        "trace"};

po::options_description general_options() {
  po::options_description general("General (command line only)");
  general.add_options()("help,h", "print this help and exit");
  general.add_options()("version", "print the version and those of the libraries, and exit");
  general.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                        "configuration file (default /etc/rdns-milter/rdns-milter.conf when it "
                        "exists)");
  general.add_options()("config-test,n",
                        "check the configuration file and the command line, print the settings "
                        "that differ from the defaults, exit 0 (2 on an error)");
  general.add_options()("all", "with --config-test: print every setting");
  value_option(general, "check", "IP",
               "check one client address, print the evidence, the verdict and the fix, exit");
  value_option(general, "helo", "NAME", "with --check: the HELO/EHLO name to check as well");
  value_option(general, "mail-from", "ADDR",
               "with --check: the MAIL FROM address for SPF (empty: the null sender)");
  general.add_options()("json", "with --check: print JSON");
  general.add_options()("trace",
                        "with --check: trace each name from the root (zone cuts, servers, "
                        "answers), compare the cached and authoritative views, say who must act");
  return general;
}

po::options_description daemon_options() {
  po::options_description daemon("Daemon");
  value_option(daemon, "socket", "SPEC",
               "milter socket: unix:/path, inet:PORT@HOST or inet6:PORT@HOST (default "
               "inet:8894@127.0.0.1)");
  flag_option(daemon, "foreground", "stay in the foreground and log to stderr too (default no)");
  value_option(daemon, "user", "NAME",
               "started as root: switch to this user once the socket is open (root only when "
               "set to root)");
  value_option(daemon, "group", "NAME", "with user: this group (default the user's group)");
  value_option(daemon, "socket-mode", "MODE", "permissions of a unix socket (default 0660)");
  value_option(daemon, "socket-group", "NAME",
               "group of a unix socket, e.g. postfix (default the daemon's group)");
  value_option(daemon, "metrics-listen", "ADDR:PORT",
               "serve Prometheus metrics over HTTP at /metrics, e.g. 127.0.0.1:9466 or "
               "[::1]:9466 (default off; no authentication: bind to loopback)");
  value_option(daemon, "pid-file", "FILE",
               "write and lock this pid file; a second instance refuses to start (default none)");
  return daemon;
}

po::options_description resolver_options() {
  po::options_description resolver("Resolver");
  value_option(resolver, "unbound-config", "FILE",
               "an unbound.conf for libunbound (stub zones, forward zones, trust anchors)");
  resolver.add_options()(
      "forwarder", po::value<std::vector<std::string>>()->composing()->value_name("ADDR[@PORT]"),
      "forward queries to this resolver (repeatable); default: full recursion");
  value_option(resolver, "trust-anchor-file", "FILE",
               "DNSSEC root trust anchor (default /usr/share/dns/root.key; empty: no validation)");
  value_option(resolver, "query-timeout", "SECONDS", "deadline of one DNS query (default 5)");
  value_option(resolver, "cache-max-ttl", "SECONDS", "cap on cached TTLs (default 86400)");
  value_option(resolver, "cache-max-negative-ttl", "SECONDS",
               "cap on cached NXDOMAIN/NODATA TTLs (default 300)");
  flag_option(resolver, "confirm-negative",
              "ask the zone's authoritative servers about a negative answer before it leads to "
              "a reject (default yes)");
  return resolver;
}

po::options_description describe_options() {
  po::options_description actions(
      "Actions: reject|tempfail|tag|ignore; each NAME has a NAME-reply = CODE X.Y.Z text, with "
      "%{ip}, %{ptr}, %{helo}, %{reason}, ...");
  for (const auto& option : rule_options) {
    value_option(actions, option.name, "ACTION", option.help);
  }
  po::options_description pol("Policy");
  value_option(pol, "decision-stage", "STAGE",
               "connect|helo|mail|rcpt: when the verdict is applied (default rcpt)");
  flag_option(pol, "dry-run", "never reject or tempfail; add headers, log what would happen");
  value_option(pol, "trusted-networks", "LIST",
               "exempt client networks, comma or space separated (default 127.0.0.0/8, ::1/128)");
  value_option(pol, "exempt-recipients", "LIST",
               "always-accepted recipients: local parts at any domain or full addresses "
               "(default postmaster, abuse)");
  value_option(pol, "allow-address-file", "FILE",
               "file of exempt client addresses/CIDRs, one per line");
  value_option(pol, "allow-domain-file", "FILE",
               "file of exempt domains (verified PTR name at or below), one per line");
  value_option(pol, "helo-own-names", "LIST",
               "our host names for the forged-HELO check, besides the MTA's j macro");
  value_option(pol, "authserv-id", "NAME",
               "authserv-id of Authentication-Results (default: the MTA's j macro, else host "
               "name)");
  value_option(pol, "generic-ptr-keywords", "LIST",
               "words that mark a generic (address-pool) PTR name when a number is beside them, "
               "comma or space separated; empty: only the client address in the name counts "
               "(default adsl, broadband, cable, ...; see rdns-milter.conf(5))");

  po::options_description lists("DNS lists (DNSBL, DNSWL, RHSBL; default none)");
  value_option(lists, "dnsbl-sites", "LIST",
               "client address lists: domain[=d.d.d.d][*weight], comma separated, as "
               "postscreen_dnsbl_sites (default none)");
  value_option(lists, "rhsbl-sites", "LIST",
               "domain lists for the HELO name, the MAIL FROM domain and verified PTR names, "
               "same syntax (default none)");
  value_option(lists, "dnsbl-threshold", "N",
               "the score at or above which dnsbl-listed applies (default 1)");
  value_option(lists, "dnsbl-allowlist-threshold", "N",
               "a negative score at or below this exempts the client from the other checks' "
               "rejects and tempfails (default 0: off)");
  value_option(lists, "generic-ptr-weight", "N",
               "added to the DNS list score when the client's verified PTR name is generic "
               "(iprev-generic; default 0)");
  value_option(lists, "dnsbl-reply-map", "LIST",
               "zone=shown pairs: the name shown in replies, headers and logs instead of the "
               "zone (hides DQS keys)");
  value_option(lists, "dnsbl-error-codes", "LIST",
               "more answers (addresses or CIDRs) that are list errors, never listings");
  value_option(lists, "dnsbl-error-pause", "SECONDS",
               "a list that gave an error answer is not asked for this long (default 300)");
  flag_option(lists, "dnsbl-tempfail-on-error",
              "tempfail when a list answers SERVFAIL or times out (default no: skip it)");
  value_option(lists, "dnsbl-health-interval", "SECONDS",
               "RFC 5782 section 5 health check of the lists every so often (default 600; 0: at "
               "start only)");

  po::options_description replies("Replies");
  for (const auto& option : rule_options) {
    const std::string help = fmt::format("SMTP reply for {}", option.name);
    value_option(replies, std::string(option.name) + "-reply", "REPLY", help.c_str());
  }

  po::options_description all;
  all.add(general_options()).add(daemon_options()).add(resolver_options());
  all.add(actions).add(replies).add(pol).add(lists);
  return all;
}

/// The config file line of each option it sets (the first, for the repeatable forwarder).
using FileLines = std::map<std::string, std::size_t, std::less<>>;

/// Reads option values and says where each came from (FILE:LINE or the command line), for
/// error messages.
class Reader {
 public:
  Reader(const po::variables_map& vm, FileLines from_file, std::string file)
      : vm_(vm), from_file_(std::move(from_file)), file_(std::move(file)) {}

  [[nodiscard]] bool has(const std::string& key) const { return vm_.count(key) > 0; }
  [[nodiscard]] std::string text(const std::string& key) const {
    return vm_[key].as<std::string>();
  }
  [[nodiscard]] std::vector<std::string> texts(const std::string& key) const {
    return vm_[key].as<std::vector<std::string>>();
  }
  /// The value, or nullopt when the option is unset or set to the empty string.
  [[nodiscard]] std::optional<std::string> nonempty(const std::string& key) const {
    if (!has(key) || text(key).empty()) return std::nullopt;
    return text(key);
  }

  [[noreturn]] void fail(const std::string& key, std::string_view value,
                         std::string_view expected) const {
    throw ConfigError(
        fmt::format("{}: option '{}': invalid value '{}' ({})", where(key), key, value, expected));
  }

  [[nodiscard]] std::string where(const std::string& key) const {
    const auto line = from_file_.find(key);
    return line != from_file_.end() ? fmt::format("{}:{}", file_, line->second) : "command line";
  }

  void boolean(const std::string& key, bool& out) const {
    if (!has(key)) return;
    const std::string v = dns::to_lower(text(key));
    if (v == "yes" || v == "true" || v == "on" || v == "1") {
      out = true;
    } else if (v == "no" || v == "false" || v == "off" || v == "0") {
      out = false;
    } else {
      fail(key, text(key), "expected yes or no");
    }
  }

  void number(const std::string& key, unsigned& out, unsigned max) const {
    if (!has(key)) return;
    const std::string v = text(key);
    unsigned parsed = 0;
    const auto* end = v.data() + v.size();
    const auto [ptr, ec] = std::from_chars(v.data(), end, parsed);
    if (v.empty() || ec != std::errc{} || ptr != end || parsed > max) {
      fail(key, v, fmt::format("expected a whole number of seconds from 0 to {}", max));
    }
    out = parsed;
  }

 private:
  const po::variables_map& vm_;
  FileLines from_file_;
  std::string file_;
};

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::string item;
  for (const char c : text) {
    if (c == ',' || dns::is_ascii_space(c)) {
      if (!item.empty()) items.push_back(std::move(item));
      item.clear();
    } else {
      item += c;
    }
  }
  if (!item.empty()) items.push_back(std::move(item));
  return items;
}

policy::Reply parse_reply(const Reader& reader, const std::string& key) {
  const std::string v = reader.text(key);
  std::istringstream in(v);
  policy::Reply reply;
  in >> reply.code >> reply.enhanced;
  std::getline(in >> std::ws, reply.text);
  const bool code_ok = reply.code.size() == 3 && (reply.code[0] == '4' || reply.code[0] == '5') &&
                       std::all_of(reply.code.begin(), reply.code.end(),
                                   [](char c) { return dns::is_ascii_digit(c); });
  int dots = 0;
  bool enhanced_ok = !reply.enhanced.empty() && reply.enhanced[0] == reply.code[0];
  for (const char c : reply.enhanced) {
    if (c == '.') {
      ++dots;
    } else if (!dns::is_ascii_digit(c)) {
      enhanced_ok = false;
    }
  }
  if (!code_ok || !enhanced_ok || dots != 2 || reply.text.empty() ||
      reply.text.find_first_of("\r\n") != std::string::npos) {
    reader.fail(key, v,
                "expected \"CODE X.Y.Z text\" with CODE 4xx or 5xx and a matching "
                "enhanced status code, e.g. \"550 5.7.25 no reverse DNS for %{ip}\"");
  }
  return reply;
}

/// The option KEY's file: one item per line, '#' starts a comment, blank lines are skipped.
/// `parse` returns the item or std::nullopt; an invalid line is an error naming the file, the
/// line number and `expected`.
template <typename Parse>
auto read_list_file(const Reader& reader, const std::string& key, std::string_view expected,
                    Parse parse) {
  const std::string path = reader.text(key);
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(
        fmt::format("{}: option '{}': cannot read '{}'", reader.where(key), key, path));
  }
  std::vector<typename std::invoke_result_t<Parse, const std::string&>::value_type> items;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    line.resize(std::min(line.find('#'), line.size()));
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    const std::string item = line.substr(first, last - first + 1);
    auto parsed = parse(item);
    if (!parsed) {
      throw ConfigError(fmt::format("{}: option '{}': {}:{}: invalid {} '{}'", reader.where(key),
                                    key, path, number, expected, item));
    }
    items.push_back(std::move(*parsed));
  }
  return items;
}

/// An allow-domain-file line: a domain, optionally with a leading dot.
std::optional<std::string> parse_allow_domain(const std::string& line) {
  auto domain = dns::normalize_name(line.front() == '.' ? line.substr(1) : line);
  if (domain.empty() || domain.find_first_of(" \t@/") != std::string::npos) return std::nullopt;
  return domain;
}

bool valid_port(std::string_view port) {
  unsigned number = 0;
  const auto* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, number);
  return !port.empty() && ec == std::errc{} && ptr == end && number >= 1 && number <= 65535;
}

/// A libmilter socket host: an address literal of the socket's family (bare or in brackets)
/// or a host name.
bool valid_socket_host(std::string_view host, bool v6) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (const auto ip = dns::IpAddress::parse(host)) return ip->is_v4() != v6;
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return dns::is_ascii_alnum(c) || c == '.' || c == '-';
  });
}

/// What is wrong with a socket specification, or nullopt when libmilter can listen on it.
std::optional<std::string> socket_problem(std::string_view spec) {
  const auto colon = spec.find(':');
  const std::string_view type = spec.substr(0, colon);
  const std::string_view rest = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  if (colon != std::string_view::npos && (type == "unix" || type == "local")) {
    if (rest.empty() || rest.front() != '/' || rest.back() == '/') {
      return "a unix socket needs an absolute file name, e.g. "
             "unix:/run/rdns-milter/rdns-milter.sock";
    }
    if (rest.size() >= sizeof(sockaddr_un::sun_path)) {
      return fmt::format("a unix socket name has at most {} bytes",
                         sizeof(sockaddr_un::sun_path) - 1);
    }
    return std::nullopt;
  }
  if (colon != std::string_view::npos && (type == "inet" || type == "inet6")) {
    const auto at = rest.find('@');
    if (!valid_port(rest.substr(0, at))) {
      return "expected a port from 1 to 65535 before '@', e.g. inet:8894@127.0.0.1";
    }
    if (at != std::string_view::npos && !valid_socket_host(rest.substr(at + 1), type == "inet6")) {
      return fmt::format("'{}' is not an {} address or a host name", rest.substr(at + 1),
                         type == "inet6" ? "IPv6" : "IPv4");
    }
    return std::nullopt;
  }
  return "expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST";
}

bool user_exists(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  return getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
         found != nullptr;
}

bool group_exists(const std::string& name) {
  group entry{};
  group* found = nullptr;
  std::array<char, 4096> buffer{};
  return getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
         found != nullptr;
}

/// user, group, socket-mode, socket-group and pid-file.
void apply_privileges(const Reader& reader, Config& config) {
  if (const auto user = reader.nonempty("user")) {
    if (!user_exists(*user)) reader.fail("user", *user, "no such user");
    config.user = *user;
  }
  for (const auto& [key, out] : {std::pair<std::string, std::string*>{"group", &config.group},
                                 {"socket-group", &config.socket_group}}) {
    if (const auto name = reader.nonempty(key)) {
      if (!group_exists(*name)) reader.fail(key, *name, "no such group");
      *out = *name;
    }
  }
  if (reader.has("socket-mode")) {
    const auto v = reader.text("socket-mode");
    unsigned mode = 0;
    const auto* end = v.data() + v.size();
    const auto [ptr, ec] = std::from_chars(v.data(), end, mode, 8);
    if (v.empty() || ec != std::errc{} || ptr != end || mode > 0777) {
      reader.fail("socket-mode", v, "expected an octal mode from 0000 to 0777, e.g. 0660");
    }
    config.socket_mode = mode;
  }
  if (const auto file = reader.nonempty("pid-file")) {
    if (file->front() != '/' || file->back() == '/') {
      reader.fail("pid-file", *file,
                  "expected an absolute file name such as "
                  "/run/rdns-milter/rdns-milter.pid");
    }
    config.pid_file = *file;
  }
}

void apply_general(const Reader& reader, Config& config) {
  if (reader.has("socket")) {
    const auto v = reader.text("socket");
    if (const auto problem = socket_problem(v)) reader.fail("socket", v, *problem);
    config.socket = v;
  }
  reader.boolean("foreground", config.foreground);
  if (reader.has("metrics-listen")) {
    const auto v = reader.text("metrics-listen");
    config.metrics_listen = metrics::parse_endpoint(v);
    if (!v.empty() && !config.metrics_listen) {
      reader.fail("metrics-listen", v,
                  "expected IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9466; empty: off");
    }
  }
  apply_privileges(reader, config);
  const bool unix_socket =
      config.socket.rfind("unix:", 0) == 0 || config.socket.rfind("local:", 0) == 0;
  if (!unix_socket && (reader.has("socket-mode") || reader.nonempty("socket-group"))) {
    config.warnings.push_back(
        fmt::format("socket-mode and socket-group apply to unix sockets "
                    "only, not to {}",
                    config.socket));
  }
}

bool readable_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && std::ifstream(path).good();
}

/// A forwarder: an IPv4 or IPv6 address, optionally @PORT.
bool valid_forwarder(std::string_view text) {
  const auto at = text.find('@');
  return dns::IpAddress::parse(text.substr(0, at)).has_value() &&
         (at == std::string_view::npos || valid_port(text.substr(at + 1)));
}

void apply_forwarders(const Reader& reader, Config& config) {
  if (!reader.has("forwarder")) return;
  config.resolver.forwarders.clear();
  for (const auto& item : reader.texts("forwarder")) {
    if (item.empty()) continue;  // "forwarder =": none, full recursion
    if (!valid_forwarder(item)) {
      reader.fail("forwarder", item, "expected an IP address, optionally @PORT, e.g. 192.0.2.53");
    }
    config.resolver.forwarders.push_back(item);
  }
}

void apply_resolver(const Reader& reader, Config& config) {
  auto& resolver = config.resolver;
  if (reader.has("unbound-config")) resolver.unbound_config = reader.text("unbound-config");
  if (reader.has("trust-anchor-file")) {
    resolver.trust_anchor_file = reader.text("trust-anchor-file");
  }
  for (const char* key : {"unbound-config", "trust-anchor-file"}) {
    if (const auto path = reader.nonempty(key); path && !readable_file(*path)) {
      throw ConfigError(
          fmt::format("{}: option '{}': cannot read '{}'", reader.where(key), key, *path));
    }
  }
  if (reader.has("query-timeout")) {
    const auto v = reader.text("query-timeout");
    double seconds = 0;
    std::istringstream in(v);
    in >> seconds;
    if (!in || !in.eof() || !(seconds >= 0.1 && seconds <= 60)) {
      reader.fail("query-timeout", v, "expected seconds from 0.1 to 60, e.g. 5 or 1.5");
    }
    resolver.query_timeout = std::chrono::milliseconds(std::lround(seconds * 1000));
  }
  reader.number("cache-max-ttl", resolver.cache_max_ttl, 604800);
  reader.number("cache-max-negative-ttl", resolver.cache_max_negative_ttl, 86400);
  reader.boolean("confirm-negative", config.confirm_negative);
  apply_forwarders(reader, config);
}

/// The actions and replies: NAME and NAME-reply for every rule option.
void apply_rules(const Reader& reader, Config& config) {
  for (const auto& option : rule_options) {
    const std::string key = option.name;
    auto& rule = option.rule(config.policy);
    if (reader.has(key)) {
      const auto action = policy::parse_action(reader.text(key));
      if (!action) reader.fail(key, reader.text(key), "expected reject, tempfail, tag or ignore");
      rule.action = *action;
    }
    if (reader.has(key + "-reply")) {
      rule.reply = parse_reply(reader, key + "-reply");
    }
    if (option.temporary && rule.action == policy::Action::reject) {
      config.warnings.push_back(fmt::format(
          "{} = reject: a temporary DNS failure is never refused permanently; it will be "
          "tempfailed instead",
          key));
    }
  }
}

void apply_decision_stage(const Reader& reader, Config& config) {
  if (!reader.has("decision-stage")) return;
  const auto v = reader.text("decision-stage");
  if (v == "connect")
    config.decision_stage = Stage::connect;
  else if (v == "helo")
    config.decision_stage = Stage::helo;
  else if (v == "mail")
    config.decision_stage = Stage::mail;
  else if (v == "rcpt")
    config.decision_stage = Stage::rcpt;
  else
    reader.fail("decision-stage", v, "expected connect, helo, mail or rcpt");
}

/// The exemption lists: trusted-networks, exempt-recipients and the two allow files.
void apply_exemptions(const Reader& reader, Config& config) {
  auto& exemptions = config.policy.exemptions;
  if (reader.has("trusted-networks")) {
    exemptions.trusted_networks.clear();
    for (const auto& item : split_list(reader.text("trusted-networks"))) {
      const auto network = dns::Network::parse(item);
      if (!network) {
        reader.fail("trusted-networks", item, "expected an address or CIDR such as 192.0.2.0/24");
      }
      exemptions.trusted_networks.push_back(*network);
    }
  }
  if (reader.has("exempt-recipients")) {
    exemptions.recipients.clear();
    for (const auto& item : split_list(reader.text("exempt-recipients"))) {
      exemptions.recipients.push_back(dns::to_lower(item));
    }
  }
  if (reader.nonempty("allow-address-file")) {
    config.allow_address_file = reader.text("allow-address-file");
    exemptions.allow_addresses =
        read_list_file(reader, "allow-address-file", "address or CIDR",
                       [](const std::string& line) { return dns::Network::parse(line); });
  }
  if (reader.nonempty("allow-domain-file")) {
    config.allow_domain_file = reader.text("allow-domain-file");
    exemptions.allow_domains =
        read_list_file(reader, "allow-domain-file", "domain", parse_allow_domain);
  }
}

/// generic-ptr-keywords: letters and digits, lower-cased.
void apply_generic_keywords(const Reader& reader, Config& config) {
  if (!reader.has("generic-ptr-keywords")) return;
  config.generic_ptr_keywords.clear();
  for (const auto& item : split_list(reader.text("generic-ptr-keywords"))) {
    const auto keyword = dns::to_lower(item);
    if (!checks::valid_generic_ptr_keyword(keyword)) {
      reader.fail("generic-ptr-keywords", item,
                  "expected words of letters and digits (a-z, 0-9, at most 63, not only digits; "
                  "a hyphen or dot separates tokens and can never match), e.g. dsl, dyn, pool");
    }
    if (std::find(config.generic_ptr_keywords.begin(), config.generic_ptr_keywords.end(),
                  keyword) == config.generic_ptr_keywords.end()) {
      config.generic_ptr_keywords.push_back(keyword);
    }
  }
}

/// The rest of the policy group: our names, the decision stage, dry-run, the exemptions and
/// the authserv-id.
void apply_policy(const Reader& reader, Config& config) {
  if (reader.has("helo-own-names")) {
    config.helo_own_names.clear();
    for (const auto& item : split_list(reader.text("helo-own-names"))) {
      config.helo_own_names.push_back(dns::normalize_name(item));
    }
  }
  apply_decision_stage(reader, config);
  reader.boolean("dry-run", config.policy.dry_run);
  apply_exemptions(reader, config);
  if (reader.nonempty("authserv-id")) {
    const auto v = reader.text("authserv-id");
    const bool ok = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
      return dns::is_ascii_alnum(c) || c == '.' || c == '-' || c == '_';
    });
    if (!ok) reader.fail("authserv-id", v, "expected a host name such as mx.example.org");
    config.authserv_id = v;
  }
  apply_generic_keywords(reader, config);
}

/// A whole number within [min, max]; an error names what was expected.
void integer(const Reader& reader, const std::string& key, int& out, int min, int max,
             std::string_view what) {
  if (!reader.has(key)) return;
  const std::string v = reader.text(key);
  int parsed = 0;
  const auto* begin = v.data() + (v.starts_with('+') ? 1 : 0);
  const auto* end = v.data() + v.size();
  const auto [ptr, ec] = std::from_chars(begin, end, parsed);
  if (v.empty() || ec != std::errc{} || ptr != end || parsed < min || parsed > max) {
    reader.fail(key, v, fmt::format("expected {} from {} to {}", what, min, max));
  }
  out = parsed;
}

/// dnsbl-sites or rhsbl-sites: each entry parsed; a bad one names itself and the syntax.
std::vector<checks::DnsblSite> read_sites(const Reader& reader, const std::string& key) {
  std::vector<checks::DnsblSite> sites;
  for (const auto& item : checks::split_dnsbl_sites(reader.text(key))) {
    auto parsed = checks::parse_dnsbl_site(item);
    if (!parsed.site) {
      throw ConfigError(fmt::format("{}: option '{}': invalid entry '{}': {}", reader.where(key),
                                    key, item, parsed.error));
    }
    sites.push_back(std::move(*parsed.site));
  }
  return sites;
}

void apply_dnsbl_maps(const Reader& reader, DnsblSettings& dnsbl) {
  if (reader.has("dnsbl-reply-map")) {
    dnsbl.scoring.reply_map.clear();
    for (const auto& item : split_list(reader.text("dnsbl-reply-map"))) {
      const auto equals = item.find('=');
      const auto zone = dns::normalize_name(item.substr(0, std::min(equals, item.size())));
      const auto shown = equals == std::string::npos ? "" : item.substr(equals + 1);
      const bool printable = std::all_of(shown.begin(), shown.end(), [](char c) {
        return dns::is_ascii_visible(c) && c != '=' && c != ';' && c != '"';
      });
      if (zone.empty() || shown.empty() || !printable) {
        reader.fail("dnsbl-reply-map", item,
                    "expected zone=shown, e.g. KEY.zen.dq.spamhaus.net=zen.spamhaus.org");
      }
      dnsbl.scoring.reply_map.emplace_back(zone, shown);
    }
  }
  if (reader.has("dnsbl-error-codes")) {
    dnsbl.scoring.error_codes.extra.clear();
    for (const auto& item : split_list(reader.text("dnsbl-error-codes"))) {
      const auto network = dns::Network::parse(item);
      if (!network || !network->prefix.is_v4()) {
        reader.fail("dnsbl-error-codes", item,
                    "expected an IPv4 address or CIDR such as 127.0.0.10 or 127.1.0.0/16");
      }
      dnsbl.scoring.error_codes.extra.push_back(*network);
    }
  }
}

/// The DNS list options.
void apply_dnsbl(const Reader& reader, Config& config) {
  auto& dnsbl = config.dnsbl;
  if (reader.has("dnsbl-sites")) dnsbl.sites = read_sites(reader, "dnsbl-sites");
  if (reader.has("rhsbl-sites")) dnsbl.rhsbl = read_sites(reader, "rhsbl-sites");
  integer(reader, "dnsbl-threshold", dnsbl.scoring.threshold, 1, 10000, "a whole number");
  integer(reader, "dnsbl-allowlist-threshold", dnsbl.scoring.allowlist_threshold, -10000, 0,
          "0 (off) or a negative whole number");
  integer(reader, "generic-ptr-weight", dnsbl.scoring.generic_ptr_weight, -1000, 1000,
          "a whole number from -1000 to 1000");
  apply_dnsbl_maps(reader, dnsbl);
  reader.number("dnsbl-error-pause", dnsbl.error_pause, 86400);
  reader.number("dnsbl-health-interval", dnsbl.health_interval, 86400);
  reader.boolean("dnsbl-tempfail-on-error", config.policy.dnsbl.tempfail_on_error);
}

/// Every option group, in the order their errors are reported.
void apply(const Reader& reader, Config& config) {
  apply_general(reader, config);
  apply_resolver(reader, config);
  apply_rules(reader, config);
  apply_policy(reader, config);
  apply_dnsbl(reader, config);
}

std::string help_text(const po::options_description& options) {
  std::ostringstream out;
  out << "Usage: rdns-milter [--config FILE] [--socket SPEC] [--foreground] [OPTION...]\n"
         "       rdns-milter --check IP [--json] [--trace] [OPTION...]\n"
         "Every option may also be set in the config file as 'name = value'.\n"
      << options;
  return out.str();
}

/// The config file to read: --config, else the default one when it exists, else none.
std::string config_file_to_read(const po::variables_map& vm) {
  if (vm.count("config") > 0) return vm["config"].as<std::string>();
  const std::ifstream probe(default_config_file);
  return probe ? default_config_file : std::string();
}

/// One `name = value` line of the config file.
struct FileEntry {
  std::string key;
  std::string value;
  std::size_t line = 0;
};

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

/// The `name = value` lines of `file`; '#' starts a comment, blank lines are skipped. A line
/// of another shape is an error naming the file and the line.
std::vector<FileEntry> read_entries(const std::string& file, bool explicit_file) {
  std::ifstream in(file);
  std::error_code ec;
  if (!in || !std::filesystem::is_regular_file(file, ec)) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file{}", file,
                                  explicit_file ? " given with --config" : ""));
  }
  std::vector<FileEntry> entries;
  std::string raw;
  for (std::size_t number = 1; std::getline(in, raw); ++number) {
    const auto line = trimmed(std::string_view(raw).substr(0, raw.find('#')));
    if (line.empty()) continue;
    const auto equals = line.find('=');
    const auto key = trimmed(line.substr(0, equals));
    if (equals == std::string_view::npos || key.empty()) {
      throw ConfigError(
          fmt::format("{}:{}: expected 'name = value', found '{}'", file, number, line));
    }
    entries.push_back({std::string(key), std::string(trimmed(line.substr(equals + 1))), number});
  }
  return entries;
}

/// Checks the file's option names: known, allowed in a file, set once (forwarder may repeat).
void check_entries(const std::string& file, const std::vector<FileEntry>& entries,
                   const po::options_description& options) {
  FileLines first;
  for (const auto& entry : entries) {
    if (options.find_nothrow(entry.key, false) == nullptr) {
      throw ConfigError(fmt::format(
          "{}:{}: unknown option '{}' (value '{}'); see rdns-milter --help for the options", file,
          entry.line, entry.key, entry.value));
    }
    if (command_line_only.contains(entry.key)) {
      throw ConfigError(fmt::format("{}:{}: option '{}' belongs on the command line", file,
                                    entry.line, entry.key));
    }
    const auto [seen, fresh] = first.emplace(entry.key, entry.line);
    if (!fresh && entry.key != "forwarder") {
      throw ConfigError(fmt::format("{}:{}: option '{}' is already set on line {}", file,
                                    entry.line, entry.key, seen->second));
    }
  }
}

/// Stores `entries` in `vm`, leaving alone the options `vm` already has (the command line
/// wins; for the repeatable forwarder that means replacing, not adding). Returns the line of
/// each option taken from the file.
FileLines store_entries(const std::string& file, const std::vector<FileEntry>& entries,
                        const po::options_description& options, po::variables_map& vm) {
  po::parsed_options parsed(&options);
  FileLines lines;
  for (const auto& entry : entries) {
    if (vm.count(entry.key) > 0) continue;
    lines.emplace(entry.key, entry.line);
    parsed.options.emplace_back(entry.key, std::vector<std::string>{entry.value});
  }
  try {
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw ConfigError(fmt::format("{}: {}", file, e.what()));
  }
  return lines;
}

/// Every value the file sets, checked on its own: a value the command line overrides must
/// still be valid, since the next start or reload without that argument would use it.
void validate_file_values(const std::string& file, const std::vector<FileEntry>& entries,
                          const po::options_description& options) {
  po::variables_map file_vm;
  const auto lines = store_entries(file, entries, options, file_vm);
  Config scratch = defaults();
  apply(Reader(file_vm, lines, file), scratch);
}

/// The --check mode and its companions --helo, --mail-from, --json and --trace.
void read_check_options(const po::variables_map& vm, const Reader& reader, Invocation& invocation) {
  if (vm.count("check") > 0) {
    invocation.mode = Invocation::Mode::check;
    invocation.check_ip = vm["check"].as<std::string>();
    if (!dns::IpAddress::parse(invocation.check_ip)) {
      reader.fail("check", invocation.check_ip, "expected an IPv4 or IPv6 address");
    }
  }
  if (vm.count("helo") > 0) {
    invocation.check_helo = vm["helo"].as<std::string>();
  }
  if (vm.count("mail-from") > 0) {
    invocation.check_mail_from = vm["mail-from"].as<std::string>();
  }
  invocation.json = vm.count("json") > 0;
  invocation.trace = vm.count("trace") > 0;
}

}  // namespace

std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::connect: return "connect";
    case Stage::helo: return "helo";
    case Stage::mail: return "mail";
    case Stage::rcpt: return "rcpt";
  }
  return "?";
}

Config defaults() {
  Config config;
  config.policy.exemptions.trusted_networks = {*dns::Network::parse("127.0.0.0/8"),
                                               *dns::Network::parse("::1/128")};
  config.policy.exemptions.recipients = {"postmaster", "abuse"};
  config.generic_ptr_keywords = checks::default_generic_ptr_keywords();
  return config;
}

checks::IprevOptions iprev_options(const Config& config) {
  // Confirm before reject: re-check a negative answer only when it could lead to a reject.
  checks::IprevOptions options;
  options.confirm_no_ptr =
      config.confirm_negative && config.policy.iprev.no_ptr.action == policy::Action::reject;
  options.confirm_no_forward_match =
      config.confirm_negative &&
      config.policy.iprev.no_forward_match.action == policy::Action::reject;
  options.generic_keywords = config.generic_ptr_keywords;
  return options;
}

checks::HealthCheckConfig health_check_config(const Config& config) {
  checks::HealthCheckConfig health;
  health.sites = config.dnsbl.sites;
  health.rhsbl = config.dnsbl.rhsbl;
  health.scoring = config.dnsbl.scoring;
  health.error_pause = std::chrono::seconds(config.dnsbl.error_pause);
  return health;
}

namespace {

std::string yes_no(bool value) {
  return value ? "yes" : "no";
}

template <typename Range, typename Text>
std::string joined(const Range& items, Text text) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += text(item);
  }
  return out;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:g}", static_cast<double>(duration.count()) / 1000.0);
}

void add_resolver_settings(const Config& config, std::vector<Setting>& out) {
  const auto& resolver = config.resolver;
  out.push_back({"unbound-config", resolver.unbound_config});
  for (const auto& forwarder : resolver.forwarders) out.push_back({"forwarder", forwarder});
  if (resolver.forwarders.empty()) out.push_back({"forwarder", ""});
  out.push_back({"trust-anchor-file", resolver.trust_anchor_file});
  out.push_back({"query-timeout", seconds_text(resolver.query_timeout)});
  out.push_back({"cache-max-ttl", std::to_string(resolver.cache_max_ttl)});
  out.push_back({"cache-max-negative-ttl", std::to_string(resolver.cache_max_negative_ttl)});
  out.push_back({"confirm-negative", yes_no(config.confirm_negative)});
}

void add_policy_settings(const Config& config, std::vector<Setting>& out) {
  auto policy = config.policy;  // the rule accessors take a mutable Policy
  for (const auto& option : rule_options) {
    out.push_back({option.name, std::string(policy::to_string(option.rule(policy).action))});
  }
  for (const auto& option : rule_options) {
    out.push_back({std::string(option.name) + "-reply", option.rule(policy).reply.to_string()});
  }
  const auto& exemptions = config.policy.exemptions;
  const auto same = [](const std::string& text) { return text; };
  out.push_back({"decision-stage", std::string(to_string(config.decision_stage))});
  out.push_back({"dry-run", yes_no(config.policy.dry_run)});
  out.push_back({"trusted-networks", joined(exemptions.trusted_networks, [](const auto& network) {
                   return network.to_string();
                 })});
  out.push_back({"exempt-recipients", joined(exemptions.recipients, same)});
  out.push_back({"allow-address-file", config.allow_address_file});
  out.push_back({"allow-domain-file", config.allow_domain_file});
  out.push_back({"helo-own-names", joined(config.helo_own_names, same)});
  out.push_back({"authserv-id", config.authserv_id});
  out.push_back({"generic-ptr-keywords", joined(config.generic_ptr_keywords, same)});
}

void add_dnsbl_settings(const Config& config, std::vector<Setting>& out) {
  const auto& dnsbl = config.dnsbl;
  const auto site_text = [](const checks::DnsblSite& site) { return site.text; };
  out.push_back({"dnsbl-sites", joined(dnsbl.sites, site_text)});
  out.push_back({"rhsbl-sites", joined(dnsbl.rhsbl, site_text)});
  out.push_back({"dnsbl-threshold", std::to_string(dnsbl.scoring.threshold)});
  out.push_back({"dnsbl-allowlist-threshold", std::to_string(dnsbl.scoring.allowlist_threshold)});
  out.push_back({"generic-ptr-weight", std::to_string(dnsbl.scoring.generic_ptr_weight)});
  out.push_back({"dnsbl-reply-map", joined(dnsbl.scoring.reply_map, [](const auto& pair) {
                   return pair.first + "=" + pair.second;
                 })});
  out.push_back({"dnsbl-error-codes", joined(dnsbl.scoring.error_codes.extra,
                                             [](const auto& n) { return n.to_string(); })});
  out.push_back({"dnsbl-error-pause", std::to_string(dnsbl.error_pause)});
  out.push_back({"dnsbl-tempfail-on-error", yes_no(config.policy.dnsbl.tempfail_on_error)});
  out.push_back({"dnsbl-health-interval", std::to_string(dnsbl.health_interval)});
}

}  // namespace

std::vector<Setting> settings_of(const Config& config) {
  std::vector<Setting> out = {
      {"socket", config.socket},
      {"foreground", yes_no(config.foreground)},
      {"user", config.user},
      {"group", config.group},
      {"socket-mode", fmt::format("{:04o}", config.socket_mode)},
      {"socket-group", config.socket_group},
      {"pid-file", config.pid_file},
      {"metrics-listen", config.metrics_listen ? config.metrics_listen->to_string() : ""},
  };
  add_resolver_settings(config, out);
  add_policy_settings(config, out);
  add_dnsbl_settings(config, out);
  return out;
}

std::string describe_settings(const Config& config, bool all) {
  const auto values_by_name = [](const std::vector<Setting>& settings) {
    std::map<std::string, std::vector<std::string>> by_name;
    for (const auto& setting : settings) by_name[setting.name].push_back(setting.value);
    return by_name;
  };
  const auto settings = settings_of(config);
  const auto current = values_by_name(settings);
  const auto standard = values_by_name(settings_of(defaults()));
  std::string out;
  for (const auto& setting : settings) {
    if (!all && current.at(setting.name) == standard.at(setting.name)) continue;
    out += setting.value.empty() ? setting.name + " =\n"
                                 : fmt::format("{} = {}\n", setting.name, setting.value);
  }
  return out;
}

Invocation parse_arguments(const std::vector<std::string>& args, Purpose purpose) {
  const auto options = describe_options();
  Invocation invocation;
  invocation.args = args;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
  } catch (const po::error& e) {
    throw ConfigError(fmt::format("command line: {}", e.what()));
  }
  if (vm.count("help") > 0) {
    invocation.mode = Invocation::Mode::help;
    invocation.help_text = help_text(describe_options());
    return invocation;
  }
  if (vm.count("version") > 0) {
    invocation.mode = Invocation::Mode::version;
    return invocation;
  }

  if (vm.count("config-test") > 0) {
    invocation.mode = Invocation::Mode::config_test;
    invocation.all_settings = vm.count("all") > 0;
  }

  const std::string file = config_file_to_read(vm);
  FileLines from_file;
  std::vector<FileEntry> entries;
  if (!file.empty()) {
    entries = read_entries(file, vm.count("config") > 0);
    check_entries(file, entries, options);
    if (entries.empty() && purpose == Purpose::reload) {
      throw ConfigError(fmt::format("{} has no settings (empty or still being written)", file));
    }
    validate_file_values(file, entries, options);
    from_file = store_entries(file, entries, options, vm);
  }
  po::notify(vm);

  Config config = defaults();
  config.config_file = file;
  if (!file.empty() && entries.empty()) {
    config.warnings.push_back(fmt::format(
        "{} has no settings (empty or only comments): only the built-in defaults and the "
        "command line apply",
        file));
  }
  const Reader reader(vm, from_file, file);
  apply(reader, config);
  invocation.config = std::move(config);
  read_check_options(vm, reader, invocation);
  return invocation;
}

Invocation parse_command_line(int argc, const char* const argv[]) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    args.emplace_back(argv[i]);
  }
  return parse_arguments(args);
}

}  // namespace rdns::config
