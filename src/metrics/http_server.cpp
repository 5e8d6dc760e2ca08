#include "rdns/metrics/http_server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "rdns/dns/unique_fd.h"
#include "rdns/metrics/registry.h"

namespace rdns::metrics {

namespace {

/// What the callbacks need, on the server's thread.
struct Handlers {
  HttpServer::Body body;
  HttpServer::Logger log;
};

constexpr unsigned connection_limit = 32;
constexpr unsigned connection_timeout_seconds = 10;

/// A bound, listening TCP socket for `endpoint`; throws naming the address and errno's text.
dns::UniqueFd listen_on(const Endpoint& endpoint) {
  const auto fail = [&endpoint](const char* step) {
    throw std::runtime_error(fmt::format("metrics-listen {}: cannot {}: {}", endpoint.to_string(),
                                         step, std::strerror(errno)));
  };
  const bool v4 = endpoint.address.is_v4();
  dns::UniqueFd fd(socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) fail("create a socket");
  const int on = 1;
  // Note: SO_REUSEADDR only lets a restart bind past connections in TIME_WAIT; a socket
  // listening on the port still makes bind() fail with EADDRINUSE.
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_storage storage{};
  socklen_t length = 0;
  const auto& bytes = endpoint.address.bytes();
  if (v4) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(endpoint.port);
    std::memcpy(&in.sin_addr, bytes.data(), 4);
    std::memcpy(&storage, &in, sizeof in);
    length = sizeof in;
  } else {
    (void)setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(endpoint.port);
    std::memcpy(&in6.sin6_addr, bytes.data(), 16);
    std::memcpy(&storage, &in6, sizeof in6);
    length = sizeof in6;
  }
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) fail("bind");
  if (listen(fd.get(), SOMAXCONN) != 0) fail("listen");
  return fd;
}

MHD_Result send_text(MHD_Connection* connection, unsigned status, std::string_view text,
                     const char* content_type) {
  auto* response = MHD_create_response_from_buffer(text.size(), const_cast<char*>(text.data()),
                                                   MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  }
  const auto result = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return result;
}

// NOLINTNEXTLINE(readability-non-const-parameter): libmicrohttpd's callback signature
MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* /*upload_data_size*/, void** /*request_state*/) {
  const auto* handlers = static_cast<const Handlers*>(cls);
  const std::string_view verb = method != nullptr ? method : "";
  if (verb != MHD_HTTP_METHOD_GET && verb != MHD_HTTP_METHOD_HEAD) {
    return send_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n",
                     "text/plain; charset=utf-8");
  }
  if (std::string_view(url != nullptr ? url : "") != "/metrics") {
    return send_text(connection, MHD_HTTP_NOT_FOUND, "Not Found: the metrics are at /metrics\n",
                     "text/plain; charset=utf-8");
  }
  try {
    return send_text(connection, MHD_HTTP_OK, handlers->body(), text_content_type);
  } catch (const std::exception& e) {
    if (handlers->log) handlers->log(LOG_ERR, fmt::format("metrics: {}", e.what()));
    return send_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error\n",
                     "text/plain; charset=utf-8");
  }
}

void on_log(void* cls, const char* format, va_list args) {
  const auto* handlers = static_cast<const Handlers*>(cls);
  std::array<char, 512> line{};
  (void)std::vsnprintf(line.data(), line.size(), format, args);
  std::string text(line.data());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (handlers->log) handlers->log(LOG_WARNING, "metrics listener: " + text);
}

}  // namespace

struct HttpServer::Impl {
  Handlers handlers;
  MHD_Daemon* daemon = nullptr;
};

HttpServer::HttpServer(const Endpoint& endpoint, Body body, Logger log)
    : impl_(std::make_unique<Impl>()) {
  impl_->handlers = {std::move(body), std::move(log)};
  auto fd = listen_on(endpoint);
  const unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                         (endpoint.address.is_v4() ? 0U : static_cast<unsigned>(MHD_USE_IPv6));
  impl_->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &on_request, &impl_->handlers, MHD_OPTION_EXTERNAL_LOGGER,
      &on_log, &impl_->handlers, MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(fd.get()),
      MHD_OPTION_CONNECTION_LIMIT, connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
      connection_timeout_seconds, MHD_OPTION_END);
  if (impl_->daemon == nullptr) {
    throw std::runtime_error(
        fmt::format("metrics-listen {}: libmicrohttpd could not start", endpoint.to_string()));
  }
  (void)fd.release();  // the daemon owns the socket now and closes it when stopped
}

HttpServer::~HttpServer() {
  if (impl_->daemon != nullptr) MHD_stop_daemon(impl_->daemon);
}

}  // namespace rdns::metrics
