#include "rdns/session/session.h"

#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "rdns/header/auth_results.h"

namespace rdns::session {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

/// True for input no honest client sends: control characters, NUL, or absurd length.
bool hostile(std::string_view text, std::size_t max_length) {
  return text.size() > max_length || std::any_of(text.begin(), text.end(), [](unsigned char c) {
           return c < 0x20 || c == 0x7f;
         });
}

std::string queue_or_noqueue(std::string_view queue_id) {
  return queue_id.empty() ? std::string("NOQUEUE") : header::sanitize(queue_id, 32);
}

}  // namespace

std::string default_authserv_id() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name.data();
}

std::string auth_results_id(std::string_view body) {
  std::size_t pos = 0;
  // Skip folding white space and comments (RFC 5322 CFWS) before the authserv-id.
  while (pos < body.size()) {
    if (std::isspace(static_cast<unsigned char>(body[pos])) != 0) {
      ++pos;
    } else if (body[pos] == '(') {
      int depth = 0;
      for (; pos < body.size(); ++pos) {
        if (body[pos] == '\\') {
          ++pos;
        } else if (body[pos] == '(') {
          ++depth;
        } else if (body[pos] == ')' && --depth == 0) {
          ++pos;
          break;
        }
      }
    } else {
      break;
    }
  }
  const auto end = body.find_first_of(" \t\r\n;(", pos);
  return lower(body.substr(pos, end == std::string_view::npos ? end : end - pos));
}

Session::Session(Runtime runtime, Logger logger)
    : runtime_(std::move(runtime)), logger_(std::move(logger)) {}

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
  mta_name_ = lower(header::sanitize(mta_name, 255));
  local_addresses_ = std::move(local_addresses);
  authserv_id_ = !config.authserv_id.empty() ? config.authserv_id
                 : !mta_name.empty()         ? header::sanitize(mta_name, 255)
                                             : default_authserv_id();
  if (client) {
    client_ = client->unmapped();
    auto promise = std::make_shared<std::promise<checks::Iprev>>();
    iprev_ = promise->get_future().share();
    // The lookups overlap the SMTP dialogue; the verdict waits for them only when needed.
    checks::start_iprev(*runtime_.resolver, *client_, config::iprev_options(config),
                        [promise](checks::Iprev result) { promise->set_value(std::move(result)); });
  }
  if (config.decision_stage == config::Stage::connect) {
    return apply(verdict("", "connect"));
  }
  return {};
}

Response Session::helo(std::string_view name) {
  if (hostile(name, 255)) {
    log(LOG_WARNING, fmt::format("NOQUEUE: client={}[{}] hostile HELO ({} bytes): \"{}\"",
                                 hostname_, client_ ? client_->to_string() : "unknown", name.size(),
                                 header::sanitize(name, 100)));
  }
  // Keep it raw (bounded) for the syntax check; it is sanitized wherever it is shown.
  helo_ = std::string(name.substr(0, 1024));
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
    return apply(verdict("", "helo"));
  }
  return {};
}

Response Session::mail(std::string_view sender, std::string_view auth_authen,
                       std::string_view queue_id) {
  message_ = Message{};
  if (hostile(sender, 512)) {
    log(LOG_WARNING, fmt::format("{}: client={}[{}] hostile MAIL FROM ({} bytes): \"{}\"",
                                 queue_or_noqueue(queue_id), hostname_,
                                 client_ ? client_->to_string() : "unknown", sender.size(),
                                 header::sanitize(sender, 100)));
  }
  message_.sender = header::sanitize(sender, 512);
  message_.authenticated = !auth_authen.empty();
  start_spf(sender);
  // SPF is known only from MAIL on: with an earlier decision stage it is judged here.
  if (runtime_.config->decision_stage != config::Stage::rcpt) {
    return apply(verdict(queue_id, "mail"));
  }
  return {};
}

Response Session::rcpt(std::string_view recipient, std::string_view queue_id) {
  if (runtime_.config->decision_stage != config::Stage::rcpt) {
    return {};
  }
  const auto& decided = verdict(queue_id, "rcpt");
  const auto response = apply(decided);
  if (response.kind != Response::Kind::proceed &&
      policy::recipient_exempt(runtime_.config->policy.exemptions, recipient)) {
    log(LOG_INFO, fmt::format("{}: client={}[{}] recipient {} exempt from action={}",
                              queue_or_noqueue(queue_id), hostname_,
                              client_ ? client_->to_string() : "unknown",
                              header::sanitize(recipient, 256), policy::to_string(decided.action)));
    return {};
  }
  return response;
}

void Session::header(std::string_view name, std::string_view value) {
  if (!iequals(name, "Authentication-Results")) {
    return;
  }
  ++message_.auth_results_seen;
  // RFC 8601 §5: a field claiming to come from us but arriving from outside is forged.
  if (auth_results_id(value) == lower(authserv_id_)) {
    message_.forged.push_back(message_.auth_results_seen);
  }
}

HeaderEdits Session::end_of_message(std::string_view queue_id) {
  HeaderEdits edits;
  std::vector<header::AuthResult> results;
  if (auto result = iprev()) {
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
        fmt::format("{}: client={}[{}] removed {} forged Authentication-Results field(s) "
                    "claiming authserv-id {}",
                    queue_or_noqueue(queue_id), hostname_,
                    client_ ? client_->to_string() : "unknown", edits.delete_auth_results.size(),
                    authserv_id_));
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
  std::string address(sender.substr(0, 1024));
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  checks::SpfRequest request;
  request.client = *client_;
  request.helo = helo_;
  request.mail_from = address;
  request.identity = checks::SpfIdentity::mailfrom;
  request.receiver = authserv_id_;
  message_.spf_request = request;
  // libspf2 is synchronous: each identity runs on its own thread, overlapping the dialogue.
  const auto resolver = runtime_.resolver;
  message_.spf_mailfrom = std::async(std::launch::async, [resolver, request] {
                            return checks::check_spf(*resolver, request);
                          }).share();
  if (checks::spf_helo_checkable(helo_)) {
    auto helo_request = request;
    helo_request.identity = checks::SpfIdentity::helo;
    message_.spf_helo = std::async(std::launch::async, [resolver, helo_request] {
                          return checks::check_spf(*resolver, helo_request);
                        }).share();
  }
}

std::vector<checks::Spf> Session::spf_results() {
  if (message_.spf.empty()) {
    for (const auto* future : {&message_.spf_mailfrom, &message_.spf_helo}) {
      if (future->valid()) message_.spf.push_back(future->get());
    }
  }
  return message_.spf;
}

checks::Helo Session::helo_result() {
  if (!helo_seen_ || !client_) {
    return {};
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
    const auto ip = iprev();
    helo_result_ = checks::decide_helo(helo_, *client_, identity, answers,
                                       ip ? ip->verified : std::vector<std::string>{});
  }
  return *helo_result_;
}

std::optional<checks::Iprev> Session::iprev() {
  if (!client_) {
    return std::nullopt;
  }
  if (!iprev_result_) {
    // Every query has a deadline, so the run always ends; the bound only guards against bugs.
    const auto limit = runtime_.config->resolver.query_timeout * 4 + std::chrono::seconds(2);
    if (iprev_.wait_for(limit) == std::future_status::ready) {
      iprev_result_ = iprev_.get();
    } else {
      log(LOG_ERR, fmt::format("client=[{}] iprev lookups did not finish within {} ms",
                               client_->to_string(), limit.count()));
      checks::Iprev late;
      late.client = *client_;
      late.result = checks::IprevResult::temperror;
      late.reason = checks::IprevReason::ptr_timeout;
      iprev_result_ = late;
    }
  }
  return iprev_result_;
}

const policy::Verdict& Session::verdict(std::string_view queue_id, std::string_view stage) {
  const bool in_transaction =
      stage == "mail" || stage == "rcpt" || (stage == "check" && message_.spf_request.has_value());
  auto& slot = in_transaction ? message_.verdict : connection_verdict_;
  if (slot) {
    return *slot;
  }
  const auto& config = *runtime_.config;
  std::vector<policy::Finding> findings;
  std::vector<std::string> verified;
  const auto result = iprev();
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

  std::string line = fmt::format("{}: client={}[{}]", queue_or_noqueue(queue_id), hostname_,
                                 client_ ? client_->to_string() : "unknown");
  for (const auto& finding : slot->findings) {
    line += fmt::format(" {}={}", finding.check, finding.label);
  }
  if (result && !result->verified.empty()) {
    line += fmt::format(" ptr={}", fmt::join(result->verified, ","));
  }
  line += fmt::format(" stage={} action={}", stage, policy::to_string(slot->action));
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

Response Session::apply(const policy::Verdict& verdict) const {
  switch (verdict.action) {
    case policy::Action::reject: return {Response::Kind::reject, verdict.reply};
    case policy::Action::tempfail: return {Response::Kind::tempfail, verdict.reply};
    case policy::Action::accept:
    case policy::Action::tag: return {};
  }
  return {};
}

}  // namespace rdns::session
