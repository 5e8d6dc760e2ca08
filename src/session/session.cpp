#include "rdns/session/session.h"

#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "rdns/dns/name.h"
#include "rdns/header/auth_results.h"

namespace rdns::session {
namespace {

/// True for input no honest client sends: control characters, NUL, or absurd length. Note:
/// bytes >= 0x80 are not hostile (a UTF-8 local-part, RFC 6531).
bool hostile(std::string_view text, std::size_t max_length) {
  return text.size() > max_length || dns::has_control(text);
}

/// `spf`, counted.
checks::Spf counted(const metrics::SessionMeter& meter, checks::Spf spf) {
  meter.spf(spf);
  return spf;
}

/// `text` as a quoted log value: "..." with \" and \\ escaped, so that text from the client
/// (a HELO in a reply) cannot close the quotes and add fields such as action=accept to the line.
std::string log_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

/// Runs one SPF evaluation on the pool, or on a thread of its own without one.
template <typename Work>
std::shared_future<checks::Spf> run_spf(TaskPool* pool, Work work) {
  if (pool != nullptr) return pool->submit(std::move(work));
  return std::async(std::launch::async, std::move(work)).share();
}

std::string queue_or_noqueue(std::string_view queue_id) {
  return queue_id.empty() ? std::string("NOQUEUE") : header::sanitize(queue_id, 32);
}

using DnsblBatch = Session::DnsblBatch;

/// Starts the lookups of `targets` the registry allows (the others are reported as skipped);
/// `promise` receives them when the last answer is in.
void run_dnsbl_batch(dns::Resolver& resolver, const config::Config& config,
                     checks::DnsblRegistry* registry, std::vector<checks::DnsblTarget> targets,
                     const std::shared_ptr<std::promise<DnsblBatch>>& promise) {
  std::vector<checks::DnsblTarget> asked;
  std::vector<checks::DnsblSkipped> skipped;
  for (auto& target : targets) {
    if (auto skip = registry != nullptr ? registry->skip(target.zone) : std::nullopt) {
      skip->query = target.query;
      skip->domain = target.domain;
      skip->source = target.source;
      skipped.push_back(std::move(*skip));
      continue;
    }
    asked.push_back(std::move(target));
  }
  checks::start_dnsbl(
      resolver, std::move(asked), config.dnsbl.scoring.error_codes,
      [promise, skipped = std::move(skipped)](std::vector<checks::DnsblLookup> lookups) mutable {
        promise->set_value(DnsblBatch{std::move(lookups), std::move(skipped)});
      });
}

/// True for a name a domain list can be asked about (a syntactically valid domain).
bool listable_domain(std::string_view name) {
  return checks::parse_helo(name).kind == checks::HeloName::Kind::domain;
}

template <typename T>
void wait_valid(const std::shared_future<T>& future) {
  if (future.valid()) future.wait();
}

}  // namespace

std::string path_address(std::string_view path) {
  if (path.starts_with('<')) {
    path.remove_prefix(1);
    if (path.ends_with('>')) path.remove_suffix(1);
  }
  // RFC 5321 §4.1.2 A-d-l: "@one.example,@two.example:" before the mailbox; ignored (§3.3).
  if (path.starts_with('@')) {
    if (const auto colon = path.find(':'); colon != std::string_view::npos) {
      path.remove_prefix(colon + 1);
    }
  }
  return std::string(path);
}

SilentEvents silent_events(config::Stage stage) {
  SilentEvents silent;
  silent.connect = stage != config::Stage::connect;
  silent.helo = stage != config::Stage::helo;
  silent.mail = stage == config::Stage::rcpt;
  silent.rcpt = stage != config::Stage::rcpt;
  return silent;
}

std::string default_authserv_id() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name.data();
}

Session::Session(Runtime runtime, Logger logger)
    : runtime_(std::move(runtime)), logger_(std::move(logger)), meter_(runtime_.metrics) {}

namespace {

/// Waits for a future that may hold nothing (a check that was not started).
void wait_quietly(const std::shared_future<checks::Spf>& future) {
  if (future.valid()) future.wait();
}

}  // namespace

Session::~Session() {
  wait_quietly(message_.spf_mailfrom);
  wait_quietly(message_.spf_helo);
  wait_valid(message_.dnsbl_mailfrom);
  wait_valid(dnsbl_client_);
  wait_valid(dnsbl_helo_);
  // Note: the lookups refer to the resolver; wait (bounded by the query deadlines) so a
  // reload can never free a resolver that still has our lookups in flight.
  if (iprev_.valid()) {
    iprev_.wait();
  }
  if (helo_answers_.valid()) {
    helo_answers_.wait();
  }
  wait_valid(dnsbl_ptr_);  // started when iprev ended
}

void Session::log(int priority, const std::string& line) const {
  if (logger_) {
    logger_(priority, line);
  }
}

Response Session::connect(std::string_view hostname, std::optional<dns::IpAddress> client,
                          std::string_view mta_name, std::vector<dns::IpAddress> local_addresses) {
  const auto& config = *runtime_.config;
  // Postfix passes "[192.0.2.7]" when the client has no name; log it as Postfix does.
  hostname_ = hostname.empty() || hostname.front() == '[' ? std::string("unknown")
                                                          : header::sanitize(hostname, 255);
  mta_name_ = dns::to_lower(header::sanitize(mta_name, 255));
  local_addresses_ = std::move(local_addresses);
  authserv_id_ = !config.authserv_id.empty() ? config.authserv_id
                 : !mta_name.empty()         ? header::sanitize(mta_name, 255)
                                             : default_authserv_id();
  if (client) {
    client_ = client->unmapped();
    start_client_lists();
    auto promise = std::make_shared<std::promise<checks::Iprev>>();
    iprev_ = promise->get_future().share();
    std::shared_ptr<std::promise<DnsblBatch>> ptr_lists;
    if (!config.dnsbl.rhsbl.empty()) {
      ptr_lists = std::make_shared<std::promise<DnsblBatch>>();
      dnsbl_ptr_ = ptr_lists->get_future().share();
    }
    // The lookups overlap the SMTP dialogue; the verdict waits for them only when needed.
    // Note: the verified PTR names go to the domain lists from the resolver's thread; the
    // session waits for them before it lets the resolver go (~Session).
    auto options = config::iprev_options(config);
    options.authority = runtime_.authority.get();
    checks::start_iprev(
        *runtime_.resolver, *client_, std::move(options),
        [promise, meter = &meter_, ptr_lists, resolver = runtime_.resolver.get(),
         config = runtime_.config, registry = runtime_.dnsbl_registry](checks::Iprev result) {
          meter->iprev(result);
          if (ptr_lists) {
            std::vector<checks::DnsblTarget> targets;
            for (const auto& name : result.verified) {
              auto more =
                  checks::rhsbl_targets(config->dnsbl.rhsbl, name, checks::DnsblSource::ptr);
              targets.insert(targets.end(), more.begin(), more.end());
            }
            run_dnsbl_batch(*resolver, *config, registry.get(), std::move(targets), ptr_lists);
          }
          promise->set_value(std::move(result));
        });
  }
  if (config.decision_stage == config::Stage::connect) {
    return apply(verdict("", config::Stage::connect));
  }
  return {};
}

Response Session::helo(std::string_view name) {
  if (hostile(name, 255)) {
    log(LOG_WARNING, fmt::format("{} hostile HELO ({} bytes): {}", client_tag(""), name.size(),
                                 log_quoted(header::sanitize(name, 100))));
  }
  // Note: kept whole and raw for the syntax check (a cut could turn an invalid name into a
  // valid one); it is sanitized and bounded wherever it is shown.
  helo_ = std::string(name);
  helo_seen_ = true;
  helo_result_.reset();
  connection_verdict_.reset();
  wait_valid(dnsbl_helo_);  // an earlier HELO's list lookups
  dnsbl_helo_ = {};
  dnsbl_result_.reset();
  if (client_ && listable_domain(helo_)) {
    dnsbl_helo_ = start_rhsbl(helo_, checks::DnsblSource::helo);
  }
  if (helo_answers_.valid()) {
    helo_answers_.wait();  // an earlier HELO's lookups (EHLO again after STARTTLS)
  }
  auto promise = std::make_shared<std::promise<checks::HeloAnswers>>();
  helo_answers_ = promise->get_future().share();
  checks::start_helo_lookups(*runtime_.resolver, helo_, [promise](checks::HeloAnswers answers) {
    promise->set_value(std::move(answers));
  });
  if (runtime_.config->decision_stage == config::Stage::helo) {
    return apply(verdict("", config::Stage::helo));
  }
  return {};
}

Response Session::mail(std::string_view sender, std::string_view auth_authen,
                       std::string_view queue_id) {
  wait_valid(message_.dnsbl_mailfrom);
  message_ = Message{};
  dnsbl_result_.reset();
  if (hostile(sender, 512)) {
    log(LOG_WARNING, fmt::format("{} hostile MAIL FROM ({} bytes): {}", client_tag(queue_id),
                                 sender.size(), log_quoted(header::sanitize(sender, 100))));
  }
  message_.authenticated = !auth_authen.empty();
  start_spf(sender);
  const auto address = path_address(sender);
  const auto at = address.rfind('@');
  if (client_ && at != std::string::npos && listable_domain(address.substr(at + 1))) {
    message_.dnsbl_mailfrom = start_rhsbl(address.substr(at + 1), checks::DnsblSource::mailfrom);
  }
  // SPF is known only from MAIL on: with an earlier decision stage it is judged here.
  if (runtime_.config->decision_stage != config::Stage::rcpt) {
    return apply(verdict(queue_id, config::Stage::mail));
  }
  return {};
}

Response Session::rcpt(std::string_view recipient, std::string_view queue_id) {
  if (runtime_.config->decision_stage != config::Stage::rcpt) {
    return {};
  }
  const auto& decided = verdict(queue_id, config::Stage::rcpt);
  auto response = apply(decided);
  if (response.kind != Response::Kind::proceed &&
      policy::recipient_exempt(runtime_.config->policy.exemptions, recipient)) {
    log(LOG_INFO, fmt::format("{} recipient {} exempt from action={}", client_tag(queue_id),
                              header::sanitize(recipient, 256), policy::to_string(decided.action)));
    return {};
  }
  return response;
}

void Session::header(std::string_view name, std::string_view value) {
  if (!dns::iequals(name, "Authentication-Results")) {
    return;
  }
  ++message_.auth_results_seen;
  // RFC 8601 §5: a field claiming to come from us but arriving from outside is forged.
  if (header::auth_results_id(value) == dns::to_lower(authserv_id_)) {
    message_.forged.push_back(message_.auth_results_seen);
  }
}

HeaderEdits Session::end_of_message(std::string_view queue_id) {
  HeaderEdits edits;
  std::vector<header::AuthResult> results;
  if (const auto& result = iprev()) {
    results.push_back(header::iprev_auth_result(*result));
    if (helo_seen_) {
      results.push_back(header::helo_auth_result(helo_result()));
    }
    for (const auto& spf : spf_results()) {
      results.push_back(header::spf_auth_result(spf));
    }
    if (const auto& lists = dnsbl()) {
      for (auto& list : header::dnsbl_auth_results(*lists)) results.push_back(std::move(list));
    }
  }
  edits.insert.emplace_back("Authentication-Results",
                            header::assemble_auth_results(authserv_id_, results));
  for (const auto& spf : spf_results()) {
    if (spf.identity == checks::SpfIdentity::mailfrom && message_.spf_request) {
      edits.insert.emplace_back("Received-SPF", header::received_spf(spf, *message_.spf_request));
    }
  }
  edits.delete_auth_results.assign(message_.forged.rbegin(), message_.forged.rend());
  if (!edits.delete_auth_results.empty()) {
    log(LOG_NOTICE,
        fmt::format("{} removed {} forged Authentication-Results field(s) claiming authserv-id {}",
                    client_tag(queue_id), edits.delete_auth_results.size(), authserv_id_));
  }
  wait_valid(message_.dnsbl_mailfrom);
  message_ = Message{};
  return edits;
}

void Session::abort() {
  wait_quietly(message_.spf_mailfrom);
  wait_quietly(message_.spf_helo);
  wait_valid(message_.dnsbl_mailfrom);
  message_ = Message{};
  dnsbl_result_.reset();
}

bool Session::trusted_client() const {
  const auto& networks = runtime_.config->policy.exemptions.trusted_networks;
  return client_ && std::any_of(networks.begin(), networks.end(),
                                [this](const dns::Network& n) { return n.contains(*client_); });
}

void Session::start_spf(std::string_view sender) {
  // Note: SPF says nothing useful about trusted or authenticated senders; skip the lookups.
  if (!client_ || trusted_client() || message_.authenticated) {
    return;
  }
  // Note: the whole address, never a cut one: a cut decides which domain is judged (a
  // 1,000-byte local part once turned an SPF fail into none). The MTA bounds its length.
  checks::SpfRequest request;
  request.client = *client_;
  request.helo = helo_;
  request.mail_from = path_address(sender);
  request.identity = checks::SpfIdentity::mailfrom;
  request.receiver = authserv_id_;
  message_.spf_request = request;
  // libspf2 is synchronous: each identity runs on a worker, overlapping the dialogue.
  const auto resolver = runtime_.resolver;
  // Note: the futures (and the iprev promise) are waited for before the meter goes away.
  const auto* meter = &meter_;
  message_.spf_mailfrom = run_spf(runtime_.spf_pool.get(), [resolver, request, meter] {
    return counted(*meter, checks::check_spf(*resolver, request));
  });
  // RFC 7208 §2.3: the HELO identity only when it is a domain that passed the syntax check.
  if (checks::parse_helo(helo_).kind == checks::HeloName::Kind::domain &&
      checks::spf_helo_checkable(helo_)) {
    auto helo_request = request;
    helo_request.identity = checks::SpfIdentity::helo;
    message_.spf_helo = run_spf(runtime_.spf_pool.get(), [resolver, helo_request, meter] {
      return counted(*meter, checks::check_spf(*resolver, helo_request));
    });
  }
}

void Session::start_client_lists() {
  const auto& config = *runtime_.config;
  if (config.dnsbl.sites.empty()) return;
  auto promise = std::make_shared<std::promise<DnsblBatch>>();
  dnsbl_client_ = promise->get_future().share();
  run_dnsbl_batch(*runtime_.resolver, config, runtime_.dnsbl_registry.get(),
                  checks::dnsbl_targets(config.dnsbl.sites, *client_), promise);
}

std::shared_future<DnsblBatch> Session::start_rhsbl(std::string_view domain,
                                                    checks::DnsblSource source) {
  const auto& config = *runtime_.config;
  auto targets = checks::rhsbl_targets(config.dnsbl.rhsbl, domain, source);
  if (targets.empty()) return {};
  auto promise = std::make_shared<std::promise<DnsblBatch>>();
  auto future = promise->get_future().share();
  run_dnsbl_batch(*runtime_.resolver, config, runtime_.dnsbl_registry.get(), std::move(targets),
                  promise);
  return future;
}

const std::optional<checks::Dnsbl>& Session::dnsbl() {
  const auto& config = *runtime_.config;
  if (!client_ || !config.dnsbl.any() || dnsbl_result_) {
    return dnsbl_result_;
  }
  // The PTR names' lookups start when iprev ends: wait for it first, so the bound below covers
  // only the list queries (A, then TXT), each with its deadline; it guards against bugs.
  const auto& ptr = iprev();
  const auto limit = config.resolver.query_timeout * 3 + std::chrono::seconds(2);
  std::vector<checks::DnsblLookup> lookups;
  std::vector<checks::DnsblSkipped> skipped;
  for (const auto* batch : {&dnsbl_client_, &dnsbl_ptr_, &dnsbl_helo_, &message_.dnsbl_mailfrom}) {
    if (!batch->valid()) continue;
    if (batch->wait_for(limit) != std::future_status::ready) {
      log(LOG_ERR, fmt::format("{} DNS list lookups did not finish within {} ms", client_tag(""),
                               limit.count()));
      continue;
    }
    for (const auto& lookup : batch->get().lookups) {
      // The same name from two sources (HELO and PTR) is one lookup: counted once.
      if (std::none_of(lookups.begin(), lookups.end(),
                       [&](const checks::DnsblLookup& l) { return l.query == lookup.query; })) {
        lookups.push_back(lookup);
      }
    }
    for (const auto& skip : batch->get().skipped) {
      if (std::none_of(skipped.begin(), skipped.end(),
                       [&](const checks::DnsblSkipped& s) { return s.query == skip.query; })) {
        skipped.push_back(skip);
      }
    }
  }
  const bool generic = ptr && ptr->result == checks::IprevResult::pass && ptr->generic.generic;
  dnsbl_result_ = checks::decide_dnsbl(config.dnsbl.sites, config.dnsbl.rhsbl, lookups, skipped,
                                       config.dnsbl.scoring, generic);
  report_dnsbl_errors(*dnsbl_result_);
  return dnsbl_result_;
}

void Session::report_dnsbl_errors(const checks::Dnsbl& lists) const {
  const auto& registry = runtime_.dnsbl_registry;
  for (const auto& error : lists.errors) {
    if (error.answer.empty() || !error.outcome.empty()) continue;  // failures and skips
    if (!registry) {
      log(LOG_WARNING, fmt::format("{} DNS list {} answers {}: {}", client_tag(""), error.zone,
                                   error.answer, error.reason));
      continue;
    }
    const auto pause = std::chrono::seconds(runtime_.config->dnsbl.error_pause);
    if (auto note = registry->report_error(error.real_zone, error.zone, error.answer, error.reason,
                                           pause)) {
      log(note->priority, note->line);
    }
  }
}

const std::vector<checks::Spf>& Session::spf_results() {
  if (message_.spf.empty()) {
    for (const auto* future : {&message_.spf_mailfrom, &message_.spf_helo}) {
      if (future->valid()) message_.spf.push_back(future->get());
    }
  }
  return message_.spf;
}

const checks::Helo& Session::helo_result() {
  if (!helo_seen_ || !client_) {
    return no_helo_;
  }
  if (!helo_result_) {
    const auto& config = *runtime_.config;
    checks::HeloAnswers answers;
    const auto limit = config.resolver.query_timeout * 2 + std::chrono::seconds(2);
    if (helo_answers_.wait_for(limit) == std::future_status::ready) {
      answers = helo_answers_.get();
    }
    checks::HeloIdentity identity;
    identity.own_names = config.helo_own_names;
    if (!mta_name_.empty()) identity.own_names.push_back(mta_name_);
    identity.own_addresses = local_addresses_;
    identity.client_trusted = trusted_client();
    const auto& ip = iprev();
    helo_result_ = checks::decide_helo(helo_, *client_, identity, answers,
                                       ip ? ip->verified : std::vector<std::string>{});
    meter_.helo(*helo_result_);
  }
  return *helo_result_;
}

const std::optional<checks::Iprev>& Session::iprev() {
  if (!client_) {
    return iprev_result_;  // empty: no client address, no iprev
  }
  if (!iprev_result_) {
    // Every query has a deadline, so the run always ends; the bound only guards against bugs.
    const auto limit = runtime_.config->resolver.query_timeout * 4 + std::chrono::seconds(2);
    if (iprev_.wait_for(limit) == std::future_status::ready) {
      iprev_result_ = iprev_.get();
      for (const auto& line : checks::stale_negative_warnings(
               *iprev_result_, cache_source(runtime_.config->resolver))) {
        log(LOG_WARNING, fmt::format("{} {}", client_tag(""), line));
      }
    } else {
      log(LOG_ERR, fmt::format("{} iprev lookups did not finish within {} ms", client_tag(""),
                               limit.count()));
      checks::Iprev late;
      late.client = *client_;
      late.result = checks::IprevResult::temperror;
      late.reason = checks::IprevReason::ptr_timeout;
      iprev_result_ = late;
    }
  }
  return iprev_result_;
}

std::string cache_source(const dns::ResolverConfig& resolver) {
  if (!resolver.forwarders.empty()) {
    return fmt::format("forwarder {}", fmt::join(resolver.forwarders, ", "));
  }
  if (!resolver.unbound_config.empty()) {
    return fmt::format("the resolver (unbound-config {}: its cache or a forward-zone)",
                       resolver.unbound_config);
  }
  return "the resolver's cache";
}

std::string Session::client_tag(std::string_view queue_id) const {
  return fmt::format("{}: client={}[{}]", queue_or_noqueue(queue_id), hostname_,
                     client_ ? client_->to_string() : "unknown");
}

const policy::Verdict& Session::verdict(std::string_view queue_id,
                                        std::optional<config::Stage> stage) {
  const bool in_transaction = stage ? *stage == config::Stage::mail || *stage == config::Stage::rcpt
                                    : message_.spf_request.has_value();
  auto& slot = in_transaction ? message_.verdict : connection_verdict_;
  if (slot) {
    return *slot;
  }
  const auto& config = *runtime_.config;
  std::vector<policy::Finding> findings;
  std::vector<std::string> verified;
  const auto& result = iprev();
  if (result) {
    findings.push_back(policy::judge_iprev(config.policy.iprev, *result));
    verified = result->verified;
    if (helo_seen_) {
      findings.push_back(policy::judge_helo(config.policy.helo, helo_result(), *client_));
    }
    if (in_transaction) {
      for (const auto& spf : spf_results()) {
        findings.push_back(policy::judge_spf(config.policy.spf, spf, *client_,
                                             spf.identity == checks::SpfIdentity::mailfrom));
      }
    }
  }
  const auto& lists = dnsbl();
  if (lists) {
    // First: a listed client's reply names the list, whatever else also rejects it.
    findings.insert(findings.begin(), policy::judge_dnsbl(config.policy.dnsbl, *lists, *client_));
  }
  auto exemption = client_ ? policy::client_exemption(config.policy.exemptions, *client_,
                                                      message_.authenticated, verified)
                           : policy::Exemption::none;
  // An allow-listed client skips the other checks' rejects and tempfails (still recorded).
  if (exemption == policy::Exemption::none && lists &&
      lists->result == checks::DnsblResult::allowlisted) {
    exemption = policy::Exemption::dnswl;
  }
  slot = policy::decide(std::move(findings), exemption, config.policy.dry_run);
  meter_.verdict(*slot);

  std::string line = client_tag(queue_id);
  for (const auto& finding : slot->findings) {
    line += fmt::format(" {}={}", finding.check, finding.label);
  }
  if (result && !result->verified.empty()) {
    line += fmt::format(" ptr={}", fmt::join(result->verified, ","));
  }
  if (result && result->generic.generic) {
    line += fmt::format(" generic=\"{}\"", dns::printable_ascii(result->generic.reason, 400));
  }
  line += fmt::format(" stage={} action={}", stage ? config::to_string(*stage) : "check",
                      policy::to_string(slot->action));
  if (slot->exemption != policy::Exemption::none) {
    line += fmt::format(" exempt={} would={}", policy::to_string(slot->exemption),
                        policy::to_string(slot->wanted));
  } else if (slot->dry_run) {
    line += fmt::format(" dry-run would={}", policy::to_string(slot->wanted));
  }
  const auto& reply = slot->reply;
  if (reply) {
    line += fmt::format(" reply={}", log_quoted(reply->to_string()));
  }
  log(LOG_INFO, line);
  return *slot;
}

Response Session::apply(const policy::Verdict& verdict) {
  switch (verdict.action) {
    case policy::Action::reject: return {Response::Kind::reject, verdict.reply};
    case policy::Action::tempfail: return {Response::Kind::tempfail, verdict.reply};
    case policy::Action::accept:
    case policy::Action::tag: return {};
  }
  return {};
}

}  // namespace rdns::session
