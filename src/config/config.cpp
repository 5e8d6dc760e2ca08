#include "rdns/config/config.h"

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace rdns::config {
namespace {

namespace po = boost::program_options;

struct RuleOption {
  const char* name;
  policy::Rule policy::IprevPolicy::*rule;
};

constexpr RuleOption iprev_rules[] = {
    {"iprev-no-ptr", &policy::IprevPolicy::no_ptr},
    {"iprev-no-forward-match", &policy::IprevPolicy::no_forward_match},
    {"iprev-temperror", &policy::IprevPolicy::temperror},
    {"iprev-permerror", &policy::IprevPolicy::permerror},
};

po::options_description describe_options() {
  po::options_description general("General");
  general.add_options()("help,h", "print this help and exit")("version",
                                                              "print the version and exit")(
      "config,c", po::value<std::string>(),
      "configuration file (default /etc/rdns-milter/rdns-milter.conf when it exists)")(
      "check", po::value<std::string>()->value_name("IP"),
      "check one client address, print the evidence, the verdict and the fix, and exit")(
      "json", "with --check: print JSON")(
      "socket", po::value<std::string>()->value_name("SPEC"),
      "milter socket: unix:/path or inet:PORT@HOST (default inet:8894@127.0.0.1)")(
      "foreground", po::value<std::string>()->implicit_value("yes")->value_name("yes|no"),
      "stay in the foreground and log to stderr too");

  po::options_description resolver("Resolver");
  resolver.add_options()(
      "unbound-config", po::value<std::string>()->value_name("FILE"),
      "an unbound.conf for libunbound (stub zones, forward zones, trust anchors)")(
      "forwarder", po::value<std::vector<std::string>>()->composing()->value_name("ADDR[@PORT]"),
      "forward queries to this resolver (repeatable); default: full recursion")(
      "trust-anchor-file", po::value<std::string>()->value_name("FILE"),
      "DNSSEC root trust anchor (default /usr/share/dns/root.key; empty: no validation)")(
      "query-timeout", po::value<std::string>()->value_name("SECONDS"),
      "deadline of one DNS query (default 5)")("cache-max-ttl",
                                               po::value<std::string>()->value_name("SECONDS"),
                                               "cap on cached TTLs (default 86400)")(
      "cache-max-negative-ttl", po::value<std::string>()->value_name("SECONDS"),
      "cap on cached NXDOMAIN/NODATA TTLs (default 300)")(
      "confirm-negative", po::value<std::string>()->value_name("yes|no"),
      "re-check a negative answer without the cache before it leads to a reject (default yes)");

  po::options_description pol("Policy");
  pol.add_options()("iprev-no-ptr", po::value<std::string>()->value_name("ACTION"),
                    "reject|tempfail|tag|ignore for iprev fail/no-ptr (default reject)")(
      "iprev-no-forward-match", po::value<std::string>()->value_name("ACTION"),
      "action for iprev fail/no-forward-match (default tag)")(
      "iprev-temperror", po::value<std::string>()->value_name("ACTION"),
      "action for iprev temperror (default tempfail; never a 5xx)")(
      "iprev-permerror", po::value<std::string>()->value_name("ACTION"),
      "action for iprev permerror (default tag)")(
      "iprev-no-ptr-reply", po::value<std::string>()->value_name("REPLY"),
      "SMTP reply, e.g. \"550 5.7.25 text with %{ip}\"")(
      "iprev-no-forward-match-reply", po::value<std::string>()->value_name("REPLY"), "")(
      "iprev-temperror-reply", po::value<std::string>()->value_name("REPLY"), "")(
      "iprev-permerror-reply", po::value<std::string>()->value_name("REPLY"), "")(
      "decision-stage", po::value<std::string>()->value_name("STAGE"),
      "connect|helo|mail|rcpt: when the verdict is applied (default rcpt)")(
      "dry-run", po::value<std::string>()->implicit_value("yes")->value_name("yes|no"),
      "never reject or tempfail; add headers and log what would have happened")(
      "trusted-networks", po::value<std::string>()->value_name("LIST"),
      "exempt client networks, comma or space separated (default 127.0.0.0/8, ::1/128)")(
      "exempt-recipients", po::value<std::string>()->value_name("LIST"),
      "always-accepted recipients: local parts at any domain or full addresses "
      "(default postmaster, abuse)")("allow-address-file",
                                     po::value<std::string>()->value_name("FILE"),
                                     "file of exempt client addresses/CIDRs, one per line")(
      "allow-domain-file", po::value<std::string>()->value_name("FILE"),
      "file of exempt host-name domains (verified PTR name at or below), one per line")(
      "authserv-id", po::value<std::string>()->value_name("NAME"),
      "authserv-id of Authentication-Results (default: the MTA's j macro, else host name)");

  po::options_description all;
  all.add(general).add(resolver).add(pol);
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
    const std::string where = from_file_.count(key) > 0 ? file_ : "command line";
    throw ConfigError(
        fmt::format("{}: option '{}': invalid value '{}' ({})", where, key, value, expected));
  }

  [[nodiscard]] std::string where(const std::string& key) const {
    return from_file_.count(key) > 0 ? file_ : "command line";
  }

  void boolean(const std::string& key, bool& out) const {
    if (!has(key)) return;
    std::string v = text(key);
    std::transform(v.begin(), v.end(), v.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
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
    if (c == ',' || std::isspace(static_cast<unsigned char>(c)) != 0) {
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
                                   [](unsigned char c) { return std::isdigit(c) != 0; });
  int dots = 0;
  bool enhanced_ok = !reply.enhanced.empty() && reply.enhanced[0] == reply.code[0];
  for (const char c : reply.enhanced) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
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

std::vector<std::string> read_lines(const Reader& reader, const std::string& key,
                                    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(
        fmt::format("{}: option '{}': cannot read '{}'", reader.where(key), key, path));
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) {
      lines.emplace_back();
      continue;
    }
    const auto last = line.find_last_not_of(" \t\r");
    lines.push_back(line.substr(first, last - first + 1));
  }
  return lines;
}

void apply(const Reader& reader, Config& config) {
  if (reader.has("socket")) {
    const auto v = reader.text("socket");
    const bool ok =
        (v.rfind("unix:", 0) == 0 && v.size() > 5) || (v.rfind("local:", 0) == 0 && v.size() > 6) ||
        (v.rfind("inet:", 0) == 0 && v.size() > 5) || (v.rfind("inet6:", 0) == 0 && v.size() > 6);
    if (!ok) reader.fail("socket", v, "expected unix:/path or inet:PORT@HOST");
    config.socket = v;
  }
  reader.boolean("foreground", config.foreground);

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

  for (const auto& option : iprev_rules) {
    const std::string key = option.name;
    auto& rule = config.policy.iprev.*option.rule;
    if (reader.has(key)) {
      const auto action = policy::parse_action(reader.text(key));
      if (!action) reader.fail(key, reader.text(key), "expected reject, tempfail, tag or ignore");
      rule.action = *action;
    }
    if (reader.has(key + "-reply")) {
      rule.reply = parse_reply(reader, key + "-reply");
    }
  }
  if (config.policy.iprev.temperror.action == policy::Action::reject) {
    config.warnings.push_back(
        "iprev-temperror = reject: a temporary DNS failure is never refused permanently; "
        "it will be tempfailed instead");
  }

  if (reader.has("decision-stage")) {
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
  reader.boolean("dry-run", config.policy.dry_run);

  if (reader.has("trusted-networks")) {
    config.policy.exemptions.trusted_networks.clear();
    for (const auto& item : split_list(reader.text("trusted-networks"))) {
      const auto network = dns::Network::parse(item);
      if (!network) {
        reader.fail("trusted-networks", item, "expected an address or CIDR such as 192.0.2.0/24");
      }
      config.policy.exemptions.trusted_networks.push_back(*network);
    }
  }
  if (reader.has("exempt-recipients")) {
    config.policy.exemptions.recipients.clear();
    for (auto item : split_list(reader.text("exempt-recipients"))) {
      std::transform(item.begin(), item.end(), item.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      config.policy.exemptions.recipients.push_back(std::move(item));
    }
  }
  if (reader.has("allow-address-file")) {
    config.allow_address_file = reader.text("allow-address-file");
    std::size_t number = 0;
    for (const auto& line : read_lines(reader, "allow-address-file", config.allow_address_file)) {
      ++number;
      if (line.empty()) continue;
      const auto network = dns::Network::parse(line);
      if (!network) {
        throw ConfigError(fmt::format("{}:{}: invalid address or CIDR '{}'",
                                      config.allow_address_file, number, line));
      }
      config.policy.exemptions.allow_addresses.push_back(*network);
    }
  }
  if (reader.has("allow-domain-file")) {
    config.allow_domain_file = reader.text("allow-domain-file");
    std::size_t number = 0;
    for (const auto& line : read_lines(reader, "allow-domain-file", config.allow_domain_file)) {
      ++number;
      if (line.empty()) continue;
      const auto domain = dns::normalize_name(line.front() == '.' ? line.substr(1) : line);
      const bool ok = !domain.empty() && domain.find_first_of(" \t@/") == std::string::npos;
      if (!ok) {
        throw ConfigError(
            fmt::format("{}:{}: invalid domain '{}'", config.allow_domain_file, number, line));
      }
      config.policy.exemptions.allow_domains.push_back(domain);
    }
  }
  if (reader.has("authserv-id")) {
    const auto v = reader.text("authserv-id");
    const bool ok = !v.empty() && std::all_of(v.begin(), v.end(), [](unsigned char c) {
      return std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_';
    });
    if (!ok) reader.fail("authserv-id", v, "expected a host name such as mx.example.org");
    config.authserv_id = v;
  }

  // Confirm before reject: re-check a negative answer when it could lead to a reject.
  config.iprev.confirm_no_ptr =
      config.confirm_negative && config.policy.iprev.no_ptr.action == policy::Action::reject;
  config.iprev.confirm_no_forward_match =
      config.confirm_negative &&
      config.policy.iprev.no_forward_match.action == policy::Action::reject;
}

Config defaults() {
  Config config;
  config.policy.exemptions.trusted_networks = {*dns::Network::parse("127.0.0.0/8"),
                                               *dns::Network::parse("::1/128")};
  config.policy.exemptions.recipients = {"postmaster", "abuse"};
  return config;
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

Invocation parse_arguments(const std::vector<std::string>& args) {
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
    std::ostringstream out;
    out << "Usage: rdns-milter [--config FILE] [--socket SPEC] [--foreground] [OPTION...]\n"
           "       rdns-milter --check IP [--json] [OPTION...]\n"
           "Every option may also be set in the config file as 'name = value'.\n"
        << options;
    invocation.mode = Invocation::Mode::help;
    invocation.help_text = out.str();
    return invocation;
  }
  if (vm.count("version") > 0) {
    invocation.mode = Invocation::Mode::version;
    return invocation;
  }

  std::string file;
  bool explicit_file = false;
  if (vm.count("config") > 0) {
    file = vm["config"].as<std::string>();
    explicit_file = true;
  } else {
    std::ifstream probe(default_config_file);
    if (probe) file = default_config_file;
  }
  std::set<std::string> from_file;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      throw ConfigError(fmt::format("{}: cannot read the configuration file{}", file,
                                    explicit_file ? " given with --config" : ""));
    }
    try {
      auto parsed = po::parse_config_file(in, options, true);
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
        if (vm.count(option.string_key) == 0) from_file.insert(option.string_key);
      }
      po::store(parsed, vm);
    } catch (const po::error& e) {
      throw ConfigError(fmt::format("{}: {}", file, e.what()));
    }
  }
  po::notify(vm);

  Config config = defaults();
  config.config_file = file;
  const Reader reader(vm, from_file, file);
  apply(reader, config);
  if (vm.count("forwarder") > 0) {
    config.resolver.forwarders = vm["forwarder"].as<std::vector<std::string>>();
  }
  invocation.config = std::move(config);

  if (vm.count("check") > 0) {
    invocation.mode = Invocation::Mode::check;
    invocation.check_ip = vm["check"].as<std::string>();
    if (!dns::IpAddress::parse(invocation.check_ip)) {
      reader.fail("check", invocation.check_ip, "expected an IPv4 or IPv6 address");
    }
  }
  invocation.json = vm.count("json") > 0;
  return invocation;
}

Invocation parse_command_line(int argc, const char* const argv[]) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    args.emplace_back(argv[i]);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  }
  return parse_arguments(args);
}

}  // namespace rdns::config
