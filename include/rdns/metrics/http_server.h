#pragma once
/// The metrics listener: GET /metrics over HTTP, served by libmicrohttpd on a thread of its own
/// (never a milter thread). Any other path is 404, any other method 405. No authentication:
/// bind it to loopback.

#include <functional>
#include <memory>
#include <string>

#include "rdns/metrics/endpoint.h"

namespace rdns::metrics {

class HttpServer {
 public:
  /// Produces the body of GET /metrics; runs on the server's thread.
  using Body = std::function<std::string()>;
  /// Receives libmicrohttpd's error messages: a syslog priority and the text.
  using Logger = std::function<void(int priority, const std::string& line)>;

  /// Binds `endpoint`, listens and starts serving. Throws std::runtime_error naming the address
  /// and the reason ("address already in use") when it cannot.
  HttpServer(const Endpoint& endpoint, Body body, Logger log = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  HttpServer(HttpServer&&) = delete;
  HttpServer& operator=(HttpServer&&) = delete;
  /// Stops the thread and closes the socket.
  ~HttpServer();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdns::metrics
