// milter-load: the MTA side of the milter protocol (version 6) as a closed-loop load generator.
//
// It talks to one filter the way Postfix 3.7 does: it offers Postfix's actions and protocol
// flags, sends the macros Postfix sends by default, skips the steps the filter negotiated away
// (SMFIP_NO*), does not wait for replies the filter negotiated away (SMFIP_NR_*), and buffers
// its writes as Postfix's VSTREAM does: the macros and the command that follows them, and any
// commands without a reply, leave in one write when a reply is next awaited.
// No libmilter on this side. Usage: milter-load --help.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Protocol constants (libmilter's mfdef.h, which this side does not include).
constexpr std::uint32_t kVersion = 6;
// Postfix 3.7 offers: add/change headers, change body, add/delete recipient, quarantine,
// change sender, add recipient with arguments, set the macro list.
constexpr std::uint32_t kActions = 0x1FF;
// Every SMFIP_NO*, SMFIP_NR_*, SKIP, RCPT_REJ and HDR_LEADSPC bit Postfix 3.7 knows.
constexpr std::uint32_t kProtocol = 0x1FFFFF;

enum Flag : std::uint32_t {
  kNoConnect = 0x1,
  kNoHelo = 0x2,
  kNoMail = 0x4,
  kNoRcpt = 0x8,
  kNoBody = 0x10,
  kNoHdrs = 0x20,
  kNoEoh = 0x40,
  kNrHdr = 0x80,
  kNoData = 0x200,
  kNrConn = 0x1000,
  kNrHelo = 0x2000,
  kNrMail = 0x4000,
  kNrRcpt = 0x8000,
  kNrData = 0x10000,
  kNrEoh = 0x40000,
  kNrBody = 0x80000,
};

/// What a session ended with, as the MTA would act on it.
enum class Verdict { kPass, kReject, kTempfail, kDiscard, kError };

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kReject: return "reject";
    case Verdict::kTempfail: return "tempfail";
    case Verdict::kDiscard: return "discard";
    case Verdict::kError: return "error";
  }
  return "?";
}

/// One kind of client: `count` consecutive addresses from `first`, a HELO and a sender
/// pattern ("{a}" becomes the address with '-' for '.'), and the verdict expected.
struct Profile {
  std::string name;
  unsigned weight = 1;
  std::uint32_t first = 0;  // host byte order
  unsigned count = 1;
  std::string helo;
  std::string sender;
  std::string expect;  // a verdict name, or "any"
};

struct Options {
  std::string socket;
  unsigned connections = 1;
  unsigned long sessions = 0;  // 0: until --seconds
  double seconds = 0;
  double timeout = 10;
  unsigned hold_ms = 0;  // pause after RCPT, to hold sessions open at once
  bool nodelay = false;
  bool json = false;
  std::vector<Profile> profiles;
  std::vector<int> pids;
};

/// The result of one session.
struct SessionResult {
  Verdict verdict = Verdict::kError;
  std::string step;  // the command whose reply decided it
  std::string error;
  double latency_ms = 0;
  unsigned profile = 0;
  unsigned headers_added = 0;
  std::uint32_t protocol = 0;  // the protocol flags the filter negotiated
};

std::string address_text(std::uint32_t host_order) {
  in_addr a{htonl(host_order)};
  std::array<char, INET_ADDRSTRLEN> buf{};
  inet_ntop(AF_INET, &a, buf.data(), buf.size());
  return buf.data();
}

/// The letters that stand for the low 16 bits of an address ("{l}" in patterns): a host
/// name without the address's digits, which a generic-PTR detector would rightly flag.
std::string letters(std::uint32_t address) {
  std::string out(4, 'a');
  auto n = address & 0xFFFFU;
  for (auto it = out.rbegin(); it != out.rend(); ++it, n /= 26)
    *it = static_cast<char>('a' + n % 26);
  return out;
}

std::string expand(std::string pattern, std::uint32_t address) {
  std::string dashed = address_text(address);
  std::replace(dashed.begin(), dashed.end(), '.', '-');
  const std::array<std::pair<std::string_view, std::string>, 2> fields{
      {{"{a}", dashed}, {"{l}", letters(address)}}};
  for (const auto& [key, value] : fields)
    for (auto pos = pattern.find(key); pos != std::string::npos; pos = pattern.find(key))
      pattern.replace(pos, key.size(), value);
  return pattern;
}

/// One milter connection: blocking socket, Postfix-like buffered writes.
class Connection {
 public:
  Connection(const std::string& spec, double timeout, bool nodelay) {
    fd_ = open_socket(spec, nodelay);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout);
    tv.tv_usec = static_cast<suseconds_t>((timeout - static_cast<double>(tv.tv_sec)) * 1e6);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;

  /// Appends one packet to the write buffer.
  void queue(char command, std::string_view data) {
    const auto length = htonl(static_cast<std::uint32_t>(data.size() + 1));
    out_.append(reinterpret_cast<const char*>(&length), sizeof length);
    out_.push_back(command);
    out_.append(data);
  }

  /// Writes the buffer in one go (as VSTREAM flushes before it reads).
  void flush() {
    std::size_t done = 0;
    while (done < out_.size()) {
      const auto n = send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(std::string("write: ") + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
    out_.clear();
  }

  /// Flushes, then reads one packet: its command byte and data.
  std::pair<char, std::string> receive() {
    flush();
    std::uint32_t length = 0;
    read_exact(reinterpret_cast<char*>(&length), sizeof length);
    length = ntohl(length);
    if (length < 1 || length > (1U << 24))
      throw std::runtime_error("bad reply length " + std::to_string(length));
    std::string body(length, '\0');
    read_exact(body.data(), length);
    return {body[0], body.substr(1)};
  }

 private:
  static int open_socket(const std::string& spec, bool nodelay);

  void read_exact(char* buf, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
      const auto got = recv(fd_, buf + done, n - done, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got == 0) throw std::runtime_error("connection closed by the filter");
      if (got < 0) throw std::runtime_error(std::string("read: ") + std::strerror(errno));
      done += static_cast<std::size_t>(got);
    }
  }

  int fd_ = -1;
  std::string out_;
};

int Connection::open_socket(const std::string& spec, bool nodelay) {
  int fd = -1;
  int rc = -1;
  if (spec.rfind("unix:", 0) == 0 || spec.rfind("local:", 0) == 0) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    const auto path = spec.substr(spec.find(':') + 1);
    if (path.size() >= sizeof sun.sun_path) throw std::runtime_error("socket path too long");
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
  } else if (spec.rfind("inet:", 0) == 0) {
    const auto at = spec.find('@');
    if (at == std::string::npos) throw std::runtime_error("inet socket needs PORT@HOST");
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<std::uint16_t>(std::stoi(spec.substr(5, at - 5))));
    if (inet_pton(AF_INET, spec.substr(at + 1).c_str(), &sin.sin_addr) != 1)
      throw std::runtime_error("bad IPv4 address in " + spec);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (nodelay) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
    }
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  } else {
    throw std::runtime_error("socket must be unix:PATH or inet:PORT@HOST: " + spec);
  }
  if (rc != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    throw std::runtime_error("connect " + spec + ": " + why);
  }
  return fd;
}

std::string nul_joined(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    out.append(p);
    out.push_back('\0');
  }
  return out;
}

/// Postfix's default macro lists (milter_*_macros in Postfix 3.7), as Postfix fills them for a
/// plain SMTP session without TLS or SASL: only defined macros are sent.
std::string macros_for(char stage, const std::string& client, const std::string& sender,
                       const std::string& queue_id) {
  std::string data(1, stage);
  auto add = [&data](std::string_view name, std::string_view value) {
    data.append(name);
    data.push_back('\0');
    data.append(value);
    data.push_back('\0');
  };
  switch (stage) {
    case 'C':
      add("j", "mx.bench");
      add("{daemon_name}", "mx.bench");
      add("{daemon_addr}", "127.0.0.1");
      add("v", "Postfix 3.7.11");
      add("_", "unknown [" + client + "]");
      break;
    case 'M':
      add("i", queue_id);
      add("{mail_addr}", sender);
      add("{mail_host}", sender.substr(sender.find('@') + 1));
      add("{mail_mailer}", "smtp");
      break;
    case 'R':
      add("i", queue_id);
      add("{rcpt_addr}", "user@rcpt.bench");
      add("{rcpt_host}", "rcpt.bench");
      add("{rcpt_mailer}", "smtp");
      break;
    case 'T':
    case 'N':
    case 'E': add("i", queue_id); break;
    default: break;  // HELO: the TLS macros, undefined without TLS
  }
  return data;
}

/// One session from connect to QUIT; the verdict is the reply that decided it.
class Session {
 public:
  Session(const Options& options, const Profile& profile, std::uint32_t address,
          std::uint64_t serial)
      : options_(options),
        client_(address_text(address)),
        helo_(expand(profile.helo, address)),
        sender_(expand(profile.sender, address)) {
    std::array<char, 16> id{};
    std::snprintf(id.data(), id.size(), "%010llX", static_cast<unsigned long long>(serial));
    queue_id_ = id.data();
  }

  SessionResult run() {
    SessionResult r;
    const auto start = Clock::now();
    try {
      Connection conn(options_.socket, options_.timeout, options_.nodelay);
      conn_ = &conn;
      negotiate();
      r = converse();
      r.protocol = protocol_;
      conn.queue('Q', "");
      conn.flush();
    } catch (const std::exception& e) {
      r.verdict = Verdict::kError;
      r.error = e.what();
    }
    conn_ = nullptr;
    r.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return r;
  }

 private:
  void negotiate() {
    std::string data(12, '\0');
    const std::array<std::uint32_t, 3> words{htonl(kVersion), htonl(kActions), htonl(kProtocol)};
    std::memcpy(data.data(), words.data(), 12);
    conn_->queue('O', data);
    auto [cmd, reply] = conn_->receive();
    if (cmd != 'O' || reply.size() < 12) throw std::runtime_error("bad negotiation reply");
    std::array<std::uint32_t, 3> got{};
    std::memcpy(got.data(), reply.data(), 12);
    protocol_ = ntohl(got[2]);
  }

  // Returns true when the reply (if one is awaited) lets the session go on.
  bool step(char stage, char command, const std::string& data, std::uint32_t no_flag,
            std::uint32_t nr_flag, const char* name, SessionResult& r) {
    // Note: Postfix sends a stage's macros even when the filter skips the stage itself.
    if (stage != 0) conn_->queue('D', macros_for(stage, client_, sender_, queue_id_));
    if ((protocol_ & no_flag) != 0) return true;
    conn_->queue(command, data);
    if ((protocol_ & nr_flag) != 0) return true;
    return decide(name, r);
  }

  // Reads replies up to the final one of a step; false when it ends the session.
  bool decide(const char* name, SessionResult& r) {
    for (;;) {
      auto [cmd, data] = conn_->receive();
      switch (cmd) {
        case 'p': continue;  // progress
        case 'c':
        case 's': return true;  // continue, skip
        case 'a': r.verdict = Verdict::kPass; break;
        case 'r': r.verdict = Verdict::kReject; break;
        case 't': r.verdict = Verdict::kTempfail; break;
        case 'd': r.verdict = Verdict::kDiscard; break;
        case 'y':
          r.verdict = !data.empty() && data[0] == '4' ? Verdict::kTempfail : Verdict::kReject;
          break;
        case 'h':
        case 'i': ++r.headers_added; continue;
        case 'm':
        case '+':
        case '-':
        case '2':
        case 'b':
        case 'e':
        case 'q': continue;  // other modifications
        default: throw std::runtime_error(std::string("unexpected reply '") + cmd + "' to " + name);
      }
      r.step = name;
      return false;
    }
  }

  SessionResult converse();

  const Options& options_;
  std::string client_;
  std::string helo_;
  std::string sender_;
  std::string queue_id_;
  std::uint32_t protocol_ = 0;
  Connection* conn_ = nullptr;
};

constexpr std::string_view kBody =
    "Hello,\r\n\r\nThis is a benchmark message of about one kilobyte. It carries no meaning; "
    "its lines are\r\nthere so that the body step moves a realistic amount of data through the "
    "filter.\r\n"
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt\r\n"
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation\r\n"
    "ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in\r\n"
    "reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur\r\n"
    "sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id\r\n"
    "est laborum. Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium\r\n"
    "doloremque laudantium, totam rem aperiam, eaque ipsa quae ab illo inventore veritatis et\r\n"
    "quasi architecto beatae vitae dicta sunt explicabo. Nemo enim ipsam voluptatem quia\r\n"
    "voluptas sit aspernatur aut odit aut fugit, sed quia consequuntur magni dolores eos qui\r\n"
    "ratione voluptatem sequi nesciunt.\r\n\r\n-- \r\nThe benchmark\r\n";

SessionResult Session::converse() {
  SessionResult r;
  r.verdict = Verdict::kPass;
  // CONNECT: host name, family '4', port, address (Postfix sends "unknown" without a name).
  std::string connect_data = std::string("unknown") + '\0' + '4';
  const std::uint16_t port = htons(40000);
  connect_data.append(reinterpret_cast<const char*>(&port), 2);
  connect_data += client_ + '\0';
  if (!step('C', 'C', connect_data, kNoConnect, kNrConn, "connect", r)) return r;
  if (!step('H', 'H', helo_ + '\0', kNoHelo, kNrHelo, "helo", r)) return r;
  const auto abort_message = [this] { conn_->queue('A', ""); };
  if (!step('M', 'M', nul_joined({"<" + sender_ + ">", "SIZE=1200"}), kNoMail, kNrMail, "mail",
            r)) {
    abort_message();
    return r;
  }
  if (!step('R', 'R', nul_joined({"<user@rcpt.bench>"}), kNoRcpt, kNrRcpt, "rcpt", r)) {
    abort_message();
    return r;
  }
  if (options_.hold_ms != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.hold_ms));
  if (!step('T', 'T', "", kNoData, kNrData, "data", r)) {
    abort_message();
    return r;
  }
  const std::array<std::pair<std::string, std::string>, 6> headers{{
      {"Received", "from " + helo_ + " (unknown [" + client_ +
                       "])\r\n\tby mx.bench (Postfix) with ESMTP id " + queue_id_ +
                       "\r\n\tfor <user@rcpt.bench>"},
      {"From", "<" + sender_ + ">"},
      {"To", "<user@rcpt.bench>"},
      {"Subject", "benchmark message " + queue_id_},
      {"Date", "Thu, 03 Dec 2026 12:00:00 +0000"},
      {"Message-ID", "<" + queue_id_ + "@" + helo_ + ">"},
  }};
  for (const auto& [name, value] : headers) {
    if (!step(0, 'L', nul_joined({name, value}), kNoHdrs, kNrHdr, "header", r)) {
      abort_message();
      return r;
    }
  }
  if (!step('N', 'N', "", kNoEoh, kNrEoh, "eoh", r) ||
      !step(0, 'B', std::string(kBody), kNoBody, kNrBody, "body", r)) {
    abort_message();
    return r;
  }
  conn_->queue('D', macros_for('E', client_, sender_, queue_id_));
  conn_->queue('E', "");
  if (decide("eom", r)) {
    r.verdict = Verdict::kPass;  // a bare "continue" at EOM accepts, as Postfix reads it
    r.step = "eom";
  }
  return r;
}

/// CPU, memory, threads and descriptors of one process, from /proc.
struct ProcessSample {
  double cpu_s = 0;
  long rss_kib = 0;
  long hwm_kib = 0;
  long threads = 0;
  long fds = 0;
  bool ok = false;
};

ProcessSample sample_process(int pid) {
  ProcessSample s;
  const auto dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return s;
  // Fields after the ")" that closes the command name: state is field 3; utime 14, stime 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 13) return s;
  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
  std::ifstream status(dir + "/status");
  for (std::string l; std::getline(status, l);) {
    auto value = [&l] { return std::stol(l.substr(l.find(':') + 1)); };
    if (l.rfind("VmRSS:", 0) == 0) s.rss_kib = value();
    if (l.rfind("VmHWM:", 0) == 0) s.hwm_kib = value();
    if (l.rfind("Threads:", 0) == 0) s.threads = value();
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/fd", ec)) {
    (void)entry;
    ++s.fds;
  }
  s.ok = true;
  return s;
}

/// Samples the watched processes every 20 ms and keeps the peaks.
class Sampler {
 public:
  explicit Sampler(std::vector<int> pids) : pids_(std::move(pids)), peaks_(pids_.size()) {
    for (int pid : pids_) before_.push_back(sample_process(pid));
    thread_ = std::thread([this] { loop(); });
  }
  ~Sampler() { stop(); }
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  Sampler(Sampler&&) = delete;
  Sampler& operator=(Sampler&&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread_.join();
    for (int pid : pids_) after_.push_back(sample_process(pid));
  }

  [[nodiscard]] const std::vector<int>& pids() const { return pids_; }
  [[nodiscard]] const std::vector<ProcessSample>& before() const { return before_; }
  [[nodiscard]] const std::vector<ProcessSample>& after() const { return after_; }
  [[nodiscard]] const std::vector<ProcessSample>& peaks() const { return peaks_; }

 private:
  void loop() {
    while (!stopping_) {
      for (std::size_t i = 0; i < pids_.size(); ++i) {
        const auto s = sample_process(pids_[i]);
        auto& p = peaks_[i];
        p.rss_kib = std::max(p.rss_kib, s.rss_kib);
        p.hwm_kib = std::max(p.hwm_kib, s.hwm_kib);
        p.threads = std::max(p.threads, s.threads);
        p.fds = std::max(p.fds, s.fds);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::vector<int> pids_;
  std::vector<ProcessSample> before_;
  std::vector<ProcessSample> after_;
  std::vector<ProcessSample> peaks_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// Closed loop: `connections` workers, each starting its next session when one ends.
class Runner {
 public:
  explicit Runner(const Options& options) : options_(options) {
    for (unsigned i = 0; i < options_.profiles.size(); ++i)
      for (unsigned w = 0; w < options_.profiles[i].weight; ++w) wheel_.push_back(i);
  }

  std::vector<SessionResult> run() {
    deadline_ =
        Clock::now() + std::chrono::microseconds(static_cast<long long>(options_.seconds * 1e6));
    std::vector<std::thread> workers;
    workers.reserve(options_.connections);
    for (unsigned i = 0; i < options_.connections; ++i) workers.emplace_back([this] { work(); });
    for (auto& w : workers) w.join();
    return std::move(results_);
  }

 private:
  // The next session's serial number, or false when the run is over.
  bool next(std::uint64_t& serial) {
    if (options_.seconds > 0 && Clock::now() >= deadline_) return false;
    serial = issued_.fetch_add(1);
    return options_.sessions == 0 || serial < options_.sessions;
  }

  void work() {
    std::vector<SessionResult> mine;
    std::uint64_t serial = 0;
    while (next(serial)) {
      const unsigned p = wheel_[serial % wheel_.size()];
      const auto& profile = options_.profiles[p];
      // Note: consecutive sessions of a profile take consecutive addresses, so every address
      // of the range is used before one repeats.
      const auto nth = per_profile_[p].fetch_add(1);
      const auto address = profile.first + static_cast<std::uint32_t>(nth % profile.count);
      auto r = Session(options_, profile, address, serial).run();
      r.profile = p;
      mine.push_back(std::move(r));
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    results_.insert(results_.end(), std::make_move_iterator(mine.begin()),
                    std::make_move_iterator(mine.end()));
  }

  const Options& options_;
  std::vector<unsigned> wheel_;
  std::array<std::atomic<std::uint64_t>, 16> per_profile_{};
  std::atomic<std::uint64_t> issued_{0};
  Clock::time_point deadline_;
  std::mutex mutex_;
  std::vector<SessionResult> results_;
};

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::lround(q * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(i, sorted.size() - 1)];
}

double cpu_seconds_self() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Summary {
  std::size_t sessions = 0;
  double elapsed_s = 0;
  double rate = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
  std::map<std::string, unsigned long> outcomes;  // "profile verdict@step"
  unsigned long unexpected = 0;
  unsigned long errors = 0;
  std::string first_error;
  std::string first_unexpected;
  double generator_cpu_s = 0;
  std::uint32_t protocol = 0;  // negotiated by the first session that got that far
};

Summary summarize(const Options& options, const std::vector<SessionResult>& results,
                  double elapsed_s) {
  Summary s;
  s.sessions = results.size();
  s.elapsed_s = elapsed_s;
  s.rate = elapsed_s > 0 ? static_cast<double>(results.size()) / elapsed_s : 0;
  std::vector<double> latencies;
  latencies.reserve(results.size());
  for (const auto& r : results) {
    latencies.push_back(r.latency_ms);
    if (s.protocol == 0) s.protocol = r.protocol;
    const auto& profile = options.profiles[r.profile];
    const std::string verdict = verdict_name(r.verdict);
    ++s.outcomes[profile.name + " " + verdict + "@" + (r.step.empty() ? "-" : r.step)];
    if (r.verdict == Verdict::kError) {
      ++s.errors;
      if (s.first_error.empty()) s.first_error = r.error;
    }
    if (profile.expect != "any" && profile.expect != verdict) {
      ++s.unexpected;
      if (s.first_unexpected.empty())
        s.first_unexpected = profile.name + ": " + verdict + "@" + r.step + " " + r.error;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  s.p50 = percentile(latencies, 0.50);
  s.p90 = percentile(latencies, 0.90);
  s.p99 = percentile(latencies, 0.99);
  s.max = latencies.empty() ? 0 : latencies.back();
  return s;
}

std::string json_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}

/// One flat JSON object, written key by key.
class Json {
 public:
  template <typename T>
  Json& num(std::string_view k, T v) {
    key(k);
    out_ << v;
    return *this;
  }
  Json& str(std::string_view k, const std::string& v) {
    key(k);
    out_ << '"' << json_escape(v) << '"';
    return *this;
  }
  Json& raw(std::string_view k, const std::string& v) {
    key(k);
    out_ << v;
    return *this;
  }
  [[nodiscard]] std::string text() const { return first_ ? "{}" : out_.str() + '}'; }

 private:
  void key(std::string_view k) {
    out_ << (first_ ? '{' : ',') << '"' << json_escape(std::string(k)) << '"' << ':';
    first_ = false;
  }
  std::ostringstream out_;
  bool first_ = true;
};

std::string process_json(const Sampler& sampler, double elapsed_s) {
  std::string out = "[";
  for (std::size_t i = 0; i < sampler.pids().size(); ++i) {
    const auto& b = sampler.before()[i];
    const auto& a = sampler.after()[i];
    const auto& p = sampler.peaks()[i];
    const double cpu = a.cpu_s - b.cpu_s;
    Json j;
    j.num("pid", sampler.pids()[i]).raw("alive", a.ok ? "true" : "false").num("cpu_s", cpu);
    j.num("cpu_share", elapsed_s > 0 ? cpu / elapsed_s : 0).num("rss_kib_before", b.rss_kib);
    j.num("rss_kib_after", a.rss_kib).num("rss_kib_peak", p.rss_kib).num("hwm_kib", a.hwm_kib);
    j.num("threads_before", b.threads).num("threads_after", a.threads);
    j.num("threads_peak", p.threads).num("fds_before", b.fds).num("fds_after", a.fds);
    j.num("fds_peak", p.fds);
    out += (i ? "," : "") + j.text();
  }
  return out + "]";
}

void print_json(const Options& options, const Summary& s, const Sampler& sampler) {
  Json outcomes;
  for (const auto& [k, v] : s.outcomes) outcomes.num(k, v);
  Json j;
  j.str("socket", options.socket).num("connections", options.connections);
  j.num("sessions", s.sessions).num("elapsed_s", s.elapsed_s).num("rate", s.rate);
  j.num("p50_ms", s.p50).num("p90_ms", s.p90).num("p99_ms", s.p99).num("max_ms", s.max);
  j.num("errors", s.errors).num("unexpected", s.unexpected).str("first_error", s.first_error);
  j.str("first_unexpected", s.first_unexpected).num("generator_cpu_s", s.generator_cpu_s);
  j.num("protocol", s.protocol);
  j.raw("outcomes", outcomes.text()).raw("processes", process_json(sampler, s.elapsed_s));
  std::puts(j.text().c_str());
}

void print_text(const Options& options, const Summary& s, const Sampler& sampler) {
  std::printf("%s c=%u: %zu sessions in %.2f s = %.1f msg/s\n", options.socket.c_str(),
              options.connections, s.sessions, s.elapsed_s, s.rate);
  std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", s.p50, s.p90, s.p99, s.max);
  std::printf("negotiated protocol flags 0x%X\n", s.protocol);
  for (const auto& [k, v] : s.outcomes) std::printf("  %-40s %lu\n", k.c_str(), v);
  std::printf("unexpected %lu, errors %lu%s%s\n", s.unexpected, s.errors,
              s.first_error.empty() ? "" : "; first error: ", s.first_error.c_str());
  if (!s.first_unexpected.empty())
    std::printf("first unexpected: %s\n", s.first_unexpected.c_str());
  std::printf("generator CPU %.2f s (%.0f%% of one core)\n", s.generator_cpu_s,
              s.elapsed_s > 0 ? 100 * s.generator_cpu_s / s.elapsed_s : 0);
  for (std::size_t i = 0; i < sampler.pids().size(); ++i) {
    const auto& b = sampler.before()[i];
    const auto& a = sampler.after()[i];
    const auto& p = sampler.peaks()[i];
    std::printf(
        "pid %d: CPU %.2f s (%.0f%%), RSS %ld -> %ld KiB (peak %ld, HWM %ld), threads %ld -> %ld "
        "(peak %ld), fds %ld -> %ld (peak %ld)\n",
        sampler.pids()[i], a.cpu_s - b.cpu_s,
        s.elapsed_s > 0 ? 100 * (a.cpu_s - b.cpu_s) / s.elapsed_s : 0, b.rss_kib, a.rss_kib,
        p.rss_kib, a.hwm_kib, b.threads, a.threads, p.threads, b.fds, a.fds, p.fds);
  }
}

constexpr const char* kUsage =
    "usage: milter-load --socket unix:PATH|inet:PORT@HOST [-c N] [--sessions N] [--seconds S]\n"
    "         [--profile 'NAME WEIGHT FIRST-IPV4 COUNT HELO SENDER EXPECT']... [--pid PID]...\n"
    "         [--hold MS] [--timeout S] [--nodelay] [--json]\n"
    "  -c N          concurrent connections (closed loop; default 1)\n"
    "  --sessions N  stop after N sessions; --seconds S: stop starting sessions after S\n"
    "  --profile     a client kind: COUNT addresses from FIRST-IPV4, HELO and SENDER patterns\n"
    "                ({a}: the address with '-' for '.'; {l}: 4 letters for its low 16\n"
    "                bits), EXPECT "
    "pass|reject|tempfail|discard|any;\n"
    "                WEIGHT: its share of sessions. Default: 'pass 1 198.18.0.1 1 h-{a}.bench\n"
    "                s@h-{a}.bench any'\n"
    "  --pid PID     report CPU, RSS, threads and fds of this process (repeatable)\n"
    "  --hold MS     pause MS after the RCPT reply (holds sessions open at once)\n"
    "  --nodelay     TCP_NODELAY on TCP connections (Postfix does not set it)\n";

Profile parse_profile(const std::string& text) {
  std::istringstream in(text);
  Profile p;
  std::string first;
  if (!(in >> p.name >> p.weight >> first >> p.count >> p.helo >> p.sender >> p.expect))
    throw std::runtime_error("--profile needs 7 fields: " + text);
  in_addr a{};
  if (inet_pton(AF_INET, first.c_str(), &a) != 1) throw std::runtime_error("bad address " + first);
  p.first = ntohl(a.s_addr);
  if (p.count == 0 || p.weight == 0) throw std::runtime_error("COUNT and WEIGHT must be > 0");
  return p;
}

Options parse(int argc, char** argv) {
  Options o;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw std::runtime_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--socket")
      o.socket = value();
    else if (a == "-c" || a == "--connections")
      o.connections = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--sessions")
      o.sessions = std::stoul(value());
    else if (a == "--seconds")
      o.seconds = std::stod(value());
    else if (a == "--timeout")
      o.timeout = std::stod(value());
    else if (a == "--hold")
      o.hold_ms = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--profile")
      o.profiles.push_back(parse_profile(value()));
    else if (a == "--pid")
      o.pids.push_back(std::stoi(value()));
    else if (a == "--nodelay")
      o.nodelay = true;
    else if (a == "--json")
      o.json = true;
    else
      throw std::runtime_error("unknown argument " + a);
  }
  if (o.socket.empty()) throw std::runtime_error("--socket is required");
  if (o.sessions == 0 && o.seconds <= 0) throw std::runtime_error("give --sessions or --seconds");
  if (o.connections == 0) throw std::runtime_error("-c must be > 0");
  if (o.profiles.empty())
    o.profiles.push_back(parse_profile("pass 1 198.18.0.1 1 h-{a}.bench s@h-{a}.bench any"));
  if (o.profiles.size() > 16) throw std::runtime_error("at most 16 profiles");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto options = parse(argc, argv);
    Sampler sampler(options.pids);
    const double cpu_before = cpu_seconds_self();
    const auto start = Clock::now();
    const auto results = Runner(options).run();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    sampler.stop();
    auto summary = summarize(options, results, elapsed);
    summary.generator_cpu_s = cpu_seconds_self() - cpu_before;
    if (options.json)
      print_json(options, summary, sampler);
    else
      print_text(options, summary, sampler);
    return summary.errors == 0 && summary.unexpected == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "milter-load: %s\n", e.what());
    return 2;
  }
}
