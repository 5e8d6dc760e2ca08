// UnboundResolver behind a forwarder that truncates every UDP answer (TC=1) and answers only
// over TCP: each cold start must resolve every name, even when libunbound's TCP fallback goes
// wrong (1.17.1 can send 10-byte TCP queries and then fail every lookup: issue 10).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "rdns/dns/answer.h"
#include "rdns/dns/unbound_resolver.h"
#include "rdns/dns/unique_fd.h"

namespace rdns::dns {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct PktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;

constexpr int hosts = 8;
const std::string soa_line =
    "example.net. 60 IN SOA ns.example.net. hostmaster.example.net. 1 7200 900 1209600 60";

std::string ptr_name(int i) {
  return fmt::format("{}.2.0.192.in-addr.arpa", i);
}
std::string host_name(int i) {
  return fmt::format("host{}.example.net", i);
}
std::string host_address(int i) {
  return fmt::format("192.0.2.{}", i);
}

/// A recursive resolver stand-in on 127.0.0.1: every UDP answer is empty with TC=1, TCP
/// answers from a small zone. Malformed TCP messages are counted and dropped.
class TruncatingForwarder {
 public:
  TruncatingForwarder() {
    for (int i = 1; i <= hosts; ++i) {
      zone_[{ptr_name(i), LDNS_RR_TYPE_PTR}] =
          fmt::format("{}. 60 IN PTR {}.", ptr_name(i), host_name(i));
      zone_[{host_name(i), LDNS_RR_TYPE_A}] =
          fmt::format("{}. 60 IN A {}", host_name(i), host_address(i));
    }
    bind_sockets();
    thread_ = std::thread([this] { run(); });
  }
  ~TruncatingForwarder() {
    stop_ = true;
    thread_.join();
  }
  TruncatingForwarder(const TruncatingForwarder&) = delete;
  TruncatingForwarder& operator=(const TruncatingForwarder&) = delete;
  TruncatingForwarder(TruncatingForwarder&&) = delete;
  TruncatingForwarder& operator=(TruncatingForwarder&&) = delete;

  [[nodiscard]] int port() const { return port_; }
  /// While silent, queries are read and never answered (a forwarder down or restarting).
  void set_silent(bool silent) { silent_ = silent; }
  [[nodiscard]] unsigned udp_queries() const { return udp_queries_; }
  [[nodiscard]] unsigned tcp_queries() const { return tcp_queries_; }
  [[nodiscard]] unsigned tcp_malformed() const { return tcp_malformed_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::vector<std::uint8_t> buffer;
  };

  void bind_sockets() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof addr;
      if (bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
          getsockname(udp.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        continue;
      }
      UniqueFd tcp(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      const int one = 1;
      setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
          listen(tcp.get(), 64) != 0) {
        continue;  // the UDP port is taken for TCP: try another
      }
      port_ = ntohs(addr.sin_port);
      udp_ = std::move(udp);
      listener_ = std::move(tcp);
      return;
    }
    throw std::runtime_error("cannot bind the truncating forwarder");
  }

  /// The reply to `query`: empty with TC=1 for UDP, from the zone for TCP.
  [[nodiscard]] std::vector<std::uint8_t> reply(const ldns_pkt* query, bool truncate) const {
    const PktPtr pkt(ldns_pkt_new());
    ldns_pkt_set_id(pkt.get(), ldns_pkt_id(query));
    ldns_pkt_set_qr(pkt.get(), true);
    ldns_pkt_set_rd(pkt.get(), ldns_pkt_rd(query));
    ldns_pkt_set_ra(pkt.get(), true);
    const auto* questions = ldns_pkt_question(query);
    if (ldns_rr_list_rr_count(questions) == 1) {
      const auto* question = ldns_rr_list_rr(questions, 0);
      ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question));
      if (truncate) {
        ldns_pkt_set_tc(pkt.get(), true);
      } else {
        answer(question, pkt.get());
      }
    } else {
      ldns_pkt_set_rcode(pkt.get(), LDNS_RCODE_FORMERR);
    }
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) {
      return {};
    }
    std::vector<std::uint8_t> bytes(wire, wire + size);
    std::free(wire);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
    return bytes;
  }

  void answer(const ldns_rr* question, ldns_pkt* pkt) const {
    char* owner = ldns_rdf2str(ldns_rr_owner(question));
    std::string name = owner != nullptr ? owner : "";
    std::free(owner);  // NOLINT(cppcoreguidelines-no-malloc)
    name = normalize_name(name);
    const auto found = zone_.find({name, ldns_rr_get_type(question)});
    ldns_rr* rr = nullptr;
    if (found != zone_.end()) {
      ldns_rr_new_frm_str(&rr, found->second.c_str(), 0, nullptr, nullptr);
      ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
      return;
    }
    ldns_rr_new_frm_str(&rr, soa_line.c_str(), 0, nullptr, nullptr);
    ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY, rr);
    ldns_pkt_set_rcode(pkt, LDNS_RCODE_NXDOMAIN);
  }

  void serve_udp() {
    std::uint8_t buffer[4096];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const auto n =
        recvfrom(udp_.get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
    ldns_pkt* raw = nullptr;
    if (n <= 0 || ldns_wire2pkt(&raw, buffer, static_cast<std::size_t>(n)) != LDNS_STATUS_OK) {
      return;
    }
    const PktPtr query(raw);
    ++udp_queries_;
    if (silent_) return;
    const auto bytes = reply(query.get(), true);
    sendto(udp_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }

  /// Reads from one TCP connection and answers every complete message; false when it closed.
  bool serve_tcp(Connection& connection) {
    std::uint8_t chunk[4096];
    const auto n = read(connection.fd.get(), chunk, sizeof chunk);
    if (n <= 0) {
      return n < 0 && errno == EAGAIN;
    }
    connection.buffer.insert(connection.buffer.end(), chunk, chunk + n);
    auto& buf = connection.buffer;
    while (buf.size() >= 2 && buf.size() >= 2U + ((buf[0] << 8U) | buf[1])) {
      const std::size_t size = (buf[0] << 8U) | buf[1];
      ldns_pkt* raw = nullptr;
      const bool ok = size >= 12 && ldns_wire2pkt(&raw, buf.data() + 2, size) == LDNS_STATUS_OK;
      buf.erase(buf.begin(), buf.begin() + static_cast<long>(size + 2));
      if (!ok) {
        ++tcp_malformed_;
        continue;
      }
      const PktPtr query(raw);
      ++tcp_queries_;
      if (silent_) continue;
      const auto bytes = reply(query.get(), false);
      std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(bytes.size() >> 8U),
                                       static_cast<std::uint8_t>(bytes.size() & 0xffU)};
      framed.insert(framed.end(), bytes.begin(), bytes.end());
      if (write(connection.fd.get(), framed.data(), framed.size()) !=
          static_cast<ssize_t>(framed.size())) {
        return false;
      }
    }
    return true;
  }

  void run() {
    std::vector<Connection> connections;
    while (!stop_) {
      std::vector<pollfd> fds{{udp_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      for (const auto& connection : connections) {
        fds.push_back({connection.fd.get(), POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 50) <= 0) {
        continue;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        serve_udp();
      }
      std::vector<Connection> alive;
      for (std::size_t i = 0; i < connections.size(); ++i) {
        if (fds[i + 2].revents == 0 || serve_tcp(connections[i])) {
          alive.push_back(std::move(connections[i]));
        }
      }
      connections = std::move(alive);
      if ((fds[1].revents & POLLIN) != 0) {
        UniqueFd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd) {
          connections.push_back({std::move(fd), {}});
        }
      }
    }
  }

  std::map<std::pair<std::string, ldns_rr_type>, std::string> zone_;
  UniqueFd udp_;
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> silent_{false};
  std::atomic<unsigned> udp_queries_{0};
  std::atomic<unsigned> tcp_queries_{0};
  std::atomic<unsigned> tcp_malformed_{0};
  std::thread thread_;
};

/// A temporary directory with the unbound.conf the resolver reads.
class ConfigDir {
 public:
  /// `extra` goes into the server: clause.
  explicit ConfigDir(const std::string& extra = {}) {
    std::string pattern = (std::filesystem::temp_directory_path() / "rdns-tc-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp");
    }
    dir_ = pattern;
    std::ofstream(conf()) << "server:\n"
                             "  do-not-query-localhost: no\n"
                             "  local-zone: \"2.0.192.in-addr.arpa.\" nodefault\n"
                          << extra;
  }
  ~ConfigDir() { std::filesystem::remove_all(dir_); }
  ConfigDir(const ConfigDir&) = delete;
  ConfigDir& operator=(const ConfigDir&) = delete;
  ConfigDir(ConfigDir&&) = delete;
  ConfigDir& operator=(ConfigDir&&) = delete;

  [[nodiscard]] std::string conf() const { return (dir_ / "unbound.conf").string(); }

 private:
  std::filesystem::path dir_;
};

/// What one round of 8 concurrent sessions saw: PTR then A of each name, like iprev.
struct Round {
  int resolved = 0;  ///< names whose PTR and A both came back right
  std::vector<std::string> failures;
};

Round concurrent_round(UnboundResolver& resolver) {
  std::mutex mutex;
  std::condition_variable cv;
  int left = hosts;
  Round round;
  for (int i = 1; i <= hosts; ++i) {
    resolver.resolve_async(ptr_name(i), RrType::ptr, {}, [&, i](const Answer& ptr) {
      if (ptr.outcome != Outcome::ok || ptr.names != std::vector<std::string>{host_name(i)}) {
        const std::lock_guard lock(mutex);
        round.failures.push_back(describe(ptr));
        if (--left == 0) cv.notify_all();
        return;
      }
      resolver.resolve_async(host_name(i), RrType::a, {}, [&, i](const Answer& a) {
        const std::lock_guard lock(mutex);
        if (a.outcome == Outcome::ok && a.addresses.size() == 1 &&
            a.addresses[0].to_string() == host_address(i)) {
          ++round.resolved;
        } else {
          round.failures.push_back(describe(a));
        }
        if (--left == 0) cv.notify_all();
      });
    });
  }
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return left == 0; });
  return round;
}

ResolverConfig forwarder_config(const TruncatingForwarder& forwarder, const ConfigDir& dir) {
  ResolverConfig config;
  config.forwarders = {fmt::format("127.0.0.1@{}", forwarder.port())};
  config.unbound_config = dir.conf();
  config.trust_anchor_file.clear();
  config.query_timeout = 3s;
  config.cache_max_ttl = 60;
  config.cache_max_negative_ttl = 5;
  return config;
}

TEST(TruncatingForwarder, EveryColdStartResolvesEveryName) {
  constexpr int cold_starts = 6;
  constexpr auto patience = 30s;
  TruncatingForwarder forwarder;
  const ConfigDir dir;
  const ResolverConfig config = forwarder_config(forwarder, dir);
  int wedged_starts = 0;
  for (int start = 0; start < cold_starts; ++start) {
    UnboundResolver resolver(config);
    const auto begin = Clock::now();
    Round round = concurrent_round(resolver);
    const bool first_ok = round.resolved == hosts;
    while (round.resolved != hosts && Clock::now() - begin < patience) {
      std::this_thread::sleep_for(200ms);
      round = concurrent_round(resolver);
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
    wedged_starts += first_ok ? 0 : 1;
    std::cout << fmt::format("start {}: {} in {} ms, first round {}\n", start,
                             round.resolved == hosts ? "resolved" : "WEDGED", took.count(),
                             first_ok ? "ok" : "failed")
              << std::flush;
    EXPECT_EQ(round.resolved, hosts)
        << "start " << start << " still failing after " << took.count() << " ms, e.g. "
        << (round.failures.empty() ? "" : round.failures.front());
  }
  std::cout << fmt::format(
      "{} of {} starts failed their first round; forwarder saw {} UDP, {} "
      "TCP, {} malformed TCP queries\n",
      wedged_starts, cold_starts, forwarder.udp_queries(), forwarder.tcp_queries(),
      forwarder.tcp_malformed());
}

// A forwarder silent for 12 s: libunbound marks it down (infra-cache-max-rtt 500 makes that
// quick) and keeps answering SERVFAIL without asking it for up to infra-host-ttl (900 s) after
// it is back. The resolver must see that a fresh context gets answers and rebuild its own.
TEST(TruncatingForwarder, RecoversWhenTheContextFailsEveryQueryAfterAnOutage) {
  constexpr auto outage = 12s;
  constexpr auto patience = 30s;
  TruncatingForwarder forwarder;
  const ConfigDir dir("  infra-cache-max-rtt: 500\n");
  std::mutex log_mutex;
  std::vector<std::string> log;
  UnboundResolver resolver(forwarder_config(forwarder, dir), [&](int, const std::string& line) {
    const std::lock_guard lock(log_mutex);
    log.push_back(line);
  });
  forwarder.set_silent(true);
  const auto silent_since = Clock::now();
  while (Clock::now() - silent_since < outage) {
    EXPECT_EQ(concurrent_round(resolver).resolved, 0);
  }
  forwarder.set_silent(false);
  const auto back = Clock::now();
  Round round;
  do {
    std::this_thread::sleep_for(500ms);
    round = concurrent_round(resolver);
  } while (round.resolved != hosts && Clock::now() - back < patience);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - back);
  std::cout << fmt::format(
      "resolved {} of {} names {} ms after the forwarder came back, {} "
      "rebuilds\n",
      round.resolved, hosts, took.count(), resolver.rebuilds());
  EXPECT_EQ(round.resolved, hosts) << (round.failures.empty() ? "" : round.failures.front());
  EXPECT_GE(resolver.rebuilds(), 1U);
  const std::lock_guard lock(log_mutex);
  ASSERT_EQ(log.size(), resolver.rebuilds());  // one line per rebuild
  EXPECT_THAT(log.front(),
              ::testing::StartsWith("resolver context rebuilt: it failed every query ("));
  EXPECT_THAT(log.front(), ::testing::HasSubstr("a fresh context got"));
}

}  // namespace
}  // namespace rdns::dns
