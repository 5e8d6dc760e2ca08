#include "rdns/config/config.h"

#include "rdns/dns/name.h"

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
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

po::options_description describe_options() {
  po::options_description general("General");
  general.add_options()("help,h", "print this help and exit");
  general.add_options()("version", "print the version and exit");
  general.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                        "configuration file (default /etc/rdns-milter/rdns-milter.conf when it "
                        "exists)");
  value_option(general, "check", "IP",
               "check one client address, print the evidence, the verdict and the fix, exit");
  value_option(general, "helo", "NAME", "with --check: the HELO/EHLO name to check as well");
  value_option(general, "mail-from", "ADDR",
               "with --check: the MAIL FROM address for SPF (empty: the null sender)");
  general.add_options()("json", "with --check: print JSON");
  value_option(general, "socket", "SPEC",
               "milter socket: unix:/path or inet:PORT@HOST (default inet:8894@127.0.0.1)");
  flag_option(general, "foreground", "stay in the foreground and log to stderr too");
  value_option(general, "metrics-listen", "ADDR:PORT",
               "serve Prometheus metrics over HTTP at /metrics, e.g. 127.0.0.1:9466 or "
               "[::1]:9466 (default off; no authentication: bind to loopback)");

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
              "re-check a negative answer without any cache before it leads to a reject "
              "(default yes)");

  po::options_description actions(
      "Actions: reject|tempfail|tag|ignore; each NAME also has NAME-reply = \"CODE X.Y.Z "
      "text\" with %{ip}, %{ptr}, %{helo}, %{reason}");
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

  po::options_description all;
  all.add(general).add(resolver).add(actions).add(pol);
  return all;
}

/// Every option, including the NAME-reply ones --help does not list one by one.
po::options_description all_options() {
  auto all = describe_options();
  po::options_description replies;
  for (const auto& option : rule_options) {
    value_option(replies, std::string(option.name) + "-reply", "REPLY", "");
  }
  all.add(replies);
  return all;
}

/// Reads option values and says where each came from, for error messages.
class Reader {
 public:
  Reader(const po::variables_map& vm, std::set<std::string> from_file, std::string file)
      : vm_(vm), from_file_(std::move(from_file)), file_(std::move(file)) {}

  [[nodiscard]] bool has(const std::string& key) const { return vm_.count(key) > 0; }
  [[nodiscard]] std::string text(const std::string& key) const {
    return vm_[key].as<std::string>();
  }

  [[noreturn]] void fail(const std::string& key, std::string_view value,
                         std::string_view expected) const {
    throw ConfigError(
        fmt::format("{}: option '{}': invalid value '{}' ({})", where(key), key, value, expected));
  }

  [[nodiscard]] std::string where(const std::string& key) const {
    return from_file_.contains(key) ? file_ : "command line";
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
  std::set<std::string> from_file_;
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
      throw ConfigError(fmt::format("{}:{}: invalid {} '{}'", path, number, expected, item));
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

void apply_general(const Reader& reader, Config& config) {
  if (reader.has("socket")) {
    const auto v = reader.text("socket");
    const bool ok =
        (v.rfind("unix:", 0) == 0 && v.size() > 5) || (v.rfind("local:", 0) == 0 && v.size() > 6) ||
        (v.rfind("inet:", 0) == 0 && v.size() > 5) || (v.rfind("inet6:", 0) == 0 && v.size() > 6);
    if (!ok) reader.fail("socket", v, "expected unix:/path or inet:PORT@HOST");
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
}

void apply_resolver(const Reader& reader, Config& config) {
  auto& resolver = config.resolver;
  if (reader.has("unbound-config")) resolver.unbound_config = reader.text("unbound-config");
  if (reader.has("trust-anchor-file")) {
    resolver.trust_anchor_file = reader.text("trust-anchor-file");
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
  if (reader.has("allow-address-file")) {
    config.allow_address_file = reader.text("allow-address-file");
    exemptions.allow_addresses =
        read_list_file(reader, "allow-address-file", "address or CIDR",
                       [](const std::string& line) { return dns::Network::parse(line); });
  }
  if (reader.has("allow-domain-file")) {
    config.allow_domain_file = reader.text("allow-domain-file");
    exemptions.allow_domains =
        read_list_file(reader, "allow-domain-file", "domain", parse_allow_domain);
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
  if (reader.has("authserv-id")) {
    const auto v = reader.text("authserv-id");
    const bool ok = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
      return dns::is_ascii_alnum(c) || c == '.' || c == '-' || c == '_';
    });
    if (!ok) reader.fail("authserv-id", v, "expected a host name such as mx.example.org");
    config.authserv_id = v;
  }
}

/// Every option group, in the order their errors are reported.
void apply(const Reader& reader, Config& config) {
  apply_general(reader, config);
  apply_resolver(reader, config);
  apply_rules(reader, config);
  apply_policy(reader, config);
}

std::string help_text(const po::options_description& options) {
  std::ostringstream out;
  out << "Usage: rdns-milter [--config FILE] [--socket SPEC] [--foreground] [OPTION...]\n"
         "       rdns-milter --check IP [--json] [OPTION...]\n"
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

/// What reading the config file found.
struct FileSettings {
  std::set<std::string> from_file;  ///< the options whose value comes from the file
  bool any = false;                 ///< the file sets at least one option
};

/// Reads `file` into `vm` under the values already there (the command line wins).
FileSettings read_config_file(const std::string& file, bool explicit_file,
                              const po::options_description& options, po::variables_map& vm) {
  std::ifstream in(file);
  std::error_code ec;
  if (!in || !std::filesystem::is_regular_file(file, ec)) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file{}", file,
                                  explicit_file ? " given with --config" : ""));
  }
  FileSettings settings;
  try {
    auto parsed = po::parse_config_file(in, options, true);
    settings.any = !parsed.options.empty();
    for (const auto& option : parsed.options) {
      if (option.unregistered) {
        throw ConfigError(fmt::format(
            "{}: unknown option '{}' (value '{}'); see rdns-milter --help for the options", file,
            option.string_key, option.value.empty() ? std::string() : option.value.front()));
      }
      if (option.string_key == "config" || option.string_key == "check" ||
          option.string_key == "help" || option.string_key == "version") {
        throw ConfigError(
            fmt::format("{}: option '{}' belongs on the command line", file, option.string_key));
      }
      if (vm.count(option.string_key) == 0) settings.from_file.insert(option.string_key);
    }
    // The command line wins; for the repeatable forwarder that means replacing, not adding.
    if (vm.count("forwarder") > 0) {
      std::erase_if(parsed.options,
                    [](const po::option& option) { return option.string_key == "forwarder"; });
    }
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw ConfigError(fmt::format("{}: {}", file, e.what()));
  }
  return settings;
}

/// The --check mode and its companions --helo, --mail-from and --json.
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
  return options;
}

Invocation parse_arguments(const std::vector<std::string>& args, Purpose purpose) {
  const auto options = all_options();
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

  const std::string file = config_file_to_read(vm);
  FileSettings settings;
  if (!file.empty()) {
    settings = read_config_file(file, vm.count("config") > 0, options, vm);
    if (!settings.any && purpose == Purpose::reload) {
      throw ConfigError(fmt::format("{} has no settings (empty or still being written)", file));
    }
  }
  po::notify(vm);

  Config config = defaults();
  config.config_file = file;
  if (!file.empty() && !settings.any) {
    config.warnings.push_back(fmt::format(
        "{} has no settings (empty or only comments): only the built-in defaults and the "
        "command line apply",
        file));
  }
  const Reader reader(vm, settings.from_file, file);
  apply(reader, config);
  if (vm.count("forwarder") > 0) {
    config.resolver.forwarders = vm["forwarder"].as<std::vector<std::string>>();
  }
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
