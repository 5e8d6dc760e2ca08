// Asking name servers directly (RD=0) over UDP, TCP when truncated, in one poll loop; packets
// built and read with ldns. Shared by the authority probe and the delegation trace.

#include "server_query.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "rdns/dns/name.h"
#include "rdns/dns/packet.h"
#include "rdns/dns/unique_fd.h"

namespace rdns::dns::detail {
namespace {

using std::chrono::milliseconds;

/// Longest reply read over TCP (RFC 1035 §4.2.2: a 16-bit length).
constexpr std::size_t max_tcp_reply = 65535;
/// EDNS(0) UDP payload size offered (the DNS flag day 2020 value).
constexpr std::uint16_t edns_udp_size = 1232;

}  // namespace

// ---- questions through the normal resolver -----------------------------------------------

Answer ask_resolver(Resolver& resolver, const std::string& name, RrType type,
                    Clock::time_point deadline) {
  auto promise = std::make_shared<std::promise<Answer>>();
  auto future = promise->get_future();
  resolver.resolve_async(name, type, {},
                         [promise](Answer answer) { promise->set_value(std::move(answer)); });
  if (future.wait_until(deadline) == std::future_status::ready) return future.get();
  Answer late;
  late.name = name;
  late.type = type;
  late.outcome = Outcome::timeout;
  late.error = "the probe's time ran out";
  return late;
}

const StubZone* closest_stub(const std::vector<StubZone>& stubs, std::string_view name) {
  const StubZone* best = nullptr;
  for (const auto& stub : stubs) {
    const bool encloses = stub.name == "." || at_or_below(name, stub.name);
    if (encloses &&
        (best == nullptr || stub.name.size() > best->name.size() || best->name == ".")) {
      best = &stub;
    }
  }
  return best;
}

std::vector<ServerTarget> addresses_of(Resolver& resolver, const std::vector<std::string>& ns,
                                       std::size_t limit, Clock::time_point deadline) {
  std::vector<std::pair<std::string, std::future<Answer>>> pending;
  for (const auto& name : ns) {
    for (const auto type : {RrType::a, RrType::aaaa}) {
      auto promise = std::make_shared<std::promise<Answer>>();
      pending.emplace_back(name, promise->get_future());
      resolver.resolve_async(name, type, {},
                             [promise](Answer answer) { promise->set_value(std::move(answer)); });
    }
  }
  std::vector<ServerTarget> targets;
  for (auto& [name, future] : pending) {
    if (future.wait_until(deadline) != std::future_status::ready) continue;
    const auto answer = future.get();
    if (answer.outcome != Outcome::ok) continue;
    for (const auto& address : answer.addresses) {
      if (targets.size() < limit) targets.push_back({name, address.to_string()});
    }
  }
  return targets;
}

namespace {

// ---- asking the servers -------------------------------------------------------------------

struct LdnsPktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using LdnsPktPtr = std::unique_ptr<ldns_pkt, LdnsPktDeleter>;

/// A query with RD=0 and EDNS(0) in wire format, and its ID; nullopt for a name ldns refuses.
std::optional<std::pair<std::vector<std::uint8_t>, std::uint16_t>> make_query(
    const std::string& name, RrType type) {
  ldns_pkt* raw = nullptr;
  if (ldns_pkt_query_new_frm_str(&raw, name.c_str(), static_cast<ldns_rr_type>(type),
                                 LDNS_RR_CLASS_IN, 0) != LDNS_STATUS_OK) {
    return std::nullopt;
  }
  const LdnsPktPtr pkt(raw);
  ldns_pkt_set_rd(pkt.get(), false);
  ldns_pkt_set_random_id(pkt.get());
  ldns_pkt_set_edns_udp_size(pkt.get(), edns_udp_size);
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) return std::nullopt;
  std::vector<std::uint8_t> bytes(wire, wire + size);
  free(wire);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  return std::pair{std::move(bytes), ldns_pkt_id(pkt.get())};
}

/// "addr" or "addr@port" as a socket address (port 53 by default).
std::optional<std::pair<sockaddr_storage, socklen_t>> endpoint(const std::string& text) {
  const auto at = text.find('@');
  const auto ip = IpAddress::parse(text.substr(0, at));
  int port = 53;
  if (at != std::string::npos) {
    try {
      port = std::stoi(text.substr(at + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!ip || port <= 0 || port > 65535) return std::nullopt;
  sockaddr_storage storage{};
  if (ip->is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&sin->sin_addr, ip->bytes().data(), 4);
    return std::pair{storage, static_cast<socklen_t>(sizeof(sockaddr_in))};
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<std::uint16_t>(port));
  std::memcpy(&sin6->sin6_addr, ip->bytes().data(), 16);
  return std::pair{storage, static_cast<socklen_t>(sizeof(sockaddr_in6))};
}

/// One server's exchange: UDP, then TCP after a truncated reply.
struct Exchange {
  enum class State : std::uint8_t { udp, tcp_connect, tcp_io, done };
  ServerAnswer out;
  std::vector<std::uint8_t> wire;  // the reply read
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  UniqueFd fd;
  State state = State::done;
  Clock::time_point started;
  Clock::time_point deadline;
  bool retransmitted = false;
  std::vector<std::uint8_t> tcp_out;  // length-prefixed query
  std::size_t tcp_sent = 0;
  std::vector<std::uint8_t> tcp_in;

  void fail(std::string why) {
    out.failure = std::move(why);
    fd.reset();
    state = State::done;
  }
};

class ZoneAsker {
 public:
  ZoneAsker(std::string name, RrType type, milliseconds per_server, Clock::time_point deadline)
      : name_(std::move(name)), type_(type), per_server_(per_server), deadline_(deadline) {}

  std::vector<ServerReply> ask(const std::vector<ServerTarget>& targets) {
    const auto query = make_query(name_, type_);
    std::vector<Exchange> exchanges(targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
      auto& x = exchanges[i];
      x.out.ns_name = targets[i].ns_name;
      x.out.address = targets[i].address;
      if (!query) {
        x.out.failure = "name not expressible in a query";
        continue;
      }
      start_udp(x, query->first);
    }
    if (query) run(exchanges, query->first, query->second);
    std::vector<ServerReply> replies;
    replies.reserve(exchanges.size());
    for (auto& x : exchanges) replies.push_back({std::move(x.out), std::move(x.wire)});
    return replies;
  }

 private:
  void start_udp(Exchange& x, const std::vector<std::uint8_t>& query) {
    const auto ep = endpoint(x.out.address);
    if (!ep) {
      x.out.failure = "bad address";
      return;
    }
    x.addr = ep->first;
    x.addr_len = ep->second;
    x.fd.reset(::socket(x.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    x.started = Clock::now();
    x.deadline = std::min(deadline_, x.started + per_server_);
    x.state = Exchange::State::udp;
    if (!x.fd ||
        ::connect(x.fd.get(), reinterpret_cast<const sockaddr*>(&x.addr), x.addr_len) != 0 ||
        ::send(x.fd.get(), query.data(), query.size(), 0) < 0) {
      x.fail(std::strerror(errno));
    }
  }

  void start_tcp(Exchange& x, const std::vector<std::uint8_t>& query) {
    x.out.tcp = true;
    x.fd.reset(::socket(x.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    x.deadline = std::min(deadline_, Clock::now() + per_server_);
    x.tcp_out = {static_cast<std::uint8_t>(query.size() >> 8U),
                 static_cast<std::uint8_t>(query.size() & 0xFFU)};
    x.tcp_out.insert(x.tcp_out.end(), query.begin(), query.end());
    x.tcp_sent = 0;
    x.tcp_in.clear();
    x.state = Exchange::State::tcp_connect;
    if (!x.fd) {
      x.fail(std::strerror(errno));
      return;
    }
    if (::connect(x.fd.get(), reinterpret_cast<const sockaddr*>(&x.addr), x.addr_len) != 0 &&
        errno != EINPROGRESS) {
      x.fail(fmt::format("TCP: {}", std::strerror(errno)));
    }
  }

  /// Reads a reply; true when it is final (answered or failed), false to keep waiting.
  bool take_reply(Exchange& x, const std::uint8_t* data, std::size_t size, std::uint16_t id,
                  const std::vector<std::uint8_t>& query) {
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, data, size) != LDNS_STATUS_OK) {
      return false;  // garbage: wait for a real reply (or the deadline)
    }
    const LdnsPktPtr pkt(raw);
    const auto* question = ldns_pkt_question(pkt.get());
    if (ldns_pkt_id(pkt.get()) != id || !ldns_pkt_qr(pkt.get()) || question == nullptr ||
        ldns_rr_list_rr_count(question) != 1 ||
        static_cast<std::uint16_t>(ldns_rr_get_type(ldns_rr_list_rr(question, 0))) !=
            static_cast<std::uint16_t>(type_) ||
        !same_name(ldns_rr_owner(ldns_rr_list_rr(question, 0)))) {
      return false;
    }
    if (ldns_pkt_tc(pkt.get()) && x.state == Exchange::State::udp) {
      start_tcp(x, query);
      return x.state == Exchange::State::done;
    }
    x.out.responded = true;
    x.out.rcode = static_cast<int>(ldns_pkt_get_rcode(pkt.get()));
    x.out.aa = ldns_pkt_aa(pkt.get());
    x.out.answer = parse_packet({data, size}, name_, type_);
    x.out.latency = std::chrono::duration_cast<milliseconds>(Clock::now() - x.started);
    x.wire.assign(data, data + size);
    x.fd.reset();
    x.state = Exchange::State::done;
    return true;
  }

  [[nodiscard]] bool same_name(const ldns_rdf* owner) const {
    ldns_rdf* want = ldns_dname_new_frm_str(name_.c_str());
    const bool same = want != nullptr && ldns_dname_compare(owner, want) == 0;
    ldns_rdf_deep_free(want);
    return same;
  }

  void on_udp(Exchange& x, std::uint16_t id, const std::vector<std::uint8_t>& query) {
    std::array<std::uint8_t, 65535> buffer{};
    const auto got = ::recv(x.fd.get(), buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno != EAGAIN && errno != EINTR) x.fail(std::strerror(errno));  // ICMP refused
      return;
    }
    (void)take_reply(x, buffer.data(), static_cast<std::size_t>(got), id, query);
  }

  void on_tcp(Exchange& x, short revents, std::uint16_t id,
              const std::vector<std::uint8_t>& query) {
    if (x.state == Exchange::State::tcp_connect) {
      int error = 0;
      socklen_t len = sizeof(error);
      ::getsockopt(x.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) {
        x.fail(fmt::format("TCP: {}", std::strerror(error)));
        return;
      }
      x.state = Exchange::State::tcp_io;
    }
    if (x.tcp_sent < x.tcp_out.size() && (revents & POLLOUT) != 0) {
      const auto sent = ::send(x.fd.get(), x.tcp_out.data() + x.tcp_sent,
                               x.tcp_out.size() - x.tcp_sent, MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN) x.fail(fmt::format("TCP: {}", std::strerror(errno)));
      if (sent > 0) x.tcp_sent += static_cast<std::size_t>(sent);
      return;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
    std::array<std::uint8_t, 4096> buffer{};
    const auto got = ::recv(x.fd.get(), buffer.data(), buffer.size(), 0);
    if (got <= 0) {
      if (got == 0 || errno != EAGAIN) x.fail("TCP: connection closed before the reply");
      return;
    }
    x.tcp_in.insert(x.tcp_in.end(), buffer.begin(), buffer.begin() + got);
    if (x.tcp_in.size() > max_tcp_reply + 2) {
      x.fail("TCP: reply too long");
      return;
    }
    if (x.tcp_in.size() < 2) return;
    const std::size_t length = (std::size_t{x.tcp_in[0]} << 8U) | x.tcp_in[1];
    if (x.tcp_in.size() >= length + 2 && !take_reply(x, x.tcp_in.data() + 2, length, id, query)) {
      x.fail("TCP: reply does not match the question");
    }
  }

  /// Expires, retransmits (UDP, once at half the per-server time) and builds the poll set.
  milliseconds housekeeping(std::vector<Exchange>& exchanges,
                            const std::vector<std::uint8_t>& query, std::vector<pollfd>& fds,
                            std::vector<Exchange*>& owners) {
    const auto now = Clock::now();
    auto wake = deadline_;
    for (auto& x : exchanges) {
      if (x.state == Exchange::State::done) continue;
      if (now >= x.deadline) {
        x.fail(x.state == Exchange::State::udp ? "timeout" : "TCP: timeout");
        continue;
      }
      const auto resend = x.started + per_server_ / 2;
      if (x.state == Exchange::State::udp && !x.retransmitted) {
        if (now >= resend) {
          x.retransmitted = true;
          (void)::send(x.fd.get(), query.data(), query.size(), 0);
        } else {
          wake = std::min(wake, resend);
        }
      }
      wake = std::min(wake, x.deadline);
      const bool send = x.state == Exchange::State::tcp_connect ||
                        (x.state == Exchange::State::tcp_io && x.tcp_sent < x.tcp_out.size());
      const auto events = static_cast<short>(send ? POLLOUT : POLLIN);
      fds.push_back({x.fd.get(), events, 0});
      owners.push_back(&x);
    }
    return std::chrono::duration_cast<milliseconds>(wake - now) + milliseconds(1);
  }

  void run(std::vector<Exchange>& exchanges, const std::vector<std::uint8_t>& query,
           std::uint16_t id) {
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<Exchange*> owners;
      const auto wait = housekeeping(exchanges, query, fds, owners);
      if (fds.empty()) return;
      const int ready =
          ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(0, wait.count())));
      if (ready < 0 && errno != EINTR) return;
      for (std::size_t i = 0; ready > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto& x = *owners[i];
        if (x.state == Exchange::State::udp) {
          on_udp(x, id, query);
        } else {
          on_tcp(x, fds[i].revents, id, query);
        }
      }
    }
  }

  std::string name_;
  RrType type_;
  milliseconds per_server_;
  Clock::time_point deadline_;
};

}  // namespace

std::vector<ServerReply> ask_servers(const std::string& name, RrType type,
                                     const std::vector<ServerTarget>& targets,
                                     milliseconds per_server, Clock::time_point deadline) {
  return ZoneAsker(name, type, per_server, deadline).ask(targets);
}

}  // namespace rdns::dns::detail
