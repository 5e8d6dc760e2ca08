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

std::string queue_or_noqueue(std::string_view queue_id) {
  return queue_id.empty() ? std::string("NOQUEUE") : header::sanitize(queue_id, 32);
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
  // Note: the lookups refer to the resolver; wait (bounded by the query deadlines) so a
  // reload can never free a resolver that still has our lookups in flight.
  if (iprev_.valid()) {
    iprev_.wait();
  }
  if (helo_answers_.valid()) {
    helo_answers_.wait();
  }
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
    auto promise = std::make_shared<std::promise<checks::Iprev>>();
    iprev_ = promise->get_future().share();
    // The lookups overlap the SMTP dialogue; the verdict waits for them only when needed.
    auto options = config::iprev_options(config);
    options.authority = runtime_.authority.get();
    checks::start_iprev(*runtime_.resolver, *client_, options,
                        [promise, meter = &meter_](checks::Iprev result) {
                          meter->iprev(result);
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
    log(LOG_WARNING, fmt::format("{} hostile HELO ({} bytes): \"{}\"", client_tag(""), name.size(),
                                 header::sanitize(name, 100)));
  }
  // Note: kept whole and raw for the syntax check (a cut could turn an invalid name into a
  // valid one); it is sanitized and bounded wherever it is shown.
  helo_ = std::string(name);
  helo_seen_ = true;
  helo_result_.reset();
  connection_verdict_.reset();
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
  message_ = Message{};
  if (hostile(sender, 512)) {
    log(LOG_WARNING, fmt::format("{} hostile MAIL FROM ({} bytes): \"{}\"", client_tag(queue_id),
                                 sender.size(), header::sanitize(sender, 100)));
  }
  message_.authenticated = !auth_authen.empty();
  start_spf(sender);
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
  message_ = Message{};
  return edits;
}

void Session::abort() {
  wait_quietly(message_.spf_mailfrom);
  wait_quietly(message_.spf_helo);
  message_ = Message{};
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
  // libspf2 is synchronous: each identity runs on its own thread, overlapping the dialogue.
  const auto resolver = runtime_.resolver;
  // Note: the futures (and the iprev promise) are waited for before the meter goes away.
  const auto* meter = &meter_;
  message_.spf_mailfrom = std::async(std::launch::async, [resolver, request, meter] {
                            return counted(*meter, checks::check_spf(*resolver, request));
                          }).share();
  // RFC 7208 §2.3: the HELO identity only when it is a domain that passed the syntax check.
  if (checks::parse_helo(helo_).kind == checks::HeloName::Kind::domain &&
      checks::spf_helo_checkable(helo_)) {
    auto helo_request = request;
    helo_request.identity = checks::SpfIdentity::helo;
    message_.spf_helo = std::async(std::launch::async, [resolver, helo_request, meter] {
                          return counted(*meter, checks::check_spf(*resolver, helo_request));
                        }).share();
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
  const auto exemption = client_ ? policy::client_exemption(config.policy.exemptions, *client_,
                                                            message_.authenticated, verified)
                                 : policy::Exemption::none;
  slot = policy::decide(std::move(findings), exemption, config.policy.dry_run);
  meter_.verdict(*slot);

  std::string line = client_tag(queue_id);
  for (const auto& finding : slot->findings) {
    line += fmt::format(" {}={}", finding.check, finding.label);
  }
  if (result && !result->verified.empty()) {
    line += fmt::format(" ptr={}", fmt::join(result->verified, ","));
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
    line += fmt::format(" reply=\"{}\"", reply->to_string());
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
