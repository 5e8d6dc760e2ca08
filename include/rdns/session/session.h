#pragma once
/// Per-connection state: starts the lookups at connect, applies the verdict at the configured
/// stage, builds the headers at end of message. No libmilter here: the adapter converts.

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/checks/dnsbl.h"
#include "rdns/checks/dnsbl_registry.h"
#include "rdns/checks/helo.h"
#include "rdns/checks/iprev.h"
#include "rdns/checks/spf.h"
#include "rdns/config/config.h"
#include "rdns/dns/resolver.h"
#include "rdns/metrics/milter_metrics.h"
#include "rdns/policy/policy.h"
#include "rdns/session/task_pool.h"

namespace rdns::session {

/// syslog-style priority (LOG_ERR, LOG_WARNING, LOG_INFO, ...) and one line of text.
using Logger = std::function<void(int priority, const std::string& line)>;

/// What the adapter tells the MTA after one SMTP event.
struct Response {
  enum class Kind : std::uint8_t { proceed, reject, tempfail };
  Kind kind = Kind::proceed;
  std::optional<policy::Reply> reply;
  bool operator==(const Response&) const = default;
};

/// Header edits at end of message.
struct HeaderEdits {
  /// Fields to insert at the top, in order: {"Authentication-Results", " mx; iprev=pass ..."}.
  std::vector<std::pair<std::string, std::string>> insert;
  /// 1-based indexes of incoming Authentication-Results fields to delete, highest first.
  std::vector<int> delete_auth_results;
  bool operator==(const HeaderEdits&) const = default;
};

/// The configuration and resolver a connection runs on; swapped as a whole on reload.
struct Runtime {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<dns::Resolver> resolver;
  std::shared_ptr<metrics::MilterMetrics> metrics;  ///< null: nothing is counted
  /// Asks authoritative servers before a negative answer rejects (confirm-negative); null:
  /// such negatives stay unconfirmed (tempfail).
  std::shared_ptr<dns::AuthorityProbe> authority{};
  /// Paused and broken DNS lists, shared by every connection and kept across reloads; null:
  /// no pauses (every list is asked).
  std::shared_ptr<checks::DnsblRegistry> dnsbl_registry{};
  /// Runs the SPF evaluations, shared by every connection and kept across reloads; null: a
  /// thread per evaluation (std::async).
  std::shared_ptr<TaskPool> spf_pool{};
};

/// The most SPF evaluations running at once in the daemon's pool (each may wait on DNS).
inline constexpr std::size_t spf_pool_threads = 64;

/// The SMTP events whose answer never depends on the checks at a decision stage: the milter
/// asks the MTA not to wait for a reply to them (SMFIP_NR_*). A header never changes the answer.
struct SilentEvents {
  bool connect = false;
  bool helo = false;
  bool mail = false;
  bool rcpt = false;
  bool header = true;
  bool operator==(const SilentEvents&) const = default;
};

/// Which events can only answer "continue" when the verdict is applied at `stage` (see
/// Session::connect, helo, mail, rcpt: each replies only at its own stage; mail also replies
/// at connect and helo, where SPF is judged at MAIL).
[[nodiscard]] SilentEvents silent_events(config::Stage stage);

/// Where a cached answer came from, for the stale-negative warning: "forwarder 192.0.2.53",
/// "the resolver's cache".
[[nodiscard]] std::string cache_source(const dns::ResolverConfig& resolver);

/// One SMTP connection. Methods are called from one thread at a time (the MTA's connection
/// thread); DNS answers arrive on the resolver's thread.
class Session {
 public:
  Session(Runtime runtime, Logger logger);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) = delete;
  Session& operator=(Session&&) = delete;
  ~Session();

  /// Connection opened. `client` is empty for non-IP connections (no checks then).
  /// `mta_name` is the MTA's j macro, used as authserv-id when none is configured.
  /// `local_addresses` are the MTA's own ({if_addr}, {daemon_addr}), for the forged-HELO check.
  Response connect(std::string_view hostname, std::optional<dns::IpAddress> client,
                   std::string_view mta_name, std::vector<dns::IpAddress> local_addresses = {});
  Response helo(std::string_view name);
  /// MAIL FROM; starts a new transaction. `auth_authen` is the SASL login name, if any.
  Response mail(std::string_view sender, std::string_view auth_authen, std::string_view queue_id);
  Response rcpt(std::string_view recipient, std::string_view queue_id);
  void header(std::string_view name, std::string_view value);
  HeaderEdits end_of_message(std::string_view queue_id);
  /// The transaction was aborted (RSET, or the MTA gave up): forget per-message state.
  void abort();

  /// The verdict for the connection as it stands (what --check reports), logged once.
  [[nodiscard]] const policy::Verdict& current_verdict() { return verdict("", std::nullopt); }

  /// The HELO result (none before HELO), waiting for its lookups if needed (bounded).
  [[nodiscard]] const checks::Helo& helo_result();

  /// The SPF results of the current transaction (MAIL FROM identity first, then HELO), waiting
  /// for them if needed; empty before MAIL, for trusted or authenticated clients.
  [[nodiscard]] const std::vector<checks::Spf>& spf_results();

  /// The iprev result, waiting for it if needed (bounded); nullopt without a client address.
  [[nodiscard]] const std::optional<checks::Iprev>& iprev();
  [[nodiscard]] const std::string& authserv_id() const { return authserv_id_; }

  /// The DNS lists' verdict on the client, its HELO name, MAIL FROM domain and verified PTR
  /// names so far, waiting for the lookups if needed (bounded); nullopt without lists or
  /// without a client address.
  [[nodiscard]] const std::optional<checks::Dnsbl>& dnsbl();

  /// The lookups of one group of DNS list queries and the lists skipped.
  struct DnsblBatch {
    std::vector<checks::DnsblLookup> lookups;
    std::vector<checks::DnsblSkipped> skipped;
  };

 private:
  struct Message {
    bool authenticated = false;
    int auth_results_seen = 0;
    std::vector<int> forged;  // indexes of incoming Authentication-Results with our id
    std::optional<policy::Verdict> verdict;
    std::optional<checks::SpfRequest> spf_request;  // MAIL FROM identity
    std::shared_future<checks::Spf> spf_mailfrom;
    std::shared_future<checks::Spf> spf_helo;
    std::vector<checks::Spf> spf;  // once both are in
    std::shared_future<DnsblBatch> dnsbl_mailfrom;
  };

  void start_spf(std::string_view sender);
  [[nodiscard]] std::shared_future<DnsblBatch> start_rhsbl(std::string_view domain,
                                                           checks::DnsblSource source);
  void start_client_lists();
  /// Pauses the zones that gave error answers (logging each at most once per interval).
  void report_dnsbl_errors(const checks::Dnsbl& lists) const;
  [[nodiscard]] bool trusted_client() const;

  /// Decides (once per transaction, or once per connection before MAIL) and logs. `stage` is
  /// where the MTA dialogue stands; nullopt for --check (the connection as it stands).
  const policy::Verdict& verdict(std::string_view queue_id, std::optional<config::Stage> stage);
  /// "NOQUEUE: client=host[192.0.2.7]", the start of every log line about this client.
  [[nodiscard]] std::string client_tag(std::string_view queue_id) const;
  [[nodiscard]] static Response apply(const policy::Verdict& verdict);
  void log(int priority, const std::string& line) const;

  Runtime runtime_;
  Logger logger_;
  metrics::SessionMeter meter_;  // counts this connection; outlives the lookups (see ~Session)
  std::optional<dns::IpAddress> client_;
  std::string hostname_;
  std::string helo_;  // as received (bounded), parsed by the HELO check
  bool helo_seen_ = false;
  std::string mta_name_;
  std::vector<dns::IpAddress> local_addresses_;
  std::shared_future<checks::HeloAnswers> helo_answers_;
  std::optional<checks::Helo> helo_result_;
  std::string authserv_id_;
  std::shared_future<checks::Iprev> iprev_;
  std::optional<checks::Iprev> iprev_result_;
  std::optional<policy::Verdict> connection_verdict_;  // decided before MAIL
  checks::Helo no_helo_;                               // what helo_result() is before HELO
  Message message_;
  std::shared_future<DnsblBatch> dnsbl_client_;  // the client address lists, from connect
  std::shared_future<DnsblBatch> dnsbl_ptr_;     // verified PTR names, once iprev is in
  std::shared_future<DnsblBatch> dnsbl_helo_;    // the HELO name
  std::optional<checks::Dnsbl> dnsbl_result_;    // reset when HELO or MAIL FROM changes
};

/// The host name, the authserv-id of last resort.
[[nodiscard]] std::string default_authserv_id();

/// The address of an SMTP reverse-path or forward-path as the MTA passes it ("<a@b.example>",
/// "<@relay.example:a@b.example>", "a@b.example"): angle brackets and an RFC 5321 §4.1.2
/// source route removed, nothing cut. Empty for the null sender "<>".
[[nodiscard]] std::string path_address(std::string_view path);

}  // namespace rdns::session
